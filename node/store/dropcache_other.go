//go:build !linux

package store

// cacheDropper does nothing where posix_fadvise is not available.
func cacheDropper(string) (done func()) { return func() {} }
