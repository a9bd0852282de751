package gc_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/gc"
	"github.com/walrus-go/walrus-go/node/ledger"
	nodestore "github.com/walrus-go/walrus-go/node/store"
	"github.com/walrus-go/walrus-go/staking"
)

const (
	genesisTime = 1_700_000_000_000
	epochMs     = 3_600_000
	nShards     = 10
)

// fixture is one node's ledger (real, driven by hand-made checkpoints) and blob store over
// one pebble datastore in a temporary directory.
type fixture struct {
	t       *testing.T
	ds      datastore.Batching
	l       *ledger.Ledger
	bs      *blobstore.Store
	genesis *staking.Genesis
	keys    map[epoch.NodeID]*bls.SecretKey
	user    ed25519.PrivateKey
	nonce   uint64
	now     int64
	node    epoch.NodeID
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, keys: map[epoch.NodeID]*bls.SecretKey{}, now: genesisTime}
	var seed [32]byte
	seed[0] = 7
	_, f.user, _ = ed25519.GenerateKey(rand.NewChaCha8(seed))
	g := &staking.Genesis{
		Network: "gctest", NShards: nShards, EpochDuration: epochMs, GenesisTime: genesisTime,
		Prices: staking.Prices{Storage: 1, Write: 1, Capacity: 1 << 40},
		Faucet: staking.GenesisAccount{Address: staking.AddressOf(f.user.Public().(ed25519.PublicKey)), Balance: 1 << 50},
	}
	for i := 0; i < 4; i++ {
		k := epochtest.Key(42, i)
		f.keys[epoch.NodeIDOf(k.PublicKey())] = k
		var op staking.Address
		op[0] = byte(i + 1)
		g.Nodes = append(g.Nodes, staking.GenesisNode{Operator: op, BLSKey: k.PublicKey(), PoP: k.ProvePossession(),
			Info: staking.NodeInfo{PeerID: "p" + string(rune('0'+i)), StoragePrice: 1, WritePrice: 1, Capacity: 1 << 40}, Stake: 1 << 40})
	}
	f.genesis = g
	var err error
	if f.ds, err = nodestore.Open(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	sys, err := actors.New("test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Stop(); _ = f.ds.Close() })
	if f.l, err = ledger.New(sys, ledger.Config{Genesis: g, Datastore: f.ds, Logger: quiet()}); err != nil {
		t.Fatal(err)
	}
	f.bs = blobstore.New(f.ds, f.l.Params())
	f.node = f.l.View().SigningCommittee().Members[0].Node
	return f
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func testCtx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// tx signs op with the next nonce of the user and returns it with the nonce used.
func (f *fixture) tx(op staking.Op) ([]byte, uint64) {
	n := f.nonce
	f.nonce++
	return staking.Sign(f.genesis.NetworkID(), f.user, staking.Tx{Nonce: n, Op: op}).Encode(), n
}

func (f *fixture) obj(nonce uint64) staking.ObjectID {
	return staking.DeriveObjectID(staking.AddressOf(f.user.Public().(ed25519.PublicKey)), nonce, 0)
}

// commit applies txs in a checkpoint at time now (advancing the epoch when it crosses one)
// and fails unless every transaction succeeded.
func (f *fixture) commit(now int64, txs ...[]byte) *ledger.View {
	f.t.Helper()
	v := f.l.View()
	cp, res, err := v.State().BuildCheckpoint(now, txs)
	if err != nil {
		f.t.Fatal(err)
	}
	for i, r := range res.Receipts {
		if !r.OK() {
			f.t.Fatalf("tx %d of checkpoint %d: %+v", i, cp.Height, r)
		}
	}
	val := cp.Encode()
	if _, err := f.l.Submit(testCtx(f.t), &tendermint.Decision{Height: cp.Height, Value: val, Commit: tendermint.CommitCert{Cert: f.cert(v.SigningCommittee(),
		tendermint.VoteSignBytes(v.Network(), v.SigningCommittee().Epoch, tendermint.Precommit, cp.Height, 0, tendermint.HashValue(val)))}}); err != nil {
		f.t.Fatal(err)
	}
	f.now = now
	return f.l.View()
}

// cert is a certificate over msg signed by every member of c.
func (f *fixture) cert(c *epoch.Committee, msg []byte) epoch.Certificate {
	signers := make([]byte, (len(c.Members)+7)/8)
	var sigs []bls.Signature
	for i, m := range c.Members {
		sigs = append(sigs, f.keys[m.Node].Sign(msg))
		signers[i/8] |= 1 << (i % 8)
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		f.t.Fatal(err)
	}
	return epoch.Certificate{Epoch: c.Epoch, Signers: signers, Signature: agg}
}

// blob is one encoded blob and its registration.
type blob struct {
	data   []byte
	enc    *codec.EncodedBlob
	object staking.ObjectID
}

// register reserves storage until end and registers a blob of size bytes, in one
// checkpoint, then stores its metadata and every shard's pair in the node's store.
func (f *fixture) register(seed byte, size int, end uint32, deletable bool) *blob {
	f.t.Helper()
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*31) ^ seed
	}
	p := f.l.Params()
	enc, err := codec.Encode(p, data)
	if err != nil {
		f.t.Fatal(err)
	}
	encLen, _ := p.EncodedLength(uint64(size))
	v := f.l.View()
	res, rn := f.tx(&staking.ReserveStorage{Size: encLen, Start: v.Epoch(), End: end})
	reg, gn := f.tx(&staking.RegisterBlob{Storage: f.obj(rn), BlobID: enc.BlobID, Root: enc.Metadata.Root(),
		Length: uint64(size), Encoding: codec.EncodingTypeRS2, Deletable: deletable})
	f.commit(f.now+1000, res, reg)
	b := &blob{data: data, enc: enc, object: f.obj(gn)}
	ctx := testCtx(f.t)
	if err := f.bs.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
		f.t.Fatal(err)
	}
	var pairs []blobstore.PairWrite
	for sh := 0; sh < p.N; sh++ {
		pr, se := enc.Pair(p.PairIndexForShard(enc.BlobID, sh))
		pairs = append(pairs, blobstore.PairWrite{Shard: sh, Primary: pr, Secondary: se})
	}
	errs, err := f.bs.PutPairs(ctx, enc.BlobID, pairs)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range errs {
		if e != nil {
			f.t.Fatal(e)
		}
	}
	return b
}

