// Package nodestatus is the home of /walrus/node-status/1 (docs/protocol.md §9.11): a client
// asks one node how it is doing (what `walrus health` prints and /v1/health carries): its
// epoch and height, the shards, blobs and slivers it holds, its blob-sync backlog and
// recovery counters, its last scrub, the bytes it stores and what garbage collection removed.
//
//	request:   empty, or version u8 (1 to 4; empty means 1)
//	response:  version u8 | flags u8 | epoch u32 | height u64 | shards_held u16 |
//	           blobs_held u64 | sync_backlog u64 | recovered_slivers u64 |
//	           recovered_bytes u64 | last_scrub_unix_ms u64 | scrub_checked u64 |
//	           bytes_stored u64 | gc_blobs u64 | gc_bytes u64
//	           [version ≥ 2:] slivers_held u64 | sliver_bytes_held u64
//	           [version 3:] change_epoch u32 | shards_syncing u32 | shards_synced u64 |
//	           shards_recovered u64 | moved_bytes u64 | released_pairs u64
//	           [version 4:] slivers_to_recover u64
//
// A node answers in the version asked: version 1 (88 bytes) for an empty request or 1, so
// clients that predate version 2 keep working; version 2 (104 bytes) adds the slivers held;
// version 3 (144 bytes) the epoch change (docs/architecture.md §5 "Epoch change"): the
// epoch of the last change started, gained shards still syncing, and since start the gained
// shards completed, those completed by recovery, the sliver bytes pulled from previous
// owners and the pairs of lost shards given back; and flags bit 1 (FlagMember) says the node
// is a member of its epoch's committee; version 4 (152 bytes) adds the slivers blob sync
// still has to recover over its backlog (sync_backlog counts blobs), a lower bound when flags
// bit 2 (FlagToRecoverCapped) is set.
// All integers are little-endian. flags bit 0 (FlagBlobsCapped) says blobs_held, and in
// version 2 the slivers held, are lower bounds (the node stopped counting at its cap); the
// other bits are zero. last_scrub_unix_ms is 0 when the node has not finished a scrub pass
// since it started. Counters named "recovered", "scrub_checked" and "gc" count since the node
// started.
package nodestatus

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
)

// ID is the protocol ID.
const ID protocol.ID = "/walrus/node-status/1"

// Response layouts: Version is the newest, what EncodeRequest asks for.
const (
	// VersionV1 is the first layout (no slivers held), the answer to an empty request.
	VersionV1 = 1
	// VersionV2 adds SliversHeld and SliverBytesHeld.
	VersionV2 = 2
	// VersionV3 adds the epoch change and committee membership.
	VersionV3 = 3
	// Version adds SliversToRecover.
	Version = 4
)

// Message lengths.
const (
	// MaxRequestLen is the longest request: one version byte (an empty request means
	// VersionV1).
	MaxRequestLen = 1
	// ResponseLenV1 is the length of a version 1 response.
	ResponseLenV1 = 1 + 1 + 4 + 8 + 2 + 9*8
	// ResponseLenV2 is the length of a version 2 response.
	ResponseLenV2 = ResponseLenV1 + 2*8
	// ResponseLenV3 is the length of a version 3 response.
	ResponseLenV3 = ResponseLenV2 + 4 + 4 + 4*8
	// ResponseLen is the length of a version 4 (Version) response, the longest.
	ResponseLen = ResponseLenV3 + 8
)

// responseLen is the length of a response of version v (1..Version).
func responseLen(v uint8) int {
	switch v {
	case VersionV1:
		return ResponseLenV1
	case VersionV2:
		return ResponseLenV2
	case VersionV3:
		return ResponseLenV3
	}
	return ResponseLen
}

