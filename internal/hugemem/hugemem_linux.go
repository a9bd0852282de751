//go:build linux

package hugemem

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Bytes returns n zero bytes. Where n spans whole 2 MiB pages it asks Linux to back them with
// transparent huge pages (madvise MADV_HUGEPAGE; advice only, ignored where THP is off).
func Bytes(n int) []byte {
	b := make([]byte, n)
	if n < MinSize {
		return b
	}
	start := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	lo := (start+Page-1)&^(Page-1) - start
	hi := (start+uintptr(n))&^(Page-1) - start
	if hi > lo {
		// An error (an old kernel, THP compiled out) leaves ordinary pages: nothing to do.
		_ = unix.Madvise(b[lo:hi], unix.MADV_HUGEPAGE)
	}
	return b
}
