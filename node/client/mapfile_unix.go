//go:build unix

package client

import (
	"fmt"
	"os"
	"syscall"
)

// MapFile maps the file at path read-only into memory, so a store encodes it without
// copying it into the heap (its pages are the kernel's page cache, shared and reclaimable,
// and count as file-backed, not anonymous, memory). close unmaps it; the slice must not be
// used after. An empty file gives an empty slice. The file must not shrink while mapped
// (a read past its new end faults); stores refuse files that change (see StoreFile).
func MapFile(path string) (data []byte, close func() error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close() // the mapping outlives the descriptor
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := st.Size()
	if size == 0 {
		return []byte{}, func() error { return nil }, nil
	}
	if int64(int(size)) != size {
		return nil, nil, fmt.Errorf("%s: %d bytes do not fit the address space", path, size)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}

// spillAllocator returns an allocator of buffers backed by unlinked temporary files in dir
// (os.TempDir() if empty), shared writable mappings the kernel writes back and evicts under
// memory pressure instead of holding them as anonymous memory, and what releases them all.
func spillAllocator(dir string) (alloc func(n int) ([]byte, error), release func()) {
	var maps [][]byte
	alloc = func(n int) ([]byte, error) {
		if n == 0 {
			return nil, nil
		}
		f, err := os.CreateTemp(dir, "walrus-spill-*")
		if err != nil {
			return nil, fmt.Errorf("client: spill file: %w", err)
		}
		defer f.Close()
		_ = os.Remove(f.Name()) // unlinked: gone with the mapping, even after a crash
		if err := f.Truncate(int64(n)); err != nil {
			return nil, fmt.Errorf("client: spill file: %w", err)
		}
		b, err := syscall.Mmap(int(f.Fd()), 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
		if err != nil {
			return nil, fmt.Errorf("client: spill mapping: %w", err)
		}
		maps = append(maps, b)
		return b, nil
	}
	release = func() {
		for _, b := range maps {
			_ = syscall.Munmap(b)
		}
		maps = nil
	}
	return alloc, release
}
