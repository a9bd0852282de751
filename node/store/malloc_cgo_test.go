//go:build linux && cgo

package store_test

import (
	"testing"

	"github.com/walrus-go/walrus-go/node/store"
)

// TestOpenKeepsFreedBlockMemory: once a datastore is open, glibc's malloc keeps the memory
// of freed megabyte blocks (pebble's block buffers) for reuse instead of returning it to
// the kernel, so the next block is not read into fresh pages. With glibc's defaults the
// heap is trimmed once it has more than twice the mmap threshold free, and the blocks
// below are gone.
func TestOpenKeepsFreedBlockMemory(t *testing.T) {
	d, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const n, size = 16, 4 << 20
	if kept := store.KeptAfterFree(n, size); kept < n*size {
		t.Fatalf("malloc holds %d bytes free after freeing %d blocks of %d: returned to the kernel", kept, n, size)
	}
}