func (f *fixture) certifyTx(b *blob, deletable bool) []byte {
	v := f.l.View()
	c := v.SigningCommittee()
	tx, _ := f.tx(&staking.CertifyBlob{Blob: b.object, BlobID: b.enc.BlobID, Deletable: deletable,
		Cert: f.cert(c, staking.ConfirmationMessage(v.Network(), v.Epoch(), b.enc.BlobID, deletable, b.object))})
	return tx
}

func (f *fixture) invalidateTx(b *blob) []byte {
	v := f.l.View()
	tx, _ := f.tx(&staking.InvalidateBlob{BlobID: b.enc.BlobID,
		Cert: f.cert(v.SigningCommittee(), staking.InvalidBlobMessage(v.Network(), v.Epoch(), b.enc.BlobID))})
	return tx
}

// readBack reads a blob from the store's primary slivers and checks it is byte-identical.
func (f *fixture) readBack(b *blob) {
	f.t.Helper()
	ctx := testCtx(f.t)
	p := f.l.Params()
	m, err := f.bs.Metadata(ctx, b.enc.BlobID)
	if err != nil {
		f.t.Fatal(err)
	}
	var slivers []codec.Sliver
	for i := 0; i < p.N; i++ {
		sl, err := f.bs.Sliver(ctx, b.enc.BlobID, blobstore.ShardForSliver(p, b.enc.BlobID, codec.AxisPrimary, i), codec.AxisPrimary)
		if err != nil {
			f.t.Fatal(err)
		}
		slivers = append(slivers, sl)
	}
	got, err := codec.DecodePrimaryVerified(p, &m, slivers)
	if err != nil {
		f.t.Fatal(err)
	}
	if !bytes.Equal(got, b.data) {
		f.t.Fatal("live blob does not read back byte-identical")
	}
}

