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

// MapFile maps the file at path read-only into memory and returns the mapping and what
// unmaps it; the slice must not be used after. A streaming store of the whole mapping
// (Client.StoreStream) does not read it through the mapping: it reads the file with pread
// (codec.StreamOptions.Source), so the file's pages stay the kernel's page cache and never
// count in the process's resident memory (reading the blob's columns through the mapping
// would map a page cache folio, up to MiBs, around every cell it reads). An empty file
// gives an empty slice. The file must not shrink while mapped (a read past its new end
// faults); stores refuse files that change (see StoreFile).
func MapFile(path string) (data []byte, close func() error, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a regular file", path)
	}
	size := st.Size()
	if size == 0 {
		f.Close()
		return []byte{}, func() error { return nil }, nil
	}
	if int64(int(size)) != size {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %d bytes do not fit the address space", path, size)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("mapping %s: %w", path, err)
	}
	fileMaps.Lock()
	fileMaps.m[addrOf(b)] = mappedFile{end: addrOf(b) + uintptr(len(b)), f: f}
	fileMaps.Unlock()
	return b, func() error {
		fileMaps.Lock()
		delete(fileMaps.m, addrOf(b))
		fileMaps.Unlock()
		f.Close()
		return syscall.Munmap(b)
	}, nil
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

// fileMaps are the live mappings MapFile made, by start address, with their files.
var fileMaps = struct {
	sync.Mutex
	m map[uintptr]mappedFile
}{m: map[uintptr]mappedFile{}}

type mappedFile struct {
	end uintptr
	f   *os.File
}

func addrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

// fileBehind returns a reader of the bytes of b from the file behind it when b lies in a
// live mapping made by MapFile, else nil: the encoder reads it with pread instead of
// through the mapping. The reader fails (instead of faulting) once the mapping is closed.
func fileBehind(b []byte) io.ReaderAt {
	if len(b) == 0 {
		return nil
	}
	start, end := addrOf(b), addrOf(b)+uintptr(len(b))
	fileMaps.Lock()
	defer fileMaps.Unlock()
	for lo, m := range fileMaps.m {
		if start >= lo && end <= m.end {
			return io.NewSectionReader(m.f, int64(start-lo), int64(len(b)))
		}
	}
	return nil
}
