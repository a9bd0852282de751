package quilt

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// Constants of QuiltV1 (docs/quilts.md).
const (
	// Version is the quilt version byte (QuiltV1), the first byte of the blob and of every
	// patch header, and the version byte of a patch ID.
	Version = 1
	// MaxIndexColumns is the most columns the quilt index may occupy.
	MaxIndexColumns = 10
	// indexPrefixLen is the version byte and the u32 index length before the index's BCS.
	indexPrefixLen = 5
	// patchHeaderLen is a patch's version u8 || length u32 || mask u8.
	patchHeaderLen = 6
	// hasTags is the mask bit saying a patch header carries tags.
	hasTags = 1
	// MaxIdentifierLen is the longest identifier in bytes: its BCS form (uleb128 length and
	// bytes) must stay below 65535 bytes.
	MaxIdentifierLen = 65531
	// MaxTagsLen is the most bytes the BCS form of one patch's tags may take (u16 length).
	MaxTagsLen = 65535
)

// Errors. Those about untrusted input are in internal/wire's ErrInvalid family, so a server
// answers "bad request" for all of them with one errors.Is(err, wire.ErrInvalid).
var (
	// ErrMalformed: a quilt blob, index, patch or patch ID is not a valid QuiltV1 encoding.
	ErrMalformed = wire.Malformed("quilt: malformed quilt")
	// ErrBadFiles: the files cannot make a quilt (no files, a bad or duplicate identifier,
	// bad tags).
	ErrBadFiles = wire.Invalid("quilt: invalid files")
	// ErrTooLarge: the files do not fit one quilt at this shard count (too many files, or a
	// symbol size above codec.MaxSymbolSize).
	ErrTooLarge = wire.Invalid("quilt: files do not fit one quilt")
	// ErrNotFound: no patch with that identifier, or none starting at that column.
	ErrNotFound = errors.New("quilt: no such patch")
)

// File is one file of a quilt: its identifier (unique in the quilt), optional tags and
// contents. Extracted patches come back as Files too.
type File struct {
	Identifier string
	Tags       map[string]string
	Data       []byte
}

// Patch is one entry of the quilt index: a file's identifier and tags, and the columns
// [Start, End) that hold it, which are also the indices of the secondary slivers to fetch.
type Patch struct {
	Identifier string
	Tags       map[string]string // never nil after Encode or a decode; may be empty
	Start, End int
}

// SecondarySlivers lists the secondary sliver indices holding the patch: Start..End-1.
func (pt Patch) SecondarySlivers() []int {
	out := make([]int, 0, pt.End-pt.Start)
	for c := pt.Start; c < pt.End; c++ {
		out = append(out, c)
	}
	return out
}

// PatchID is the patch's ID inside the quilt with the given quilt (blob) ID.
func (pt Patch) PatchID(quilt codec.BlobID) PatchID {
	return PatchID{Quilt: quilt, Version: Version, Start: uint16(pt.Start), End: uint16(pt.End)}
}

// Index is a quilt's index: its patches in quilt order (sorted by identifier, in the order
// of their UTF-16 code units, as the SDK sorts), and how many leading columns the index
// itself takes. Decoding accepts any order.
type Index struct {
	Columns int
	Patches []Patch
}

// Lookup returns the first patch with the identifier.
func (ix *Index) Lookup(identifier string) (Patch, bool) {
	for _, pt := range ix.Patches {
		if pt.Identifier == identifier {
			return pt, true
		}
	}
	return Patch{}, false
}

// ByTag returns the patches whose tag key has the value.
func (ix *Index) ByTag(key, value string) []Patch {
	var out []Patch
	for _, pt := range ix.Patches {
		if v, ok := pt.Tags[key]; ok && v == value {
			out = append(out, pt)
		}
	}
	return out
}

// At returns the patch that starts at column start (what a PatchID names).
func (ix *Index) At(start int) (Patch, bool) {
	for _, pt := range ix.Patches {
		if pt.Start == start {
			return pt, true
		}
	}
	return Patch{}, false
}

// Quilt is a quilt blob with its geometry and index.
type Quilt struct {
	Params     codec.Params
	SymbolSize int
	Blob       []byte // R·C·SymbolSize bytes: the blob to store
	Index      Index
}

// ComputeID computes the quilt ID (the blob ID of Blob) with codec.ComputeMetadata. A store
// returns the same ID; this is for callers that need it first.
func (q *Quilt) ComputeID() (codec.BlobID, error) {
	_, id, err := codec.ComputeMetadata(q.Params, q.Blob)
	return id, err
}

// PatchIDs returns the patch IDs of the index's patches, in index order, for the quilt ID.
func (q *Quilt) PatchIDs(quilt codec.BlobID) []PatchID {
	out := make([]PatchID, len(q.Index.Patches))
	for i, pt := range q.Index.Patches {
		out[i] = pt.PatchID(quilt)
	}
	return out
}

