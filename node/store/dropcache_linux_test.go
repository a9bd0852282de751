//go:build linux

package store_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/fsutil"
	"github.com/walrus-go/walrus-go/node/store"
)

// TestIngestPagePolicy: an ingested sliver table leaves the page cache (its pages, checked
// with mincore, are dropped once it is synced and ingested) exactly when the policy says so:
// by default when every value in it is cold, always with PagesNone, never with PagesAll;
// its values read back either way, before and after a reopen.
func TestIngestPagePolicy(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy store.PagePolicy
		cold   bool // the primary's mark (the secondary is always cold)
		drop   bool
	}{
		{"hot, default", store.PagesHot, false, false},
		{"cold, default", store.PagesHot, true, true},
		{"cold, all", store.PagesAll, true, false},
		{"hot, none", store.PagesNone, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := []store.Option{store.WithIngestedPages(tc.policy)}
			ctx := context.Background()
			dir := t.TempDir()
			d, err := store.Open(dir, opts...)
			if err != nil {
				t.Fatal(err)
			}
			bulk := []store.KV{
				{Key: store.Sliver(3, codec.BlobID{7}, store.Primary), Value: value(1, 3<<20), Cold: tc.cold},
				{Key: store.Sliver(3, codec.BlobID{7}, store.Secondary), Value: value(2, 3<<19), Cold: true},
			}
			if err := store.PutDurably(ctx, d, bulk, []store.KV{{Key: store.BlobPair(codec.BlobID{7}, 3)}}); err != nil {
				t.Fatal(err)
			}
			tables, err := filepath.Glob(filepath.Join(dir, "*.sst"))
			if err != nil || len(tables) == 0 {
				t.Fatalf("no table in %s (%v)", dir, err)
			}
			var size, resident int64
			for _, path := range tables {
				s, r := residentBytes(t, path)
				size, resident = size+s, resident+r
			}
			if size < 4<<20 {
				t.Fatalf("tables hold %d bytes, want the ingested 4.5 MiB", size)
			}
			// Pebble may read a table's small blocks again after the ingestion (its
			// properties); a dropped table's sliver blocks must not be resident.
			if tc.drop && resident > 256<<10 {
				t.Fatalf("%d of %d table bytes in the page cache after the ingestion, want them dropped", resident, size)
			}
			if !tc.drop && resident < size/2 {
				t.Fatalf("only %d of %d table bytes in the page cache after the ingestion, want them kept", resident, size)
			}
			check := func() {
				for _, kv := range bulk {
					got, err := d.Get(ctx, kv.Key)
					if err != nil || !bytes.Equal(got, kv.Value) {
						t.Fatalf("%s: %d bytes, %v", kv.Key, len(got), err)
					}
				}
			}
			check()
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if d, err = store.Open(dir, opts...); err != nil {
				t.Fatal(err)
			}
			check()
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParsePagePolicy(t *testing.T) {
	for in, want := range map[string]store.PagePolicy{"": store.PagesHot, "hot": store.PagesHot, "all": store.PagesAll, "none": store.PagesNone} {
		if got, err := store.ParsePagePolicy(in); err != nil || got != want {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"Hot", "some", "true"} {
		if _, err := store.ParsePagePolicy(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
	if _, err := store.Open(t.TempDir(), store.WithIngestedPages(store.PagesNone+1)); err == nil {
		t.Error("an unknown policy opened a datastore")
	}
}

// residentBytes is the file's size and how much of it is in the page cache.
func residentBytes(t *testing.T, path string) (size, resident int64) {
	t.Helper()
	size, resident, err := fsutil.ResidentBytes(path)
	if err != nil {
		t.Fatal(err)
	}
	return size, resident
}
