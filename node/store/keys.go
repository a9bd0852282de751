package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/ipfs/go-datastore"

	"github.com/walrus-go/walrus-go/codec"
)

// The key layout, in one place (docs/architecture.md §7). Every key the node writes comes from a
// constructor below; nothing else builds keys by hand.
//
//	/ledger/head                                  height of the last committed checkpoint (u64 BE)
//	/ledger/checkpoints/<height:016x>             committed checkpoint + commit certificate
//	/ledger/snapshots/<height:016x>               ledger state snapshot at that height
//	/consensus/state                              the BFT core's persisted state (locked /
//	                                              valid values, last signed step) — written
//	                                              before any vote is sent, so a restart can
//	                                              never equivocate
//	/blobs/<blob_id:hex>/meta                     the blob's verified metadata (docs/protocol.md §3)
//	/blobs/<blob_id:hex>/state                    the node's local state for the blob
//	                                              (stored shards, confirmation epoch)
//	/blobs/<blob_id:hex>/invalid                  invalid-blob marker (certificate), kept
//	                                              after the slivers are dropped (docs/protocol.md §4)
//	/blobs/<blob_id:hex>/pairs/<shard:05d>        empty marker: both slivers of the shard's
//	                                              pair are stored (written and deleted in the
//	                                              same batch as the slivers), so "which of my
//	                                              shards hold this blob" is one small scan
//	                                              instead of reading every sliver's block
//	/shards/<shard:05d>/<blob_id:hex>/p           primary sliver of that shard's pair
//	/shards/<shard:05d>/<blob_id:hex>/s           secondary sliver of that shard's pair
//	/epochs/<epoch:010d>/sync/<shard:05d>         shard-sync progress (last blob ID pulled)
//	/shardstate/<shard:05d>                       the shard's local state (active, locked to
//	                                              move, syncing, recovering), one byte; apart
//	                                              from /shards/ so walks over a shard see
//	                                              only blobs
//
// Numbers are fixed-width and blob IDs lowercase hex, so the datastore's lexicographic key
// order is numeric order for heights and byte order for blob IDs: a prefix query over
// /shards/<s>/ walks the shard's blobs in blob-ID order, exactly the order shard sync
// transfers them in (docs/protocol.md §7), and a query over /ledger/checkpoints/ replays
// checkpoints by height. (Base64 blob IDs, as Walrus prints them, would not sort by bytes.)

// Top-level namespaces.
var (
	LedgerPrefix    = datastore.NewKey("/ledger")
	ConsensusPrefix = datastore.NewKey("/consensus")
	BlobsPrefix     = datastore.NewKey("/blobs")
	ShardsPrefix    = datastore.NewKey("/shards")
	EpochsPrefix    = datastore.NewKey("/epochs")
	// ShardStatesPrefix holds one state key per shard (see [ShardState]).
	ShardStatesPrefix = datastore.NewKey("/shardstate")
)

// ErrBadKey is returned when parsing a key that does not follow the layout.
var ErrBadKey = errors.New("store: key does not follow the layout")

// LedgerHead is the key of the last committed height.
func LedgerHead() datastore.Key { return datastore.NewKey("/ledger/head") }

// CheckpointsPrefix is the prefix of all checkpoint keys (query it to replay in order).
func CheckpointsPrefix() datastore.Key { return datastore.NewKey("/ledger/checkpoints") }

// Checkpoint is the key of the committed checkpoint at height.
func Checkpoint(height uint64) datastore.Key {
	return CheckpointsPrefix().ChildString(fmt.Sprintf("%016x", height))
}

// SnapshotsPrefix is the prefix of ledger snapshots.
func SnapshotsPrefix() datastore.Key { return datastore.NewKey("/ledger/snapshots") }

// Snapshot is the key of the ledger state snapshot taken at height.
func Snapshot(height uint64) datastore.Key {
	return SnapshotsPrefix().ChildString(fmt.Sprintf("%016x", height))
}

// ShardState is the key of a shard's local state.
func ShardState(shard uint16) datastore.Key {
	return ShardStatesPrefix.ChildString(fmt.Sprintf("%05d", shard))
}

// ConsensusState is the key of the agreement core's persisted state.
func ConsensusState() datastore.Key { return datastore.NewKey("/consensus/state") }

// Blob is the prefix of everything the node keeps about one blob (delete it with a query
// over this prefix when the blob expires or is deleted).
func Blob(id codec.BlobID) datastore.Key {
	return BlobsPrefix.ChildString(hex.EncodeToString(id[:]))
}

