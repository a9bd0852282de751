// Package blake2b8 hashes many short messages of equal length with Blake2b-256, eight at a
// time on AVX-512 and four at a time on AVX2 (one message per 64-bit lane), and one at a
// time elsewhere.
//
// The codec hashes about n² Merkle leaves of one symbol each and as many inner nodes of 65
// bytes per blob (a million of each at n = 1000), and a storage node hashes 2n of each per
// sliver pair it verifies. One-message Blake2b spends most of such a short hash on the
// serial dependency chain of its rounds; eight or four independent messages fill the vector
// lanes instead. Results are byte-identical to golang.org/x/crypto/blake2b.Sum256 of
// prefix || message (tested on every path).
package blake2b8

import (
	"encoding/binary"

	"golang.org/x/crypto/blake2b"
)

// Size is the digest length.
const Size = 32

const (
	maxLanes  = 8
	blockSize = 128
	// minLanes is the smallest batch worth a vector kernel: it always computes all its lanes
	// (eight or four), so a tail of fewer messages is hashed one at a time when that is
	// cheaper (measured by BenchmarkTail: two for either kernel).
	minLanes = 2
)

// vecLanes is the lane count of the kernel in use (8 on AVX-512, 4 on AVX2), 0 for the
// portable path; tests set it to cover every path this machine has.
var vecLanes = widest()

func widest() int {
	if len(kernels) == 0 {
		return 0
	}
	return kernels[0]
}

// Hasher holds the scratch one goroutine needs; the zero value is ready to use.
type Hasher struct {
	h     [maxLanes * 8]uint64 // eight states for blocks8, transposed: word w of lane l at h[8w+l]
	dig   [4][Size]byte        // the digests of blocks4
	idx   [maxLanes]uint64     // byte offset of each lane's message in buf
	buf   []byte               // one message per lane, prefix included, zero padded to whole blocks
	len   int                  // the message length buf is laid out for
	lanes int                  // the lane count buf is laid out for
	one   []byte               // one prefix || message, for the portable path
}

// Sum sets out[i] = Blake2b-256(prefix || msgs[i]). All messages must have the same length;
// out must have len(msgs) entries.
func (hs *Hasher) Sum(out [][Size]byte, prefix byte, msgs [][]byte) {
	if len(out) != len(msgs) {
		panic("blake2b8: len(out) != len(msgs)")
	}
	for _, m := range msgs {
		if len(m) != len(msgs[0]) {
			panic("blake2b8: messages of different lengths")
		}
	}
	i := 0
	if lanes := vecLanes; lanes > 0 && len(msgs) >= minLanes {
		mlen := len(msgs[0])
		for ; i+minLanes <= len(msgs); i += lanes {
			k := min(lanes, len(msgs)-i)
			stride := hs.layout(lanes, 1+mlen)
			for l := range k {
				m := msgs[i+l]
				b := hs.buf[int(hs.idx[l]):]
				b[0] = prefix
				copy(b[1:], m)
			}
			hs.run(lanes, out[i:i+k], 1+mlen, stride)
		}
	}
	for ; i < len(msgs); i++ {
		out[i] = hs.sum1(prefix, msgs[i])
	}
}

// SumPairs sets out[i] = Blake2b-256(prefix || in[2i] || in[2i+1]) for i < (len(in)+1)/2,
// with a 32-byte zero node when in has odd length: one level of a Merkle tree. out may alias
// in (out[i] is written only after in[2i] and in[2i+1] are read).
func (hs *Hasher) SumPairs(out [][Size]byte, prefix byte, in [][Size]byte) {
	n := (len(in) + 1) / 2
	if len(out) < n {
		panic("blake2b8: out too short")
	}
	var zero [Size]byte
	pair := func(i int) (*[Size]byte, *[Size]byte) {
		r := &zero
		if 2*i+1 < len(in) {
			r = &in[2*i+1]
		}
		return &in[2*i], r
	}
	i := 0
	if lanes := vecLanes; lanes > 0 && n >= minLanes {
		for ; i+minLanes <= n; i += lanes {
			k := min(lanes, n-i)
			stride := hs.layout(lanes, 1+2*Size)
			for l := range k {
				a, b := pair(i + l)
				d := hs.buf[int(hs.idx[l]):]
				d[0] = prefix
				copy(d[1:], a[:])
				copy(d[1+Size:], b[:])
			}
			hs.run(lanes, out[i:i+k], 1+2*Size, stride)
		}
	}
	for ; i < n; i++ {
		a, b := pair(i)
		var m [2 * Size]byte
		copy(m[:], a[:])
		copy(m[Size:], b[:])
		out[i] = hs.sum1(prefix, m[:])
	}
}

// layout sizes buf for one message of length bytes per lane and sets each lane's offset. The
// bytes after each message up to its block boundary must be zero: callers write only the
// message bytes, so they stay zero between calls of one layout, and a new one clears them.
func (hs *Hasher) layout(lanes, length int) int {
	stride := (length + blockSize - 1) / blockSize * blockSize
	if hs.len == length && hs.lanes == lanes {
		return stride
	}
	if len(hs.buf) != lanes*stride {
		hs.buf = make([]byte, lanes*stride)
	}
	for l := range lanes {
		hs.idx[l] = uint64(l * stride)
		clear(hs.buf[l*stride+length : (l+1)*stride])
	}
	hs.len, hs.lanes = length, lanes
	return stride
}

// run hashes lanes 0..len(out)-1 of buf (messages of length bytes) into out with the kernel
// of the given width. Lanes past len(out) hash whatever buf holds and are dropped.
func (hs *Hasher) run(lanes int, out [][Size]byte, length, stride int) {
	if lanes == 4 {
		blocks4(&hs.dig, &hs.buf[0], &hs.idx, stride/blockSize, uint64(length))
		copy(out, hs.dig[:len(out)])
		return
	}
	for w := range 8 {
		v := iv[w]
		if w == 0 {
			v ^= 0x01010000 ^ Size // digest length 32, no key, fanout 1, depth 1
		}
		for l := range lanes {
			hs.h[w*lanes+l] = v
		}
	}
	blocks8(&hs.h, &hs.buf[0], &hs.idx, stride/blockSize, uint64(length))
	for l := range out {
		for w := range Size / 8 {
			binary.LittleEndian.PutUint64(out[l][8*w:], hs.h[w*lanes+l])
		}
	}
}

// sum1 is the portable path: Blake2b-256(prefix || m).
func (hs *Hasher) sum1(prefix byte, m []byte) [Size]byte {
	if cap(hs.one) < 1+len(m) {
		hs.one = make([]byte, 1+len(m))
	}
	b := hs.one[:1+len(m)]
	b[0] = prefix
	copy(b[1:], m)
	return blake2b.Sum256(b)
}

// iv is Blake2b's initialisation vector (RFC 7693 §2.6), shared with the assembly.
var iv = [8]uint64{
	0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
	0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179,
}
