//go:build !unix

package client

import (
	"fmt"
	"io"
	"os"

	"github.com/walrus-go/walrus-go/codec"
)

// MapFile reads the file at path into memory (no mapping on this platform).
func MapFile(path string) (data []byte, close func() error, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}

// SpoolFile reads r into memory, refusing more than limit bytes (no mapping on this
// platform).
func SpoolFile(r io.Reader, _ string, limit uint64) (data []byte, close func() error, err error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(min(limit, 1<<62))+1))
	if err != nil {
		return nil, nil, err
	}
	if uint64(len(b)) > limit {
		return nil, nil, fmt.Errorf("%w: more than %d bytes", codec.ErrBlobTooLarge, limit)
	}
	return b, func() error { return nil }, nil
}

// fileBehind is nil on this platform: MapFile's blob is in memory.
func fileBehind([]byte) io.ReaderAt { return nil }