// BlobMeta is the key of a blob's metadata.
func BlobMeta(id codec.BlobID) datastore.Key { return Blob(id).ChildString("meta") }

// BlobState is the key of the node's local state for a blob.
func BlobState(id codec.BlobID) datastore.Key { return Blob(id).ChildString("state") }

// BlobPairsPrefix is the prefix of a blob's pair markers (see [BlobPair]).
func BlobPairsPrefix(id codec.BlobID) datastore.Key { return Blob(id).ChildString("pairs") }

// BlobPair is the key of the marker saying shard holds both slivers of blob id's pair.
func BlobPair(id codec.BlobID, shard uint16) datastore.Key {
	return BlobPairsPrefix(id).ChildString(fmt.Sprintf("%05d", shard))
}

// ParseBlobPair returns the shard of a [BlobPair] key of blob id.
func ParseBlobPair(id codec.BlobID, k datastore.Key) (uint16, error) {
	prefix := BlobPairsPrefix(id).String() + "/"
	rest, ok := strings.CutPrefix(k.String(), prefix)
	if !ok || len(rest) != 5 {
		return 0, fmt.Errorf("%w: %q", ErrBadKey, k)
	}
	s, err := strconv.ParseUint(rest, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("%w: shard in %q", ErrBadKey, k)
	}
	return uint16(s), nil
}

// BlobInvalid is the key of a blob's invalid-blob marker.
func BlobInvalid(id codec.BlobID) datastore.Key { return Blob(id).ChildString("invalid") }

// SliverKind says which sliver of a pair a key holds (docs/protocol.md §2).
type SliverKind uint8

// Sliver kinds.
const (
	// Primary is the pair's primary sliver.
	Primary SliverKind = 1 + iota
	// Secondary is the pair's secondary sliver.
	Secondary
)

// String returns "p" or "s", the key suffix.
func (k SliverKind) String() string {
	switch k {
	case Primary:
		return "p"
	case Secondary:
		return "s"
	}
	return fmt.Sprintf("SliverKind(%d)", uint8(k))
}

// Shard is the prefix of every sliver stored for shard (query it to walk the shard's
// blobs in blob-ID order).
func Shard(shard uint16) datastore.Key {
	return ShardsPrefix.ChildString(fmt.Sprintf("%05d", shard))
}

// ShardBlob is the prefix of both slivers of blob id in shard.
func ShardBlob(shard uint16, id codec.BlobID) datastore.Key {
	return Shard(shard).ChildString(hex.EncodeToString(id[:]))
}

// Sliver is the key of the kind sliver of blob id held in shard.
func Sliver(shard uint16, id codec.BlobID, kind SliverKind) datastore.Key {
	return ShardBlob(shard, id).ChildString(kind.String())
}

// ParseSliver inverts [Sliver], for walks over a shard prefix.
func ParseSliver(k datastore.Key) (shard uint16, id codec.BlobID, kind SliverKind, err error) {
	parts := k.Namespaces()
	if len(parts) != 4 || parts[0] != "shards" || len(parts[1]) != 5 || len(parts[2]) != 2*len(id) {
		return 0, id, 0, fmt.Errorf("%w: %q", ErrBadKey, k)
	}
	s, perr := strconv.ParseUint(parts[1], 10, 16)
	if perr != nil {
		return 0, id, 0, fmt.Errorf("%w: shard in %q", ErrBadKey, k)
	}
	if strings.ToLower(parts[2]) != parts[2] {
		return 0, id, 0, fmt.Errorf("%w: blob ID in %q is not lowercase hex", ErrBadKey, k)
	}
	if _, herr := hex.Decode(id[:], []byte(parts[2])); herr != nil {
		return 0, id, 0, fmt.Errorf("%w: blob ID in %q", ErrBadKey, k)
	}
	switch parts[3] {
	case "p":
		kind = Primary
	case "s":
		kind = Secondary
	default:
		return 0, id, 0, fmt.Errorf("%w: sliver kind in %q", ErrBadKey, k)
	}
	return uint16(s), id, kind, nil
}

// ShardSyncProgress is the key recording how far the pull of shard in epoch's change has
// got, so an interrupted sync resumes instead of restarting (docs/protocol.md §7).
func ShardSyncProgress(epoch uint32, shard uint16) datastore.Key {
	return EpochsPrefix.ChildString(fmt.Sprintf("%010d", epoch)).ChildString("sync").ChildString(fmt.Sprintf("%05d", shard))
}
