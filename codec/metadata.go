package codec

import (
	"encoding/binary"
	"fmt"

	"github.com/walrus-go/walrus-go/codec/internal/blake2b8"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// SliverPairHashes are the commitments of sliver pair p (docs/protocol.md §3): the hash of primary
// sliver p and of secondary sliver n-1-p.
type SliverPairHashes struct {
	Primary, Secondary [HashLen]byte
}

// Metadata is Walrus's BlobMetadataV1: encoding type, unencoded length and one
// SliverPairHashes per sliver pair (n entries).
type Metadata struct {
	EncodingType    uint8
	UnencodedLength uint64
	Hashes          []SliverPairHashes
}

// PrimaryHash is the hash of primary sliver i (held in pair i).
func (m *Metadata) PrimaryHash(i int) [HashLen]byte { return m.Hashes[i].Primary }

// SecondaryHash is the hash of secondary sliver i (held in pair n-1-i).
func (m *Metadata) SecondaryHash(i int) [HashLen]byte {
	return m.Hashes[len(m.Hashes)-1-i].Secondary
}

// sliverHash is the committed hash of the sliver with the given axis and index.
func (m *Metadata) sliverHash(a Axis, i int) [HashLen]byte {
	if a == AxisPrimary {
		return m.PrimaryHash(i)
	}
	return m.SecondaryHash(i)
}

// Root is the Merkle root over the pairs' 64-byte leaves primary_hash || secondary_hash.
func (m *Metadata) Root() [HashLen]byte {
	n := len(m.Hashes)
	buf := make([]byte, n*2*HashLen)
	cells := make([][]byte, n)
	for i, h := range m.Hashes {
		c := buf[i*2*HashLen : (i+1)*2*HashLen]
		copy(c, h.Primary[:])
		copy(c[HashLen:], h.Secondary[:])
		cells[i] = c
	}
	var hs blake2b8.Hasher
	leaves := make([][HashLen]byte, n)
	hs.Sum(leaves, leafPrefix, cells)
	return merkleRootInPlace(&hs, leaves)
}

// BlobID is Blake2b256(encoding_type || u64_le(length) || Root()) (docs/protocol.md §3).
func (m *Metadata) BlobID() BlobID {
	return ComputeBlobID(m.EncodingType, m.UnencodedLength, m.Root())
}

// SymbolSize is the symbol size the metadata implies for p.
func (m *Metadata) SymbolSize(p Params) (int, error) { return p.SymbolSize(m.UnencodedLength) }

// MarshalBCS encodes Walrus's BlobMetadata::V1: 0x00 (V1) || encoding type (enum tag, 1 for
// RS2) || u64 LE unencoded_length || uleb128(n) || n × (Node primary, Node secondary), a Node
// being 0x01 || 32 bytes (Digest).
func (m *Metadata) MarshalBCS() []byte {
	b := make([]byte, 0, 2+8+5+len(m.Hashes)*2*(1+HashLen))
	b = append(b, 0, m.EncodingType)
	b = binary.LittleEndian.AppendUint64(b, m.UnencodedLength)
	b = wire.AppendULEB128(b, uint64(len(m.Hashes)))
	for _, h := range m.Hashes {
		b = append(b, 1)
		b = append(b, h.Primary[:]...)
		b = append(b, 1)
		b = append(b, h.Secondary[:]...)
	}
	return b
}

// UnmarshalMetadataBCS decodes untrusted metadata strictly: version V1, encoding type RS2,
// exactly n Digest hashes (a sliver hash is never the empty node), no trailing bytes, and a
// length within p's maximum. It does not check the blob ID (VerifyMetadata does).
func UnmarshalMetadataBCS(p Params, b []byte) (Metadata, error) {
	if err := p.check(); err != nil {
		return Metadata{}, err
	}
	r := newBCSReader(b)
	if v := r.U8(); r.Err() == nil && v != 0 {
		r.Failf("unknown metadata version")
	}
	et := r.U8()
	if r.Err() == nil && et != EncodingTypeRS2 {
		r.Failf("unknown encoding type")
	}
	length := r.U64()
	count := r.Length(p.N)
	if r.Err() == nil && count != p.N {
		r.Failf("%d sliver pair hashes, want n=%d", count, p.N)
	}
	var m Metadata
	if r.Err() == nil {
		m = Metadata{EncodingType: et, UnencodedLength: length, Hashes: make([]SliverPairHashes, count)}
		for i := range m.Hashes {
			readDigestNode(&r, &m.Hashes[i].Primary)
			readDigestNode(&r, &m.Hashes[i].Secondary)
		}
	}
	if err := r.End(); err != nil {
		return Metadata{}, err
	}
	if err := checkMetadataShape(p, &m); err != nil {
		return Metadata{}, err
	}
	return m, nil
}

func readDigestNode(r *wire.Reader, dst *[HashLen]byte) {
	if tag := r.U8(); r.Err() == nil && tag != 1 {
		r.Failf("sliver hash must be a Digest node")
	}
	r.Fixed(dst[:])
}

func checkMetadataShape(p Params, m *Metadata) error {
	if err := p.check(); err != nil {
		return err
	}
	if m.EncodingType != EncodingTypeRS2 {
		return fmt.Errorf("%w: encoding type %d", ErrBadMetadata, m.EncodingType)
	}
	if len(m.Hashes) != p.N {
		return fmt.Errorf("%w: %d sliver pair hashes, want n=%d", ErrBadMetadata, len(m.Hashes), p.N)
	}
	if m.UnencodedLength > p.MaxBlobSize() {
		return fmt.Errorf("%w: length %d exceeds max %d", ErrBadMetadata, m.UnencodedLength, p.MaxBlobSize())
	}
	return nil
}

// VerifyMetadata checks untrusted metadata against the blob ID it claims to describe
// (docs/protocol.md §3): RS2, len(hashes) == n, length within the maximum, and the recomputed blob
// ID equal to id.
func VerifyMetadata(p Params, id BlobID, m *Metadata) error {
	if err := checkMetadataShape(p, m); err != nil {
		return err
	}
	if got := m.BlobID(); got != id {
		return fmt.Errorf("%w: metadata gives %s, want %s", ErrBlobIDMismatch, got, id)
	}
	return nil
}