// Flags.
const (
	// FlagBlobsCapped marks BlobsHeld (and SliversHeld, SliverBytesHeld) as lower bounds.
	FlagBlobsCapped = 1 << 0
	// FlagMember says the node is a member of its epoch's committee (version 3).
	FlagMember = 1 << 1
	// FlagToRecoverCapped marks SliversToRecover as a lower bound (version 4).
	FlagToRecoverCapped = 1 << 2
)

// Spec is the protocol's spec: fixed-size messages that need no transfer time.
var Spec = p2p.Protocol{ID: ID, MaxRequest: MaxRequestLen, MaxResponse: ResponseLen, Timeout: 10 * time.Second}

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("nodestatus: malformed message")

// Status is one node's report on itself.
type Status struct {
	// Version is the response layout: VersionV1 or Version (0 encodes as Version).
	Version uint8
	Epoch   uint32
	Height  uint64
	// ShardsHeld is how many shards the node holds in Epoch.
	ShardsHeld uint16
	// BlobsHeld is how many blobs the node stores metadata of; a lower bound when
	// BlobsCapped.
	BlobsHeld   uint64
	BlobsCapped bool
	// SyncBacklog is how many blobs wait for or are in blob sync.
	SyncBacklog uint64
	// RecoveredSlivers and RecoveredBytes are what blob sync recovered since start.
	RecoveredSlivers, RecoveredBytes uint64
	// LastScrubUnixMs is when the last scrub pass ended (Unix milliseconds, 0 = never);
	// ScrubChecked is how many slivers the scrub re-verified since start.
	LastScrubUnixMs int64
	ScrubChecked    uint64
	// BytesStored is the size of the files of the node's datastore (what they hold, as
	// `du --apparent-size` counts it; a recount at most every few seconds).
	BytesStored uint64
	// GCBlobs and GCBytes are what garbage collection removed since start.
	GCBlobs, GCBytes uint64
	// SliversHeld is how many slivers the node stores whole (two per stored pair) and
	// SliverBytesHeld their size (version 2; lower bounds when BlobsCapped).
	SliversHeld, SliverBytesHeld uint64
	// Version 3: Member says the node is in its epoch's committee; ChangeEpoch is the epoch
	// of the last epoch change it started, ShardsSyncing its gained shards still being
	// pulled or recovered; since start, ShardsSynced gained shards completed (ShardsRecovered
	// of them by recovery), MovedBytes sliver bytes pulled from previous owners and
	// ReleasedPairs pairs of lost shards given back.
	Member                        bool
	ChangeEpoch, ShardsSyncing    uint32
	ShardsSynced, ShardsRecovered uint64
	MovedBytes, ReleasedPairs     uint64
	// Version 4: SliversToRecover is how many slivers blob sync still has to recover over
	// its backlog's blobs (two per shard lacking its pair), a lower bound when
	// ToRecoverCapped.
	SliversToRecover uint64
	ToRecoverCapped  bool
}

// EncodeRequest returns a request for Version.
func EncodeRequest() []byte { return []byte{Version} }

// DecodeRequest parses an untrusted request, empty or one version byte (1..Version), and
// returns the response version asked for: VersionV1 for an empty request.
func DecodeRequest(b []byte) (uint8, error) {
	if len(b) == 0 {
		return VersionV1, nil
	}
	r := wire.NewReader(b, ErrMalformed)
	v := r.U8()
	if r.Err() == nil && (v < VersionV1 || v > Version) {
		r.Failf("version %d, want %d..%d", v, VersionV1, Version)
	}
	if err := r.End(); err != nil {
		return 0, err
	}
	return v, nil
}

