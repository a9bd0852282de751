//go:build !amd64 || purego

package blake2b8

// kernels is empty: no vector kernel on this platform.
var kernels []int

func blocks8(h *[64]uint64, msg *byte, idx *[8]uint64, nblocks int, length uint64) {
	panic("blake2b8: no vector kernel on this platform")
}

func blocks4(out *[4][Size]byte, msg *byte, idx *[8]uint64, nblocks int, length uint64) {
	panic("blake2b8: no vector kernel on this platform")
}
