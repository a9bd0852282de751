// Package blobstatus is the home of /walrus/status/1 (docs/protocol.md §8 and §9): a
// client asks one node for its view of a blob (the ledger status it sees, and whether it
// stores the metadata and the slivers of its shards).
//
//	request:   blob_id[32] [| flags u8]
//	response:  kind u8 | end_epoch u32 | epoch u32 | has_metadata u8 |
//	           shards_held u16 | shards_stored u16
//	           [| missing_count u16 | missing_shard u16 × missing_count]
//
// The flags byte and the missing-shard list were added later, compatibly: a request
// without flags gets the original 14-byte answer. With FlagMissing the node appends the
// held shards that do not store both slivers (shards_held - shards_stored of them), so a
// resumed upload sends only those (docs/architecture.md §5 "Store"). A node that predates
// the flag refuses the 33-byte request; a client then knows nothing per shard.
package blobstatus

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// ID is the protocol ID.
const ID protocol.ID = "/walrus/status/1"

// Message lengths: the original request and response; a request with flags is one byte
// longer and a response with the missing-shard list at most MaxResponseLen.
const (
	RequestLen     = 32
	ResponseLen    = 1 + 4 + 4 + 1 + 2 + 2
	MaxResponseLen = ResponseLen + 2 + 2*0xffff
)

// FlagMissing asks for the list of held shards missing a sliver.
const FlagMissing = 1

// Spec is the protocol's spec: small messages (at most 128 KiB with the missing-shard list
// of a node holding every shard) that need little transfer time.
var Spec = p2p.Protocol{ID: ID, MaxRequest: RequestLen + 1, MaxResponse: MaxResponseLen, Timeout: 10 * time.Second}

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("blobstatus: malformed message")

// Status is one node's view of a blob.
type Status struct {
	// Kind is the ledger status as this node sees it.
	Kind staking.BlobStatusKind
	// EndEpoch is the ledger's end epoch for the status (see staking.BlobStatus).
	EndEpoch uint32
	// Epoch is the node's current epoch.
	Epoch uint32
	// HasMetadata reports whether the node stores the blob's metadata.
	HasMetadata bool
	// ShardsHeld is how many shards the node holds this epoch; ShardsStored how many of
	// them hold both slivers of the blob.
	ShardsHeld, ShardsStored uint16
	// Detail reports that the answer lists Missing: asked with FlagMissing, the held
	// shards that do not store both slivers of the blob, ShardsHeld-ShardsStored of them.
	Detail  bool
	Missing []uint16
}

// Encode returns the response body.
func (s *Status) Encode() []byte {
	out := make([]byte, 0, ResponseLen)
	out = append(out, byte(s.Kind))
	out = binary.LittleEndian.AppendUint32(out, s.EndEpoch)
	out = binary.LittleEndian.AppendUint32(out, s.Epoch)
	out = wire.AppendBool(out, s.HasMetadata)
	out = binary.LittleEndian.AppendUint16(out, s.ShardsHeld)
	out = binary.LittleEndian.AppendUint16(out, s.ShardsStored)
	if !s.Detail {
		return out
	}
	out = binary.LittleEndian.AppendUint16(out, uint16(len(s.Missing)))
	for _, sh := range s.Missing {
		out = binary.LittleEndian.AppendUint16(out, sh)
	}
	return out
}

// Decode parses an untrusted response.
func Decode(b []byte) (Status, error) {
	r := wire.NewReader(b, ErrMalformed)
	s := Status{Kind: staking.BlobStatusKind(r.U8()), EndEpoch: r.U32(), Epoch: r.U32()}
	if v := r.U8(); v > 1 {
		r.Failf("metadata flag %d", v)
	} else {
		s.HasMetadata = v == 1
	}
	s.ShardsHeld, s.ShardsStored = r.U16(), r.U16()
	if len(b) > ResponseLen {
		s.Detail = true
		count := int(r.U16())
		if count != int(s.ShardsHeld)-int(s.ShardsStored) {
			r.Failf("%d missing shards listed, %d of %d stored", count, s.ShardsStored, s.ShardsHeld)
		} else {
			s.Missing = make([]uint16, 0, count)
			for range count {
				s.Missing = append(s.Missing, r.U16())
			}
		}
	}
	if err := r.End(); err != nil {
		return Status{}, err
	}
	if s.ShardsStored > s.ShardsHeld {
		return Status{}, fmt.Errorf("%w: %d of %d shards stored", ErrMalformed, s.ShardsStored, s.ShardsHeld)
	}
	return s, nil
}

// DecodeRequest parses an untrusted request (a bare blob ID, or one with flags, which are
// dropped; see DecodeRequestFlags).
func DecodeRequest(b []byte) (codec.BlobID, error) {
	id, _, err := DecodeRequestFlags(b)
	return id, err
}

// EncodeRequest returns a request for blob id with flags (0: the original request).
func EncodeRequest(id codec.BlobID, flags byte) []byte {
	if flags == 0 {
		return append([]byte(nil), id[:]...)
	}
	return append(append(make([]byte, 0, RequestLen+1), id[:]...), flags)
}

// DecodeRequestFlags parses an untrusted request: a blob ID and its flags (0 when absent).
func DecodeRequestFlags(b []byte) (codec.BlobID, byte, error) {
	r := wire.NewReader(b, ErrMalformed)
	var id codec.BlobID
	r.Fixed(id[:])
	var flags byte
	if len(b) > RequestLen {
		if flags = r.U8(); flags&^FlagMissing != 0 {
			r.Failf("unknown flags %#x", flags)
		}
	}
	return id, flags, r.End()
}
