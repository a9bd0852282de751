//go:build unix

package client

import (
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"github.com/walrus-go/walrus-go/codec"
)

// MapFile maps the file at path read-only into memory, so a store encodes it without
// copying it into the heap (its pages are the kernel's page cache, shared and reclaimable,
// and count as file-backed, not anonymous, memory). A streaming store of the mapping keeps
// few of its pages resident (see dropResident). close unmaps it; the slice must not be
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
	registerMap(b)
	return b, func() error { return unmapRegistered(b) }, nil
}

// SpoolFile copies r (stdin, a pipe) into a new temporary file in dir (os.TempDir() if
// empty), refusing more than limit bytes (codec.ErrBlobTooLarge), and maps the copy as MapFile does: the blob is
// then encoded from the kernel's page cache instead of the heap. The file is unlinked as
// soon as it is mapped (gone with the mapping, even after a crash); close unmaps it.
func SpoolFile(r io.Reader, dir string, limit uint64) (data []byte, close func() error, err error) {
	f, err := os.CreateTemp(dir, "walrus-stdin-*")
	if err != nil {
		return nil, nil, fmt.Errorf("client: spool file: %w", err)
	}
	defer f.Close()
	defer os.Remove(f.Name())
	n, err := io.Copy(f, io.LimitReader(r, int64(min(limit, 1<<62))+1))
	if err != nil {
		return nil, nil, fmt.Errorf("client: spooling: %w", err)
	}
	if uint64(n) > limit {
		return nil, nil, fmt.Errorf("%w: more than %d bytes", codec.ErrBlobTooLarge, limit)
	}
	return MapFile(f.Name())
}

// fileMaps are the live shared file mappings made here (MapFile, SpoolFile, the spill
// allocator), by start address: the only memory dropResident ever advises away.
var fileMaps = struct {
	sync.Mutex
	m map[uintptr]uintptr // start -> end
}{m: map[uintptr]uintptr{}}

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

func registerMap(b []byte) {
	fileMaps.Lock()
	fileMaps.m[addrOf(b)] = addrOf(b) + uintptr(len(b))
	fileMaps.Unlock()
}

// unmapRegistered forgets mapping b, then unmaps it: dropResident holds the lock while it
// advises, so it never touches an address range after it is unmapped (and perhaps reused
// for anonymous memory, which MADV_DONTNEED would zero).
func unmapRegistered(b []byte) error {
	fileMaps.Lock()
	delete(fileMaps.m, addrOf(b))
	fileMaps.Unlock()
	return syscall.Munmap(b)
}

// dropResident takes the whole pages of b out of the process's resident memory when b
// lies in a live shared file mapping made here (MADV_DONTNEED), and reports whether it
// did. The data stays in the kernel's page cache (written back there first if dirty): the
// next access maps it again with a minor fault, so concurrent readers and writers of b see
// no difference. File-backed pages a process has touched count in its RSS until it unmaps
// them; a store that reads its mapped blob several times over (the metadata pass, each
// window, the pairs) would otherwise end up holding the whole file resident. Anything else
// (heap memory) is left alone.
func dropResident(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	start, end := addrOf(b), addrOf(b)+uintptr(len(b))
	fileMaps.Lock()
	defer fileMaps.Unlock()
	inside := false
	for lo, hi := range fileMaps.m {
		if start >= lo && end <= hi {
			inside = true
			break
		}
	}
	if !inside {
		return false
	}
	page := uintptr(os.Getpagesize())
	lo, hi := (start+page-1)&^(page-1), end&^(page-1)
	if hi <= lo {
		return true
	}
	_ = madvise(b[lo-start:hi-start], syscall.MADV_DONTNEED)
	return true
}

func madvise(b []byte, advice int) error {
	_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addrOf(b), uintptr(len(b)), uintptr(advice))
	if errno != 0 {
		return errno
	}
	return nil
}

// spillAllocator returns an allocator of buffers backed by unlinked temporary files in dir
// (os.TempDir() if empty), shared writable mappings the kernel writes back and evicts under
// memory pressure instead of holding them as anonymous memory, and what releases them all.
// Each buffer is also handed to keep (when not nil), for a pager to drop its resident pages
// (dropResident) while it is used.
func spillAllocator(dir string, keep func([]byte)) (alloc func(n int) ([]byte, error), release func()) {
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
		registerMap(b)
		maps = append(maps, b)
		if keep != nil {
			keep(b)
		}
		return b, nil
	}
	release = func() {
		for _, b := range maps {
			_ = unmapRegistered(b)
		}
		maps = nil
	}
	return alloc, release
}
