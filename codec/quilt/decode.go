package quilt

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// Decode checks that blob is a quilt at the parameters of p and parses its index. The
// returned Quilt aliases blob.
func Decode(p codec.Params, blob []byte) (*Quilt, error) {
	s, err := SymbolSize(p, uint64(len(blob)))
	if err != nil {
		return nil, err
	}
	g := geometry{p: p, s: s}
	k, err := IndexColumns(p, s, g.columns(blob, 0, 1))
	if err != nil {
		return nil, err
	}
	ix, err := ReadIndexFromColumns(p, s, g.columns(blob, 0, k))
	if err != nil {
		return nil, err
	}
	return &Quilt{Params: p, SymbolSize: s, Blob: blob, Index: *ix}, nil
}

// ReadIndex parses the index of a quilt blob (Decode without keeping the blob).
func ReadIndex(p codec.Params, blob []byte) (*Index, error) {
	q, err := Decode(p, blob)
	if err != nil {
		return nil, err
	}
	return &q.Index, nil
}

// IndexColumns reads the index prefix from column 0 of a quilt (the source part of
// secondary sliver 0: R·symbolSize bytes) and returns how many leading columns hold the
// index, 1 to MaxIndexColumns: the columns to fetch before ReadIndexFromColumns.
func IndexColumns(p codec.Params, symbolSize int, column0 []byte) (int, error) {
	colLen := p.R * symbolSize
	if symbolSize <= 0 || len(column0) < colLen || colLen < indexPrefixLen {
		return 0, fmt.Errorf("%w: column 0 has %d bytes, want %d", ErrMalformed, len(column0), colLen)
	}
	if column0[0] != Version {
		return 0, fmt.Errorf("%w: quilt version %d (only %d is known)", ErrMalformed, column0[0], Version)
	}
	total := uint64(indexPrefixLen) + uint64(binary.LittleEndian.Uint32(column0[1:5]))
	k := (total + uint64(colLen) - 1) / uint64(colLen)
	if k > MaxIndexColumns || k > uint64(p.C) {
		return 0, fmt.Errorf("%w: an index of %d bytes takes %d columns (at most %d)", ErrMalformed, total, k, MaxIndexColumns)
	}
	return int(k), nil
}

// ReadIndexFromColumns parses the quilt index from the column-ordered bytes of the leading
// columns (the source parts of secondary slivers 0..k-1 concatenated, k from IndexColumns).
// The index must be canonical BCS, its patches must tile columns k.. in order with at least
// one column each, within the C columns; identifiers and tags must be UTF-8.
func ReadIndexFromColumns(p codec.Params, symbolSize int, cols []byte) (*Index, error) {
	k, err := IndexColumns(p, symbolSize, cols)
	if err != nil {
		return nil, err
	}
	if len(cols) < k*p.R*symbolSize {
		return nil, fmt.Errorf("%w: the index needs %d columns, %d bytes given", ErrMalformed, k, len(cols))
	}
	n := int(binary.LittleEndian.Uint32(cols[1:5]))
	r := wire.NewReader(cols[indexPrefixLen:indexPrefixLen+n], ErrMalformed)
	// Every patch takes at least one column, and a BCS patch entry at least 4 bytes.
	count := r.Length(min(p.C-k, n/4))
	ix := &Index{Columns: k, Patches: make([]Patch, 0, count)}
	start := k
	for i := 0; i < count && r.Err() == nil; i++ {
		end := int(r.U16())
		id := readString(&r, "identifier")
		tags := readTags(&r)
		if r.Err() != nil {
			break
		}
		if end <= start || end > p.C {
			r.Failf("patch %d ends at column %d, after it starts at %d and at most %d", i, end, start, p.C)
			break
		}
		ix.Patches = append(ix.Patches, Patch{Identifier: id, Tags: tags, Start: start, End: end})
		start = end
	}
	if err := r.End(); err != nil {
		return nil, fmt.Errorf("quilt index: %w", err)
	}
	return ix, nil
}

// readString reads a BCS string that must be UTF-8.
func readString(r *wire.Reader, what string) string {
	b := r.Take(r.Length(r.Len()))
	if r.Err() == nil && !utf8.Valid(b) {
		r.Failf("%s is not valid UTF-8", what)
	}
	return string(b)
}

