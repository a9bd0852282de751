package blobstore_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	nodestore "github.com/walrus-go/walrus-go/node/store"
)

// queryOnly hides the KeyLister of the datastore it wraps, so a store over it pages
// through go-datastore queries (the fallback path). queried, when set, counts the keys the
// caller takes from its queries' results.
type queryOnly struct {
	datastore.Batching
	queried *int
}

func (q queryOnly) Query(ctx context.Context, qu query.Query) (query.Results, error) {
	res, err := q.Batching.Query(ctx, qu)
	if err != nil || q.queried == nil {
		return res, err
	}
	var once sync.Once
	return query.ResultsFromIterator(qu, query.Iterator{
		Next: func() (query.Result, bool) {
			r, ok := res.NextSync()
			if ok {
				*q.queried++
			}
			return r, ok
		},
		Close: func() (err error) {
			once.Do(func() { err = res.Close() })
			return err
		},
	}), nil
}

// countingLister passes ListKeys through to the wrapped datastore's KeyLister and records
// the keys it visits.
type countingLister struct {
	datastore.Batching
	visited *[]string
}

func (c countingLister) ListKeys(ctx context.Context, lower, upper []byte, fn func([]byte) bool) error {
	return c.Batching.(nodestore.KeyLister).ListKeys(ctx, lower, upper, func(k []byte) bool {
		*c.visited = append(*c.visited, string(k))
		return fn(k)
	})
}

// pageFixture is a pebble store holding the keys of blobs as a node writes them — metadata,
// state and pair markers under /blobs/, p and s slivers on shard 1 and on shard 2 for some —
// plus foreign keys under both prefixes that the walks must skip.
type pageFixture struct {
	ds datastore.Batching
	// ids are the stored blobs, sorted; shard2 those with slivers on shard 2.
	ids, shard2 []codec.BlobID
	// foreign is how many keys under /shards/00001/ belong to no stored sliver.
	foreign int
}

func newPageFixture(tb testing.TB, blobs int, sliverSize int) *pageFixture {
	tb.Helper()
	ctx := context.Background()
	ds, err := nodestore.Open(tb.TempDir(), nodestore.WithoutSync())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ds.(io.Closer).Close() })
	rng := rand.New(rand.NewPCG(uint64(blobs), 11))
	f := &pageFixture{ds: ds}
	seen := map[codec.BlobID]bool{}
	for len(f.ids) < blobs {
		var id codec.BlobID
		for i := range id {
			id[i] = byte(rng.Uint32())
		}
		if !seen[id] {
			seen[id] = true
			f.ids = append(f.ids, id)
		}
	}
	slices.SortFunc(f.ids, func(a, b codec.BlobID) int { return bytes.Compare(a[:], b[:]) })
	sliver := make([]byte, sliverSize)
	b, err := ds.Batch(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	put := func(k datastore.Key, v []byte) {
		if err := b.Put(ctx, k, v); err != nil {
			tb.Fatal(err)
		}
	}
	for i, id := range f.ids {
		put(nodestore.BlobMeta(id), []byte("meta"))
		put(nodestore.BlobState(id), []byte("state"))
		put(nodestore.BlobPair(id, 1), nil)
		put(nodestore.Sliver(1, id, nodestore.Primary), sliver)
		put(nodestore.Sliver(1, id, nodestore.Secondary), sliver)
		if i%3 == 0 {
			put(nodestore.BlobPair(id, 2), nil)
			put(nodestore.Sliver(2, id, nodestore.Primary), sliver)
			f.shard2 = append(f.shard2, id)
		}
		if i%500 == 7 {
			// Foreign keys next to this blob's: on either side of its subtree, below it
			// with a kind or an ID that does not parse, in upper-case hex.
			h := hex.EncodeToString(id[:])
			for _, k := range []string{h, h + ".x", h + "0/p", h + "/x", h[:len(h)-1] + "/p", strings.ToUpper(h) + "/p"} {
				put(nodestore.Shard(1).ChildString(k), nil)
				f.foreign++
			}
			put(nodestore.Blob(id).ChildString("metadata"), nil)
			put(nodestore.BlobsPrefix.ChildString(h+"0").ChildString("meta"), nil)
		}
	}
	// Keys around the prefixes that a prefix walk must leave out.
	put(datastore.NewKey("/shards/00001"), nil)
	put(datastore.NewKey("/shards/000010/p"), nil)
	put(datastore.NewKey("/blobs"), nil)
	put(datastore.NewKey("/blobs0/x/meta"), nil)
	if err := b.Commit(ctx); err != nil {
		tb.Fatal(err)
	}
	return f
}

