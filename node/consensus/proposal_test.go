package consensus_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
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

// testFees is a fee schedule under which a fresh key cannot pay.
var testFees = staking.Fees{Base: 1_000, PerByte: 10, PerVerify: 1_000_000}

// TestJunkProposalGetsNilPrevote drives the node's own validation of a proposal (the
// consensus actor's Validate: staking.ApplyCheckpoint on the latest view, then
// staking.CheckProposal). The proposer of height 1 sends a correctly signed proposal whose
// checkpoint applies — right state root, every bad transaction a no-op with a receipt —
// but holds a transaction that was not admitted (unpaid, wrong nonce, bad signature) or
// whose BLS check failed: the member prevotes nil. A checkpoint whose transactions were
// all admitted, even one whose operation is refused and only pays its fee, gets the
// member's prevote for it. The clock never moves, so no propose timeout can explain a nil
// prevote: it is the answer to the proposal.
func TestJunkProposalGetsNilPrevote(t *testing.T) {
	actorstest.CheckLeaks(t)
	var seed [32]byte
	seed[0] = 11
	_, faucet, _ := ed25519.GenerateKey(rand.NewChaCha8(seed))
	seed[0] = 12
	_, fresh, _ := ed25519.GenerateKey(rand.NewChaCha8(seed)) // no account: cannot pay
	g := &staking.Genesis{
		Network: "junkprop", NShards: 12, EpochDuration: 3_600_000, GenesisTime: start.Add(-time.Second).UnixMilli(),
		Prices: staking.Prices{Storage: 10, Write: 10, Capacity: 1 << 40, Fees: testFees},
		Faucet: staking.GenesisAccount{Address: staking.AddressOf(faucet.Public().(ed25519.PublicKey)), Balance: 1 << 50},
	}
	keys := map[epoch.NodeID]*bls.SecretKey{}
	for _, k := range addNodes(g, 31, staking.NodeInfo{StoragePrice: 10, WritePrice: 10, Capacity: 1 << 40, Fees: testFees}) {
		keys[epoch.NodeIDOf(k.PublicKey())] = k
	}
	genesis, err := staking.NewState(g)
	if err != nil {
		t.Fatal(err)
	}
	com := genesis.Committee()
	proposer := tendermint.ProposerSequence(com)[1%uint64(com.NShards)] // proposer(1, 0)
	voter := (proposer + 1) % uint32(len(com.Members))

	network := g.NetworkID()
	var to staking.Address
	to[0] = 0x77
	sign := func(key ed25519.PrivateKey, nonce uint64, op staking.Op) []byte {
		return staking.Sign(network, key, staking.Tx{Nonce: nonce, Op: op}).Encode()
	}
	good := sign(faucet, 0, &staking.Transfer{To: to, Amount: 5})
	refused := sign(faucet, 1, &staking.Transfer{To: to, Amount: 1 << 62}) // admitted: pays, refused
	unpaid := sign(fresh, 0, &staking.Transfer{To: to, Amount: 1})
	wrongNonce := sign(faucet, 7, &staking.Transfer{To: to, Amount: 1})
	badSig := bytes.Clone(sign(faucet, 1, &staking.Transfer{To: to, Amount: 1}))
	badSig[len(badSig)-1] ^= 1 // the signature is last
	synced := com.Members[voter].Node
	forged := epochtest.Key(999, 0).Sign(staking.SyncDoneMessage(network, 0, synced))
	badBLS := sign(faucet, 1, &staking.SyncDone{Node: synced, Epoch: 0, Sig: forged})

	for _, tc := range []struct {
		name  string
		txs   [][]byte
		valid bool
	}{
		{"all admitted, one refused", [][]byte{good, refused}, true},
		{"an unpaid transaction", [][]byte{good, unpaid}, false},
		{"a failed BLS check", [][]byte{good, badBLS}, false},
		{"a wrong nonce", [][]byte{good, wrongNonce}, false},
		{"a bad signature", [][]byte{good, badSig}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := actorstest.NewManualClock(start, 64)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			drain(ctx, clock)
			sys, err := actors.New("junk")
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = sys.Stop() }()
			l, err := ledger.New(sys, ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore()), Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			c, err := consensus.New(sys, consensus.Config{Ledger: l, Key: keys[com.Members[voter].Node], Clock: clock, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()

			// The proposal applies: the junk only fails the proposal validity rule.
			st := l.View().State()
			cp, _, err := st.BuildCheckpoint(clock.Now().UnixMilli(), tc.txs)
			if err != nil {
				t.Fatal(err)
			}
			res, err := st.Clone().ApplyCheckpoint(cp)
			if err != nil {
				t.Fatalf("the checkpoint does not apply: %v", err)
			}
			if err := staking.CheckProposal(res); (err == nil) != tc.valid || (err != nil && !errors.Is(err, staking.ErrInvalidProposal)) {
				t.Fatalf("CheckProposal: %v (receipts %v)", err, res.Receipts)
			}
			val := cp.Encode()
			p := &tendermint.Proposal{Height: 1, Round: 0, ValidRound: -1, Value: val, Proposer: proposer}
			p.Signature = keys[com.Members[proposer].Node].Sign(tendermint.ProposalSignBytes(network, com.Epoch, 1, 0, -1, tendermint.HashValue(val)))
			if err := c.Deliver(p, peer.ID("proposer")); err != nil {
				t.Fatal(err)
			}

			prevote := awaitPrevote(t, c, voter)
			want := tendermint.Hash{}
			if tc.valid {
				want = tendermint.HashValue(val)
			}
			if prevote.Value != want {
				t.Fatalf("prevoted %x, want %x (nil for junk)", prevote.Value[:4], want[:4])
			}
		})
	}
}

