package consensus_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/staking"
)

// TestRegossipReachesAPeerThatForgot: over real GossipSub, a node publishes a local
// transaction again when its client offers it again after RebroadcastInterval, and a peer
// that could not use the first copy (it called Forget, as on a full mempool queue) gets the
// second. Before the `txs` topic had a sequence prefix, GossipSub dropped the second
// publication at the sender as a message it had already seen.
func TestRegossipReachesAPeerThatForgot(t *testing.T) {
	var seed [32]byte
	seed[0] = 51
	_, faucet, _ := ed25519.GenerateKey(rand.NewChaCha8(seed))
	g := &staking.Genesis{
		Network: "regossip", NShards: 12, EpochDuration: 3_600_000, GenesisTime: start.Add(-time.Second).UnixMilli(),
		Prices: staking.Prices{Storage: 10, Write: 10, Capacity: 1 << 40},
		Faucet: staking.GenesisAccount{Address: staking.AddressOf(faucet.Public().(ed25519.PublicKey)), Balance: 1 << 50},
	}
	addNodes(g, 52, staking.NodeInfo{StoragePrice: 10, WritePrice: 10, Capacity: 1 << 40})
	sys, err := actors.New("regossip")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sys.Stop() }()
	l, err := ledger.New(sys, ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore()), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}

	// The sender: one committee member's consensus actor and network side. The other three
	// members are absent, so nothing commits and the transaction stays in its mempool.
	ha, ga := gossipHost(t, 53, g.Network)
	defer ha.Close()
	defer ga.Close()
	const rebroadcast = 100 * time.Millisecond
	c, err := consensus.New(sys, consensus.Config{Ledger: l, Key: epochtest.Key(52, 0), Logger: quiet, RebroadcastInterval: rebroadcast})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	n, err := consensus.NewNet(c, consensus.NetConfig{Host: ha, Gossip: ga, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	defer n.Close()

	// The receiver: a bare subscriber to `txs`.
	hb, gb := gossipHost(t, 54, g.Network)
	defer hb.Close()
	defer gb.Close()
	tb, err := gb.Join(p2p.TopicTxs, nil)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := tb.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	p2ptest.Connect(t, ha, hb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.TxsTopic().AwaitPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := tb.AwaitPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}

	var to staking.Address
	to[0] = 0x44
	raw := staking.Sign(g.NetworkID(), faucet, staking.Tx{Nonce: 0, Op: &staking.Transfer{To: to, Amount: 3}}).Encode()
	receive := func(what string) []byte {
		t.Helper()
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		defer rcancel()
		m, err := sub.Next(rctx)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		got, err := consensus.TxOfWire(m.Data)
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("%s: got %d bytes (%v), want the transaction", what, len(got), err)
		}
		return m.Data
	}
	if rep, err := c.SubmitTx(ctx, raw); err != nil || !rep.Accepted {
		t.Fatalf("submit: %+v, %v", rep, err)
	}
	first := receive("the first publication")
	tb.Forget(first) // the receiver could not use it
	time.Sleep(2 * rebroadcast)
	if rep, err := c.SubmitTx(ctx, raw); err != nil || !rep.Accepted { // the client offers it again
		t.Fatalf("resubmit: %+v, %v", rep, err)
	}
	if second := receive("the publication after the client's resubmission"); bytes.Equal(second, first) {
		t.Fatal("the second publication is byte-identical to the first")
	}
}
