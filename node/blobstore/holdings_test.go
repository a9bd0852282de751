package blobstore_test

import (
	"context"
	"io"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	nodestore "github.com/walrus-go/walrus-go/node/store"
)

// Holdings counts what the store holds: it goes up with every pair stored, down with a
// dropped sliver and with garbage collection, and its sliver bytes are the stored slivers'
// lengths, on the node's own pebble datastore and on a map datastore alike.
func TestHoldingsFollowStoresAndRemovals(t *testing.T) {
	ctx := context.Background()
	ds, err := nodestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer ds.(io.Closer).Close()
	for name, st := range map[string]*blobstore.Store{"pebble": blobstore.New(ds, codec.MustParams(10)), "map": memStore(10)} {
		t.Run(name, func(t *testing.T) { testHoldings(ctx, t, st) })
	}
}

func testHoldings(ctx context.Context, t *testing.T, st *blobstore.Store) {
	check := func(what string, want blobstore.Holdings) {
		t.Helper()
		got, err := st.Holdings(ctx, 0)
		if err != nil || got != want {
			t.Fatalf("%s: Holdings = %+v, %v; want %+v", what, got, err, want)
		}
	}
	check("empty", blobstore.Holdings{})

	small, big := encode(t, 10, 1000, 11), encode(t, 10, 300_000, 12)
	var want blobstore.Holdings
	for _, b := range []struct {
		enc    *codec.EncodedBlob
		shards []int
	}{{small, []int{1, 4}}, {big, []int{0, 4, 9}}} {
		if err := st.PutMetadata(ctx, b.enc.BlobID, &b.enc.Metadata); err != nil {
			t.Fatal(err)
		}
		want.Blobs++
		check("metadata only", want)
		for _, sh := range b.shards {
			pr, se := pairFor(b.enc, sh)
			if err := st.PutSlivers(ctx, b.enc.BlobID, sh, pr, se); err != nil {
				t.Fatal(err)
			}
			want.Slivers += 2
			want.SliverBytes += uint64(len(pr.Data) + len(se.Data))
			check("after a pair", want)
		}
	}

	// A sliver dropped by the scrub takes its pair with it.
	if err := st.DropSliver(ctx, big.BlobID, 9, codec.AxisSecondary); err != nil {
		t.Fatal(err)
	}
	pr, se := pairFor(big, 9)
	want.Slivers -= 2
	want.SliverBytes -= uint64(len(pr.Data) + len(se.Data))
	check("after a drop", want)

	// The key bound stops the walk with a lower bound.
	got, err := st.Holdings(ctx, 2)
	if err != nil || !got.Capped || got.Blobs > want.Blobs || got.Slivers > want.Slivers {
		t.Fatalf("Holdings(max 2 keys) = %+v, %v", got, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if got, err := st.Holdings(cctx, 0); err != nil || !got.Capped {
		t.Fatalf("Holdings(ended ctx) = %+v, %v; want capped", got, err)
	}

	// Garbage collection of the big blob leaves the small one.
	removed, _, err := st.RemoveBlob(ctx, big.BlobID, []uint16{0, 4, 9}, func() (blobstore.Removal, bool) {
		return blobstore.Removal{Reason: blobstore.RemovedDeleted}, false
	})
	if err != nil || !removed {
		t.Fatalf("RemoveBlob = %v, %v", removed, err)
	}
	want = blobstore.Holdings{Blobs: 1, Slivers: 4}
	for _, sh := range []int{1, 4} {
		pr, se := pairFor(small, sh)
		want.SliverBytes += uint64(len(pr.Data) + len(se.Data))
	}
	check("after garbage collection", want)
}
