//go:build linux

package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// cacheDropper drops a file's pages from the page cache (posix_fadvise
// POSIX_FADV_DONTNEED) when done is called, even if the file has been renamed or unlinked
// in between: it holds the file open from the start. Only clean pages go, so call done once
// the file is synced. Advice only: a failure changes nothing but the cache.
func cacheDropper(path string) (done func()) {
	f, err := os.Open(path)
	if err != nil {
		return func() {}
	}
	return func() {
		_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		_ = f.Close()
	}
}
