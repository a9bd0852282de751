package codec

import (
	"bytes"
	"fmt"
	"io"

	"github.com/walrus-go/walrus-go/internal/wire"
)

// Axis names one of RedStuff's two encodings (docs/protocol.md §1): primary slivers are rows of the
// column-expanded matrix, secondary slivers columns of the row-expanded matrix.
type Axis uint8

// The two axes; enums start at 1 so the zero value is invalid.
const (
	AxisPrimary   Axis = 1
	AxisSecondary Axis = 2
)

// String names the axis.
func (a Axis) String() string {
	switch a {
	case AxisPrimary:
		return "primary"
	case AxisSecondary:
		return "secondary"
	}
	return fmt.Sprintf("Axis(%d)", uint8(a))
}

// Valid reports whether a is AxisPrimary or AxisSecondary.
func (a Axis) Valid() bool { return a == AxisPrimary || a == AxisSecondary }

// Other returns the opposite axis.
func (a Axis) Other() Axis {
	if a == AxisPrimary {
		return AxisSecondary
	}
	return AxisPrimary
}

// sourceSymbols is the number of symbols in a sliver of this axis: C for primary, R for
// secondary (docs/protocol.md §1).
func (p Params) sourceSymbols(a Axis) int {
	if a == AxisPrimary {
		return p.C
	}
	return p.R
}

// RecoveryThreshold is the number of recovery symbols needed to recover a sliver of axis a
// (docs/protocol.md §4): n-f for a primary sliver, n-2f for a secondary one.
func (p Params) RecoveryThreshold(a Axis) int { return p.sourceSymbols(a) }

// DecodeThreshold is the number of slivers of axis a needed to decode the blob: R = n-2f
// primary slivers, or C = n-f secondary slivers.
func (p Params) DecodeThreshold(a Axis) int { return p.sourceSymbols(a.Other()) }

// Sliver is one primary or secondary sliver: its symbols concatenated (Data), each
// SymbolSize bytes. Walrus's SliverData.
type Sliver struct {
	Axis       Axis
	Index      uint16
	SymbolSize uint16
	Data       []byte
}

// Symbol returns symbol i of the sliver (aliasing Data).
func (s *Sliver) Symbol(i int) []byte {
	ss := int(s.SymbolSize)
	return s.Data[i*ss : (i+1)*ss]
}

// MarshalBCS encodes the sliver as Walrus's SliverData:
// uleb128(len(Data)) || Data || u16 LE symbol_size || u16 LE index, that is
// AppendSliverBCSHeader, Data, AppendSliverBCSTrailer.
func (s *Sliver) MarshalBCS() []byte {
	b := make([]byte, 0, SliverBCSLen(len(s.Data)))
	b = AppendSliverBCSHeader(b, len(s.Data))
	b = append(b, s.Data...)
	return AppendSliverBCSTrailer(b, s)
}

// The sliver's BCS layout in pieces, for writers that send or store a sliver's data without
// copying it into one buffer: header || Data || trailer is exactly MarshalBCS.
const (
	// MaxSliverBCSHeaderLen is the longest header AppendSliverBCSHeader writes for a sliver
	// that fits any geometry (its data is below 2^32 bytes).
	MaxSliverBCSHeaderLen = wire.MaxULEB128Len
	// SliverBCSTrailerLen is the length of the trailer: u16 symbol_size, u16 index.
	SliverBCSTrailerLen = 4
)

// SliverBCSLen is the length of the BCS encoding of a sliver with dataLen bytes of data
// (len(s.MarshalBCS()) when len(s.Data) == dataLen).
func SliverBCSLen(dataLen int) int {
	return wire.ULEB128Len(uint64(dataLen)) + dataLen + SliverBCSTrailerLen
}

// AppendSliverBCSHeader appends the part of a sliver's BCS encoding before its data: the
// uleb128 of the data length dataLen. It depends on nothing else.
func AppendSliverBCSHeader(b []byte, dataLen int) []byte {
	return wire.AppendULEB128(b, uint64(dataLen))
}

// AppendSliverBCSTrailer appends the part of s's BCS encoding after its data: u16 LE
// symbol_size, u16 LE index (SliverBCSTrailerLen bytes).
func AppendSliverBCSTrailer(b []byte, s *Sliver) []byte {
	b = appendU16(b, s.SymbolSize)
	return appendU16(b, s.Index)
}

// readSliverBCSTrailer reads AppendSliverBCSTrailer's form.
func readSliverBCSTrailer(r *wire.Reader) (symbolSize, index uint16) {
	return r.U16(), r.U16()
}

// UnmarshalSliverBCS decodes an untrusted SliverData of the given axis and checks it against
// the geometry: index < n, an even symbol size within 2..MaxSymbolSize, and exactly the
// axis's number of symbols. Whether the symbol size fits a given blob is checked against its
// metadata by VerifySliver.
func UnmarshalSliverBCS(p Params, axis Axis, b []byte) (Sliver, error) {
	s, err := ParseSliverBCS(p, axis, b)
	if err != nil {
		return Sliver{}, err
	}
	s.Data = bytes.Clone(s.Data)
	return s, nil
}