// MaxPatches is the most files one quilt holds at these parameters: every file takes at
// least one of the C columns and the index at least one, so C-1 = n-f-1 (666 at n = 1000).
func MaxPatches(p codec.Params) int { return p.C - 1 }

// ValidateIdentifier applies Walrus's rules for an identifier: valid UTF-8, not empty, at
// most MaxIdentifierLen bytes, no trailing white space, no control characters.
func ValidateIdentifier(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty identifier", ErrBadFiles)
	case len(id) > MaxIdentifierLen:
		return fmt.Errorf("%w: identifier of %d bytes (at most %d)", ErrBadFiles, len(id), MaxIdentifierLen)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w: identifier %q is not valid UTF-8", ErrBadFiles, id)
	case strings.TrimRightFunc(id, unicode.IsSpace) != id:
		return fmt.Errorf("%w: identifier %q ends in white space", ErrBadFiles, id)
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: identifier %q contains a control character", ErrBadFiles, id)
	}
	return nil
}

// Encode lays files out as a quilt for the shard count of p (docs/quilts.md): the files
// sorted by identifier, each in its own run of columns behind a header carrying its
// identifier and tags, the index in the first columns, and the smallest even symbol size
// that fits them all. The result's Blob is what gets stored; its blob ID is the quilt ID.
func Encode(p codec.Params, files []File) (*Quilt, error) {
	if p.N == 0 {
		return nil, errors.New("quilt: Params are required")
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no files", ErrBadFiles)
	}
	if len(files) > MaxPatches(p) {
		return nil, fmt.Errorf("%w: %d files, at most %d at n=%d", ErrTooLarge, len(files), MaxPatches(p), p.N)
	}
	sorted := make([]*File, len(files))
	for i := range files {
		if err := ValidateIdentifier(files[i].Identifier); err != nil {
			return nil, err
		}
		for k, v := range files[i].Tags {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("%w: tags of %q are not valid UTF-8", ErrBadFiles, files[i].Identifier)
			}
		}
		sorted[i] = &files[i]
	}
	// The order of the identifiers' UTF-16 code units, as the Walrus TypeScript SDK sorts
	// (JavaScript string order); it differs from the byte order of their UTF-8 (Walrus's
	// Rust encoder) only between characters U+E000–U+FFFF and those above U+FFFF
	// (docs/quilts.md §5).
	slices.SortFunc(sorted, func(a, b *File) int { return compareUTF16(a.Identifier, b.Identifier) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Identifier == sorted[i-1].Identifier {
			return nil, fmt.Errorf("%w: duplicate identifier %q", ErrBadFiles, sorted[i].Identifier)
		}
	}

	// The index, serialized once with placeholder ends (fixed-size u16s) for its length.
	ix := Index{Patches: make([]Patch, len(sorted))}
	for i, f := range sorted {
		tags := f.Tags
		if tags == nil {
			tags = map[string]string{}
		}
		ix.Patches[i] = Patch{Identifier: f.Identifier, Tags: maps.Clone(tags)}
	}
	indexLen := indexPrefixLen + len(appendIndexBCS(nil, ix.Patches))

	// Each file's prefix (header, identifier, tags) and total size.
	prefixes := make([][]byte, len(sorted))
	sizes := make([]int, 1+len(sorted))
	sizes[0] = indexLen
	for i, f := range sorted {
		pre, err := patchPrefix(f)
		if err != nil {
			return nil, err
		}
		prefixes[i] = pre
		sizes[1+i] = len(pre) + len(f.Data)
	}
	s, err := symbolSizeFor(p, sizes)
	if err != nil {
		return nil, err
	}
	colLen := s * p.R
	q := &Quilt{Params: p, SymbolSize: s, Blob: make([]byte, p.R*p.C*s)}
	g := geometry{p: p, s: s}
	col := (indexLen + colLen - 1) / colLen
	ix.Columns = col
	for i, f := range sorted {
		g.write(q.Blob, col, 0, prefixes[i])
		g.write(q.Blob, col, len(prefixes[i]), f.Data)
		ix.Patches[i].Start = col
		col += (sizes[1+i] + colLen - 1) / colLen
		ix.Patches[i].End = col
	}
	idx := appendIndexBCS(nil, ix.Patches)
	head := []byte{Version, 0, 0, 0, 0}
	putU32(head[1:], uint32(len(idx)))
	g.write(q.Blob, 0, 0, head)
	g.write(q.Blob, 0, len(head), idx)
	q.Index = ix
	return q, nil
}