// pageLen is the page length whose boundaries TestPageBlobIDsSeekMatchesQuery puts cursors
// at.
const pageLen = 41

// want is the page of ids after the cursor, at most limit of them (0: all).
func want(ids []codec.BlobID, after *codec.BlobID, limit int) []codec.BlobID {
	var out []codec.BlobID
	for _, id := range ids {
		if after != nil && bytes.Compare(id[:], after[:]) <= 0 {
			continue
		}
		out = append(out, id)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out
}

// cursors returns the cursors to test over ids: none, every stored ID at a page boundary
// of a walk in pages of pageLen, the first and last, IDs just below and above stored ones (not
// stored), a stored ID with a trailing byte changed, and the smallest and largest IDs.
func cursors(ids []codec.BlobID) []*codec.BlobID {
	out := []*codec.BlobID{nil}
	add := func(id codec.BlobID) { out = append(out, &id) }
	for i := pageLen - 1; i < len(ids); i += pageLen {
		add(ids[i])
	}
	add(ids[0])
	add(ids[len(ids)-1])
	for _, i := range []int{0, 1, len(ids) / 2, len(ids) - 2, len(ids) - 1} {
		below, above := ids[i], ids[i]
		below[len(below)-1]--
		above[len(above)-1]++
		add(below)
		add(above)
	}
	add(codec.BlobID{})
	var top codec.BlobID
	for i := range top {
		top[i] = 0xff
	}
	add(top)
	return out
}

// TestPageBlobIDsSeekMatchesQuery checks that ShardBlobs and MetadataBlobs page exactly as
// the model says, in the same order, over the pebble store's KeyLister and over queries
// alone, for cursors at every page boundary and around stored IDs, and limits 0, 1,
// pageLen and 512, and that a walk in pages sees every blob once.
func TestPageBlobIDsSeekMatchesQuery(t *testing.T) {
	ctx := context.Background()
	f := newPageFixture(t, 2000, 16)
	p := codec.MustParams(10)
	seek := blobstore.New(f.ds, p)
	fallback := blobstore.New(queryOnly{Batching: f.ds}, p)
	walks := []struct {
		name string
		ids  []codec.BlobID
		page func(st *blobstore.Store, after *codec.BlobID, limit int) ([]codec.BlobID, error)
	}{
		{"shard1", f.ids, func(st *blobstore.Store, after *codec.BlobID, limit int) ([]codec.BlobID, error) {
			return st.ShardBlobs(ctx, 1, after, limit)
		}},
		{"shard2", f.shard2, func(st *blobstore.Store, after *codec.BlobID, limit int) ([]codec.BlobID, error) {
			return st.ShardBlobs(ctx, 2, after, limit)
		}},
		{"shard3", nil, func(st *blobstore.Store, after *codec.BlobID, limit int) ([]codec.BlobID, error) {
			return st.ShardBlobs(ctx, 3, after, limit)
		}},
		{"metadata", f.ids, func(st *blobstore.Store, after *codec.BlobID, limit int) ([]codec.BlobID, error) {
			return st.MetadataBlobs(ctx, after, limit)
		}},
	}
	for _, w := range walks {
		cs := cursors(f.ids)
		for _, c := range cs {
			for _, limit := range []int{0, 1, pageLen, 512} {
				exp := want(w.ids, c, limit)
				for _, path := range []struct {
					name string
					st   *blobstore.Store
				}{{"seek", seek}, {"query", fallback}} {
					got, err := w.page(path.st, c, limit)
					if err != nil {
						t.Fatalf("%s %s after %v limit %d: %v", w.name, path.name, c, limit, err)
					}
					if !slices.Equal(got, exp) {
						t.Fatalf("%s %s after %v limit %d: got %d IDs, want %d (first got %v, want %v)",
							w.name, path.name, c, limit, len(got), len(exp), first(got), first(exp))
					}
				}
			}
		}
		// A walk in pages of 512 from the start sees every blob once, in order.
		var all []codec.BlobID
		var after *codec.BlobID
		for {
			ids, err := w.page(seek, after, 512)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, ids...)
			if len(ids) < 512 {
				break
			}
			after = &ids[len(ids)-1]
		}
		if !slices.Equal(all, w.ids) {
			t.Fatalf("%s: walk in pages saw %d IDs, want %d", w.name, len(all), len(w.ids))
		}
	}
}

