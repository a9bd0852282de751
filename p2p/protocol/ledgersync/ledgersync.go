// Package ledgersync is the home of /walrus/ledger-sync/1 (docs/architecture.md §4,
// docs/protocol.md §9): a follower that is behind fetches committed checkpoints (decision
// records: a checkpoint with its commit certificate) from a peer, and verifies each one
// itself before applying it.
//
//	request:   from u64 | max u32
//	response:  count u32 | count × (u32 len | decision record)
package ledgersync

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
)

// ID is the protocol ID.
const ID protocol.ID = "/walrus/ledger-sync/1"

// MaxBatch bounds the records of one answer.
const MaxBatch = 64

// RequestLen is a request's length.
const RequestLen = 8 + 4

// Spec is the protocol's spec: a record is at most one gossip message (a checkpoint
// travels on the checkpoints topic), and an answer carries up to MaxBatch of them.
var Spec = p2p.Protocol{ID: ID, MaxRequest: RequestLen, MaxResponse: 4 + MaxBatch*(4+p2p.MaxGossipMessage), Timeout: time.Minute}

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("ledgersync: malformed message")

// Request asks for committed checkpoints from height From on, at most Max of them.
type Request struct {
	From uint64
	Max  uint32
}

// Encode returns the request body.
func (s *Request) Encode() []byte {
	return wire.AppendU32(wire.AppendU64(make([]byte, 0, RequestLen), s.From), s.Max)
}

// DecodeRequest parses an untrusted request.
func DecodeRequest(b []byte) (*Request, error) {
	r := wire.NewReader(b, ErrMalformed)
	s := &Request{From: r.U64(), Max: r.U32()}
	return s, r.End()
}

// EncodeBatch encodes stored decision records.
func EncodeBatch(recs [][]byte) []byte {
	b := wire.AppendU32(nil, uint32(len(recs)))
	for _, r := range recs {
		b = wire.AppendU32Bytes(b, r)
	}
	return b
}

// DecodeBatch splits an untrusted answer into decision records (each still to be decoded
// and verified). The records alias b.
func DecodeBatch(b []byte) ([][]byte, error) {
	r := wire.NewReader(b, ErrMalformed)
	n := r.Count(4)
	if n > MaxBatch {
		return nil, fmt.Errorf("%w: %d checkpoints in one batch", ErrMalformed, n)
	}
	out := make([][]byte, 0, n)
	for i := 0; i < n && r.Err() == nil; i++ {
		out = append(out, r.U32Bytes(len(b)))
	}
	return out, r.End()
}
