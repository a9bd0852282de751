package quilt

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"

	"github.com/walrus-go/walrus-go/codec"
)

// PatchIDLen is the length of an encoded patch ID: the 32-byte quilt ID, the version byte
// and the start and end columns as u16 little-endian. Printed as URL-safe base64 without
// padding it takes 50 characters.
const PatchIDLen = 32 + 1 + 2 + 2

// PatchID names one patch of one quilt (Walrus's QuiltPatchId): the quilt's blob ID and the
// patch's columns [Start, End), under Version.
type PatchID struct {
	Quilt      codec.BlobID
	Version    uint8
	Start, End uint16
}

// Bytes is the patch ID's encoding: quilt_id[32] || version u8 || start u16 || end u16.
func (id PatchID) Bytes() [PatchIDLen]byte {
	var b [PatchIDLen]byte
	copy(b[:32], id.Quilt[:])
	b[32] = id.Version
	binary.LittleEndian.PutUint16(b[33:], id.Start)
	binary.LittleEndian.PutUint16(b[35:], id.End)
	return b
}

// String is the patch ID as Walrus prints it: URL-safe base64 of Bytes, without padding.
func (id PatchID) String() string {
	b := id.Bytes()
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// MarshalText implements encoding.TextMarshaler (JSON strings).
func (id PatchID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParsePatchID.
func (id *PatchID) UnmarshalText(b []byte) error {
	v, err := ParsePatchID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// PatchIDFromBytes decodes the 37-byte encoding. The version must be Version and the
// columns non-empty (Start < End).
func PatchIDFromBytes(b []byte) (PatchID, error) {
	if len(b) != PatchIDLen {
		return PatchID{}, fmt.Errorf("%w: a patch ID has %d bytes, not %d", ErrMalformed, len(b), PatchIDLen)
	}
	var id PatchID
	copy(id.Quilt[:], b[:32])
	id.Version = b[32]
	id.Start = binary.LittleEndian.Uint16(b[33:])
	id.End = binary.LittleEndian.Uint16(b[35:])
	if id.Version != Version {
		return PatchID{}, fmt.Errorf("%w: patch ID version %d (only %d is known)", ErrMalformed, id.Version, Version)
	}
	if id.Start >= id.End {
		return PatchID{}, fmt.Errorf("%w: patch ID columns [%d, %d) are empty", ErrMalformed, id.Start, id.End)
	}
	return id, nil
}

// ParsePatchID parses a patch ID as printed by String (50 characters of URL-safe base64;
// trailing '=' padding is tolerated, as Walrus's SDK does).
func ParsePatchID(s string) (PatchID, error) {
	for len(s) > 0 && s[len(s)-1] == '=' {
		s = s[:len(s)-1]
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != PatchIDLen {
		return PatchID{}, fmt.Errorf("%w: a patch ID is %d characters of URL-safe base64 (%d bytes)", ErrMalformed,
			base64.RawURLEncoding.EncodedLen(PatchIDLen), PatchIDLen)
	}
	return PatchIDFromBytes(b)
}

// Check reports whether the patch's columns lie in the source columns of p, after the
// index's first column: what a reader checks before fetching its slivers.
func (id PatchID) Check(p codec.Params) error {
	if id.Start < 1 || int(id.End) > p.C {
		return fmt.Errorf("%w: patch columns [%d, %d) outside 1..%d at n=%d", ErrMalformed, id.Start, id.End, p.C, p.N)
	}
	return nil
}

// Columns returns the patch ID's columns as a Patch without identifier or tags, for
// SecondarySlivers and ByteRanges.
func (id PatchID) Columns() Patch { return Patch{Start: int(id.Start), End: int(id.End)} }
