package blobsync_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/blobsync"
)

// scrubStore is a store holding the pairs of shards 0..shards-1 of one blob of size bytes.
func scrubStore(t *testing.T, size, shards int) (*blobstore.Store, *codec.EncodedBlob, datastore.Datastore) {
	t.Helper()
	p := codec.MustParams(10)
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	st := blobstore.New(ds, p)
	ctx := context.Background()
	if err := st.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
		t.Fatal(err)
	}
	for sh := range shards {
		pr, se := enc.Pair(p.PairIndexForShard(enc.BlobID, sh))
		if err := st.PutSlivers(ctx, enc.BlobID, sh, pr, se); err != nil {
			t.Fatal(err)
		}
	}
	return st, enc, ds
}

func heldShards(n int) func() []uint16 {
	return func() []uint16 {
		out := make([]uint16, n)
		for i := range out {
			out[i] = uint16(i)
		}
		return out
	}
}

// A pass re-verifies every held sliver; one damaged in the store is dropped and its blob
// handed to repair, the others are left alone.
func TestScrubFindsDamagedSliver(t *testing.T) {
	st, enc, ds := scrubStore(t, 64<<10, 4)
	ctx := context.Background()
	// Damage shard 2's primary sliver on "disk": one byte flipped under the store.
	key := blobstore.SliverKey(2, enc.BlobID, codec.AxisPrimary)
	raw, err := ds.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := ds.Put(ctx, key, raw); err != nil {
		t.Fatal(err)
	}
	var repaired []codec.BlobID
	s, err := blobsync.NewScrubber(blobsync.ScrubConfig{Store: st, Shards: heldShards(4), Repair: func(id codec.BlobID) { repaired = append(repaired, id) }, Rate: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Checked() != 8 || s.Bad() != 1 || len(repaired) != 1 || repaired[0] != enc.BlobID {
		t.Fatalf("checked %d, bad %d, repaired %v; want 8, 1, [%s]", s.Checked(), s.Bad(), repaired, enc.BlobID)
	}
	if _, err := st.Sliver(ctx, enc.BlobID, 2, codec.AxisPrimary); err == nil {
		t.Fatal("the damaged sliver is still stored")
	}
	if _, err := st.Sliver(ctx, enc.BlobID, 2, codec.AxisSecondary); err != nil {
		t.Fatalf("the sound sliver of the same pair was dropped: %v", err)
	}
	if s.LastPass().IsZero() {
		t.Fatal("no pass recorded")
	}
}

// While the node serves users (Busy), the scrub paces itself at BusyRate: a pass over the
// same slivers takes at least bytes/BusyRate, and it asks Busy as it goes. (A lower bound the
// pacing guarantees by sleeping; no upper bound is asserted.)
func TestScrubYieldsWhileBusy(t *testing.T) {
	st, _, _ := scrubStore(t, 256<<10, 4)
	ctx := context.Background()
	var asked atomic.Int64
	busy := true
	s, err := blobsync.NewScrubber(blobsync.ScrubConfig{Store: st, Shards: heldShards(4), Repair: func(codec.BlobID) {},
		Rate: 1 << 30, BusyRate: 64 << 10, Busy: func() bool { asked.Add(1); return busy }})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	busyT := time.Since(t0)
	if asked.Load() == 0 {
		t.Fatal("the scrub never asked whether the node is busy")
	}
	// The bytes the pass re-verified: every held sliver.
	var bytes int
	for sh := range 4 {
		for _, ax := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
			sl, err := st.Sliver(ctx, mustOnlyBlob(t, st), sh, ax)
			if err != nil {
				t.Fatal(err)
			}
			bytes += len(sl.Data)
		}
	}
	// The last sliver's pause may be cut by the one-second credit; all before it are paced.
	if floor := time.Duration(float64(bytes)/float64(64<<10)*float64(time.Second)) - 2*time.Second; busyT < floor {
		t.Fatalf("busy pass over %d bytes took %v, under its pacing floor %v", bytes, busyT, floor)
	}
	if _, err := blobsync.NewScrubber(blobsync.ScrubConfig{Store: st, Shards: heldShards(1), Repair: func(codec.BlobID) {}, BusyRate: -1}); err == nil {
		t.Fatal("a negative busy rate was accepted")
	}
}

func mustOnlyBlob(t *testing.T, st *blobstore.Store) codec.BlobID {
	t.Helper()
	ids, err := st.ShardBlobs(context.Background(), 0, nil, 2)
	if err != nil || len(ids) != 1 {
		t.Fatalf("shard 0 blobs: %v, %v", ids, err)
	}
	return ids[0]
}
