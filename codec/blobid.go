package codec

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// BlobID identifies a blob: Blake2b256(0x01 || u64_le(length) || merkle_root) (docs/protocol.md §3).
type BlobID [32]byte

// ErrBadBlobID is returned when a string is not a 43-character URL-safe base64 blob ID.
var ErrBadBlobID = errors.New("codec: malformed blob ID")

// ComputeBlobID derives the blob ID from the encoding type, the unencoded length and the
// Merkle root over the sliver-pair hashes.
func ComputeBlobID(encodingType uint8, length uint64, root [32]byte) BlobID {
	var buf [1 + 8 + 32]byte
	buf[0] = encodingType
	binary.LittleEndian.PutUint64(buf[1:9], length)
	copy(buf[9:], root[:])
	return BlobID(blake2b.Sum256(buf[:]))
}

// String prints the ID as Walrus does: URL-safe base64 without padding (43 characters).
func (id BlobID) String() string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// MarshalText implements encoding.TextMarshaler (JSON uses the base64url form).
func (id BlobID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *BlobID) UnmarshalText(b []byte) error {
	v, err := ParseBlobID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// ParseBlobID parses the 43-character URL-safe base64 form.
func ParseBlobID(s string) (BlobID, error) {
	var id BlobID
	if len(s) != 43 {
		return id, fmt.Errorf("%w: want 43 characters, got %d", ErrBadBlobID, len(s))
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		return id, fmt.Errorf("%w: %q", ErrBadBlobID, s)
	}
	copy(id[:], b)
	return id, nil
}

// RotationOffset is the blob ID read as a big-endian integer, mod n (docs/protocol.md §2).
func (id BlobID) RotationOffset(n int) int {
	var r uint64
	for _, b := range id {
		r = (r*256 + uint64(b)) % uint64(n)
	}
	return int(r)
}
