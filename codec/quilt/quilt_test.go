package quilt_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/quilt"
	"github.com/walrus-go/walrus-go/internal/wire"
)

func sameFile(t *testing.T, got, want quilt.File) {
	t.Helper()
	if got.Identifier != want.Identifier || !bytes.Equal(got.Data, want.Data) || len(got.Tags) != len(want.Tags) ||
		(len(want.Tags) > 0 && !maps.Equal(got.Tags, want.Tags)) {
		t.Fatalf("got %q (%d bytes, tags %v), want %q (%d bytes, tags %v)", got.Identifier, len(got.Data), got.Tags,
			want.Identifier, len(want.Data), want.Tags)
	}
}

// TestRoundTrip: every file comes back by identifier, by patch ID and from its secondary
// slivers alone (as codec.Encode makes them), and the byte ranges of its columns hold it.
func TestRoundTrip(t *testing.T) {
	for _, n := range []int{4, 7, 10, 13, 100} {
		p := codec.MustParams(n)
		files := fileSet(uint64(n), min(quilt.MaxPatches(p), 9), 5000)
		q, err := quilt.Encode(p, files)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if uint64(len(q.Blob)) != uint64(p.R*p.C*q.SymbolSize) || q.SymbolSize%2 != 0 {
			t.Fatalf("n=%d: blob of %d bytes, symbol size %d", n, len(q.Blob), q.SymbolSize)
		}
		if s, err := codec.MustParams(n).SymbolSize(uint64(len(q.Blob))); err != nil || s != q.SymbolSize {
			t.Fatalf("n=%d: codec symbol size %d, quilt %d (%v)", n, s, q.SymbolSize, err)
		}
		dec, err := quilt.Decode(p, q.Blob)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if dec.Index.Columns != q.Index.Columns || len(dec.Index.Patches) != len(files) {
			t.Fatalf("n=%d: decoded index %+v, encoded %+v", n, dec.Index, q.Index)
		}
		enc, err := codec.Encode(p, q.Blob)
		if err != nil {
			t.Fatal(err)
		}
		quiltID := enc.BlobID
		if id, err := q.ComputeID(); err != nil || id != quiltID {
			t.Fatalf("ComputeID = %s, %v; want %s", id, err, quiltID)
		}
		// The index from secondary sliver 0 and as many more as IndexColumns says.
		k, err := quilt.IndexColumns(p, q.SymbolSize, enc.Secondary[0].Data)
		if err != nil || k != q.Index.Columns {
			t.Fatalf("IndexColumns = %d, %v; want %d", k, err, q.Index.Columns)
		}
		var cols []byte
		for c := range k {
			cols = append(cols, enc.Secondary[c].Data...)
		}
		ix, err := quilt.ReadIndexFromColumns(p, q.SymbolSize, cols)
		if err != nil || len(ix.Patches) != len(files) {
			t.Fatalf("ReadIndexFromColumns: %v", err)
		}
		for i, pt := range q.Index.Patches {
			if ix.Patches[i].Start != pt.Start || ix.Patches[i].End != pt.End || ix.Patches[i].Identifier != pt.Identifier {
				t.Fatalf("patch %d from slivers %+v, encoded %+v", i, ix.Patches[i], pt)
			}
		}
		for _, f := range files {
			got, err := dec.Patch(f.Identifier)
			if err != nil {
				t.Fatal(err)
			}
			sameFile(t, got, f)
			pt, _ := dec.Index.Lookup(f.Identifier)
			pid := pt.PatchID(quiltID)
			if err := pid.Check(p); err != nil {
				t.Fatal(err)
			}
			back, err := quilt.ParsePatchID(pid.String())
			if err != nil || back != pid {
				t.Fatalf("ParsePatchID(%s) = %+v, %v", pid, back, err)
			}
			if got, err = dec.PatchAt(back); err != nil {
				t.Fatal(err)
			}
			sameFile(t, got, f)
			// From its secondary slivers only.
			var sl []byte
			for _, c := range back.Columns().SecondarySlivers() {
				sl = append(sl, enc.Secondary[c].Data...)
			}
			if got, err = quilt.DecodePatch(sl); err != nil {
				t.Fatal(err)
			}
			sameFile(t, got, f)
			// From the byte ranges of its columns.
			rs, err := quilt.ByteRanges(p, q.SymbolSize, pt.Start, pt.End)
			if err != nil || len(rs) != p.R {
				t.Fatalf("ByteRanges: %d, %v", len(rs), err)
			}
			var rows []byte
			for _, r := range rs {
				rows = append(rows, q.Blob[r.Off:r.Off+r.Len]...)
			}
			cols, err := quilt.ColumnsFromRows(p, q.SymbolSize, pt.Start, pt.End, rows)
			if err != nil {
				t.Fatal(err)
			}
			if got, err = quilt.DecodePatch(cols); err != nil {
				t.Fatal(err)
			}
			sameFile(t, got, f)
		}
		if _, err := dec.Patch("no such file"); !errors.Is(err, quilt.ErrNotFound) {
			t.Fatalf("unknown identifier: %v", err)
		}
		all, err := dec.Files()
		if err != nil || len(all) != len(files) {
			t.Fatalf("Files: %d, %v", len(all), err)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	p := codec.MustParams(10)
	for name, c := range map[string]struct {
		files []quilt.File
		want  error
	}{
		"none":             {nil, quilt.ErrBadFiles},
		"empty identifier": {[]quilt.File{{Identifier: ""}}, quilt.ErrBadFiles},
		"trailing space":   {[]quilt.File{{Identifier: "a "}}, quilt.ErrBadFiles},
		"trailing nbsp":    {[]quilt.File{{Identifier: "a\u00a0"}}, quilt.ErrBadFiles},
		"control":          {[]quilt.File{{Identifier: "a\x01b"}}, quilt.ErrBadFiles},
		"c1 control":       {[]quilt.File{{Identifier: "a\u0085b"}}, quilt.ErrBadFiles},
		"bad utf-8":        {[]quilt.File{{Identifier: "a\xffb"}}, quilt.ErrBadFiles},
		"long identifier":  {[]quilt.File{{Identifier: strings.Repeat("x", quilt.MaxIdentifierLen+1)}}, quilt.ErrBadFiles},
		"bad tag":          {[]quilt.File{{Identifier: "a", Tags: map[string]string{"k": "\xff"}}}, quilt.ErrBadFiles},
		"duplicate":        {[]quilt.File{{Identifier: "a"}, {Identifier: "b"}, {Identifier: "a"}}, quilt.ErrBadFiles},
		"too many":         {fileSet(1, 7, 1), quilt.ErrTooLarge},
		"too large":        {[]quilt.File{{Identifier: "a", Data: make([]byte, p.MaxBlobSize())}}, quilt.ErrTooLarge},
		"big tags": {[]quilt.File{{Identifier: "a", Tags: map[string]string{"k": strings.Repeat("v", 70000)}}},
			quilt.ErrBadFiles},
	} {
		if _, err := quilt.Encode(p, c.files); !errors.Is(err, c.want) || !errors.Is(err, wire.ErrInvalid) {
			t.Errorf("%s: %v, want %v", name, err, c.want)
		}
	}
	// The longest identifier is fine.
	if _, err := quilt.Encode(codec.MustParams(100), []quilt.File{{Identifier: strings.Repeat("x", quilt.MaxIdentifierLen)}}); err != nil {
		t.Fatal(err)
	}
}

// TestDecodeRejects: damaged quilts fail with ErrMalformed, never a panic.
func TestDecodeRejects(t *testing.T) {
	p := codec.MustParams(10)
	q, err := quilt.Encode(p, fileSet(2, 4, 300))
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(q.Blob)) }
	for name, blob := range map[string][]byte{
		"empty":        nil,
		"not a matrix": q.Blob[:len(q.Blob)-1],
		"odd symbol":   make([]byte, p.R*p.C*3),
		"version":      mutate(func(b []byte) []byte { b[0] = 2; return b }),
		"index length": mutate(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[1:], 1<<31); return b }),
		"short index":  mutate(func(b []byte) []byte { b[1]--; return b }),
		"zeros":        make([]byte, len(q.Blob)),
	} {
		if _, err := quilt.Decode(p, blob); !errors.Is(err, quilt.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	// A patch header claiming more bytes than its columns hold.
	pt := q.Index.Patches[1]
	g := q.SymbolSize
	bad := bytes.Clone(q.Blob)
	// The patch's first symbol is at row 0, column Start: version, then the u32 length.
	at := pt.Start * g
	bad[at+1], bad[at+2], bad[at+3], bad[at+4] = 0xff, 0xff, 0xff, 0x7f
	dec, err := quilt.Decode(p, bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dec.Patch(pt.Identifier); !errors.Is(err, quilt.ErrMalformed) {
		t.Fatalf("oversized patch: %v", err)
	}
}

func TestPatchIDParse(t *testing.T) {
	// From Walrus's documentation: 441..444 in some quilt.
	id, err := quilt.ParsePatchID("GRSuRSQ_hLYR9nyo7mlBlS7MLQVSSXRrfPVOxF6n6XcBuQG8AQ")
	if err != nil || id.Start != 441 || id.End != 444 || id.Version != 1 {
		t.Fatalf("%+v, %v", id, err)
	}
	if id.Quilt.String() != "GRSuRSQ_hLYR9nyo7mlBlS7MLQVSSXRrfPVOxF6n6Xc" {
		t.Fatalf("quilt %s", id.Quilt)
	}
	if got, err := quilt.ParsePatchID(id.String() + "=="); err != nil || got != id {
		t.Fatalf("padded: %+v, %v", got, err)
	}
	for _, s := range []string{"", "GRSuRSQ_hLYR9nyo7mlBlS7MLQVSSXRrfPVOxF6n6Xc", id.String()[:49], id.String() + "A",
		"GRSuRSQ_hLYR9nyo7mlBlS7MLQVSSXRrfPVOxF6n6XcAuQG8AQ", // version 0
		"GRSuRSQ_hLYR9nyo7mlBlS7MLQVSSXRrfPVOxF6n6XcBvAG5AQ", // start > end
		"GRSuRSQ+hLYR9nyo7mlBlS7MLQVSSXRrfPVOxF6n6XcBuQG8AQ", // not URL-safe
	} {
		if _, err := quilt.ParsePatchID(s); !errors.Is(err, quilt.ErrMalformed) {
			t.Errorf("ParsePatchID(%q): %v", s, err)
		}
	}
	if err := id.Check(codec.MustParams(1000)); err != nil {
		t.Fatal(err)
	}
	if err := id.Check(codec.MustParams(100)); !errors.Is(err, quilt.ErrMalformed) {
		t.Fatalf("columns past C: %v", err)
	}
}
