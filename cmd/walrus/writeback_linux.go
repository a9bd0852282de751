package main

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// writeback wraps f so that every writebackChunk bytes written start their write-back to
// disk at once (sync_file_range, SYNC_FILE_RANGE_WRITE: it does not wait for it): the
// disk writes then overlap the read instead of all waiting for the final fsync, and the
// page cache does not fill with gigabytes of dirty pages.
func writeback(f *os.File) io.Writer { return &rangeSyncer{f: f} }

type rangeSyncer struct {
	f          *os.File
	off, start int64 // bytes written; start of the range not yet handed to write-back
}

func (r *rangeSyncer) Write(p []byte) (int, error) {
	n, err := r.f.Write(p)
	r.off += int64(n)
	if r.off-r.start >= writebackChunk {
		// Best effort: an error here only means the final fsync does all the work.
		_ = unix.SyncFileRange(int(r.f.Fd()), r.start, r.off-r.start, unix.SYNC_FILE_RANGE_WRITE)
		r.start = r.off
	}
	return n, err
}
