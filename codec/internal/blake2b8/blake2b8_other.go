//go:build !amd64 || purego

package blake2b8

const hasVector = false

func blocks8(h *[64]uint64, msg *byte, idx *[8]uint64, nblocks int, length uint64) {
	panic("blake2b8: no vector kernel on this platform")
}