// patchPrefix is what precedes a file's data in its columns: version u8 || length u32 ||
// mask u8 || u16 len(bcs(identifier)) || bcs(identifier) [|| u16 len(bcs(tags)) ||
// bcs(tags)], where length counts every byte after the 6-byte header, data included.
func patchPrefix(f *File) ([]byte, error) {
	id := appendBCSString(nil, f.Identifier)
	if len(id) >= 1<<16-1 {
		return nil, fmt.Errorf("%w: identifier of %d bytes is too long", ErrBadFiles, len(f.Identifier))
	}
	var tags []byte
	mask := byte(0)
	if len(f.Tags) > 0 {
		tags = appendTagsBCS(nil, f.Tags)
		if len(tags) > MaxTagsLen {
			return nil, fmt.Errorf("%w: tags of %q take %d bytes (at most %d)", ErrBadFiles, f.Identifier, len(tags), MaxTagsLen)
		}
		mask |= hasTags
	}
	n := patchHeaderLen + 2 + len(id)
	if tags != nil {
		n += 2 + len(tags)
	}
	total := uint64(n-patchHeaderLen) + uint64(len(f.Data))
	if total > 1<<32-1 {
		return nil, fmt.Errorf("%w: file %q of %d bytes", ErrTooLarge, f.Identifier, len(f.Data))
	}
	b := make([]byte, 0, n)
	b = append(b, Version, 0, 0, 0, 0, mask)
	putU32(b[1:5], uint32(total))
	b = appendU16(b, uint16(len(id)))
	b = append(b, id...)
	if tags != nil {
		b = appendU16(b, uint16(len(tags)))
		b = append(b, tags...)
	}
	return b, nil
}

// symbolSizeFor is the smallest even symbol size s at which every size (the index first)
// fits its own run of whole columns of R·s bytes within the C columns, the index in at most
// MaxIndexColumns of them; ErrTooLarge if that exceeds codec.MaxSymbolSize. (Walrus searches
// the same minimum by bisection between bounds of its own; the minimum is what counts.)
func symbolSizeFor(p codec.Params, sizes []int) (int, error) {
	if len(sizes) > p.C {
		return 0, fmt.Errorf("%w: %d files, at most %d at n=%d", ErrTooLarge, len(sizes)-1, p.C-1, p.N)
	}
	ceil := func(a, b int) int { return (a + b - 1) / b }
	total, largest := 0, 0
	for _, sz := range sizes {
		total += sz
		largest = max(largest, sz)
	}
	lo := max(ceil(total, p.C*p.R), ceil(sizes[0], p.R*MaxIndexColumns), ceil(indexPrefixLen, p.R), 1)
	// One column each always fits (len(sizes) <= C), so hi is feasible.
	hi := max(lo, ceil(largest, p.R))
	fits := func(s int) bool {
		cols := 0
		for _, sz := range sizes {
			cols += ceil(sz, s*p.R)
			if cols > p.C {
				return false
			}
		}
		return true
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		if fits(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	s := lo + lo%2
	if s > codec.MaxSymbolSize {
		return 0, fmt.Errorf("%w: symbol size %d exceeds %d at n=%d; store fewer or smaller files", ErrTooLarge, s, codec.MaxSymbolSize, p.N)
	}
	return s, nil
}

// appendIndexBCS appends QuiltIndexV1 in BCS: uleb128(count), then per patch end u16 ||
// identifier (BCS string) || tags (BCS map). Start columns are not stored: each patch
// starts where the previous one ends, the first after the index.
func appendIndexBCS(b []byte, patches []Patch) []byte {
	b = wire.AppendULEB128(b, uint64(len(patches)))
	for _, pt := range patches {
		b = appendU16(b, uint16(pt.End))
		b = appendBCSString(b, pt.Identifier)
		b = appendTagsBCS(b, pt.Tags)
	}
	return b
}

// appendTagsBCS appends a BCS map of strings: uleb128(count), then key and value strings,
// ordered by the bytes of the serialized keys (BCS's canonical map order).
func appendTagsBCS(b []byte, tags map[string]string) []byte {
	keys := make([][]byte, 0, len(tags))
	for k := range tags {
		keys = append(keys, appendBCSString(nil, k))
	}
	slices.SortFunc(keys, bytes.Compare)
	b = wire.AppendULEB128(b, uint64(len(keys)))
	for _, k := range keys {
		b = append(b, k...)
		// The key's text is the serialized key after its uleb128 length.
		r := wire.NewReader(k, nil)
		key := string(r.Take(r.Length(len(k))))
		b = appendBCSString(b, tags[key])
	}
	return b
}

func appendBCSString(b []byte, s string) []byte {
	b = wire.AppendULEB128(b, uint64(len(s)))
	return append(b, s...)
}

func appendU16(b []byte, v uint16) []byte { return append(b, byte(v), byte(v>>8)) }

func putU32(b []byte, v uint32) {
	b[0], b[1], b[2], b[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
}

// compareUTF16 compares two strings by their UTF-16 code units, as JavaScript does.
func compareUTF16(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}
