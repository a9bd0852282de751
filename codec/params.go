package codec

import (
	"fmt"

	"github.com/walrus-go/walrus-go/internal/wire"
)

// EncodingTypeRS2 is the byte value Walrus uses for RedStuff over Reed-Solomon (docs/protocol.md §1).
const EncodingTypeRS2 uint8 = 1

// MaxSymbolSize is the largest symbol size RS2 allows (docs/protocol.md §1).
const MaxSymbolSize = 65534

// MinShards is the smallest shard count for which RedStuff is defined here.
const MinShards = 4

// MaxShards is the largest shard count (shard indices are u16 in Walrus).
const MaxShards = 65535

// Sentinel errors returned by the codec. Callers match them with errors.Is.
var (
	ErrBadShardCount = wire.Invalid("codec: shard count out of range")
	ErrBlobTooLarge  = wire.Invalid("codec: blob too large for this shard count")
)

// Params are the RedStuff geometry for n shards (docs/protocol.md §1): f = (n-1)/3 faulty
// shards tolerated, a source matrix of R = n-2f rows by C = n-f columns.
type Params struct {
	N int // shards
	F int // max faulty shards
	R int // source rows = primary source symbols = n-2f
	C int // source columns = secondary source symbols = n-f
}

// NewParams returns the geometry for n shards, or ErrBadShardCount.
func NewParams(n int) (Params, error) {
	if n < MinShards || n > MaxShards {
		return Params{}, fmt.Errorf("%w: %d (want %d..%d)", ErrBadShardCount, n, MinShards, MaxShards)
	}
	f := (n - 1) / 3
	return Params{N: n, F: f, R: n - 2*f, C: n - f}, nil
}

// MustParams is NewParams for constants known to be valid; it panics otherwise.
func MustParams(n int) Params {
	p, err := NewParams(n)
	if err != nil {
		panic(err)
	}
	return p
}

// QuorumNF is the write/certificate quorum in shards: n-f.
func (p Params) QuorumNF() int { return p.N - p.F }

// ValidityF1 is the validity threshold in shards: f+1.
func (p Params) ValidityF1() int { return p.F + 1 }

// MaxBlobSize is the largest blob RS2 can encode with these parameters: R·C·65534 bytes.
func (p Params) MaxBlobSize() uint64 {
	return uint64(p.R) * uint64(p.C) * MaxSymbolSize
}

// SymbolSize is ceil(max(length,1)/(R·C)) rounded up to even, or ErrBlobTooLarge.
func (p Params) SymbolSize(length uint64) (int, error) {
	if length > p.MaxBlobSize() {
		return 0, fmt.Errorf("%w: %d bytes > max %d at n=%d", ErrBlobTooLarge, length, p.MaxBlobSize(), p.N)
	}
	if length == 0 {
		length = 1
	}
	cells := uint64(p.R) * uint64(p.C)
	s := (length + cells - 1) / cells
	if s%2 == 1 {
		s++
	}
	return int(s), nil
}

// PrimarySliverSize is the byte length of one primary sliver (C symbols).
func (p Params) PrimarySliverSize(symbolSize int) int { return p.C * symbolSize }

// SecondarySliverSize is the byte length of one secondary sliver (R symbols).
func (p Params) SecondarySliverSize(symbolSize int) int { return p.R * symbolSize }

// MetadataSize is the per-node metadata size Walrus accounts for: 64n + 32 bytes.
func (p Params) MetadataSize() uint64 { return 64*uint64(p.N) + 32 }

// EncodedLength is the storage Walrus charges for a blob of the given length
// (docs/protocol.md §6): n·((R+C)·s + 64n + 32).
func (p Params) EncodedLength(length uint64) (uint64, error) {
	s, err := p.SymbolSize(length)
	if err != nil {
		return 0, err
	}
	perNode := uint64(p.R+p.C)*uint64(s) + p.MetadataSize()
	return uint64(p.N) * perNode, nil
}

// PairIndexForShard is the sliver pair stored on shard s for a blob with the given ID
// (docs/protocol.md §2): (n + s - offset) mod n, offset = blob ID as big-endian integer mod n.
func (p Params) PairIndexForShard(id BlobID, shard int) int {
	off := id.RotationOffset(p.N)
	return (p.N + shard - off) % p.N
}

// ShardForPair is the shard that stores sliver pair pair: (pair + offset) mod n.
func (p Params) ShardForPair(id BlobID, pair int) int {
	return (pair + id.RotationOffset(p.N)) % p.N
}

// SecondaryIndexOfPair is the secondary sliver index in pair p: n-1-p.
func (p Params) SecondaryIndexOfPair(pair int) int { return p.N - 1 - pair }

// check reports whether p is what NewParams(p.N) returns. Entry points call it so that a
// hand-built Params can never index out of range.
func (p Params) check() error {
	q, err := NewParams(p.N)
	if err != nil {
		return err
	}
	if p != q {
		return fmt.Errorf("%w: inconsistent params %+v", ErrBadShardCount, p)
	}
	return nil
}
