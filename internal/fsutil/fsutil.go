// Package fsutil holds the two file helpers every walrus-go tool needs for its key, config
// and genesis files: a bounded read (those files are untrusted input) and an atomic,
// fsynced write (a crash never leaves a truncated key or config behind).
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrTooLarge is wrapped when a file holds more than a reader's limit.
var ErrTooLarge = errors.New("file too large")

// ReadBounded reads path, failing (ErrTooLarge) if it holds more than limit bytes; it never
// reads more than limit+1 bytes.
func ReadBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrTooLarge, path, limit)
	}
	return b, nil
}

// WriteAtomic writes b to path with the given mode through a synced temporary file in the
// same directory and a rename, then syncs the directory so the rename itself survives a
// crash.
func WriteAtomic(path string, b []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir fsyncs a directory, making renames and creations in it durable. A filesystem
// that cannot sync directories (EINVAL or ENOTSUP on some FUSE and network mounts) is not an
// error: the file is in place, and such a filesystem offers nothing stronger.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return err
	}
	return nil
}
