package quilt_test

import (
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/quilt"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// FuzzReadIndex feeds arbitrary bytes as the leading columns of a quilt and as a whole
// quilt blob: decoding never panics, fails only inside the wire.ErrInvalid family, and
// what it accepts is consistent (patches tile the columns after the index, in order) and
// every patch it lists either decodes or fails cleanly.
func FuzzReadIndex(f *testing.F) {
	p := codec.MustParams(10)
	for seed, c := range []struct{ count, size int }{{1, 0}, {3, 40}, {6, 10}} {
		q, err := quilt.Encode(p, fileSet(uint64(seed), c.count, c.size))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(q.Blob, uint8(q.SymbolSize))
	}
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0, 0, 0}, uint8(2))
	f.Fuzz(func(t *testing.T, b []byte, s uint8) {
		symbolSize := int(s)
		ix, err := quilt.ReadIndexFromColumns(p, symbolSize, b)
		if err != nil {
			if !errors.Is(err, wire.ErrInvalid) {
				t.Fatalf("error outside the family: %v", err)
			}
		} else {
			start := ix.Columns
			for _, pt := range ix.Patches {
				if pt.Start != start || pt.End <= pt.Start || pt.End > p.C || pt.Tags == nil {
					t.Fatalf("bad patch %+v after column %d", pt, start)
				}
				start = pt.End
			}
		}
		if _, err := quilt.DecodePatch(b); err != nil && !errors.Is(err, wire.ErrInvalid) {
			t.Fatalf("DecodePatch error outside the family: %v", err)
		}
		q, err := quilt.Decode(p, b)
		if err != nil {
			if !errors.Is(err, wire.ErrInvalid) {
				t.Fatalf("Decode error outside the family: %v", err)
			}
			return
		}
		for _, pt := range q.Index.Patches {
			if _, err := q.Patch(pt.Identifier); err != nil && !errors.Is(err, wire.ErrInvalid) {
				t.Fatalf("patch %q: %v", pt.Identifier, err)
			}
		}
	})
}

// FuzzParsePatchID: parsing never panics and what parses prints back the same.
func FuzzParsePatchID(f *testing.F) {
	f.Add("GRSuRSQ_hLYR9nyo7mlBlS7MLQVSSXRrfPVOxF6n6XcBuQG8AQ")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := quilt.ParsePatchID(s)
		if err != nil {
			if !errors.Is(err, quilt.ErrMalformed) {
				t.Fatal(err)
			}
			return
		}
		again, err := quilt.ParsePatchID(id.String())
		if err != nil || again != id {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, id, id.String(), again, err)
		}
	})
}
