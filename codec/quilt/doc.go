// Package quilt lays many small files out in one Walrus blob, bit-compatibly with Walrus's
// QuiltV1 (the Rust walrus-core quilt encoder and the TypeScript SDK's encodeQuilt), and
// reads them back. docs/quilts.md describes the layout; this comment is the map of the API.
//
// A quilt is an ordinary blob: Encode returns its bytes (Quilt.Blob), which are stored and
// encoded with codec.Encode like any blob; the quilt's blob ID is its quilt ID. Inside, the
// blob is the R × C source matrix of docs/protocol.md §1 read column by column: column c is
// exactly the systematic part of secondary sliver c. The first one to MaxIndexColumns columns
// hold the quilt index; each file (a patch) then fills a contiguous run of whole columns
// [Start, End), so one patch can be read from secondary slivers Start..End-1 alone.
//
// Writing: Encode(params, files) → *Quilt (the blob, the symbol size, the Index). The patch
// IDs need the quilt ID: Quilt.PatchIDs(quiltID) once the blob ID is known (from the store,
// or Quilt.ComputeID).
//
// Reading a whole blob: Decode(params, blob) → *Quilt, then Quilt.Patch(identifier) or
// Quilt.PatchAt(start) (for a PatchID); ReadIndex(params, blob) parses only the index.
//
// Reading from secondary slivers (what fetches only a patch's slivers): SymbolSize gives the
// geometry from the blob's length (in its metadata); IndexColumns(p, symbolSize, column0)
// says how many columns hold the index, given column 0 alone; ReadIndexFromColumns parses it
// from those columns' bytes; Index.Lookup or Index.ByTag find patches, whose Start and End
// are the secondary sliver indices to fetch (Patch.SecondarySlivers); DecodePatch parses the
// patch from those slivers' bytes concatenated. ByteRanges maps a column range to the byte
// ranges of the blob that hold it (one per row), for readers that go by bytes instead.
//
// Patch IDs: PatchID{Quilt, Version, Start, End}, String (URL-safe base64 of 37 bytes, as
// Walrus prints it) and ParsePatchID.
//
// Every decoder here takes untrusted bytes (a quilt read from the network): lengths are
// checked against what is present before anything is allocated, and errors wrap
// ErrMalformed (malformed bytes) or ErrInvalid (the family root of internal/wire), never a
// panic. The package is pure: no I/O, no goroutines.
package quilt
