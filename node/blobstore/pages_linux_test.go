//go:build linux

package blobstore_test

import (
	"context"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/fsutil"
	"github.com/walrus-go/walrus-go/node/blobstore"
	nodestore "github.com/walrus-go/walrus-go/node/store"
)

// TestPutPairsKeepsReadPagesCached: on a node's own datastore, with the default page
// policy, a pair whose primary sliver is systematic (pair index below R: what reads fetch)
// is written into a table that stays in the page cache, and every other pair's table
// leaves it once stored (mincore on each put's table).
func TestPutPairsKeepsReadPagesCached(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// n = 40: R = 14 rows. Each pair is about 1.1 MiB, above the size pebble ingests.
	const n = 40
	enc := encode(t, n, 10<<20, 9)
	ds, err := nodestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds.(io.Closer).Close()
	st := blobstore.New(ds, enc.Params)
	if err := st.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
		t.Fatal(err)
	}
	tables := func() []string {
		ts, err := filepath.Glob(filepath.Join(dir, "*.sst"))
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	for _, pair := range []int{0, enc.Params.R - 1, enc.Params.R, n - 1} {
		shard := enc.Params.ShardForPair(enc.BlobID, pair)
		before := tables()
		pr, se := pairFor(enc, shard)
		if errs, err := st.PutPairs(ctx, enc.BlobID, []blobstore.PairWrite{{Shard: shard, Primary: pr, Secondary: se}}); err != nil || errs[0] != nil {
			t.Fatalf("shard %d: %v %v", shard, err, errs)
		}
		var size, resident int64
		for _, path := range tables() {
			if slices.Contains(before, path) {
				continue
			}
			s, r, err := fsutil.ResidentBytes(path)
			if err != nil {
				t.Fatal(err)
			}
			size, resident = size+s, resident+r
		}
		if want := int64(codec.SliverBCSLen(len(pr.Data)) + codec.SliverBCSLen(len(se.Data))); size < want {
			t.Fatalf("shard %d (pair %d): new tables hold %d bytes, want the pair's %d", shard, pair, size, want)
		}
		read := pair < enc.Params.R
		if read && resident < size*9/10 {
			t.Errorf("shard %d holds read pair %d: %d of %d table bytes cached, want them kept", shard, pair, resident, size)
		}
		if !read && resident > 256<<10 {
			t.Errorf("shard %d holds recovery-only pair %d: %d of %d table bytes cached, want them dropped", shard, pair, resident, size)
		}
	}
}
