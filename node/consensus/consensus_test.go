package consensus_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/staking"
)

// cluster is four consensus actors with their ledgers, wired by an in-process bus instead
// of GossipSub, on one manual clock: time moves only when the test says.
type cluster struct {
	clock   *actorstest.ManualClock
	genesis *staking.Genesis
	faucet  ed25519.PrivateKey
	ledgers []*ledger.Ledger
	cons    []*consensus.Consensus

	mu      sync.Mutex
	seen    map[uint64]int // consensus messages seen on the bus, by height
	decs    map[uint64]int // re-broadcast decisions seen, by height
	txsFrom map[int]int    // transactions each node published
	isolate map[int]bool   // nodes whose outbound messages are dropped
	dropTxs map[int]bool   // nodes whose `txs` publications are dropped
	direct  int            // direct transaction sends routed (OutDirect)
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var start = time.UnixMilli(1_700_000_000_000)

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{clock: actorstest.NewManualClock(start, 64), seen: map[uint64]int{}, decs: map[uint64]int{},
		txsFrom: map[int]int{}, isolate: map[int]bool{}, dropTxs: map[int]bool{}}
	var seed [32]byte
	seed[0] = 3
	_, c.faucet, _ = ed25519.GenerateKey(rand.NewChaCha8(seed))
	g := &staking.Genesis{
		Network: "constest", NShards: 12, EpochDuration: int64(time.Hour / time.Millisecond), GenesisTime: start.Add(-time.Second).UnixMilli(),
		Prices: staking.Prices{Storage: 10, Write: 10, Capacity: 1 << 40},
		Faucet: staking.GenesisAccount{Address: staking.AddressOf(c.faucet.Public().(ed25519.PublicKey)), Balance: 1 << 50},
	}
	keys := addNodes(g, 5, staking.NodeInfo{StoragePrice: 10, WritePrice: 10, Capacity: 1 << 40})
	c.genesis = g
	ctx, cancel := context.WithCancel(context.Background())
	drain(ctx, c.clock)
	sys, err := actors.New("test")
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
	for i := 0; i < 4; i++ {
		child, err := sys.Child(fmt.Sprint("n", i))
		if err != nil {
			t.Fatal(err)
		}
		l, err := ledger.New(child, ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore()), Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		c.ledgers = append(c.ledgers, l)
	}
	for i := 0; i < 4; i++ {
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
		go c.route(ctx, i)
	}
	return c
}

// addNodes appends four genesis nodes to g, staked 1<<40 each: node i has the BLS key
// epochtest.Key(seed, i), operator address {i+1} and peer ID "p<i>", and the rest of its
// info from info. It returns the keys in genesis order.
func addNodes(g *staking.Genesis, seed uint64, info staking.NodeInfo) []*bls.SecretKey {
	var keys []*bls.SecretKey
	for i := 0; i < 4; i++ {
		k := epochtest.Key(seed, i)
		keys = append(keys, k)
		var op staking.Address
		op[0] = byte(i + 1)
		info.PeerID = fmt.Sprint("p", i)
		g.Nodes = append(g.Nodes, staking.GenesisNode{Operator: op, BLSKey: k.PublicKey(), PoP: k.ProvePossession(),
			Info: info, Stake: 1 << 40})
	}
	return keys
}