// awaitPrevote returns the first prevote of height 1, round 0 that member self publishes.
func awaitPrevote(t *testing.T, c *consensus.Consensus, self uint32) *tendermint.Vote {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case o := <-c.Out():
			if o.Topic != consensus.OutConsensus {
				continue
			}
			m, err := consensus.DecodeWire(o.Data, 8<<20)
			if err != nil {
				t.Fatal(err)
			}
			if v, ok := m.(*tendermint.Vote); ok && v.Type == tendermint.Prevote && v.Height == 1 && v.Round == 0 && v.Validator == self {
				return v
			}
		case <-timeout:
			t.Fatal("no prevote of height 1, round 0")
			return nil
		}
	}
}

// TestByzantineProposerJunkNotCommitted: four consensus actors, one of them byzantine (its
// own messages never leave it; the test speaks for it with its key). At a height it
// proposes in round 0 it sends the honest three a correctly signed checkpoint holding a
// forged sync done, and prevotes and precommits it. The honest members prevote nil, so the
// junk gets no commit; the height is decided in a later round without it, and later
// heights commit normally.
func TestByzantineProposerJunkNotCommitted(t *testing.T) {
	actorstest.CheckLeaks(t)
	c := newCluster(t)
	byzKey := epochtest.Key(5, 0) // node 0's key (newCluster: addNodes(g, 5, …))
	byz := epoch.NodeIDOf(byzKey.PublicKey())
	c.mu.Lock()
	c.isolate[0] = true
	c.mu.Unlock()
	c.advanceUntil(t, 50*time.Millisecond, "height 1", c.heightsAtLeast(1))

	network := c.genesis.NetworkID()
	faucet := staking.AddressOf(c.faucet.Public().(ed25519.PublicKey))
	var to staking.Address
	to[0] = 0x99
	transfer := func(amount uint64) {
		t.Helper()
		nonce := c.ledgers[1].Account(faucet).Nonce
		raw := staking.Sign(network, c.faucet, staking.Tx{Nonce: nonce, Op: &staking.Transfer{To: to, Amount: amount}}).Encode()
		if rep, err := c.cons[1].SubmitTx(context.Background(), raw); err != nil || !rep.Accepted {
			t.Fatalf("submit: %+v, %v", rep, err)
		}
		c.advanceUntil(t, 50*time.Millisecond, "the transfer", c.heightsAtLeast(c.ledgers[1].Height()+1))
	}
	// Move on until the byzantine node proposes the next height's round 0.
	var com *epoch.Committee
	var proposer uint32
	for range 24 {
		com = c.ledgers[1].View().SigningCommittee()
		proposer = tendermint.ProposerSequence(com)[(c.ledgers[1].Height()+1)%uint64(com.NShards)]
		if com.Members[proposer].Node == byz {
			break
		}
		transfer(1)
	}
	if com.Members[proposer].Node != byz {
		t.Fatal("the byzantine node never proposes round 0")
	}
	v := c.ledgers[1].View()
	h := v.Height() + 1
	before, rounds := c.ledgers[1].Account(to).Balance, c.cons[1].Rounds()
	nonce := v.State().Account(faucet).Nonce
	synced := com.Members[(proposer+1)%uint32(len(com.Members))].Node
	junk := [][]byte{
		staking.Sign(network, c.faucet, staking.Tx{Nonce: nonce, Op: &staking.Transfer{To: to, Amount: 1000}}).Encode(),
		staking.Sign(network, c.faucet, staking.Tx{Nonce: nonce + 1, Op: &staking.SyncDone{Node: synced, Epoch: com.Epoch,
			Sig: epochtest.Key(999, 0).Sign(staking.SyncDoneMessage(network, com.Epoch, synced))}}).Encode(),
	}
	cp, _, err := v.State().BuildCheckpoint(max(c.clock.Now().UnixMilli(), v.State().Time()+1), junk)
	if err != nil {
		t.Fatal(err)
	}
	val := cp.Encode()
	hash := tendermint.HashValue(val)
	p := &tendermint.Proposal{Height: h, Round: 0, ValidRound: -1, Value: val, Proposer: proposer}
	p.Signature = byzKey.Sign(tendermint.ProposalSignBytes(network, com.Epoch, h, 0, -1, hash))
	msgs := []tendermint.Message{p}
	for _, typ := range []tendermint.VoteType{tendermint.Prevote, tendermint.Precommit} {
		vote := &tendermint.Vote{Type: typ, Height: h, Round: 0, Value: hash, Validator: proposer}
		vote.Signature = byzKey.Sign(tendermint.VoteSignBytes(network, com.Epoch, typ, h, 0, hash))
		msgs = append(msgs, vote)
	}
	for _, m := range msgs {
		for _, o := range c.cons[1:] {
			if err := o.Deliver(m, peer.ID("byzantine")); err != nil {
				t.Fatal(err)
			}
		}
	}
	c.advanceUntil(t, 50*time.Millisecond, "the byzantine height", c.heightsAtLeast(h))
	for i, l := range c.ledgers {
		if l.View().State().LastHash() == cp.Hash() {
			t.Fatalf("node %d committed the junk checkpoint at height %d", i, h)
		}
	}
	if got := c.ledgers[1].Account(to).Balance; got != before {
		t.Fatalf("the junk checkpoint's transfer was applied: balance %d, was %d", got, before)
	}
	if c.cons[1].Rounds() == rounds {
		t.Fatal("height decided in round 0: the junk proposal was not what the honest members saw")
	}
	transfer(7) // later heights commit normally
	c.advanceUntil(t, 50*time.Millisecond, "the later transfer everywhere", c.balanceEverywhere(to, before+7))
}
