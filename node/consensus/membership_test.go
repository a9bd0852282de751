package consensus_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/staking"
)

// TestCommitteeChangeMembership: five nodes, the committee of epoch 0 being nodes 0-3.
// Stake moved to node 4 makes the committee of epoch 1 nodes 0, 1, 2 (2 shards each) and 4
// (6 shards): node 3 leaves and node 4, whose vote the new quorum (9 of 12 shards) needs,
// joins. Every node's consensus actor runs throughout: node 4 follows epoch 0 without
// signing anything and votes from the first height of epoch 1 on; node 3 votes in epoch 0,
// then signs nothing and still applies every checkpoint.
func TestCommitteeChangeMembership(t *testing.T) {
	actorstest.CheckLeaks(t)
	const unit = uint64(1) << 40
	c := &cluster{clock: actorstest.NewManualClock(start, 64), seen: map[uint64]int{}, decs: map[uint64]int{},
		txsFrom: map[int]int{}, isolate: map[int]bool{}}
	var seed [32]byte
	seed[0] = 3
	_, c.faucet, _ = ed25519.GenerateKey(rand.NewChaCha8(seed))
	g := &staking.Genesis{
		Network: "membership", NShards: 12, EpochDuration: int64(time.Hour / time.Millisecond), GenesisTime: start.Add(-time.Second).UnixMilli(),
		Prices: staking.Prices{Storage: 10, Write: 10, Capacity: 1 << 40},
		Faucet: staking.GenesisAccount{Address: staking.AddressOf(c.faucet.Public().(ed25519.PublicKey)), Balance: 1 << 50},
	}
	var keys []*bls.SecretKey
	for i, stake := range []uint64{unit, unit, unit, unit * 2 / 5, 0} {
		k := epochtest.Key(31, i)
		keys = append(keys, k)
		var op staking.Address
		op[0] = byte(i + 1)
		g.Nodes = append(g.Nodes, staking.GenesisNode{Operator: op, BLSKey: k.PublicKey(), PoP: k.ProvePossession(),
			Info: staking.NodeInfo{PeerID: fmt.Sprint("p", i), StoragePrice: 10, WritePrice: 10, Capacity: 1 << 40}, Stake: stake})
	}
	id := func(i int) epoch.NodeID { return epoch.NodeIDOf(keys[i].PublicKey()) }
	c.genesis = g
	ctx, cancel := context.WithCancel(context.Background())
	drain(ctx, c.clock)
	sys, err := actors.New("membership")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, cs := range c.cons {
			cs.Close()
		}
		_ = sys.Stop()
		cancel()
	})
	for i := range keys {
		l, err := ledger.New(must(sys.Child(fmt.Sprint("n", i))), ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore()), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		c.ledgers = append(c.ledgers, l)
	}
	if com := c.ledgers[0].View().SigningCommittee(); com.MemberIndex(id(3)) < 0 || com.MemberIndex(id(4)) >= 0 {
		t.Fatal("the genesis committee should hold node 3 and not node 4")
	}
	// Every consensus message on the bus, with the node that published it.
	type published struct {
		from int
		m    tendermint.Message
	}
	var mu sync.Mutex
	var msgs []published
	for i := range keys {
		cs, err := consensus.New(must(sys.Child(fmt.Sprint("c", i))), consensus.Config{
			Ledger: c.ledgers[i], Key: keys[i], Clock: c.clock, Logger: quiet,
			ProposeTimeout: 500 * time.Millisecond, PrevoteTimeout: 200 * time.Millisecond, PrecommitTimeout: 200 * time.Millisecond,
			TimeoutDelta: 100 * time.Millisecond, RebroadcastInterval: 300 * time.Millisecond, TickInterval: 100 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		c.cons = append(c.cons, cs)
	}
	for i := range c.cons {
		go func() {
			from := peer.ID(fmt.Sprint("n", i))
			for {
				select {
				case <-ctx.Done():
					return
				case o := <-c.cons[i].Out():
					switch o.Topic {
					case consensus.OutConsensus:
						m, err := consensus.DecodeWire(o.Data, 8<<20)
						if err != nil {
							panic(err)
						}
						mu.Lock()
						msgs = append(msgs, published{i, m})
						mu.Unlock()
						for j, other := range c.cons {
							if j != i {
								_ = other.Deliver(m, from)
							}
						}
					case consensus.OutTxs:
						for j, other := range c.cons {
							if j != i {
								_ = other.GossipTx(o.Data)
							}
						}
					}
				}
			}
		}()
	}
	allLedgers := func(cond func(*ledger.View) bool) func() bool {
		return func() bool {
			for _, l := range c.ledgers {
				if !cond(l.View()) {
					return false
				}
			}
			return true
		}
	}
	c.advanceUntil(t, 50*time.Millisecond, "height 1", allLedgers(func(v *ledger.View) bool { return v.Height() >= 1 }))

	// Stake that makes node 4 the largest member of epoch 1 and pushes node 3 out.
	stake := staking.Sign(g.NetworkID(), c.faucet, staking.Tx{Nonce: 0, Op: &staking.StakeOp{Node: id(4), Amount: unit * 16 / 5}}).Encode()
	if rep, err := c.cons[0].SubmitTx(context.Background(), stake); err != nil || !rep.Accepted {
		t.Fatalf("stake: %+v, %v", rep, err)
	}
	c.advanceUntil(t, 50*time.Millisecond, "the stake", allLedgers(func(v *ledger.View) bool { return v.State().StakeOf(id(4), 1) > 0 }))
	c.clock.Advance(31 * time.Minute)
	c.advanceUntil(t, 50*time.Millisecond, "committee selection", allLedgers(func(v *ledger.View) bool { return v.State().NextCommittee() != nil }))
	next := c.ledgers[0].View().State().NextCommittee()
	if next.MemberIndex(id(3)) >= 0 || next.MemberIndex(id(4)) < 0 || next.Members[next.MemberIndex(id(4))].Weight() != 6 {
		t.Fatalf("committee of epoch 1: %d members, node 3 at %d, node 4 at %d", len(next.Members), next.MemberIndex(id(3)), next.MemberIndex(id(4)))
	}
	c.clock.Advance(30 * time.Minute)
	c.advanceUntil(t, 50*time.Millisecond, "epoch 1", allLedgers(func(v *ledger.View) bool { return v.Epoch() == 1 }))
	// The first height of epoch 1 is the one after the checkpoint that crossed the epoch end.
	first := c.ledgers[0].Height() + 1

	// Two transfers under the new committee: they commit only with node 4's votes.
	var to staking.Address
	to[0] = 7
	for nonce := uint64(1); nonce <= 2; nonce++ {
		raw := staking.Sign(g.NetworkID(), c.faucet, staking.Tx{Nonce: nonce, Op: &staking.Transfer{To: to, Amount: 5}}).Encode()
		if rep, err := c.cons[3].SubmitTx(context.Background(), raw); err != nil || !rep.Accepted {
			t.Fatalf("transfer: %+v, %v", rep, err)
		}
		c.advanceUntil(t, 50*time.Millisecond, "the transfer everywhere", c.balanceEverywhere(to, 5*nonce))
	}
	last := c.ledgers[3].Height()
	if last < first+1 {
		t.Fatalf("node 3 (no longer a member) is at height %d, the new committee started at %d", last, first)
	}

	// Who signed what: a vote or proposal is node i's if it verifies under node i's key for
	// the epoch of its height.
	sb := func(m tendermint.Message, ep uint32) []byte {
		switch x := m.(type) {
		case *tendermint.Vote:
			return tendermint.VoteSignBytes(g.NetworkID(), ep, x.Type, x.Height, x.Round, x.Value)
		case *tendermint.Proposal:
			return tendermint.ProposalSignBytes(g.NetworkID(), ep, x.Height, x.Round, x.ValidRound, tendermint.HashValue(x.Value))
		}
		return nil
	}
	sig := func(m tendermint.Message) bls.Signature {
		if v, ok := m.(*tendermint.Vote); ok {
			return v.Signature
		}
		return m.(*tendermint.Proposal).Signature
	}
	mu.Lock()
	defer mu.Unlock()
	votes := map[int][2]int{} // node -> own messages signed before / from the first height of epoch 1
	for _, p := range msgs {
		if p.from != 3 && p.from != 4 {
			continue
		}
		b := sb(p.m, 0)
		if p.m.MsgHeight() >= first {
			b = sb(p.m, 1)
		}
		if b == nil || bls.Verify(keys[p.from].PublicKey(), b, sig(p.m)) != nil {
			continue // a relay of someone else's message, or a decision
		}
		n := votes[p.from]
		if p.m.MsgHeight() >= first {
			n[1]++
		} else {
			n[0]++
		}
		votes[p.from] = n
	}
	if n := votes[4]; n[0] != 0 || n[1] == 0 {
		t.Fatalf("node 4 signed %d messages before joining and %d after: want none, then some", n[0], n[1])
	}
	if n := votes[3]; n[0] == 0 || n[1] != 0 {
		t.Fatalf("node 3 signed %d messages while a member and %d after leaving: want some, then none", n[0], n[1])
	}
}
