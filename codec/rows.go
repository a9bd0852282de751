package codec

import (
	"fmt"

	"github.com/walrus-go/walrus-go/internal/wire"
)

// Where a blob's bytes sit among its systematic primary slivers (docs/protocol.md §1
// "Layout"). The blob fills the R × C source matrix row by row, cell (r, c) starting at byte
// s·(C·r + c), and systematic primary sliver r (r < R) is source row r unchanged: its Data
// is exactly the blob's bytes [r·C·s, (r+1)·C·s), zero padding past the blob's end. So any
// byte range of a blob can be read from the primary slivers whose rows it touches, each
// verifiable on its own against the metadata, with no decoding.

// ErrRangeOutOfBounds: a byte range does not lie within the blob.
var ErrRangeOutOfBounds = wire.Invalid("codec: byte range out of bounds")

// RowSpan locates bytes [Off, Off+Len) of a blob in its source matrix: they are the
// systematic primary slivers First..End-1 laid end to end, starting Skip bytes into sliver
// First. An empty range has First == End.
type RowSpan struct {
	Off, Len   uint64 // the byte range
	First, End int    // systematic primary slivers [First, End)
	Skip       int    // offset of byte Off within sliver First's data
	RowBytes   int    // bytes of the blob per primary sliver: C·s
	SymbolSize int    // s
}

// Rows is how many slivers the span covers: End - First.
func (sp RowSpan) Rows() int { return sp.End - sp.First }

// Part is the part of primary sliver r's Data that lies in the range: Data[lo:hi]. For a
// sliver outside First..End-1 it is empty (lo == hi).
func (sp RowSpan) Part(r int) (lo, hi int) {
	if r < sp.First || r >= sp.End {
		return 0, 0
	}
	start := uint64(r) * uint64(sp.RowBytes)
	from, to := max(sp.Off, start), min(sp.Off+sp.Len, start+uint64(sp.RowBytes))
	return int(from - start), int(to - start)
}

// Cell is where blob byte off sits in the source matrix: row (the systematic primary
// sliver), column (the symbol within that sliver, and the secondary sliver holding it),
// and the byte within that symbol.
type Cell struct {
	Row, Col, Byte int
}

// CellAt returns the cell of blob byte off for symbol size s. off may lie in the padding
// (up to R·C·s - 1); beyond the matrix it is ErrRangeOutOfBounds.
func (p Params) CellAt(symbolSize int, off uint64) (Cell, error) {
	if err := p.check(); err != nil {
		return Cell{}, err
	}
	if symbolSize <= 0 || symbolSize > MaxSymbolSize {
		return Cell{}, fmt.Errorf("%w: symbol size %d", ErrRangeOutOfBounds, symbolSize)
	}
	s := uint64(symbolSize)
	if off >= uint64(p.R)*uint64(p.C)*s {
		return Cell{}, fmt.Errorf("%w: byte %d beyond the %d×%d matrix of %d-byte symbols", ErrRangeOutOfBounds, off, p.R, p.C, s)
	}
	row := off / (uint64(p.C) * s)
	in := off % (uint64(p.C) * s)
	return Cell{Row: int(row), Col: int(in / s), Byte: int(in % s)}, nil
}

// SpanOf returns where bytes [off, off+n) of a blob of length bytes sit among its
// systematic primary slivers. The range must lie within the blob (off + n <= length, no
// overflow): otherwise ErrRangeOutOfBounds. n = 0 is an empty span at off (off <= length).
// A blob too large for p is ErrBlobTooLarge.
func (p Params) SpanOf(length, off, n uint64) (RowSpan, error) {
	s, err := p.SymbolSize(length)
	if err != nil {
		return RowSpan{}, err
	}
	if off > length || n > length-off {
		return RowSpan{}, fmt.Errorf("%w: [%d, %d+%d) of a %d-byte blob", ErrRangeOutOfBounds, off, off, n, length)
	}
	row := uint64(p.C) * uint64(s)
	sp := RowSpan{Off: off, Len: n, RowBytes: int(row), SymbolSize: s}
	sp.First = int(off / row)
	sp.End = sp.First
	if n > 0 {
		sp.End = int((off+n-1)/row) + 1
		sp.Skip = int(off % row)
	}
	return sp, nil
}

// BlobRows is the number of systematic primary slivers that hold any byte of a blob of
// length bytes: ceil(length / (C·s)), at most R (0 for an empty blob). The remaining
// R - BlobRows systematic slivers are all padding.
func (p Params) BlobRows(length uint64) (int, error) {
	sp, err := p.SpanOf(length, 0, length)
	if err != nil {
		return 0, err
	}
	return sp.End, nil
}
