package staking

import (
	"encoding/binary"

	"github.com/walrus-go/walrus-go/internal/wire"
)

// ErrDecode is wrapped by every decoding failure: short input, trailing bytes, a length
// over its cap, a non-canonical boolean or an unknown enum value. It is a member of
// wire.ErrMalformed's family.
var ErrDecode = wire.Malformed("staking: malformed encoding")

// encoder appends the canonical encoding: fixed-width little-endian integers, booleans as
// one byte 0/1, byte strings and lists as a u32 LE count followed by their elements. There is
// exactly one encoding of every value, so hashes over encodings are well defined.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)     { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16)   { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u32(v uint32)   { e.b = binary.LittleEndian.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64)   { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) i64(v int64)    { e.u64(uint64(v)) }
func (e *encoder) fixed(b []byte) { e.b = append(e.b, b...) }
func (e *encoder) count(n int)    { e.u32(uint32(n)) }
func (e *encoder) bytes(b []byte) { e.count(len(b)); e.b = append(e.b, b...) }
func (e *encoder) str(s string)   { e.count(len(s)); e.b = append(e.b, s...) }
func (e *encoder) boolean(v bool) { e.u8(b2u(v)) }
func (e *encoder) strs(ss []string) {
	e.count(len(ss))
	for _, s := range ss {
		e.str(s)
	}
}

func b2u(v bool) uint8 {
	if v {
		return 1
	}
	return 0
}

// The canonical encoding is read strictly through a wire.Reader whose failures wrap
// ErrDecode: the first error sticks and later reads return zero values, so callers check
// d.Err() once at the end. Every variable length is checked against a cap and against the
// bytes remaining before anything is allocated (readCount).

// newDecoder returns a strict reader of the canonical encoding in b.
func newDecoder(b []byte) *wire.Reader {
	r := wire.NewReader(b, ErrDecode)
	return &r
}

// readCount reads a list length, rejecting it when above max or when the remaining input
// cannot hold that many elements of at least minElem bytes each.
func readCount(d *wire.Reader, max, minElem int) int {
	n := d.U32()
	if d.Err() != nil {
		return 0
	}
	if uint64(n) > uint64(max) {
		d.Failf("count %d over cap %d", n, max)
		return 0
	}
	if minElem > 0 && uint64(n)*uint64(minElem) > uint64(d.Len()) {
		d.Failf("count %d cannot fit in %d bytes", n, d.Len())
		return 0
	}
	return int(n)
}

// readBytes reads a byte string of at most max bytes (copied).
func readBytes(d *wire.Reader, max int) []byte {
	b := d.Take(readCount(d, max, 1))
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// readStr reads a string of at most max bytes.
func readStr(d *wire.Reader, max int) string { return string(d.Take(readCount(d, max, 1))) }

// readStrs reads a list of at most maxN strings of at most maxLen bytes each.
func readStrs(d *wire.Reader, maxN, maxLen int) []string {
	n := readCount(d, maxN, 4)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = readStr(d, maxLen)
	}
	return out
}