// Encode returns the response body in s.Version's layout (0 or an unknown version: Version);
// older layouts leave the newer fields out. A negative LastScrubUnixMs is sent as 0.
func (s Status) Encode() []byte {
	v := s.Version
	if v < VersionV1 || v > Version {
		v = Version
	}
	out := make([]byte, 0, ResponseLen)
	var flags byte
	if s.BlobsCapped {
		flags |= FlagBlobsCapped
	}
	if s.Member && v >= VersionV3 {
		flags |= FlagMember
	}
	if s.ToRecoverCapped && v >= Version {
		flags |= FlagToRecoverCapped
	}
	out = append(out, v, flags)
	out = binary.LittleEndian.AppendUint32(out, s.Epoch)
	out = binary.LittleEndian.AppendUint64(out, s.Height)
	out = binary.LittleEndian.AppendUint16(out, s.ShardsHeld)
	for _, x := range []uint64{s.BlobsHeld, s.SyncBacklog, s.RecoveredSlivers, s.RecoveredBytes,
		uint64(max(s.LastScrubUnixMs, 0)), s.ScrubChecked, s.BytesStored, s.GCBlobs, s.GCBytes} {
		out = binary.LittleEndian.AppendUint64(out, x)
	}
	if v >= VersionV2 {
		out = binary.LittleEndian.AppendUint64(out, s.SliversHeld)
		out = binary.LittleEndian.AppendUint64(out, s.SliverBytesHeld)
	}
	if v >= VersionV3 {
		out = binary.LittleEndian.AppendUint32(out, s.ChangeEpoch)
		out = binary.LittleEndian.AppendUint32(out, s.ShardsSyncing)
		for _, x := range []uint64{s.ShardsSynced, s.ShardsRecovered, s.MovedBytes, s.ReleasedPairs} {
			out = binary.LittleEndian.AppendUint64(out, x)
		}
	}
	if v >= Version {
		out = binary.LittleEndian.AppendUint64(out, s.SliversToRecover)
	}
	return out
}

// Decode parses an untrusted response: each version in exactly its length, no unknown flag
// (FlagMember only from version 3, FlagToRecoverCapped from 4), a last-scrub time that fits
// an int64.
func Decode(b []byte) (Status, error) {
	r := wire.NewReader(b, ErrMalformed)
	v := r.U8()
	if r.Err() == nil && (v < VersionV1 || v > Version) {
		r.Failf("version %d, want %d..%d", v, VersionV1, Version)
	}
	if r.Err() == nil && len(b) != responseLen(v) {
		r.Failf("version %d in %d bytes, want %d", v, len(b), responseLen(v))
	}
	flags := r.U8()
	known := byte(FlagBlobsCapped)
	if v >= VersionV3 {
		known |= FlagMember
	}
	if v >= Version {
		known |= FlagToRecoverCapped
	}
	if r.Err() == nil && flags&^known != 0 {
		r.Failf("unknown flags %#x", flags)
	}
	s := Status{Version: v, BlobsCapped: flags&FlagBlobsCapped != 0, Member: flags&FlagMember != 0,
		ToRecoverCapped: flags&FlagToRecoverCapped != 0,
		Epoch:           r.U32(), Height: r.U64(), ShardsHeld: r.U16()}
	s.BlobsHeld, s.SyncBacklog, s.RecoveredSlivers, s.RecoveredBytes = r.U64(), r.U64(), r.U64(), r.U64()
	scrub := r.U64()
	if r.Err() == nil && scrub > math.MaxInt64 {
		r.Failf("last scrub %d out of range", scrub)
	}
	s.LastScrubUnixMs = int64(scrub)
	s.ScrubChecked, s.BytesStored, s.GCBlobs, s.GCBytes = r.U64(), r.U64(), r.U64(), r.U64()
	if v >= VersionV2 {
		s.SliversHeld, s.SliverBytesHeld = r.U64(), r.U64()
	}
	if v >= VersionV3 {
		s.ChangeEpoch, s.ShardsSyncing = r.U32(), r.U32()
		s.ShardsSynced, s.ShardsRecovered, s.MovedBytes, s.ReleasedPairs = r.U64(), r.U64(), r.U64(), r.U64()
	}
	if v >= Version {
		s.SliversToRecover = r.U64()
	}
	if err := r.End(); err != nil {
		return Status{}, err
	}
	return s, nil
}