// drain consumes clock's announcements until ctx is done: they only keep a test in
// lockstep, and nothing here waits for them.
func drain(ctx context.Context, clock *actorstest.ManualClock) {
	go func() {
		for {
			select {
			case <-clock.Waits():
			case <-ctx.Done():
				return
			}
		}
	}()
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// route delivers node i's outbound messages to the other three, like GossipSub would.
func (c *cluster) route(ctx context.Context, i int) {
	from := peer.ID(fmt.Sprint("n", i))
	for {
		select {
		case <-ctx.Done():
			return
		case o := <-c.cons[i].Out():
			c.mu.Lock()
			if o.Topic == consensus.OutTxs {
				c.txsFrom[i]++
			}
			dropped := c.isolate[i] || o.Topic == consensus.OutTxs && c.dropTxs[i]
			if o.Topic == consensus.OutDirect && !dropped {
				c.direct++
			}
			c.mu.Unlock()
			if dropped {
				continue
			}
			switch o.Topic {
			case consensus.OutConsensus:
				m, err := consensus.DecodeWire(o.Data, 8<<20)
				if err != nil {
					panic(err)
				}
				c.mu.Lock()
				c.seen[m.MsgHeight()]++
				if _, ok := m.(*tendermint.Decision); ok {
					c.decs[m.MsgHeight()]++
				}
				c.mu.Unlock()
				for j, o := range c.cons {
					if j != i {
						_ = o.Deliver(m, from)
					}
				}
			case consensus.OutTxs:
				for j, other := range c.cons {
					if j != i {
						_ = other.GossipTx(o.Data)
					}
				}
			case consensus.OutDirect:
				// Peer IDs are "p<j>" (addNodes); the submit protocol ends in SubmitTx.
				var j int
				if _, err := fmt.Sscanf(string(o.Peer), "p%d", &j); err == nil && j >= 0 && j < len(c.cons) && j != i {
					_, _ = c.cons[j].SubmitTx(ctx, o.Data)
				}
			}
		}
	}
}

// advanceUntil moves the manual clock in steps of d until cond holds, waiting a little real
// time per step for the actors to react.
func (c *cluster) advanceUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		c.clock.Advance(d)
		sub := c.ledgers[0].Subscribe(1)
		select { // a commit anywhere is the usual signal; otherwise let the actors run
		case <-sub.C:
		case <-time.After(5 * time.Millisecond):
		}
		sub.Cancel()
	}
}

// mempoolsEmpty reports whether every node's mempool is empty.
func (c *cluster) mempoolsEmpty() bool {
	for _, cs := range c.cons {
		if cs.MempoolSize() != 0 {
			return false
		}
	}
	return true
}

// balanceEverywhere returns a condition: every node's ledger shows balance at a.
func (c *cluster) balanceEverywhere(a staking.Address, balance uint64) func() bool {
	return func() bool {
		for _, l := range c.ledgers {
			if l.Account(a).Balance != balance {
				return false
			}
		}
		return true
	}
}

func (c *cluster) heightsAtLeast(h uint64) func() bool {
	return func() bool {
		for _, l := range c.ledgers {
			if l.Height() < h {
				return false
			}
		}
		return true
	}
}

