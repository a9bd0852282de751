// Package nodestatus is the home of /walrus/node-status/1 (docs/protocol.md §9.11): a client
// asks one node how it is doing (what `walrus health` prints and /v1/health carries): its
// epoch and height, the shards and blobs it holds, its blob-sync backlog and recovery
// counters, its last scrub, the bytes it stores and what garbage collection removed.
//
//	request:   empty, or version u8 (= 1)
//	response:  version u8 (= 1) | flags u8 | epoch u32 | height u64 | shards_held u16 |
//	           blobs_held u64 | sync_backlog u64 | recovered_slivers u64 |
//	           recovered_bytes u64 | last_scrub_unix_ms u64 | scrub_checked u64 |
//	           bytes_stored u64 | gc_blobs u64 | gc_bytes u64
//
// All integers are little-endian. flags bit 0 (FlagBlobsCapped) says blobs_held is a lower
// bound (the node stopped counting at its cap); the other bits are zero. last_scrub_unix_ms
// is 0 when the node has not finished a scrub pass since it started. Counters named
// "recovered", "scrub_checked" and "gc" count since the node started.
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

// Version is the response layout this package speaks.
const Version = 1

// Message lengths.
const (
	// MaxRequestLen is the longest request: one version byte (an empty request means
	// Version).
	MaxRequestLen = 1
	// ResponseLen is the fixed response length.
	ResponseLen = 1 + 1 + 4 + 8 + 2 + 9*8
)

// FlagBlobsCapped marks BlobsHeld as a lower bound.
const FlagBlobsCapped = 1 << 0

// Spec is the protocol's spec: fixed-size messages that need no transfer time.
var Spec = p2p.Protocol{ID: ID, MaxRequest: MaxRequestLen, MaxResponse: ResponseLen, Timeout: 10 * time.Second}

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("nodestatus: malformed message")

// Status is one node's report on itself.
type Status struct {
	Epoch  uint32
	Height uint64
	// ShardsHeld is how many shards the node holds in Epoch.
	ShardsHeld uint16
	// BlobsHeld is how many blobs the node stores metadata of; a lower bound when
	// BlobsCapped.
	BlobsHeld   uint64
	BlobsCapped bool
	// SyncBacklog is how many blobs wait for or are in blob sync (slivers still to recover).
	SyncBacklog uint64
	// RecoveredSlivers and RecoveredBytes are what blob sync recovered since start.
	RecoveredSlivers, RecoveredBytes uint64
	// LastScrubUnixMs is when the last scrub pass ended (Unix milliseconds, 0 = never);
	// ScrubChecked is how many slivers the scrub re-verified since start.
	LastScrubUnixMs int64
	ScrubChecked    uint64
	// BytesStored is the node's datastore size on disk (approximate).
	BytesStored uint64
	// GCBlobs and GCBytes are what garbage collection removed since start.
	GCBlobs, GCBytes uint64
}

// EncodeRequest returns a request for Version.
func EncodeRequest() []byte { return []byte{Version} }

// DecodeRequest parses an untrusted request: empty or the version byte 1.
func DecodeRequest(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	r := wire.NewReader(b, ErrMalformed)
	if v := r.U8(); v != Version {
		r.Failf("version %d, want %d", v, Version)
	}
	return r.End()
}

// Encode returns the response body (ResponseLen bytes). A negative LastScrubUnixMs is sent
// as 0.
func (s Status) Encode() []byte {
	out := make([]byte, 0, ResponseLen)
	var flags byte
	if s.BlobsCapped {
		flags |= FlagBlobsCapped
	}
	out = append(out, Version, flags)
	out = binary.LittleEndian.AppendUint32(out, s.Epoch)
	out = binary.LittleEndian.AppendUint64(out, s.Height)
	out = binary.LittleEndian.AppendUint16(out, s.ShardsHeld)
	for _, v := range []uint64{s.BlobsHeld, s.SyncBacklog, s.RecoveredSlivers, s.RecoveredBytes,
		uint64(max(s.LastScrubUnixMs, 0)), s.ScrubChecked, s.BytesStored, s.GCBlobs, s.GCBytes} {
		out = binary.LittleEndian.AppendUint64(out, v)
	}
	return out
}

// Decode parses an untrusted response: exactly ResponseLen bytes, version 1, no unknown
// flag, a last-scrub time that fits an int64.
func Decode(b []byte) (Status, error) {
	r := wire.NewReader(b, ErrMalformed)
	if v := r.U8(); r.Err() == nil && v != Version {
		r.Failf("version %d, want %d", v, Version)
	}
	flags := r.U8()
	if r.Err() == nil && flags&^FlagBlobsCapped != 0 {
		r.Failf("unknown flags %#x", flags)
	}
	s := Status{BlobsCapped: flags&FlagBlobsCapped != 0, Epoch: r.U32(), Height: r.U64(), ShardsHeld: r.U16()}
	s.BlobsHeld, s.SyncBacklog, s.RecoveredSlivers, s.RecoveredBytes = r.U64(), r.U64(), r.U64(), r.U64()
	scrub := r.U64()
	if r.Err() == nil && scrub > math.MaxInt64 {
		r.Failf("last scrub %d out of range", scrub)
	}
	s.LastScrubUnixMs = int64(scrub)
	s.ScrubChecked, s.BytesStored, s.GCBlobs, s.GCBytes = r.U64(), r.U64(), r.U64(), r.U64()
	if err := r.End(); err != nil {
		return Status{}, err
	}
	return s, nil
}
