//go:build amd64 && !purego

package blake2b8

import "golang.org/x/sys/cpu"

//go:generate go run gen.go

var hasVector = cpu.X86.HasAVX512F

//go:noescape
func blocks8(h *[64]uint64, msg *byte, idx *[8]uint64, nblocks int, length uint64)
