package staking

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrDecode is wrapped by every decoding failure: short input, trailing bytes, a length
// over its cap, a non-canonical boolean or an unknown enum value.
var ErrDecode = errors.New("staking: malformed encoding")

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

// decoder reads the canonical encoding strictly. The first error sticks; later reads return
// zero values, so callers check d.err once at the end. Every variable length is checked
// against a cap and against the bytes remaining before anything is allocated.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s", ErrDecode, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("need %d bytes, have %d", n, len(d.b))
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u8() uint8 {
	b := d.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (d *decoder) u16() uint16 {
	b := d.take(2)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (d *decoder) u32() uint32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (d *decoder) u64() uint64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

func (d *decoder) i64() int64 { return int64(d.u64()) }

func (d *decoder) fixed(dst []byte) { copy(dst, d.take(len(dst))) }

func (d *decoder) boolean() bool {
	v := d.u8()
	if v > 1 {
		d.fail("boolean byte %d", v)
	}
	return v == 1
}

// count reads a list length, rejecting it when above max or when the remaining input cannot
// hold that many elements of at least minElem bytes each.
func (d *decoder) count(max, minElem int) int {
	n := d.u32()
	if d.err != nil {
		return 0
	}
	if uint64(n) > uint64(max) {
		d.fail("count %d over cap %d", n, max)
		return 0
	}
	if minElem > 0 && uint64(n)*uint64(minElem) > uint64(len(d.b)) {
		d.fail("count %d cannot fit in %d bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(max int) []byte {
	n := d.count(max, 1)
	b := d.take(n)
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

func (d *decoder) str(max int) string {
	n := d.count(max, 1)
	return string(d.take(n))
}

func (d *decoder) strs(maxN, maxLen int) []string {
	n := d.count(maxN, 4)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str(maxLen)
	}
	return out
}

// done reports the sticky error, or an error when input is left over.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}