// readTags reads a BCS map of strings whose serialized keys strictly increase (canonical
// BCS, so no key repeats).
func readTags(r *wire.Reader) map[string]string {
	// A key and a value take at least one byte each.
	n := r.Length(r.Len() / 2)
	tags := make(map[string]string, min(n, 64))
	var prev []byte
	for range n {
		at := r.Off()
		k := readString(r, "tag key")
		v := readString(r, "tag value")
		if r.Err() != nil {
			return nil
		}
		ser := appendBCSString(nil, k)
		if prev != nil && bytes.Compare(prev, ser) >= 0 {
			r.Failf("tag keys out of canonical order at byte %d", at)
			return nil
		}
		prev = ser
		tags[k] = v
	}
	return tags
}

// DecodePatch parses a patch from the column-ordered bytes of its columns (the source parts
// of secondary slivers Start..End-1 concatenated, or more: bytes after the patch's length
// are ignored): its header, identifier, tags and data. The returned Data aliases cols.
func DecodePatch(cols []byte) (File, error) {
	r := wire.NewReader(cols, ErrMalformed)
	if v := r.U8(); r.Err() == nil && v != Version {
		r.Failf("patch version %d (only %d is known)", v, Version)
	}
	length := int64(r.U32())
	mask := r.U8()
	if r.Err() == nil && length > int64(r.Len()) {
		r.Failf("patch of %d bytes, only %d present", length, r.Len())
	}
	if r.Err() != nil {
		return File{}, fmt.Errorf("quilt patch: %w", r.Err())
	}
	body := wire.NewReader(r.Take(int(length)), ErrMalformed)
	idBytes := body.Take(int(body.U16()))
	idr := wire.NewReader(idBytes, ErrMalformed)
	id := readString(&idr, "identifier")
	if err := idr.End(); err != nil {
		return File{}, fmt.Errorf("quilt patch identifier: %w", err)
	}
	var tags map[string]string
	if mask&hasTags != 0 {
		tb := body.Take(int(body.U16()))
		tr := wire.NewReader(tb, ErrMalformed)
		tags = readTags(&tr)
		if err := tr.End(); err != nil {
			return File{}, fmt.Errorf("quilt patch tags: %w", err)
		}
	}
	data := body.Rest()
	if body.Err() != nil {
		return File{}, fmt.Errorf("quilt patch: %w", body.Err())
	}
	if data == nil {
		data = []byte{}
	}
	return File{Identifier: id, Tags: tags, Data: data}, nil
}

// Patch returns the file with the identifier (the first, should several share it).
func (q *Quilt) Patch(identifier string) (File, error) {
	pt, ok := q.Index.Lookup(identifier)
	if !ok {
		return File{}, fmt.Errorf("%w: no identifier %q", ErrNotFound, identifier)
	}
	return q.patch(pt)
}

// PatchAt returns the file whose patch starts at column start: what a PatchID names (its
// End must match too; Walrus readers look at the start only).
func (q *Quilt) PatchAt(id PatchID) (File, error) {
	pt, ok := q.Index.At(int(id.Start))
	if !ok || pt.End != int(id.End) {
		return File{}, fmt.Errorf("%w: no patch at columns [%d, %d)", ErrNotFound, id.Start, id.End)
	}
	return q.patch(pt)
}

// Files returns every file of the quilt, in index order.
func (q *Quilt) Files() ([]File, error) {
	out := make([]File, 0, len(q.Index.Patches))
	for _, pt := range q.Index.Patches {
		f, err := q.patch(pt)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func (q *Quilt) patch(pt Patch) (File, error) {
	g := geometry{p: q.Params, s: q.SymbolSize}
	f, err := DecodePatch(g.columns(q.Blob, pt.Start, pt.End))
	if err != nil {
		return File{}, err
	}
	if f.Identifier != pt.Identifier {
		return File{}, fmt.Errorf("%w: patch at column %d is %q, the index says %q", ErrMalformed, pt.Start, f.Identifier, pt.Identifier)
	}
	return f, nil
}

// Extract decodes a quilt blob and returns the file with the identifier.
func Extract(p codec.Params, blob []byte, identifier string) (File, error) {
	q, err := Decode(p, blob)
	if err != nil {
		return File{}, err
	}
	return q.Patch(identifier)
}
