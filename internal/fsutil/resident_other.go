//go:build !linux

package fsutil

import "errors"

// ResidentBytes is only implemented on Linux (mincore).
func ResidentBytes(string) (size, resident int64, err error) {
	return 0, 0, errors.ErrUnsupported
}
