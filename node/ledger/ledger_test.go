package ledger_test

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/node/store"
	"github.com/walrus-go/walrus-go/staking"
)

const genesisTime = 1_700_000_000_000

type fixture struct {
	genesis *staking.Genesis
	keys    map[epoch.NodeID]*bls.SecretKey
	faucet  ed25519.PrivateKey
	store   ds.Batching
}

func newFixture(t testing.TB, name string) *fixture {
	t.Helper()
	f := &fixture{keys: map[epoch.NodeID]*bls.SecretKey{}, store: dssync.MutexWrap(ds.NewMapDatastore())}
	var seed [32]byte
	seed[0] = 9
	_, f.faucet, _ = ed25519.GenerateKey(rand.NewChaCha8(seed))
	g := &staking.Genesis{
		Network: name, NShards: 12, EpochDuration: 3_600_000, GenesisTime: genesisTime,
		Prices: staking.Prices{Storage: 10, Write: 10, Capacity: 1 << 40},
		Faucet: staking.GenesisAccount{Address: staking.AddressOf(f.faucet.Public().(ed25519.PublicKey)), Balance: 1 << 50},
	}
	for i := 0; i < 4; i++ {
		k := epochtest.Key(42, i)
		f.keys[epoch.NodeIDOf(k.PublicKey())] = k
		var op staking.Address
		op[0] = byte(i + 1)
		g.Nodes = append(g.Nodes, staking.GenesisNode{Operator: op, BLSKey: k.PublicKey(), PoP: k.ProvePossession(),
			Info: staking.NodeInfo{PeerID: "p" + string(rune('0'+i)), StoragePrice: 10, WritePrice: 10, Capacity: 1 << 40}, Stake: 1 << 40})
	}
	f.genesis = g
	return f
}

