package codec_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// TestSpanOfMatchesEncoding: for blobs around symbol-size and row boundaries, every range
// read from the encoder's own systematic primary slivers through SpanOf and Part is the
// blob's bytes, and the span names exactly the slivers that hold them.
func TestSpanOfMatchesEncoding(t *testing.T) {
	for _, n := range []int{4, 10, 13} {
		p := codec.MustParams(n)
		cells := p.R * p.C
		for _, size := range []int{0, 1, 2, cells - 1, cells, cells + 1, 2 * cells, 2*cells + 1, 7*cells + 3, 12345} {
			data := make([]byte, size)
			rng := rand.New(rand.NewPCG(uint64(n), uint64(size)))
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			enc, err := codec.Encode(p, data)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := p.BlobRows(uint64(size))
			if err != nil {
				t.Fatal(err)
			}
			if want := (size + p.C*enc.SymbolSize - 1) / (p.C * enc.SymbolSize); rows != want || rows > p.R {
				t.Fatalf("n=%d size=%d: BlobRows %d, want %d (R=%d)", n, size, rows, want, p.R)
			}
			// Every sliver past the blob's rows is padding.
			for r := rows; r < p.R; r++ {
				if !bytes.Equal(enc.Primary[r].Data, make([]byte, len(enc.Primary[r].Data))) {
					t.Fatalf("n=%d size=%d: sliver %d past the blob is not all zero", n, size, r)
				}
			}
			ranges := [][2]int{{0, size}, {0, 0}, {size, 0}}
			if size > 0 {
				ranges = append(ranges, [2]int{0, 1}, [2]int{size - 1, 1}, [2]int{size / 2, size - size/2})
			}
			for range 20 {
				if size == 0 {
					break
				}
				off := rng.IntN(size)
				ranges = append(ranges, [2]int{off, rng.IntN(size - off + 1)})
			}
			for _, rg := range ranges {
				off, ln := rg[0], rg[1]
				sp, err := p.SpanOf(uint64(size), uint64(off), uint64(ln))
				if err != nil {
					t.Fatalf("n=%d size=%d [%d,+%d): %v", n, size, off, ln, err)
				}
				if sp.SymbolSize != enc.SymbolSize || sp.RowBytes != p.C*enc.SymbolSize {
					t.Fatalf("span %+v, symbol size %d", sp, enc.SymbolSize)
				}
				var got []byte
				for r := sp.First; r < sp.End; r++ {
					lo, hi := sp.Part(r)
					if lo >= hi {
						t.Fatalf("n=%d size=%d [%d,+%d): sliver %d in the span holds none of it", n, size, off, ln, r)
					}
					got = append(got, enc.Primary[r].Data[lo:hi]...)
				}
				if !bytes.Equal(got, data[off:off+ln]) {
					t.Fatalf("n=%d size=%d [%d,+%d): slivers give other bytes", n, size, off, ln)
				}
				if ln > 0 {
					lo, _ := sp.Part(sp.First)
					if lo != sp.Skip {
						t.Fatalf("Skip %d, Part(First) starts at %d", sp.Skip, lo)
					}
					c, err := p.CellAt(sp.SymbolSize, uint64(off))
					if err != nil || c.Row != sp.First || c.Col*sp.SymbolSize+c.Byte != sp.Skip {
						t.Fatalf("CellAt(%d) = %+v, %v; span %+v", off, c, err, sp)
					}
					// The cell's byte is the byte of symbol Col of that row.
					if enc.Primary[c.Row].Symbol(c.Col)[c.Byte] != data[off] {
						t.Fatalf("CellAt(%d) names another byte", off)
					}
				}
				if lo, hi := sp.Part(sp.End); lo != hi {
					t.Fatal("Part past the span is not empty")
				}
			}
		}
	}
}

// TestSpanOfBounds: ranges past the end, overflowing or of a blob too large are errors.
func TestSpanOfBounds(t *testing.T) {
	p := codec.MustParams(10)
	for _, tc := range []struct {
		length, off, n uint64
		want           error
	}{
		{100, 0, 101, codec.ErrRangeOutOfBounds},
		{100, 101, 0, codec.ErrRangeOutOfBounds},
		{100, 100, 1, codec.ErrRangeOutOfBounds},
		{100, 50, math.MaxUint64, codec.ErrRangeOutOfBounds},
		{100, math.MaxUint64, 2, codec.ErrRangeOutOfBounds},
		{0, 0, 1, codec.ErrRangeOutOfBounds},
		{p.MaxBlobSize() + 1, 0, 1, codec.ErrBlobTooLarge},
		{100, 100, 0, nil},
		{0, 0, 0, nil},
		{p.MaxBlobSize(), p.MaxBlobSize() - 1, 1, nil},
	} {
		sp, err := p.SpanOf(tc.length, tc.off, tc.n)
		if tc.want == nil {
			if err != nil {
				t.Errorf("SpanOf(%d, %d, %d): %v", tc.length, tc.off, tc.n, err)
			}
			if sp.End > p.R || sp.End < sp.First {
				t.Errorf("SpanOf(%d, %d, %d) = %+v", tc.length, tc.off, tc.n, sp)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("SpanOf(%d, %d, %d) = %v, want %v", tc.length, tc.off, tc.n, err, tc.want)
		}
	}
	sp, err := p.SpanOf(p.MaxBlobSize(), p.MaxBlobSize()-1, 1)
	if err != nil || sp.First != p.R-1 || sp.End != p.R || sp.Skip != sp.RowBytes-1 {
		t.Errorf("last byte of the largest blob: %+v, %v", sp, err)
	}
	if _, err := p.CellAt(2, uint64(p.R*p.C*2)); !errors.Is(err, codec.ErrRangeOutOfBounds) {
		t.Errorf("CellAt past the matrix: %v", err)
	}
	if _, err := p.CellAt(0, 0); !errors.Is(err, codec.ErrRangeOutOfBounds) {
		t.Errorf("CellAt with symbol size 0: %v", err)
	}
}