func first(ids []codec.BlobID) any {
	if len(ids) == 0 {
		return "none"
	}
	return ids[0]
}

// TestPageBlobIDsSeekSkipsEarlierKeys checks that a page over the KeyLister starts after
// the cursor's keys: it visits none at or before them and no more than the page's own
// keys and the foreign keys among them, while the query walk visits every key before the
// cursor (which is what the counts can tell apart).
func TestPageBlobIDsSeekSkipsEarlierKeys(t *testing.T) {
	ctx := context.Background()
	f := newPageFixture(t, 3000, 16)
	p := codec.MustParams(10)
	var visited []string
	var queried int
	seek := blobstore.New(countingLister{Batching: f.ds, visited: &visited}, p)
	fallback := blobstore.New(queryOnly{Batching: f.ds, queried: &queried}, p)
	const limit = 64
	for _, i := range []int{0, 1, 1000, 2500, 2999} {
		c := f.ids[i]
		visited, queried = nil, 0
		got, err := seek.ShardBlobs(ctx, 1, &c, limit)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want(f.ids, &c, limit)) {
			t.Fatalf("after blob %d: wrong page", i)
		}
		last := nodestore.Sliver(1, c, nodestore.Secondary).String()
		for _, k := range visited {
			if k <= last || strings.HasPrefix(k, nodestore.ShardBlob(1, c).String()+"/") {
				t.Fatalf("after blob %d: visited %q, at or before the cursor's keys", i, k)
			}
		}
		if len(visited) < 2*len(got) {
			t.Fatalf("after blob %d: the KeyLister visited %d keys for a page of %d blobs", i, len(visited), len(got))
		}
		// Two slivers per blob of the page, the foreign keys between them and the key that
		// shows the page is full (the first of the next blob) at most.
		if max := 2*limit + f.foreign + 1; len(visited) > max {
			t.Fatalf("after blob %d: visited %d keys, want at most %d", i, len(visited), max)
		}
		if _, err := fallback.ShardBlobs(ctx, 1, &c, limit); err != nil {
			t.Fatal(err)
		}
		if i > 0 && queried < 2*(i+1) {
			t.Fatalf("after blob %d: the query walk returned %d keys, want the %d up to the cursor at least", i, queried, 2*(i+1))
		}
		t.Logf("after blob %d: seek visited %d keys, query %d", i, len(visited), queried)
	}
}

// BenchmarkShardBlobsWalk walks a shard of 20,000 blobs (p and s slivers of 1 KiB each) in
// pages of 512, as shard sync, scrub and the GC's full sweep do: over the pebble store's
// KeyLister (seek) and over queries alone (query), which start every page at the shard's
// first key. One op is one whole walk.
func BenchmarkShardBlobsWalk(b *testing.B) {
	const blobs, page = 20000, 512
	f := newPageFixture(b, blobs, 1024)
	if err := nodestore.Compact(context.Background(), f.ds); err != nil {
		b.Fatal(err)
	}
	p := codec.MustParams(10)
	for _, bc := range []struct {
		name string
		st   *blobstore.Store
	}{
		{"seek", blobstore.New(f.ds, p)},
		{"query", blobstore.New(queryOnly{Batching: f.ds}, p)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				n := 0
				var after *codec.BlobID
				for {
					ids, err := bc.st.ShardBlobs(ctx, 1, after, page)
					if err != nil {
						b.Fatal(err)
					}
					n += len(ids)
					if len(ids) < page {
						break
					}
					after = &ids[len(ids)-1]
				}
				if n != blobs {
					b.Fatal(fmt.Sprintf("walk saw %d blobs, want %d", n, blobs))
				}
			}
			b.ReportMetric(float64((blobs+page-1)/page), "pages/op")
		})
	}
}