func (f *fixture) open(t testing.TB, snapshotEvery uint64) (*ledger.Ledger, *actors.System) {
	t.Helper()
	sys, err := actors.New("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Stop() })
	l, err := ledger.New(sys, ledger.Config{Genesis: f.genesis, Datastore: f.store, SnapshotEvery: snapshotEvery,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return l, sys
}

// decide builds the next checkpoint on v with txs and a commit certificate signed by the
// committee members picked by sign (all when nil) with their keys, or with other keys when
// forge is set.
func (f *fixture) decide(t testing.TB, v *ledger.View, txs [][]byte, sign func(i int) bool, forge bool) *tendermint.Decision {
	t.Helper()
	st := v.State()
	cp, _, err := st.BuildCheckpoint(st.Time()+1000, txs)
	if err != nil {
		t.Fatal(err)
	}
	return f.certify(t, v, cp.Encode(), cp.Height, sign, forge)
}

func (f *fixture) certify(t testing.TB, v *ledger.View, val []byte, height uint64, sign func(i int) bool, forge bool) *tendermint.Decision {
	t.Helper()
	c := v.SigningCommittee()
	msg := tendermint.VoteSignBytes(v.Network(), c.Epoch, tendermint.Precommit, height, 0, tendermint.HashValue(val))
	signers := make([]byte, (len(c.Members)+7)/8)
	var sigs []bls.Signature
	for i, m := range c.Members {
		if sign != nil && !sign(i) {
			continue
		}
		k := f.keys[m.Node]
		if forge {
			k = epochtest.Key(666, i)
		}
		sigs = append(sigs, k.Sign(msg))
		signers[i/8] |= 1 << (i % 8)
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		t.Fatal(err)
	}
	return &tendermint.Decision{Height: height, Value: val, Commit: tendermint.CommitCert{Cert: epoch.Certificate{Epoch: c.Epoch, Signers: signers, Signature: agg}}}
}

func (f *fixture) transfer(nonce uint64, amount uint64) []byte {
	var to staking.Address
	to[0] = 0xaa
	return staking.Sign(f.genesis.NetworkID(), f.faucet, staking.Tx{Nonce: nonce, Op: &staking.Transfer{To: to, Amount: amount}}).Encode()
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestSubmitAppliesAndReports(t *testing.T) {
	f := newFixture(t, "ledgertest")
	l, _ := f.open(t, 0)
	sub := l.Subscribe(16)
	tx := f.transfer(0, 77)
	hash := ledger.TxHash(tx)
	waited := make(chan ledger.TxReceipt, 1)
	go func() {
		r, err := l.WaitTx(ctx(t), hash)
		if err != nil {
			t.Error(err)
		}
		waited <- r
	}()
	h, err := l.Submit(ctx(t), f.decide(t, l.View(), [][]byte{tx, []byte("garbage")}, nil, false))
	if err != nil || h != 1 || l.Height() != 1 {
		t.Fatalf("submit: height %d, %v", h, err)
	}
	r := <-waited
	if !r.OK() || r.Height != 1 || r.Index != 0 || r.Hash != hash {
		t.Fatalf("receipt %+v", r)
	}
	ev := (<-sub.C).(*ledger.CheckpointCommitted)
	if ev.Height != 1 || len(ev.Receipts) != 2 || !ev.Receipts[0].OK() || ev.Receipts[1].Code != staking.CodeMalformed || ev.View.Height() != 1 {
		t.Fatalf("event %+v", ev)
	}
	var to staking.Address
	to[0] = 0xaa
	if got := l.Account(to).Balance; got != 77 {
		t.Fatalf("balance %d", got)
	}
	// A receipt of a committed transaction is answered at once.
	if r2, err := l.WaitTx(ctx(t), hash); err != nil || r2 != r {
		t.Fatalf("second wait %+v, %v", r2, err)
	}
}

// TestReceiptOfRecommittedTx: the same signed bytes committed twice (first rejected on
// their nonce, then applied once the gap is filled) report the success; a wait with After
// at the first inclusion's height is answered only by the second one; a replay after the
// success does not override it.
func TestReceiptOfRecommittedTx(t *testing.T) {
	f := newFixture(t, "ledgertest")
	l, _ := f.open(t, 0)
	tx1 := f.transfer(1, 5) // nonce 1 before nonce 0: rejected
	hash := ledger.TxHash(tx1)
	if _, err := l.Submit(ctx(t), f.decide(t, l.View(), [][]byte{tx1}, nil, false)); err != nil {
		t.Fatal(err)
	}
	first, err := l.WaitTx(ctx(t), hash)
	if err != nil || first.OK() || first.Code != staking.CodeBadNonce || first.Height != 1 {
		t.Fatalf("first inclusion: %+v, %v", first, err)
	}
	// A wait after height 1 is not answered by the failed inclusion...
	waited := make(chan ledger.TxReceipt, 1)
	go func() {
		r, err := l.WaitTxAfter(ctx(t), hash, first.Height)
		if err != nil {
			t.Error(err)
		}
		waited <- r
	}()
	if _, err := l.Submit(ctx(t), f.decide(t, l.View(), [][]byte{f.transfer(0, 1)}, nil, false)); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-waited:
		t.Fatalf("answered by a checkpoint without the transaction: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	// ...but by the one that applies it.
	if _, err := l.Submit(ctx(t), f.decide(t, l.View(), [][]byte{tx1}, nil, false)); err != nil {
		t.Fatal(err)
	}
	r := <-waited
	if !r.OK() || r.Height != 3 {
		t.Fatalf("second inclusion: %+v", r)
	}
	// Replayed after its success: rejected on the nonce, the success still stands.
	if _, err := l.Submit(ctx(t), f.decide(t, l.View(), [][]byte{tx1}, nil, false)); err != nil {
		t.Fatal(err)
	}
	if got, err := l.WaitTx(ctx(t), hash); err != nil || !got.OK() || got.Height != 3 {
		t.Fatalf("after the replay: %+v, %v", got, err)
	}
}

func TestSubmitRefusesBadCommits(t *testing.T) {
	f := newFixture(t, "ledgertest")
	l, _ := f.open(t, 0)
	v := l.View()
	cases := map[string]*tendermint.Decision{
		"forged keys":      f.decide(t, v, nil, nil, true),
		"below quorum":     f.decide(t, v, nil, func(i int) bool { return i < 2 }, false),
		"not a checkpoint": f.certify(t, v, []byte("hello"), 1, nil, false),
	}
	// A valid certificate on a checkpoint whose state root is wrong.
	st := v.State()
	cp, _, err := st.BuildCheckpoint(st.Time()+1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	cp.StateRoot[0] ^= 1
	cases["wrong root"] = f.certify(t, v, cp.Encode(), 1, nil, false)
	for name, d := range cases {
		if _, err := l.Submit(ctx(t), d); !errors.Is(err, ledger.ErrBadCommit) {
			t.Errorf("%s: %v, want ErrBadCommit", name, err)
		}
	}
	if l.Height() != 0 {
		t.Fatalf("height %d after refused commits", l.Height())
	}
	d1 := f.decide(t, v, nil, nil, false)
	if _, err := l.Submit(ctx(t), d1); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Submit(ctx(t), d1); !errors.Is(err, ledger.ErrStale) {
		t.Fatalf("resubmit: %v", err)
	}
	gap := f.certify(t, l.View(), []byte("x"), 5, nil, false)
	if _, err := l.Submit(ctx(t), gap); !errors.Is(err, ledger.ErrGap) {
		t.Fatalf("gap: %v", err)
	}
}

func TestRestartRestoresSnapshotAndReplays(t *testing.T) {
	f := newFixture(t, "ledgertest")
	l, sys := f.open(t, 2)
	for i := 0; i < 5; i++ {
		txs := [][]byte{f.transfer(uint64(i), 1)}
		if _, err := l.Submit(ctx(t), f.decide(t, l.View(), txs, nil, false)); err != nil {
			t.Fatal(err)
		}
	}
	root := l.View().State().Root()
	if err := sys.Stop(); err != nil {
		t.Fatal(err)
	}
	snap, err := f.store.Get(ctx(t), store.Snapshot(4))
	if err != nil || binary.LittleEndian.Uint64(snap) != 4 {
		t.Fatalf("snapshot missing or not at height 4: %v", err)
	}
	if ok, _ := f.store.Has(ctx(t), store.Snapshot(2)); ok {
		t.Fatal("the older snapshot was kept")
	}
	l2, _ := f.open(t, 2)
	if l2.Height() != 5 || l2.View().State().Root() != root {
		t.Fatalf("restarted at %d, root equal %v", l2.Height(), l2.View().State().Root() == root)
	}
	// And it keeps going.
	if _, err := l2.Submit(ctx(t), f.decide(t, l2.View(), nil, nil, false)); err != nil {
		t.Fatal(err)
	}
}

func TestDataDirOfAnotherNetwork(t *testing.T) {
	f := newFixture(t, "ledgertest")
	f.open(t, 0)
	g := newFixture(t, "othernet")
	g.store = f.store
	sys, _ := actors.New("test")
	defer sys.Stop()
	if _, err := ledger.New(sys, ledger.Config{Genesis: g.genesis, Datastore: g.store}); err == nil {
		t.Fatal("opened a data directory of another network")
	}
}

// TestTamperedSnapshotRefused: a snapshot on disk is believed only as far as the certified
// checkpoint of its height vouches for it. A snapshot of another state at the same height
// (same network, decodable, another history: transfers of 2 instead of 1) in place of the
// real one makes New fail with a clear error instead of serving that state.
func TestTamperedSnapshotRefused(t *testing.T) {
	f := newFixture(t, "ledgertest")
	l, sys := f.open(t, 2)
	other := newFixture(t, "ledgertest") // the same genesis, its own datastore
	lo, _ := other.open(t, 2)
	for i := 0; i < 5; i++ {
		if _, err := l.Submit(ctx(t), f.decide(t, l.View(), [][]byte{f.transfer(uint64(i), 1)}, nil, false)); err != nil {
			t.Fatal(err)
		}
		if _, err := lo.Submit(ctx(t), other.decide(t, lo.View(), [][]byte{other.transfer(uint64(i), 2)}, nil, false)); err != nil {
			t.Fatal(err)
		}
	}
	if err := sys.Stop(); err != nil {
		t.Fatal(err)
	}
	genuine, err := f.store.Get(ctx(t), store.Snapshot(4))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := other.store.Get(ctx(t), store.Snapshot(4))
	if err != nil || string(forged) == string(genuine) {
		t.Fatalf("no other snapshot at height 4: %v", err)
	}
	if err := f.store.Put(ctx(t), store.Snapshot(4), forged); err != nil {
		t.Fatal(err)
	}
	sys2, err := actors.New("test")
	if err != nil {
		t.Fatal(err)
	}
	defer sys2.Stop()
	_, err = ledger.New(sys2, ledger.Config{Genesis: f.genesis, Datastore: f.store, SnapshotEvery: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "does not match the certified state root") {
		t.Fatalf("a tampered snapshot was loaded: %v", err)
	}
	// The real snapshot back: the ledger opens at height 5.
	if err := f.store.Put(ctx(t), store.Snapshot(4), genuine); err != nil {
		t.Fatal(err)
	}
	if l2, _ := f.open(t, 2); l2.Height() != 5 {
		t.Fatalf("restarted at %d", l2.Height())
	}
}
