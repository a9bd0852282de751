// Package wire is the one bounds-checked cursor over untrusted bytes and the one family of
// malformed-input errors that every decoder in walrus-go shares: the codec's BCS, the
// ledger's canonical encodings, the agreement messages and every libp2p protocol's bodies.
//
// A Reader never panics and never allocates on behalf of a length it read: every read checks
// the bytes left first, the first failure sticks, and later reads return zero values, so a
// decoder checks Err (or End) once per message. Every failure wraps ErrMalformed, through the
// package sentinel the Reader was made with, so a caller can tell "the peer sent garbage"
// from every other failure with one errors.Is, whichever package's decoder found it; checks
// that fail on well-formed input use sentinels made by Invalid, under the same root.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unicode/utf8"
)

// The family of bad-input errors, two levels deep:
//
//	ErrInvalid      untrusted input is unusable: malformed, or well-formed but failing
//	                verification (a hash, a proof, a geometry check)
//	  ErrMalformed  untrusted bytes are not a canonical encoding of the expected message
//
// Each package declares its own sentinels inside the family (Malformed, Invalid), so a
// server tells "the peer's fault" from its own failures with one errors.Is(err, ErrInvalid).
var (
	// ErrInvalid is the root of the family.
	ErrInvalid = errors.New("invalid input")
	// ErrMalformed is wrapped by every decoding failure of untrusted bytes.
	ErrMalformed error = &member{msg: "malformed input", parent: ErrInvalid}
)

// member is a sentinel inside the family.
type member struct {
	msg    string
	parent error
}

func (e *member) Error() string { return e.msg }
func (e *member) Unwrap() error { return e.parent }

// Malformed returns a new sentinel under ErrMalformed: a package's "malformed X" error,
// matched by errors.Is as itself, as ErrMalformed and as ErrInvalid.
func Malformed(msg string) error { return &member{msg: msg, parent: ErrMalformed} }

// Invalid returns a new sentinel under ErrInvalid for input that decodes but fails a check
// (a hash mismatch, a proof that does not verify), matched as itself and as ErrInvalid.
func Invalid(msg string) error { return &member{msg: msg, parent: ErrInvalid} }

// MaxULEB128Len is the longest uleb128 a Reader accepts: BCS lengths and tags are below
// 2^32, which take at most five bytes.
const MaxULEB128Len = 5

// Reader decodes little-endian values from an untrusted byte slice. The zero Reader reads
// nothing; make one with NewReader.
type Reader struct {
	b    []byte
	off  int
	err  error
	kind error
}

// NewReader returns a cursor over b whose failures wrap kind (a sentinel of the family made
// by Malformed; nil means ErrMalformed itself). Slices it returns alias b.
func NewReader(b []byte, kind error) Reader {
	if kind == nil {
		kind = ErrMalformed
	}
	return Reader{b: b, kind: kind}
}

// Failf records a failure (the first one sticks) wrapping the reader's sentinel. Decoders
// call it for semantic checks too (a flag byte out of range, a count over its cap), so a
// message's every failure is one error of one family.
func (r *Reader) Failf(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s (at byte %d)", r.kind, fmt.Sprintf(format, args...), r.off)
	}
}

// Err returns the first failure, or nil.
func (r *Reader) Err() error { return r.err }

// Off is how many bytes have been read.
func (r *Reader) Off() int { return r.off }

// Len is how many bytes are left.
func (r *Reader) Len() int { return len(r.b) - r.off }

// Take returns the next n bytes (aliasing the input), or nil after a failure or when fewer
// than n are left (which fails the reader).
func (r *Reader) Take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.Len() {
		r.Failf("need %d bytes, have %d", n, r.Len())
		return nil
	}
	out := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return out
}

// Rest returns every byte left (aliasing the input), or nil after a failure.
func (r *Reader) Rest() []byte {
	if r.err != nil {
		return nil
	}
	return r.Take(r.Len())
}

