//go:build !linux || !cgo

package store

// tuneCAllocator does nothing where the C allocator is not glibc's (or cgo is off and
// pebble allocates from the Go heap).
func tuneCAllocator() {}
