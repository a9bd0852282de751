package consensus_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/staking"
)

// TestEarlyMessagesJoinTheNextHeight: node X's ledger is at height 1 while its peers have
// decided height 2 and work on height 3, with one member down, so they need X's vote. Their
// proposal, prevotes and precommits of height 3 reach X over GossipSub once, while X cannot
// start height 3; every later copy would be Ignored by X's replay cache, and none is sent.
// Once X's ledger applies height 2 (as ledger sync would), X must start height 3 from the
// messages it kept, vote, and decide it: three precommits of four members, X's included.
// X is either idle (the actor keeps the messages) or running height 2, started by a peer's
// vote (its machine keeps them).
func TestEarlyMessagesJoinTheNextHeight(t *testing.T) {
	t.Run("idle", func(t *testing.T) { testEarlyMessages(t, false) })
	t.Run("running height 2", func(t *testing.T) { testEarlyMessages(t, true) })
}

func testEarlyMessages(t *testing.T, running bool) {
	// The real clock, with the epoch's middle half an hour away: nothing but the peers'
	// messages makes X start a height.
	g := &staking.Genesis{Network: "early", NShards: 12, EpochDuration: 3_600_000, GenesisTime: time.Now().Add(-time.Second).UnixMilli()}
	keys := map[epoch.NodeID]*bls.SecretKey{}
	for _, k := range addNodes(g, 41, staking.NodeInfo{}) {
		keys[epoch.NodeIDOf(k.PublicKey())] = k
	}
	sys, err := actors.New("early")
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Stop()
	newLedger := func(name string) *ledger.Ledger {
		l, err := ledger.New(must(sys.Child(name)), ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore()), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	// l is X's ledger; ref is the peers' view, one height ahead. commitHeight is
	// deterministic, so both hold the same checkpoints.
	l, ref := newLedger("x"), newLedger("ref")
	commitHeight(t, l, keys)
	commitHeight(t, ref, keys)
	commitHeight(t, ref, keys)

	com := l.View().SigningCommittee()
	key := func(i uint32) *bls.SecretKey { return keys[com.Members[i].Node] }
	n := uint32(len(com.Members))
	p := tendermint.ProposerSequence(com)[3%n] // the proposer of height 3, round 0
	x, q := (p+1)%n, (p+2)%n                   // the fourth member is down

	// X, on its own host.
	var seed [32]byte
	seed[0] = 41
	hx := p2ptest.Host(t, rand.NewChaCha8(seed))
	gx, err := p2p.NewGossip(hx, g.Network)
	if err != nil {
		t.Fatal(err)
	}
	defer gx.Close()
	c, err := consensus.New(must(sys.Child("c")), consensus.Config{Ledger: l, Key: key(x), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	nx, err := consensus.NewNet(c, consensus.NetConfig{Host: hx, Gossip: gx})
	if err != nil {
		t.Fatal(err)
	}
	if err := nx.Start(); err != nil {
		t.Fatal(err)
	}
	defer nx.Close()
	delivered, err := nx.ConsensusTopic().Subscribe() // what X's topic delivers, as X's actor gets it
	if err != nil {
		t.Fatal(err)
	}
	defer delivered.Cancel()

	// The peers, publishing from another host.
	seed[0] = 42
	hp := p2ptest.Host(t, rand.NewChaCha8(seed))
	gp, err := p2p.NewGossip(hp, g.Network)
	if err != nil {
		t.Fatal(err)
	}
	defer gp.Close()
	tp, err := gp.Join(p2p.TopicConsensus, nil)
	if err != nil {
		t.Fatal(err)
	}
	fromX, err := tp.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer fromX.Cancel()
	p2ptest.Connect(t, hp, hx)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := tp.AwaitPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := nx.ConsensusTopic().AwaitPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}

	netID := l.View().Network()
	publish := func(seq uint64, m tendermint.Message) {
		t.Helper()
		b, err := tendermint.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := tp.Publish(ctx, consensus.EncodeWire(seq, b)); err != nil {
			t.Fatal(err)
		}
	}
	if running {
		// q's nil prevote of height 2 makes X start height 2.
		v := &tendermint.Vote{Type: tendermint.Prevote, Height: 2, Round: 0, Validator: q}
		v.Signature = key(q).Sign(tendermint.VoteSignBytes(netID, com.Epoch, v.Type, 2, 0, v.Value))
		publish(100, v)
		// X's first message of height 2 (its proposal, or its prevote once the propose
		// timeout passes) shows it runs height 2.
		if got := nextFromX(t, ctx, fromX, hx.ID(), "a message of height 2"); got.MsgHeight() != 2 {
			t.Fatalf("X sent a message of height %d, want 2", got.MsgHeight())
		}
	}

	// Height 3 as the peers run it: p's proposal, built on height 2, and p's and q's votes.
	cp, _, err := ref.View().State().BuildCheckpoint(time.Now().UnixMilli(), nil)
	if err != nil {
		t.Fatal(err)
	}
	value := cp.Encode()
	hash := tendermint.HashValue(value)
	prop := &tendermint.Proposal{Height: 3, Round: 0, ValidRound: -1, Value: value, Proposer: p}
	prop.Signature = key(p).Sign(tendermint.ProposalSignBytes(netID, com.Epoch, 3, 0, -1, hash))
	msgs := []tendermint.Message{prop}
	for _, typ := range []tendermint.VoteType{tendermint.Prevote, tendermint.Precommit} {
		for _, i := range []uint32{p, q} {
			v := &tendermint.Vote{Type: typ, Height: 3, Round: 0, Value: hash, Validator: i}
			v.Signature = key(i).Sign(tendermint.VoteSignBytes(netID, com.Epoch, typ, 3, 0, hash))
			msgs = append(msgs, v)
		}
	}
	for i, m := range msgs {
		publish(uint64(i+1), m)
	}
	for range msgs {
		if _, err := delivered.Next(ctx); err != nil {
			t.Fatalf("the peers' messages were not delivered to X: %v", err)
		}
	}
	if h := l.Height(); h != 1 {
		t.Fatalf("X's ledger at height %d before catching up", h)
	}
	// X's topic reader hands each delivered message to the actor at once; give it that
	// moment, so that the actor has them before its ledger moves.
	time.Sleep(200 * time.Millisecond)

	commitHeight(t, l, keys) // X's ledger catches up to height 2

	// X votes for the peers' proposal, and decides height 3 itself (its ledger has no other
	// source of checkpoints).
	for {
		got := nextFromX(t, ctx, fromX, hx.ID(), "a precommit of height 3")
		if v, ok := got.(*tendermint.Vote); ok && v.Type == tendermint.Precommit && v.Height == 3 && v.Validator == x {
			if v.Value != hash {
				t.Fatalf("X precommitted %x at height 3, want the proposal's %x", v.Value, hash)
			}
			break
		}
	}
	for l.Height() < 3 {
		if ctx.Err() != nil {
			t.Fatalf("X's ledger at height %d, want 3", l.Height())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, want := l.View().State().LastHash(), cp.Hash(); got != want {
		t.Fatalf("height 3 committed %x, want the proposal %x", got, want)
	}
}

// nextFromX returns the next consensus message published by host x on sub, waiting for
// what.
func nextFromX(t *testing.T, ctx context.Context, sub *p2p.Subscription, x peer.ID, what string) tendermint.Message {
	t.Helper()
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("X sent no further message, waiting for %s: %v", what, err)
		}
		if m.From != x {
			continue
		}
		got, err := consensus.DecodeWire(m.Data, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
}