// U8 reads one byte.
func (r *Reader) U8() uint8 {
	if b := r.Take(1); b != nil {
		return b[0]
	}
	return 0
}

// U16 reads a little-endian uint16.
func (r *Reader) U16() uint16 {
	if b := r.Take(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

// U32 reads a little-endian uint32.
func (r *Reader) U32() uint32 {
	if b := r.Take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

// U64 reads a little-endian uint64.
func (r *Reader) U64() uint64 {
	if b := r.Take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// Bool reads a canonical boolean byte: 0 or 1, anything else fails.
func (r *Reader) Bool() bool {
	v := r.U8()
	if v > 1 {
		r.Failf("boolean byte %d", v)
	}
	return v == 1
}

// Fixed fills dst with the next len(dst) bytes (leaving it unchanged on failure).
func (r *Reader) Fixed(dst []byte) {
	if b := r.Take(len(dst)); b != nil {
		copy(dst, b)
	}
}

// ULEB128 reads a canonical uleb128 value below 2^32 (BCS lengths and enum tags):
// over-long, non-canonical (a trailing zero group) and overflowing encodings fail.
func (r *Reader) ULEB128() uint64 {
	var v uint64
	for shift := 0; shift < 7*MaxULEB128Len; shift += 7 {
		c := r.U8()
		if r.err != nil {
			return 0
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if c == 0 && shift > 0 {
				r.Failf("non-canonical uleb128")
				return 0
			}
			if v > 1<<32-1 {
				r.Failf("uleb128 overflow")
				return 0
			}
			return v
		}
	}
	r.Failf("uleb128 too long")
	return 0
}

// Length reads a uleb128 length and fails when it exceeds max, before anything of that
// length is taken or allocated.
func (r *Reader) Length(max int) int {
	v := r.ULEB128()
	if r.err != nil {
		return 0
	}
	if v > uint64(max) {
		r.Failf("length %d exceeds %d", v, max)
		return 0
	}
	return int(v)
}

// U32Bytes reads a u32 length and that many bytes (aliasing the input), failing when the
// length exceeds max before taking anything.
func (r *Reader) U32Bytes(max int) []byte {
	n := r.U32()
	if r.err != nil {
		return nil
	}
	if int64(n) > int64(max) {
		r.Failf("%d bytes exceed %d", n, max)
		return nil
	}
	return r.Take(int(n))
}

// End returns the first failure, or a failure if bytes are left over: a message is
// canonical only if it is read to its last byte.
func (r *Reader) End() error {
	if r.err == nil && r.Len() != 0 {
		r.Failf("%d trailing bytes", r.Len())
	}
	return r.err
}

// AppendULEB128 appends v as BCS's uleb128.
func AppendULEB128(b []byte, v uint64) []byte {
	for ; v >= 0x80; v >>= 7 {
		b = append(b, byte(v)|0x80)
	}
	return append(b, byte(v))
}

// ULEB128Len is len(AppendULEB128(nil, v)).
func ULEB128Len(v uint64) int {
	n := 1
	for ; v >= 0x80; v >>= 7 {
		n++
	}
	return n
}

// AppendBool appends a canonical boolean byte.
func AppendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// AppendU32Bytes appends v behind its u32 little-endian length (U32Bytes's form).
func AppendU32Bytes(b, v []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(b, uint32(len(v))), v...)
}

// AppendU64 appends v little-endian (U64's form).
func AppendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// AppendU32 appends v little-endian (U32's form).
func AppendU32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// Count reads a u32 element count and fails when count × minElem exceeds the bytes left,
// so a count from the wire never sizes an allocation its message cannot fill.
func (r *Reader) Count(minElem int) int {
	n := r.U32()
	if r.err == nil && int64(n)*int64(max(minElem, 1)) > int64(r.Len()) {
		r.Failf("count %d exceeds input", n)
		return 0
	}
	return int(n)
}

// CutUTF8 returns s cut to at most n bytes, at a character boundary, for messages that go
// on the wire with a length cap.
func CutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
