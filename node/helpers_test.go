package node_test

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// seeded returns a deterministic reader for key generation.
func seeded(seed uint64, i int) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	binary.LittleEndian.PutUint64(s[8:], uint64(i))
	return rand.NewChaCha8(s)
}

// testNet is a small genesis on disk: n nodes with seeded BLS and libp2p keys, equal stake,
// and a funded faucet.
type testNet struct {
	dir     string
	genesis *staking.Genesis
	gfile   string
	faucet  ed25519.PrivateKey
	cfgs    []*node.Config
	gaters  []*testnet.Gater
	nodes   []*node.Node
	pids    []peer.ID // node i's peer ID, known before it starts
}

const testShards = 12

func newTestNet(t testing.TB, n int) *testNet {
	t.Helper()
	dir := t.TempDir()
	tn := &testNet{dir: dir}
	_, fk, _ := ed25519.GenerateKey(seeded(7, 1000))
	tn.faucet = fk
	g := &staking.Genesis{
		Network: "nodetest", NShards: testShards, EpochDuration: int64(time.Hour / time.Millisecond),
		GenesisTime: time.Now().Add(-time.Second).UnixMilli(),
		Prices:      staking.Prices{Storage: 1000, Write: 1000, Capacity: 1 << 40},
		Faucet:      staking.GenesisAccount{Address: staking.AddressOf(fk.Public().(ed25519.PublicKey)), Balance: 1_000_000 * staking.FrostPerWAL},
	}
	for i := 0; i < n; i++ {
		nd := filepath.Join(dir, "n"+string(rune('0'+i)))
		if err := os.MkdirAll(nd, 0o700); err != nil {
			t.Fatal(err)
		}
		bk := epochtest.Key(42, i)
		if err := os.WriteFile(filepath.Join(nd, "bls.key"), bk.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		id, err := p2p.GenerateIdentity(seeded(42, i))
		if err != nil {
			t.Fatal(err)
		}
		if err := p2p.SaveIdentity(filepath.Join(nd, "identity.key"), id); err != nil {
			t.Fatal(err)
		}
		pid, err := peer.IDFromPrivateKey(id)
		if err != nil {
			t.Fatal(err)
		}
		tn.pids = append(tn.pids, pid)
		_, op, _ := ed25519.GenerateKey(seeded(43, i))
		g.Nodes = append(g.Nodes, staking.GenesisNode{
			Operator: staking.AddressOf(op.Public().(ed25519.PublicKey)), BLSKey: bk.PublicKey(), PoP: bk.ProvePossession(),
			Info:  staking.NodeInfo{PeerID: string(pid), StoragePrice: 1000, WritePrice: 1000, Capacity: 1 << 40},
			Stake: 1000 * staking.FrostPerWAL,
		})
		tn.cfgs = append(tn.cfgs, &node.Config{
			DataDir: filepath.Join(nd, "data"), BLSKeyFile: filepath.Join(nd, "bls.key"),
			IdentityKeyFile: filepath.Join(nd, "identity.key"), DisableQUIC: true, LogLevel: "error",
			Consensus: node.ConsensusConfig{
				ProposeTimeout: 600 * time.Millisecond, PrevoteTimeout: 300 * time.Millisecond, PrecommitTimeout: 300 * time.Millisecond,
				TimeoutDelta: 200 * time.Millisecond, RebroadcastInterval: 400 * time.Millisecond, TickInterval: 100 * time.Millisecond,
			},
			Ledger: node.LedgerConfig{SnapshotEvery: 4, SyncInterval: 500 * time.Millisecond},
		})
		tn.gaters = append(tn.gaters, testnet.NewGater())
		if i == 0 {
			tn.cfgs[i].APIAddr = "127.0.0.1:0"
		}
	}
	tn.genesis = g
	tn.gfile = filepath.Join(dir, "genesis.bin")
	if err := os.WriteFile(tn.gfile, g.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range tn.cfgs {
		c.GenesisFile = tn.gfile
	}
	tn.nodes = make([]*node.Node, n)
	t.Cleanup(func() {
		for _, nd := range tn.nodes {
			if nd != nil {
				_ = nd.Close()
			}
		}
	})
	return tn
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// start builds and starts node i with every other running node as bootstrap peer.
func (tn *testNet) start(t testing.TB, i int) *node.Node {
	t.Helper()
	cfg := *tn.cfgs[i]
	cfg.Bootstrap = nil
	for j, o := range tn.nodes {
		if j != i && o != nil {
			for _, a := range o.Addrs() {
				cfg.Bootstrap = append(cfg.Bootstrap, a.String())
			}
		}
	}
	n, err := node.New(context.Background(), &cfg, node.WithConnectionGater(tn.gaters[i]), node.WithLogger(quiet))
	if err != nil {
		t.Fatalf("node %d: %v", i, err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("node %d start: %v", i, err)
	}
	tn.nodes[i] = n
	return n
}

// connectAll dials every pair of running nodes, so tests do not wait for the bootstrap
// retry loop.
func (tn *testNet) connectAll(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, a := range tn.nodes {
		for j, b := range tn.nodes {
			if i < j && a != nil && b != nil && !tn.gaters[i].Blocked(b.PeerID()) && !tn.gaters[j].Blocked(a.PeerID()) {
				if err := a.Host().Connect(ctx, peer.AddrInfo{ID: b.PeerID(), Addrs: b.Host().Addrs()}); err != nil {
					t.Fatalf("connect %d-%d: %v", i, j, err)
				}
			}
		}
	}
}

func (tn *testNet) waitHeight(t testing.TB, h uint64, idx ...int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, i := range idx {
		if err := tn.nodes[i].WaitHeight(ctx, h); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
}

func (tn *testNet) transfer(nonce uint64, to staking.Address, amount uint64) []byte {
	return staking.Sign(tn.genesis.NetworkID(), tn.faucet, staking.Tx{Nonce: nonce, Op: &staking.Transfer{To: to, Amount: amount}}).Encode()
}

// client is a bare libp2p host that talks to nodes like the CLI would.
func newClient(t testing.TB) host.Host {
	t.Helper()
	return p2ptest.Host(t, seeded(99, 0))
}

func connect(t testing.TB, h host.Host, n *node.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.Connect(ctx, peer.AddrInfo{ID: n.PeerID(), Addrs: n.Host().Addrs()}); err != nil {
		t.Fatal(err)
	}
}

type hostT = host.Host
