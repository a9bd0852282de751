//go:build amd64 && !purego

package blake2b8

import "golang.org/x/sys/cpu"

//go:generate go run gen.go

// kernels lists the lane counts of the vector kernels this machine runs, widest first.
var kernels = func() []int {
	var k []int
	if cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ { // KXNORB (blocks8) is AVX512DQ
		k = append(k, 8)
	}
	if cpu.X86.HasAVX2 {
		k = append(k, 4)
	}
	return k
}()

//go:noescape
func blocks8(h *[64]uint64, msg *byte, idx *[8]uint64, nblocks int, length uint64)

//go:noescape
func blocks4(out *[4][Size]byte, msg *byte, idx *[8]uint64, nblocks int, length uint64)
