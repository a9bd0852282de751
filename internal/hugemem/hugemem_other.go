//go:build !linux

package hugemem

// Bytes returns n zero bytes.
func Bytes(n int) []byte { return make([]byte, n) }
