// Package metadata is the home of /walrus/metadata/1 (docs/architecture.md §5,
// docs/protocol.md §3 and §9): a client puts a blob's metadata on a node before its
// slivers, a reader gets it from any node and verifies it against the blob ID.
//
//	request:   op u8 (1 put, 2 get) | blob_id[32] | [metadata BCS, put only]
//	response:  [metadata BCS, get only]
package metadata

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
)

// ID is the protocol ID.
const ID protocol.ID = "/walrus/metadata/1"

// Timeout bounds one exchange (metadata is 66 KB at n = 1000).
const Timeout = 30 * time.Second

// Operation bytes.
const (
	OpPut byte = 1
	OpGet byte = 2
)

// HeaderLen is what a request adds before the metadata: op and blob ID.
const HeaderLen = 1 + 32

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("metadata: malformed message")

// Spec is the protocol's spec for geometry p: requests and responses carry at most one
// metadata of p's size.
func Spec(p codec.Params) p2p.Protocol {
	max := HeaderLen + p.MaxMetadataBCSLen()
	return p2p.Protocol{ID: ID, MaxRequest: max, MaxResponse: max, Timeout: Timeout}
}

// Request is a metadata request.
type Request struct {
	Op     byte
	BlobID codec.BlobID
	// Metadata is the untrusted BCS metadata of a put (nil for a get).
	Metadata []byte
}

// Encode returns the request body.
func (m *Request) Encode() []byte {
	out := make([]byte, 0, HeaderLen+len(m.Metadata))
	out = append(out, m.Op)
	out = append(out, m.BlobID[:]...)
	return append(out, m.Metadata...)
}

// DecodeRequest parses an untrusted request.
func DecodeRequest(b []byte) (Request, error) {
	r := wire.NewReader(b, ErrMalformed)
	m := Request{Op: r.U8()}
	r.Fixed(m.BlobID[:])
	if err := r.Err(); err != nil {
		return Request{}, err
	}
	switch m.Op {
	case OpPut:
		if r.Len() == 0 {
			return Request{}, fmt.Errorf("%w: put without metadata", ErrMalformed)
		}
		m.Metadata = r.Rest()
	case OpGet:
		if err := r.End(); err != nil {
			return Request{}, err
		}
	default:
		return Request{}, fmt.Errorf("%w: unknown metadata op %d", ErrMalformed, m.Op)
	}
	return m, nil
}
