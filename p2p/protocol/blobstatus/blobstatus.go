// Package blobstatus is the home of /walrus/status/1 (docs/protocol.md §8 and §9): a
// client asks one node for its view of a blob (the ledger status it sees, and whether it
// stores the metadata and the slivers of its shards).
//
//	request:   blob_id[32]
//	response:  kind u8 | end_epoch u32 | epoch u32 | has_metadata u8 |
//	           shards_held u16 | shards_stored u16
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

// Message lengths.
const (
	RequestLen  = 32
	ResponseLen = 1 + 4 + 4 + 1 + 2 + 2
)

// Spec is the protocol's spec: fixed-size messages that need no transfer time.
var Spec = p2p.Protocol{ID: ID, MaxRequest: RequestLen, MaxResponse: ResponseLen, Timeout: 10 * time.Second}

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
}

// Encode returns the response body.
func (s *Status) Encode() []byte {
	out := make([]byte, 0, ResponseLen)
	out = append(out, byte(s.Kind))
	out = binary.LittleEndian.AppendUint32(out, s.EndEpoch)
	out = binary.LittleEndian.AppendUint32(out, s.Epoch)
	out = wire.AppendBool(out, s.HasMetadata)
	out = binary.LittleEndian.AppendUint16(out, s.ShardsHeld)
	return binary.LittleEndian.AppendUint16(out, s.ShardsStored)
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
	if err := r.End(); err != nil {
		return Status{}, err
	}
	if s.ShardsStored > s.ShardsHeld {
		return Status{}, fmt.Errorf("%w: %d of %d shards stored", ErrMalformed, s.ShardsStored, s.ShardsHeld)
	}
	return s, nil
}

// DecodeRequest parses an untrusted request (a bare blob ID).
func DecodeRequest(b []byte) (codec.BlobID, error) {
	r := wire.NewReader(b, ErrMalformed)
	var id codec.BlobID
	r.Fixed(id[:])
	return id, r.End()
}
