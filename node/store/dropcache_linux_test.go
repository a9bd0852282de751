//go:build linux

package store_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/store"
)

// TestIngestLeavesNoPageCache: with WithoutIngestedPages an ingested sliver table is not
// left in the page cache (its pages, checked with mincore, are dropped once it is synced and
// ingested), and its values still read back, before and after a reopen; by default the
// freshly written table stays in the cache, so a read soon after a store is warm.
func TestIngestLeavesNoPageCache(t *testing.T) {
	for _, drop := range []bool{true, false} {
		var opts []store.Option
		if drop {
			opts = append(opts, store.WithoutIngestedPages())
		}
		ctx := context.Background()
		dir := t.TempDir()
		d, err := store.Open(dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		bulk := []store.KV{
			{Key: store.Sliver(3, codec.BlobID{7}, store.Primary), Value: value(1, 3<<20)},
			{Key: store.Sliver(3, codec.BlobID{7}, store.Secondary), Value: value(2, 3<<19)},
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
		// properties); with the option the slivers' blocks must not be resident.
		if drop && resident > 256<<10 {
			t.Fatalf("dropping: %d of %d table bytes in the page cache after the ingestion", resident, size)
		}
		if !drop && resident < size/2 {
			t.Fatalf("default: only %d of %d table bytes in the page cache after the ingestion", resident, size)
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
	}
}

// residentBytes is the file's size and how much of it is in the page cache (mincore).
func residentBytes(t *testing.T, path string) (size, resident int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() == 0 {
		return 0, 0
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := int64(os.Getpagesize())
	vec := make([]byte, (st.Size()+page-1)/page)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatal(errno)
	}
	for _, v := range vec {
		if v&1 != 0 {
			resident += page
		}
	}
	return st.Size(), resident
}