func TestCommitsOnlyWhenNeeded(t *testing.T) {
	actorstest.CheckLeaks(t)
	c := newCluster(t)
	// Genesis: height 1 commits without any transaction.
	c.advanceUntil(t, 50*time.Millisecond, "height 1", c.heightsAtLeast(1))

	// Idle: many ticks later (proved by re-broadcast decisions of height 1 on the bus), no
	// one has started height 2.
	c.advanceUntil(t, 100*time.Millisecond, "re-broadcasts", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.decs[1] >= 12
	})
	c.mu.Lock()
	idle := c.seen[2]
	c.mu.Unlock()
	if idle != 0 || c.ledgers[0].Height() != 1 {
		t.Fatalf("idle network sent %d messages of height 2, height %d", idle, c.ledgers[0].Height())
	}

	// A transaction starts a height, on whichever node it arrives.
	var to staking.Address
	to[0] = 7
	raw := staking.Sign(c.genesis.NetworkID(), c.faucet, staking.Tx{Nonce: 0, Op: &staking.Transfer{To: to, Amount: 9}}).Encode()
	rep, err := c.cons[2].SubmitTx(context.Background(), raw)
	if err != nil || !rep.Accepted {
		t.Fatalf("submit: %+v, %v", rep, err)
	}
	bad := staking.Sign(c.genesis.NetworkID(), c.faucet, staking.Tx{Nonce: 0, Op: &staking.Transfer{To: to, Amount: 1 << 62}}).Encode()
	if rep, err := c.cons[2].SubmitTx(context.Background(), bad); err != nil || rep.Accepted || rep.Code == staking.OK {
		t.Fatalf("a transaction failing the dry run was accepted: %+v, %v", rep, err)
	}
	c.advanceUntil(t, 50*time.Millisecond, "the transfer", c.balanceEverywhere(to, 9))
	// Every mempool drops the committed transaction.
	c.advanceUntil(t, 50*time.Millisecond, "empty mempools", c.mempoolsEmpty)

	// The epoch clock: past mid-epoch someone proposes, and the next committee is selected;
	// past the end the epoch changes.
	sub := c.ledgers[3].Subscribe(64)
	defer sub.Cancel()
	c.clock.Advance(31 * time.Minute)
	c.advanceUntil(t, 50*time.Millisecond, "committee selection", func() bool {
		return c.ledgers[3].View().State().NextCommittee() != nil
	})
	c.clock.Advance(30 * time.Minute)
	c.advanceUntil(t, 50*time.Millisecond, "epoch 1", func() bool { return c.ledgers[3].CurrentEpoch() == 1 })
	var selected, changed bool
	for !selected || !changed {
		select {
		case ev := <-sub.C:
			switch ev.(type) {
			case *ledger.CommitteeSelected:
				selected = true
			case *ledger.EpochChanged:
				changed = true
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("events: selected %v, changed %v", selected, changed)
		}
	}
}

// TestGossipOutOfOrder: a gossiped transaction that arrives before its predecessor (same
// sender, next nonce) waits and joins the mempool when the predecessor comes, so both
// commit; one too far ahead of the sender's nonce is not kept.
func TestGossipOutOfOrder(t *testing.T) {
	actorstest.CheckLeaks(t)
	c := newCluster(t)
	c.advanceUntil(t, 50*time.Millisecond, "height 1", c.heightsAtLeast(1))
	var to staking.Address
	to[0] = 8
	tx := func(nonce, amount uint64) []byte {
		return staking.Sign(c.genesis.NetworkID(), c.faucet, staking.Tx{Nonce: nonce, Op: &staking.Transfer{To: to, Amount: amount}}).Encode()
	}
	n0 := c.cons[0]
	if err := n0.GossipTx(tx(1, 20)); err != nil {
		t.Fatal(err)
	}
	if err := n0.GossipTx(tx(100, 1)); err != nil { // far ahead: dropped
		t.Fatal(err)
	}
	// The actor handles messages in order: once a later submission is answered, both
	// gossiped ones were handled, and neither is in the mempool yet.
	probe := tx(0, 1<<62) // fails the dry run on its balance, changes nothing
	if rep, err := n0.SubmitTx(context.Background(), probe); err != nil || rep.Accepted {
		t.Fatalf("probe: %+v, %v", rep, err)
	}
	if got := n0.MempoolSize(); got != 0 {
		t.Fatalf("mempool holds %d transactions before the gap is filled", got)
	}
	if err := n0.GossipTx(tx(0, 3)); err != nil {
		t.Fatal(err)
	}
	c.advanceUntil(t, 50*time.Millisecond, "both transfers", c.balanceEverywhere(to, 23))
	c.advanceUntil(t, 50*time.Millisecond, "empty mempools", c.mempoolsEmpty)
	if n := c.ledgers[0].Account(staking.AddressOf(c.faucet.Public().(ed25519.PublicKey))).Nonce; n != 2 {
		t.Fatalf("faucet nonce %d, want 2 (the far-ahead transaction must not apply)", n)
	}
}

