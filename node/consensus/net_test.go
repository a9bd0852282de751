package consensus_test

import (
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"testing"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/staking"
)

// TestValidateConsensus checks the `consensus` topic validator's verdicts: forged and
// malformed messages are rejected, other heights ignored, members' messages accepted.
func TestValidateConsensus(t *testing.T) {
	g := &staking.Genesis{Network: "valtest", NShards: 12, EpochDuration: 3_600_000, GenesisTime: start.UnixMilli()}
	keys := map[[32]byte]*bls.SecretKey{}
	for _, k := range addNodes(g, 8, staking.NodeInfo{}) {
		keys[epoch.NodeIDOf(k.PublicKey())] = k
	}
	sys, err := actors.New("val")
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Stop()
	l, err := ledger.New(sys, ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore()), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var seed [32]byte
	seed[0] = 4
	h := p2ptest.Host(t, rand.NewChaCha8(seed))
	defer h.Close()
	gs, err := p2p.NewGossip(h, g.Network)
	if err != nil {
		t.Fatal(err)
	}
	defer gs.Close()
	c, err := consensus.New(sys, consensus.Config{Ledger: l, Key: epochtest.Key(8, 0), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, err := consensus.NewNet(c, consensus.NetConfig{Host: h, Gossip: gs})
	if err != nil {
		t.Fatal(err)
	}
	v := l.View()
	com := v.SigningCommittee()
	vote := func(height uint64, member uint32, k *bls.SecretKey) []byte {
		m := &tendermint.Vote{Type: tendermint.Prevote, Height: height, Round: 0, Value: tendermint.Hash{1}, Validator: member}
		m.Signature = k.Sign(tendermint.VoteSignBytes(v.Network(), com.Epoch, m.Type, m.Height, m.Round, m.Value))
		b, err := tendermint.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return consensus.EncodeWire(uint64(height), b)
	}
	k1 := keys[com.Members[1].Node]
	other := peer.ID("relay")
	for _, tc := range []struct {
		name string
		data []byte
		want p2p.Verdict
	}{
		{"garbage", []byte{0xff, 1, 2}, p2p.Reject},
		{"no sequence number", vote(1, 1, k1)[8:], p2p.Reject},
		{"member's prevote for the next height", vote(1, 1, k1), p2p.Accept},
		{"prevote signed with another key", vote(1, 1, epochtest.Key(999, 0)), p2p.Reject},
		{"non-member index", vote(1, 9, k1), p2p.Reject},
		{"the height after next, valid", vote(2, 1, k1), p2p.Accept},
		{"the height after next, unverifiable", vote(2, 1, epochtest.Key(999, 0)), p2p.Ignore},
		{"far future", vote(9, 1, k1), p2p.Ignore},
		{"stale", vote(0, 1, k1), p2p.Ignore},
	} {
		if got := n.ValidateConsensus(context.Background(), p2p.Message{From: other, ReceivedFrom: other, Data: tc.data}); got != tc.want {
			t.Errorf("%s: verdict %d, want %d", tc.name, got, tc.want)
		}
	}
	tx := staking.Sign(g.NetworkID(), testAccountKey(), staking.Tx{Op: &staking.Transfer{Amount: 1}}).Encode()
	if got := n.ValidateTx(context.Background(), p2p.Message{Data: tx}); got != p2p.Accept {
		t.Errorf("signed tx: verdict %d", got)
	}
	tx[len(tx)-1] ^= 1
	if got := n.ValidateTx(context.Background(), p2p.Message{Data: tx}); got != p2p.Reject {
		t.Errorf("tampered tx: verdict %d", got)
	}
}

func testAccountKey() ed25519.PrivateKey {
	var s [32]byte
	s[0] = 5
	_, k, _ := ed25519.GenerateKey(rand.NewChaCha8(s))
	return k
}
