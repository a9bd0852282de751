package blobsync_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
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

// twoBlobStore is a store holding the pairs of shards 0..shards-1 of two blobs, returned in
// blob-ID order (the order a pass walks them).
func twoBlobStore(t *testing.T, size, shards int) (*blobstore.Store, [2]*codec.EncodedBlob, datastore.Datastore) {
	t.Helper()
	p := codec.MustParams(10)
	ds := dssync.MutexWrap(datastore.NewMapDatastore())
	st := blobstore.New(ds, p)
	ctx := context.Background()
	var encs [2]*codec.EncodedBlob
	for b := range encs {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(i*7 + i>>8 + b*131)
		}
		enc, err := codec.Encode(p, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
			t.Fatal(err)
		}
		for sh := range shards {
			pr, se := enc.Pair(p.PairIndexForShard(enc.BlobID, sh))
			if err := st.PutSlivers(ctx, enc.BlobID, sh, pr, se); err != nil {
				t.Fatal(err)
			}
		}
		encs[b] = enc
	}
	if bytes.Compare(encs[0].BlobID[:], encs[1].BlobID[:]) > 0 {
		encs[0], encs[1] = encs[1], encs[0]
	}
	return st, encs, ds
}

// Stored metadata that no longer decodes, or that decodes but does not hash to its blob ID,
// is dropped with the blob's slivers and pair markers and the blob handed to repair (blob
// sync then fetches the metadata again, verified against the ID, and recovers the slivers);
// the pass goes on to the next blob, whose damaged sliver it still finds.
func TestScrubDropsBadMetadataAndGoesOn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(raw, other []byte) []byte
	}{
		{"undecodable", func(raw, _ []byte) []byte { return raw[:len(raw)/2] }},
		{"another blob's metadata", func(_, other []byte) []byte { return other }},
		{"one hash flipped", func(raw, _ []byte) []byte { raw[len(raw)-5] ^= 0x01; return raw }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, encs, ds := twoBlobStore(t, 64<<10, 4)
			ctx := context.Background()
			first, second := encs[0].BlobID, encs[1].BlobID
			raw, err := ds.Get(ctx, blobstore.MetadataKey(first))
			if err != nil {
				t.Fatal(err)
			}
			other, err := ds.Get(ctx, blobstore.MetadataKey(second))
			if err != nil {
				t.Fatal(err)
			}
			bad := tc.corrupt(raw, other)
			if _, err := codec.UnmarshalMetadataBCS(st.Params(), bad); (err == nil) != (tc.name != "undecodable") {
				t.Fatalf("corrupted metadata decodes: %v", err)
			}
			if err := ds.Put(ctx, blobstore.MetadataKey(first), bad); err != nil {
				t.Fatal(err)
			}
			// The second blob's primary sliver on shard 3 (the last shard the pass walks) is
			// damaged too: the pass must get there.
			key := blobstore.SliverKey(3, second, codec.AxisPrimary)
			sl, err := ds.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			sl[len(sl)/2] ^= 0xff
			if err := ds.Put(ctx, key, sl); err != nil {
				t.Fatal(err)
			}
			var repaired []codec.BlobID
			s, err := blobsync.NewScrubber(blobsync.ScrubConfig{Store: st, Shards: heldShards(4), Rate: 1 << 30, CPU: 1,
				Repair: func(id codec.BlobID) { repaired = append(repaired, id) }})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Pass(ctx); err != nil {
				t.Fatalf("the pass stopped at the bad metadata: %v", err)
			}
			if s.BadMetadata() != 1 || !slices.Contains(repaired, first) {
				t.Fatalf("bad metadata %d, repaired %v; want 1 and %s among them", s.BadMetadata(), repaired, first)
			}
			if _, err := st.Metadata(ctx, first); !errors.Is(err, blobstore.ErrNotFound) {
				t.Fatalf("the bad metadata is still stored: %v", err)
			}
			if missing, err := st.MissingShards(ctx, first, []uint16{0, 1, 2, 3}); err != nil || len(missing) != 4 {
				t.Fatalf("blob with bad metadata: missing shards %v, %v; want all 4 (for blob sync to recover)", missing, err)
			}
			for sh := range 4 {
				if _, err := st.Sliver(ctx, first, sh, codec.AxisPrimary); !errors.Is(err, blobstore.ErrNotFound) {
					t.Fatalf("an unverifiable sliver of the blob is still stored on shard %d: %v", sh, err)
				}
			}
			// The other blob: every sliver re-verified, the damaged one found and repaired.
			if s.Checked() != 8 || s.Bad() != 1 || !slices.Contains(repaired, second) {
				t.Fatalf("second blob: checked %d, bad %d, repaired %v; want 8, 1, %s among them", s.Checked(), s.Bad(), repaired, second)
			}
			if _, err := st.Metadata(ctx, second); err != nil {
				t.Fatalf("the sound metadata was dropped: %v", err)
			}
			// Once blob sync stored the metadata again (verified against the ID), its slivers
			// can be stored and a pass over them is clean.
			if err := st.PutMetadata(ctx, first, &encs[0].Metadata); err != nil {
				t.Fatal(err)
			}
			p := st.Params()
			for sh := range 4 {
				pr, se := encs[0].Pair(p.PairIndexForShard(first, sh))
				if err := st.PutSlivers(ctx, first, sh, pr, se); err != nil {
					t.Fatal(err)
				}
			}
			badBefore := s.Bad()
			if err := s.Pass(ctx); err != nil || s.Bad() != badBefore || s.BadMetadata() != 1 {
				t.Fatalf("pass after repair: %v, bad %d→%d, bad metadata %d", err, badBefore, s.Bad(), s.BadMetadata())
			}
		})
	}
}

// The scrub's rate is in CPU work: each sliver's read and re-verification is timed and the
// pass rests so that its work is at most the CPU share of its wall-clock time, however few
// bytes the slivers hold (the byte rate is set out of reach here).
func TestScrubPacesByCPUShare(t *testing.T) {
	st, _, _ := scrubStore(t, 1<<20, 4)
	ctx := context.Background()
	const share = 0.05
	s, err := blobsync.NewScrubber(blobsync.ScrubConfig{Store: st, Shards: heldShards(4), Repair: func(codec.BlobID) {},
		Rate: 1 << 30, CPU: share})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Pass(ctx); err != nil {
		t.Fatal(err)
	}
	ps := s.LastPassStats()
	if ps.Slivers != 8 || ps.Work <= 0 {
		t.Fatalf("pass stats %+v: want 8 slivers and some work", ps)
	}
	// A lower bound the pacing guarantees by sleeping (the last sliver's rest may be cut by
	// the one-second credit): no upper bound is asserted.
	if floor := time.Duration(float64(ps.Work)/share) - ps.Work - time.Second; ps.Duration < floor {
		t.Fatalf("pass with %v of work took %v, under its CPU-share floor %v", ps.Work, ps.Duration, floor)
	}
	if _, err := blobsync.NewScrubber(blobsync.ScrubConfig{Store: st, Shards: heldShards(1), Repair: func(codec.BlobID) {}, CPU: 1.5}); err == nil {
		t.Fatal("a CPU share above 1 was accepted")
	}
}