// ParseSliverBCS is UnmarshalSliverBCS without the copy: the returned sliver's Data
// aliases b, so b must not change while the sliver is in use. The data plane parses
// tens of megabytes of slivers per request this way, straight from the request frame.
func ParseSliverBCS(p Params, axis Axis, b []byte) (Sliver, error) {
	if err := p.check(); err != nil {
		return Sliver{}, err
	}
	if !axis.Valid() {
		return Sliver{}, fmt.Errorf("%w: bad axis %d", ErrBadSliver, axis)
	}
	r := newBCSReader(b)
	maxLen := p.sourceSymbols(axis) * MaxSymbolSize
	data := r.Take(r.Length(maxLen)) // capped: an append to Data must not overwrite b
	ss, idx := readSliverBCSTrailer(&r)
	if err := r.End(); err != nil {
		return Sliver{}, err
	}
	s := Sliver{Axis: axis, Index: idx, SymbolSize: ss, Data: data}
	if err := checkSliverShape(p, &s); err != nil {
		return Sliver{}, err
	}
	return s, nil
}

// ReadSliverBCS reads one SliverData (MarshalBCS's form) of the given axis from r into data,
// which must have exactly the sliver's length for the blob (p.PrimarySliverSize or
// p.SecondarySliverSize of its symbol size), and returns the sliver, its Data aliasing data.
// A reader of slivers from the network puts each straight where it belongs (a systematic
// primary sliver is a row of the blob) instead of holding the message and copying out of
// it. It reads exactly the sliver's bytes; a length prefix other than len(data), a symbol
// size that does not match it or a misshapen sliver is ErrBadSliver; r's errors (an end of
// r inside the sliver as io.EOF or io.ErrUnexpectedEOF) come back in the chain, not as
// ErrBadSliver. On an error data may hold some of what was read.
func ReadSliverBCS(p Params, axis Axis, r io.Reader, data []byte) (Sliver, error) {
	if err := p.check(); err != nil {
		return Sliver{}, err
	}
	if !axis.Valid() {
		return Sliver{}, fmt.Errorf("%w: bad axis %d", ErrBadSliver, axis)
	}
	syms := p.sourceSymbols(axis)
	if len(data) == 0 || len(data)%syms != 0 || len(data)/syms > MaxSymbolSize {
		return Sliver{}, fmt.Errorf("codec: ReadSliverBCS: %d bytes is no %s sliver size", len(data), axis)
	}
	// The canonical uleb128 of a length is unique: compare it whole.
	var buf [MaxSliverBCSHeaderLen]byte
	want := AppendSliverBCSHeader(buf[:0:MaxSliverBCSHeaderLen], len(data))
	var got [MaxSliverBCSHeaderLen]byte
	if _, err := io.ReadFull(r, got[:len(want)]); err != nil {
		return Sliver{}, fmt.Errorf("codec: reading sliver length: %w", err)
	}
	if !bytes.Equal(got[:len(want)], want) {
		return Sliver{}, fmt.Errorf("%w: length prefix %x, want %x (%d bytes)", ErrBadSliver, got[:len(want)], want, len(data))
	}
	if _, err := io.ReadFull(r, data); err != nil {
		return Sliver{}, fmt.Errorf("codec: reading sliver data: %w", err)
	}
	var tail [SliverBCSTrailerLen]byte
	if _, err := io.ReadFull(r, tail[:]); err != nil {
		return Sliver{}, fmt.Errorf("codec: reading sliver symbol size and index: %w", err)
	}
	tr := newBCSReader(tail[:])
	ss, idx := readSliverBCSTrailer(&tr)
	s := Sliver{Axis: axis, SymbolSize: ss, Index: idx, Data: data[:len(data):len(data)]}
	if int(s.SymbolSize)*syms != len(data) {
		return Sliver{}, fmt.Errorf("%w: symbol size %d in a %s sliver of %d bytes", ErrBadSliver, s.SymbolSize, axis, len(data))
	}
	if err := checkSliverShape(p, &s); err != nil {
		return Sliver{}, err
	}
	return s, nil
}

// checkSliverShape checks axis, index, symbol size and data length against p.
func checkSliverShape(p Params, s *Sliver) error {
	if err := p.check(); err != nil {
		return err
	}
	if !s.Axis.Valid() {
		return fmt.Errorf("%w: bad axis %d", ErrBadSliver, s.Axis)
	}
	if int(s.Index) >= p.N {
		return fmt.Errorf("%w: index %d >= n=%d", ErrBadSliver, s.Index, p.N)
	}
	if s.SymbolSize == 0 || s.SymbolSize%2 != 0 || s.SymbolSize > MaxSymbolSize {
		return fmt.Errorf("%w: symbol size %d", ErrBadSliver, s.SymbolSize)
	}
	if want := p.sourceSymbols(s.Axis) * int(s.SymbolSize); len(s.Data) != want {
		return fmt.Errorf("%w: %s sliver of %d bytes, want %d", ErrBadSliver, s.Axis, len(s.Data), want)
	}
	return nil
}

// UsablePrimarySlivers is the number of leading primary sliver indices (0..U-1) that
// DecodePrimary, secondary-sliver recovery and inconsistency proofs for secondary slivers can
// use. It is n when the primary code is high-rate (n = 4, 7, 13, ...) and R+next_pow2(R)
// otherwise (846 at n = 1000), because a low-rate code is decoded through the step-1 code of
// docs/protocol.md §1. Losing any f slivers always leaves at least R usable ones.
func (p Params) UsablePrimarySlivers() int {
	if !isLowRate(p.R, p.N-p.R) {
		return p.N
	}
	return min(p.N, p.R+nextPow2(p.R))
}