// usage counts the keys and bytes (keys and values) under /blobs and /shards.
func (f *fixture) usage() (keys int, size int64) {
	f.t.Helper()
	for _, prefix := range []datastore.Key{nodestore.BlobsPrefix, nodestore.ShardsPrefix} {
		res, err := f.ds.Query(testCtx(f.t), query.Query{Prefix: prefix.String()})
		if err != nil {
			f.t.Fatal(err)
		}
		all, err := res.Rest()
		if err != nil {
			f.t.Fatal(err)
		}
		for _, e := range all {
			keys++
			size += int64(len(e.Key) + len(e.Value))
		}
	}
	return keys, size
}

// gone checks that nothing but the removal marker (with the given reason) is left of b.
func (f *fixture) gone(b *blob, reason uint8) {
	f.t.Helper()
	ctx := testCtx(f.t)
	id := b.enc.BlobID
	_, err := f.bs.MetadataBytes(ctx, id)
	if !errorsIs(err, blobstore.ErrRemoved) || !errorsIs(err, blobstore.ErrNotFound) || !strings.Contains(err.Error(), "not stored here") {
		f.t.Fatalf("metadata of removed blob: %v", err)
	}
	if r, ok, err := f.bs.Removed(ctx, id); err != nil || !ok || r.Reason != reason {
		f.t.Fatalf("removal marker %+v %v %v, want reason %s", r, ok, err, blobstore.RemovalReason(reason))
	}
	for sh := 0; sh < nShards; sh++ {
		if ids, _ := f.bs.ShardBlobs(ctx, sh, nil, 0); containsID(ids, id) {
			f.t.Fatalf("shard %d still holds slivers of %s", sh, id)
		}
	}
	if st, _ := f.bs.StoredShards(ctx, id); len(st) != 0 {
		f.t.Fatalf("pair markers left: %v", st)
	}
}

