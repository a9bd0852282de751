package codec

import (
	"encoding/binary"
	"fmt"
)

// Minimal BCS (Binary Canonical Serialization, as Walrus and Sui use it): little-endian
// fixed-width integers, uleb128 lengths and enum tags. The reader is strict: it rejects
// non-canonical uleb128, lengths beyond a caller-given bound (so untrusted input never drives
// an unchecked allocation) and trailing bytes.

// maxULEB128Len is the longest uleb128 BCS allows here (values below 2^32).
const maxULEB128Len = 5

func appendULEB128(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendU16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// bcsReader decodes sequentially; the first error sticks and later reads return zeros.
type bcsReader struct {
	b   []byte
	off int
	err error
}

func (r *bcsReader) fail(msg string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", ErrMalformed, msg, r.off)
	}
}

func (r *bcsReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b)-r.off < n {
		r.fail("truncated")
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *bcsReader) u8() byte {
	s := r.take(1)
	if s == nil {
		return 0
	}
	return s[0]
}

func (r *bcsReader) u16() uint16 {
	s := r.take(2)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(s)
}

func (r *bcsReader) u64() uint64 {
	s := r.take(8)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(s)
}

func (r *bcsReader) fixed(dst []byte) {
	if s := r.take(len(dst)); s != nil {
		copy(dst, s)
	}
}

// uleb128 reads a canonical uleb128 value that fits in 32 bits (BCS lengths and tags).
func (r *bcsReader) uleb128() uint64 {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c := r.u8()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if c == 0 && shift > 0 {
				r.fail("non-canonical uleb128")
				return 0
			}
			if v > 1<<32-1 {
				r.fail("uleb128 overflow")
				return 0
			}
			return v
		}
	}
	r.fail("uleb128 too long")
	return 0
}

// length reads a uleb128 length and checks it against max.
func (r *bcsReader) length(max int) int {
	v := r.uleb128()
	if r.err != nil {
		return 0
	}
	if v > uint64(max) {
		r.fail(fmt.Sprintf("length %d exceeds %d", v, max))
		return 0
	}
	return int(v)
}

// bytes reads a uleb128-length-prefixed byte vector of at most max bytes (copied).
func (r *bcsReader) bytes(max int) []byte {
	n := r.length(max)
	s := r.take(n)
	if s == nil {
		return nil
	}
	return append([]byte(nil), s...)
}

// finish reports the first error, or trailing bytes.
func (r *bcsReader) finish() error {
	if r.err == nil && r.off != len(r.b) {
		r.fail("trailing bytes")
	}
	return r.err
}