// TestResubmitRepublishes: a client resubmitting a transaction the node already holds (it
// is still waiting) makes the node publish it again, at most once per RebroadcastInterval,
// so a first publication nobody received does not strand it.
func TestResubmitRepublishes(t *testing.T) {
	actorstest.CheckLeaks(t)
	c := newCluster(t)
	c.advanceUntil(t, 50*time.Millisecond, "height 1", c.heightsAtLeast(1))
	published := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.txsFrom[0]
	}
	waitPublished := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for published() != want {
			if time.Now().After(deadline) {
				t.Fatalf("node 0 published %d times, want %d", published(), want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	c.mu.Lock()
	c.isolate[0] = true // what node 0 sends reaches nobody
	c.mu.Unlock()
	var to staking.Address
	to[0] = 9
	raw := staking.Sign(c.genesis.NetworkID(), c.faucet, staking.Tx{Nonce: 0, Op: &staking.Transfer{To: to, Amount: 4}}).Encode()
	submit := func() {
		t.Helper()
		if rep, err := c.cons[0].SubmitTx(context.Background(), raw); err != nil || !rep.Accepted {
			t.Fatalf("submit: %+v, %v", rep, err)
		}
	}
	submit()
	waitPublished(1)
	submit() // at once: not published again
	time.Sleep(50 * time.Millisecond)
	if got := published(); got != 1 {
		t.Fatalf("a resubmission within RebroadcastInterval was published (%d publications)", got)
	}
	c.clock.Advance(300 * time.Millisecond) // the test's RebroadcastInterval
	submit()
	waitPublished(2)
	c.mu.Lock()
	c.isolate[0] = false
	c.mu.Unlock()
	c.clock.Advance(300 * time.Millisecond)
	submit()
	waitPublished(3)
	c.advanceUntil(t, 50*time.Millisecond, "the transfer everywhere", c.balanceEverywhere(to, 4))
}

// TestTxReachesTheProposerDirectly: a node that starts a height for a client's transaction
// and is not the height's proposer sends the transaction straight to the proposer, so a
// proposer that missed its gossip starts the height and proposes it at once. Without that,
// nothing starts the proposer's height until the submitter's nil prevote at the propose
// timeout, and the transaction waits for later heights.
func TestTxReachesTheProposerDirectly(t *testing.T) {
	actorstest.CheckLeaks(t)
	c := newCluster(t)
	c.advanceUntil(t, 50*time.Millisecond, "height 1", c.heightsAtLeast(1))
	v := c.ledgers[0].View()
	com := v.SigningCommittee()
	seq := tendermint.ProposerSequence(com)
	next := v.Height() + 1
	proposer := com.Members[seq[next%uint64(len(seq))]].PeerID // round 0 (proposer.go)
	var p int
	if _, err := fmt.Sscanf(proposer, "p%d", &p); err != nil {
		t.Fatal(err)
	}
	from := (p + 1) % len(c.cons)
	c.mu.Lock()
	c.dropTxs[from] = true // its gossip of the transaction reaches nobody
	c.mu.Unlock()
	var to staking.Address
	to[0] = 7
	raw := staking.Sign(c.genesis.NetworkID(), c.faucet, staking.Tx{Nonce: 0, Op: &staking.Transfer{To: to, Amount: 5}}).Encode()
	if rep, err := c.cons[from].SubmitTx(context.Background(), raw); err != nil || !rep.Accepted {
		t.Fatalf("submit: %+v, %v", rep, err)
	}
	c.advanceUntil(t, 10*time.Millisecond, "the transfer everywhere", c.balanceEverywhere(to, 5))
	// Without the direct send the proposer learns of the height from the submitter's nil
	// prevote at the timeout, decides it without the transfer, and the transfer lands
	// heights later (height 5 of the nodes' clock's 1.8 s, where this is height 2 in
	// 0.1-0.2 s).
	if h := c.ledgers[0].Height(); h != next {
		t.Errorf("the transfer was committed by height %d, want %d: the proposer (node %d) did not have it", h, next, p)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.direct == 0 {
		t.Error("no transaction was sent to the proposer directly")
	}
}
