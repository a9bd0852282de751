package quilt

import (
	"fmt"

	"github.com/walrus-go/walrus-go/codec"
)

// geometry is a quilt blob's matrix: R rows by C columns of s-byte symbols, stored row by
// row (docs/protocol.md §1); a quilt fills it column by column.
type geometry struct {
	p codec.Params
	s int
}

func (g geometry) rowLen() int { return g.p.C * g.s }
func (g geometry) colLen() int { return g.p.R * g.s }

// write copies src into the blob as column-ordered bytes starting at byte off of column
// col: down the rows of a column, then on to the next column. The caller guarantees the
// bytes fit.
func (g geometry) write(blob []byte, col, off int, src []byte) {
	for len(src) > 0 {
		c := col + off/g.colLen()
		r := off % g.colLen() / g.s
		in := off % g.s
		at := r*g.rowLen() + c*g.s + in
		n := copy(blob[at:at+g.s-in], src)
		src = src[n:]
		off += n
	}
}

// columns returns the column-ordered bytes of columns [start, end) of the blob: the
// concatenated source parts of secondary slivers start..end-1.
func (g geometry) columns(blob []byte, start, end int) []byte {
	out := make([]byte, 0, (end-start)*g.colLen())
	for c := start; c < end; c++ {
		for r := range g.p.R {
			at := r*g.rowLen() + c*g.s
			out = append(out, blob[at:at+g.s]...)
		}
	}
	return out
}

// SymbolSize returns the symbol size of a quilt blob of blobLen bytes at the parameters of
// p: a quilt fills its whole matrix, so blobLen must be a positive multiple of R·C whose
// quotient is a valid RS2 symbol size (even, at most codec.MaxSymbolSize). This is the only
// geometry a reader needs, and the blob's length is in its verified metadata.
func SymbolSize(p codec.Params, blobLen uint64) (int, error) {
	cells := uint64(p.R) * uint64(p.C)
	if cells == 0 || blobLen == 0 || blobLen%cells != 0 {
		return 0, fmt.Errorf("%w: a blob of %d bytes is not a quilt at n=%d (not a whole %d×%d matrix)", ErrMalformed, blobLen, p.N, p.R, p.C)
	}
	s := blobLen / cells
	if s%2 != 0 || s > codec.MaxSymbolSize {
		return 0, fmt.Errorf("%w: a blob of %d bytes is not a quilt at n=%d (symbol size %d)", ErrMalformed, blobLen, p.N, s)
	}
	return int(s), nil
}

// Range is a byte range of a blob: Len bytes from Off.
type Range struct{ Off, Len int64 }

// ByteRanges returns the byte ranges of a quilt blob with the given symbol size that hold
// columns [start, end) (for a patch: Patch.Start and Patch.End): one range per row, R in
// all, in blob order. A reader that fetches by bytes rather than by secondary sliver reads
// these and hands them, in order, to ColumnsFromRows.
func ByteRanges(p codec.Params, symbolSize, start, end int) ([]Range, error) {
	if start < 0 || end <= start || end > p.C || symbolSize <= 0 {
		return nil, fmt.Errorf("quilt: bad column range [%d, %d) at n=%d", start, end, p.N)
	}
	g := geometry{p: p, s: symbolSize}
	out := make([]Range, p.R)
	for r := range p.R {
		out[r] = Range{Off: int64(r)*int64(g.rowLen()) + int64(start*symbolSize), Len: int64((end - start) * symbolSize)}
	}
	return out, nil
}

// ColumnsFromRows turns the R row pieces that ByteRanges names (concatenated in its order)
// into the column-ordered bytes DecodePatch and ReadIndexFromColumns take.
func ColumnsFromRows(p codec.Params, symbolSize, start, end int, rows []byte) ([]byte, error) {
	width := (end - start) * symbolSize
	if start < 0 || end <= start || end > p.C || symbolSize <= 0 || len(rows) != p.R*width {
		return nil, fmt.Errorf("quilt: %d bytes are not the rows of columns [%d, %d) at n=%d", len(rows), start, end, p.N)
	}
	out := make([]byte, 0, len(rows))
	for c := range end - start {
		for r := range p.R {
			at := r*width + c*symbolSize
			out = append(out, rows[at:at+symbolSize]...)
		}
	}
	return out, nil
}
