//go:build linux && cgo

package store

/*
#include <malloc.h>
#include <stdlib.h>

static size_t walrus_free_arena_bytes(void) { return mallinfo2().fordblks; }
*/
import "C"

import (
	"os"
	"strings"
	"unsafe"
)

// tuneCAllocator keeps glibc's malloc from handing the memory of freed pebble blocks back
// to the kernel. Pebble allocates each block it reads (and each memtable) with C calloc; a
// sliver block is megabytes. With glibc's defaults a freed block's memory is soon returned
// (the heap is trimmed, or the block had a mapping of its own), so the next block is read
// into fresh pages that the kernel must zero first. On the benchmark VM, whose host also
// backs every fresh guest page on first touch, that zeroing was 12% of the whole machine's
// CPU while it took a 1 GiB blob (make bench-big, perf: clear_page under pebble's
// ingestion, which reads each new table's first and last block). Blocks up to 32 MiB now
// come from the heap, and the heap keeps up to 512 MiB free before trimming; what it keeps
// is bounded by what pebble used at its peak (cache and memtables, set by configuration).
// A GLIBC_TUNABLES setting for malloc, if any, is left to rule.
func tuneCAllocator() {
	if strings.Contains(os.Getenv("GLIBC_TUNABLES"), "glibc.malloc.") {
		return
	}
	C.mallopt(C.M_MMAP_THRESHOLD, 32<<20)
	C.mallopt(C.M_TRIM_THRESHOLD, 512<<20)
}

// keptAfterFree allocates n C blocks of size bytes, frees them, and returns how many
// bytes malloc's arenas then hold free (for tests: with tuneCAllocator they keep them).
func keptAfterFree(n, size int) int {
	ps := make([]unsafe.Pointer, n)
	for i := range ps {
		ps[i] = C.calloc(C.size_t(size), 1)
	}
	for i := len(ps) - 1; i >= 0; i-- {
		C.free(ps[i])
	}
	return int(C.walrus_free_arena_bytes())
}