func containsID(ids []codec.BlobID, id codec.BlobID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// TestCollectsDeletedExpiredInvalid: a deleted, an expired and an invalidated blob lose
// their metadata and slivers (the datastore's keys and bytes go down by at least theirs)
// while a certified blob stored beside them reads back byte-identical; the collector runs
// as the node runs it, driven by ledger events and its sweep.
func TestCollectsDeletedExpiredInvalid(t *testing.T) {
	f := newFixture(t)
	live := f.register(1, 5000, 5, false)
	deleted := f.register(2, 4000, 5, true)
	expired := f.register(3, 3000, 1, false) // ends when epoch 1 starts
	invalid := f.register(4, 2000, 5, false)
	f.commit(f.now+1000, f.certifyTx(live, false))
	ctx := testCtx(t)
	unknown := codec.BlobID{9}
	if _, err := f.bs.MetadataBytes(ctx, unknown); !errorsIs(err, blobstore.ErrNotFound) || errorsIs(err, blobstore.ErrRemoved) {
		t.Fatalf("unknown blob: %v", err)
	}

	keys0, size0 := f.usage()
	var freed int64
	for _, b := range []*blob{deleted, expired, invalid} {
		n, err := f.bs.BlobBytes(ctx, b.enc.BlobID, allShards())
		if err != nil {
			t.Fatal(err)
		}
		// Sized from the metadata without reading a sliver, and still exact.
		if read, err := f.bs.StoredBytes(ctx, b.enc.BlobID, allShards()); err != nil || read != n {
			t.Fatalf("BlobBytes %d, the datastore says %d (%v)", n, read, err)
		}
		freed += n
	}

	var removed = make(chan string, 8)
	col, err := gc.New(gc.Config{Store: f.bs, Ledger: f.l, Node: f.node, Interval: 5 * time.Millisecond,
		Batch: 2, Scan: 3, Logger: quiet(), OnRemoved: func(reason string, _ int, _ int64) { removed <- reason }})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); col.Run(runCtx) }()
	defer func() { stop(); <-done }()
	// The first sweep finds nothing to remove; give it time to finish.
	time.Sleep(50 * time.Millisecond)
	if len(removed) != 0 {
		t.Fatalf("removed %q before anything ended", <-removed)
	}

	// Delete and invalidate in one checkpoint (events), then cross into epoch 1 (expiry).
	sub := f.l.Subscribe(64)
	del, _ := f.tx(&staking.DeleteBlob{Blob: deleted.object})
	f.commit(f.now+1000, del, f.invalidateTx(invalid))
	var sawDeleted bool
	for len(sub.C) > 0 {
		if ev, ok := (<-sub.C).(*ledger.BlobDeleted); ok && ev.BlobID == deleted.enc.BlobID && ev.Object == deleted.object {
			sawDeleted = true
		}
	}
	sub.Cancel()
	if !sawDeleted {
		t.Fatal("no BlobDeleted event for the delete-blob transaction")
	}
	f.commit(genesisTime + epochMs + 1)
	if f.l.View().Epoch() != 1 {
		t.Fatalf("epoch %d", f.l.View().Epoch())
	}
	got := map[string]bool{}
	for len(got) < 3 {
		select {
		case r := <-removed:
			got[r] = true
		case <-ctx.Done():
			t.Fatalf("removed only %v", got)
		}
	}
	f.gone(deleted, blobstore.RemovedDeleted)
	f.gone(expired, blobstore.RemovedExpired)
	f.gone(invalid, blobstore.RemovedInvalid)
	f.readBack(live)
	keys1, size1 := f.usage()
	if keys1 >= keys0 || size0-size1 < freed-3*128 { // 3 small removal markers come in
		t.Fatalf("datastore went from %d keys, %d bytes to %d keys, %d bytes; blobs held %d bytes", keys0, size0, keys1, size1, freed)
	}
	t.Logf("datastore: %d keys, %d bytes -> %d keys, %d bytes", keys0, size0, keys1, size1)
}

