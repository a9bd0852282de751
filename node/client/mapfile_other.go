//go:build !unix

package client

import "os"

// MapFile reads the file at path into memory (no mapping on this platform).
func MapFile(path string) (data []byte, close func() error, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}

// spillAllocator allocates on the heap on this platform.
func spillAllocator(string) (func(n int) ([]byte, error), func()) {
	return func(n int) ([]byte, error) { return make([]byte, n), nil }, func() {}
}
