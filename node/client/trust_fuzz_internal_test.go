package client

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/staking"
)

// trustGenesis is a 4-node, 12-shard genesis for the trust cache's tests.
func trustGenesis() *staking.Genesis {
	g := &staking.Genesis{Network: "trust-fuzz", NShards: 12, EpochDuration: 3_600_000, GenesisTime: 1_700_000_000_000,
		Prices: staking.Prices{Storage: 10, Write: 10, Capacity: 1 << 40}}
	for i := 0; i < 4; i++ {
		k := epochtest.Key(7, i)
		var op staking.Address
		op[0] = byte(i + 1)
		g.Nodes = append(g.Nodes, staking.GenesisNode{Operator: op, BLSKey: k.PublicKey(), PoP: k.ProvePossession(),
			Info: staking.NodeInfo{PeerID: "p" + string(rune('0'+i)), StoragePrice: 10, WritePrice: 10, Capacity: 1 << 40}, Stake: 1 << 40})
	}
	return g
}

// FuzzTrustLoad: the trust cache file beside client.yaml is read at every start, and may be
// truncated, corrupted or of another version or network. Whatever its bytes, load never
// panics, and what it accepts is sane — only committees of the genesis's shard count with
// members, at most maxTrusted besides the genesis one, the latest epoch the highest kept —
// and is written back as a cache that loads to the same committees.
func FuzzTrustLoad(f *testing.F) {
	g := trustGenesis()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := filepath.Join(f.TempDir(), "client.yaml.trust")
	seed, err := newTrust(g, path, logger)
	if err != nil {
		f.Fatal(err)
	}
	// Later epochs: the genesis committee renumbered (the loader takes what the cache holds).
	for e := uint32(1); e <= maxTrusted+2; e++ {
		c := *seed.genesis
		c.Epoch = e
		seed.mu.Lock()
		seed.addLocked(&c)
		seed.mu.Unlock()
	}
	seed.save()
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add(append(append([]byte(nil), b...), 0))
	f.Add(trustMagic)
	other := append([]byte(nil), b...)
	other[len(trustMagic)] ^= 1 // another network
	f.Add(other)
	f.Fuzz(func(t *testing.T, b []byte) {
		tr := &trust{network: g.NetworkID(), nShards: g.NShards, logger: logger,
			coms: map[uint32]*epoch.Committee{}, verified: map[[32]byte]*staking.Checkpoint{}}
		if err := tr.load(b); err != nil {
			if len(tr.coms) != 0 {
				t.Fatalf("a refused cache left %d committees trusted: %v", len(tr.coms), err)
			}
			return
		}
		eps := tr.epochsLocked()
		if len(eps) > maxTrusted+1 {
			t.Fatalf("%d committees kept", len(eps))
		}
		if len(eps) > 0 && tr.latest != eps[len(eps)-1] {
			t.Fatalf("latest %d, epochs %v", tr.latest, eps)
		}
		for _, e := range eps {
			c := tr.coms[e]
			if c.Epoch != e || c.NShards != g.NShards || len(c.Members) == 0 {
				t.Fatalf("kept a committee of epoch %d (under %d) with %d shards and %d members", c.Epoch, e, c.NShards, len(c.Members))
			}
		}
		enc, err := tr.encode()
		if err != nil {
			t.Fatal(err)
		}
		again := &trust{network: g.NetworkID(), nShards: g.NShards, logger: logger,
			coms: map[uint32]*epoch.Committee{}, verified: map[[32]byte]*staking.Checkpoint{}}
		if err := again.load(enc); err != nil {
			t.Fatalf("a cache written from an accepted one does not load: %v", err)
		}
		if enc2, _ := again.encode(); !bytes.Equal(enc, enc2) {
			t.Fatal("the cache does not round-trip")
		}
	})
}