// TestRaceKeepsBlob: a collection that decided from a stale view (the blob did not exist
// yet) but reaches the store after a registration and an extension keeps the blob, because
// RemoveBlob decides again from the latest view under the store's lock; Decide on a view
// where the blob was extended past the epoch it would have expired in keeps it.
func TestRaceKeepsBlob(t *testing.T) {
	f := newFixture(t)
	stale := f.l.View() // before the registration
	b := f.register(5, 3000, 1, false)
	ext, _ := f.tx(&staking.ExtendBlob{Blob: b.object, End: 3})
	f.commit(f.now+1000, ext)
	v := f.commit(genesisTime + epochMs + 1) // epoch 1: without the extension, expired
	if v.Epoch() != 1 {
		t.Fatalf("epoch %d", v.Epoch())
	}
	if _, remove := gc.Decide(stale, b.enc.BlobID); !remove {
		t.Fatal("stale view: an unregistered blob should be removable")
	}
	if _, remove := gc.Decide(v, b.enc.BlobID); remove {
		t.Fatal("Decide removes a blob extended past the current epoch")
	}
	// The collector's pre-check sees the stale view; the check under the lock the latest.
	sl := &scripted{Ledger: f.l, views: []*ledger.View{stale}}
	col, err := gc.New(gc.Config{Store: f.bs, Ledger: sl, Node: f.node, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	col.Enqueue(b.enc.BlobID)
	n, err := col.Step(testCtx(t))
	if err != nil || n != 0 {
		t.Fatalf("step removed %d, %v", n, err)
	}
	if sl.calls < 2 {
		t.Fatalf("the view was read %d times; want a re-check before deleting", sl.calls)
	}
	f.readBack(b)

	// Once the extended end passes, the blob goes.
	f.commit(genesisTime + 3*epochMs + 1)
	col2, _ := gc.New(gc.Config{Store: f.bs, Ledger: f.l, Node: f.node, Logger: quiet()})
	col2.StartSweep()
	for col2.Sweeping() {
		if _, err := col2.Step(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	f.gone(b, blobstore.RemovedExpired)

	// Stored again (re-registered), the blob is no longer "removed".
	if err := f.bs.PutMetadata(testCtx(t), b.enc.BlobID, &b.enc.Metadata); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := f.bs.Removed(testCtx(t), b.enc.BlobID); ok {
		t.Fatal("removal marker survives a new put")
	}
}

// scripted returns its views in turn, then the ledger's latest.
type scripted struct {
	*ledger.Ledger
	views []*ledger.View
	calls int
}

func (s *scripted) View() *ledger.View {
	s.calls++
	if len(s.views) > 0 {
		v := s.views[0]
		s.views = s.views[1:]
		return v
	}
	return s.Ledger.View()
}

func allShards() []uint16 {
	out := make([]uint16, nShards)
	for i := range out {
		out[i] = uint16(i)
	}
	return out
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }

// TestCollectsPrunedBlob: the ledger prunes a blob object ExpiredRetention epochs after it
// expired (staking/prune.go), and with it the blob ID's record; a node that did not collect
// the blob while it read "expired" (down, or its events dropped) still removes it on a
// sweep: the ledger then answers "nonexistent", which the collector removes as it does a
// deleted blob.
func TestCollectsPrunedBlob(t *testing.T) {
	f := newFixture(t)
	b := f.register(6, 3000, 1, false) // ends when epoch 1 starts
	live := f.register(7, 2000, 9, false)
	v := f.commit(genesisTime + (1+staking.ExpiredRetention)*epochMs + 1)
	if v.Epoch() != 1+staking.ExpiredRetention {
		t.Fatalf("epoch %d", v.Epoch())
	}
	if _, ok := v.State().Blob(b.object); ok {
		t.Fatal("the expired blob object was not pruned")
	}
	if st := v.State().BlobStatus(b.enc.BlobID); st.Kind != staking.StatusNonexistent {
		t.Fatalf("status of a pruned blob: %v", st.Kind)
	}
	col, err := gc.New(gc.Config{Store: f.bs, Ledger: f.l, Node: f.node, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	col.StartSweep()
	for col.Sweeping() {
		if _, err := col.Step(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	f.gone(b, blobstore.RemovedDeleted)
	f.readBack(live)
}

// TestYieldsWhileBusy: while the node serves users (Config.Busy), a step removes at most
// BusyBatch blobs instead of Batch, and the sweep still ends; once idle, a step removes a
// full batch again.
func TestYieldsWhileBusy(t *testing.T) {
	f := newFixture(t)
	var blobs []*blob
	for i := range 4 {
		blobs = append(blobs, f.register(byte(10+i), 1000, 1, false)) // expire at epoch 1
	}
	if v := f.commit(genesisTime + epochMs + 1); v.Epoch() != 1 {
		t.Fatalf("epoch %d", v.Epoch())
	}
	var busy atomic.Bool
	busy.Store(true)
	col, err := gc.New(gc.Config{Store: f.bs, Ledger: f.l, Node: f.node, Batch: 16, Logger: quiet(),
		Busy: busy.Load})
	if err != nil {
		t.Fatal(err)
	}
	col.StartSweep()
	for range 2 {
		if n, err := col.Step(testCtx(t)); err != nil || n != 1 {
			t.Fatalf("busy step removed %d (%v), want BusyBatch = 1", n, err)
		}
	}
	busy.Store(false)
	if n, err := col.Step(testCtx(t)); err != nil || n != 2 {
		t.Fatalf("idle step removed %d (%v), want the remaining 2", n, err)
	}
	for col.Sweeping() {
		if _, err := col.Step(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range blobs {
		f.gone(b, blobstore.RemovedExpired)
	}
}

// TestPacesByCPUShare: the collector times each step's work on its clock and the next step
// is due once that work is at most the CPU share of the wall-clock time (BusyCPU while the
// node serves users); a step that starts late earns no credit, and CPU 1 turns pacing off.
// The clock is the test's: each removal advances it by a fixed cost, so the pacing is
// checked exactly.
func TestPacesByCPUShare(t *testing.T) {
	f := newFixture(t)
	var blobs []*blob
	for i := range 6 {
		blobs = append(blobs, f.register(byte(20+i), 1000, 1, false)) // expire at epoch 1
	}
	if v := f.commit(genesisTime + epochMs + 1); v.Epoch() != 1 {
		t.Fatalf("epoch %d", v.Epoch())
	}
	const share, cost = 0.1, 100 * time.Millisecond
	clock := time.Unix(1_800_000_000, 0)
	busy := false
	col, err := gc.New(gc.Config{Store: f.bs, Ledger: f.l, Node: f.node, Batch: 2, CPU: share, Logger: quiet(),
		Clock:     func() time.Time { return clock },
		Busy:      func() bool { return busy },
		OnRemoved: func(string, int, int64) { clock = clock.Add(cost) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	step := func(want int, wantRest time.Duration) {
		t.Helper()
		start := clock
		n, err := col.Step(ctx)
		if err != nil || n != want {
			t.Fatalf("step removed %d (%v), want %d", n, err, want)
		}
		if got := col.NextStep().Sub(clock); got != wantRest {
			t.Fatalf("after a step with %v of work, the next is due in %v, want %v", clock.Sub(start), got, wantRest)
		}
	}
	col.StartSweep()
	// Two removals, 200 ms of work at 10%: due 2 s after the step started, 1.8 s after it ended.
	step(2, 2*cost*(1/share)-2*cost)
	if col.Work() != 2*cost {
		t.Fatalf("work %v, want %v", col.Work(), 2*cost)
	}
	// Stepping before the due time (Step does not wait; Run does) pushes it further out.
	step(2, 2*cost*(1/share)-2*cost+1800*time.Millisecond)
	// Busy: one removal (BusyBatch) at 10%/16: 1.6 s of wall-clock time per 100 ms.
	clock = col.NextStep()
	busy = true
	step(1, time.Duration(float64(cost)/(share/16))-cost)
	// Long after it was due: no credit for the idle time.
	busy = false
	clock = col.NextStep().Add(time.Hour)
	step(1, cost*(1/share)-cost)
	if col.Work() != 6*cost {
		t.Fatalf("work %v, want %v", col.Work(), 6*cost)
	}
	for _, b := range blobs {
		f.gone(b, blobstore.RemovedExpired)
	}

	// CPU 1: not paced.
	f.register(30, 1000, 2, false)
	if v := f.commit(genesisTime + 2*epochMs + 1); v.Epoch() != 2 {
		t.Fatalf("epoch %d", v.Epoch())
	}
	free, err := gc.New(gc.Config{Store: f.bs, Ledger: f.l, Node: f.node, CPU: 1, Logger: quiet(),
		Clock: func() time.Time { return clock }, OnRemoved: func(string, int, int64) { clock = clock.Add(cost) }})
	if err != nil {
		t.Fatal(err)
	}
	free.StartSweep()
	if n, err := free.Step(ctx); err != nil || n != 1 || !free.NextStep().IsZero() {
		t.Fatalf("unpaced step removed %d (%v), next due %v", n, err, free.NextStep())
	}

	// A long step while busy (10 s of work: 1600 s at 10%/16) rests at most MaxRest.
	f.register(31, 1000, 3, false)
	if v := f.commit(genesisTime + 3*epochMs + 1); v.Epoch() != 3 {
		t.Fatalf("epoch %d", v.Epoch())
	}
	slow, err := gc.New(gc.Config{Store: f.bs, Ledger: f.l, Node: f.node, CPU: share, Logger: quiet(),
		Clock: func() time.Time { return clock }, Busy: func() bool { return true },
		OnRemoved: func(string, int, int64) { clock = clock.Add(10 * time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	slow.StartSweep()
	if n, err := slow.Step(ctx); err != nil || n != 1 {
		t.Fatalf("slow step removed %d (%v)", n, err)
	}
	if got := slow.NextStep().Sub(clock); got != gc.MaxRest {
		t.Fatalf("after a 10 s busy step the next is due in %v, want MaxRest %v", got, gc.MaxRest)
	}
	for _, bad := range []float64{-0.1, 1.5} {
		if _, err := gc.New(gc.Config{Store: f.bs, Ledger: f.l, CPU: bad}); err == nil {
			t.Fatalf("CPU share %v accepted", bad)
		}
		if _, err := gc.New(gc.Config{Store: f.bs, Ledger: f.l, BusyCPU: bad}); err == nil {
			t.Fatalf("busy CPU share %v accepted", bad)
		}
	}
}

// queryLog is a datastore that records the prefixes it is queried with.
type queryLog struct {
	datastore.Batching
	prefixes []string
}

func (q *queryLog) Query(ctx context.Context, qq query.Query) (query.Results, error) {
	q.prefixes = append(q.prefixes, qq.Prefix)
	return q.Batching.Query(ctx, qq)
}

// TestSweepWalksMetadataNotSlivers: a sweep walks the blobs' metadata keys and never a
// shard's slivers (whose blocks a walk would read), so slivers whose metadata is gone stay;
// a full sweep also walks the shards and removes them, counting the blob once.
func TestSweepWalksMetadataNotSlivers(t *testing.T) {
	f := newFixture(t)
	orphan := f.register(40, 3000, 1, false) // ends when epoch 1 starts
	live := f.register(41, 2000, 9, false)
	marked := f.register(42, 2500, 1, false) // ends too; its metadata stays
	ctx := testCtx(t)
	// Its metadata and pair markers gone (as an older version's crash could leave it): only
	// the slivers are left.
	if err := f.ds.Delete(ctx, blobstore.MetadataKey(orphan.enc.BlobID)); err != nil {
		t.Fatal(err)
	}
	for sh := range uint16(nShards) {
		if err := f.ds.Delete(ctx, nodestore.BlobPair(orphan.enc.BlobID, sh)); err != nil {
			t.Fatal(err)
		}
		// Without pair markers the metadata walk's removal of marked misses its slivers
		// on the shards this node does not hold; the shard walk finds them later.
		if err := f.ds.Delete(ctx, nodestore.BlobPair(marked.enc.BlobID, sh)); err != nil {
			t.Fatal(err)
		}
	}
	if v := f.commit(genesisTime + epochMs + 1); v.Epoch() != 1 {
		t.Fatalf("epoch %d", v.Epoch())
	}
	ql := &queryLog{Batching: f.ds}
	bs := blobstore.New(ql, f.l.Params())
	blobs, removals := 0, 0
	col, err := gc.New(gc.Config{Store: bs, Ledger: f.l, Node: f.node, Logger: quiet(),
		OnRemoved: func(_ string, n int, _ int64) { blobs += n; removals++ }})
	if err != nil {
		t.Fatal(err)
	}
	col.StartSweep()
	for col.Sweeping() {
		if _, err := col.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range ql.prefixes {
		if strings.HasPrefix(p, nodestore.ShardsPrefix.String()) {
			t.Fatalf("a sweep queried %s", p)
		}
	}
	if ids, err := bs.ShardBlobs(ctx, 0, nil, 0); err != nil || !containsID(ids, orphan.enc.BlobID) {
		t.Fatalf("shard 0 holds %v (%v): the orphaned slivers should stay until a full sweep", ids, err)
	}
	col.StartFullSweep()
	for col.Sweeping() {
		if _, err := col.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	f.gone(orphan, blobstore.RemovedExpired)
	f.gone(marked, blobstore.RemovedExpired)
	f.readBack(live)
	// Both blobs' slivers lay on every shard, most of them not this node's: the walks
	// removed them shard by shard, one blob each all the same (the first sweep removed
	// marked from its metadata, and the full one found its other slivers).
	if blobs != 2 || removals < 3 {
		t.Errorf("the sweeps counted %d blobs in %d removals, want 2 blobs (in several removals)", blobs, removals)
	}
}
