// Package confirm is the home of /walrus/confirmation/1 (docs/architecture.md §5 "Store",
// docs/protocol.md §5 and §9): a client asks a node for its signed storage confirmation of a
// registered blob whose slivers it has sent; the node signs only once every shard it holds
// has both slivers durably stored.
//
//	request:   blob_id[32] | epoch u32 | deletable u8 | object[32]
//	response:  epoch u32 | BLS signature[96]
package confirm

import (
	"encoding/binary"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// ID is the protocol ID.
const ID protocol.ID = "/walrus/confirmation/1"

// Message lengths.
const (
	RequestLen  = 32 + 4 + 1 + 32
	ResponseLen = 4 + bls.SignatureSize
)

// Spec is the protocol's spec: fixed-size messages, and time for the node to finish
// storing what it was sent before it signs.
var Spec = p2p.Protocol{ID: ID, MaxRequest: RequestLen, MaxResponse: ResponseLen, Timeout: 30 * time.Second}

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("confirm: malformed message")

// Request asks for a storage confirmation of a blob in an epoch with the given persistence
// (docs/protocol.md §5: the signed body names blob ID and persistence).
type Request struct {
	BlobID    codec.BlobID
	Epoch     uint32
	Deletable bool
	Object    staking.ObjectID
}

// Encode returns the request body.
func (c *Request) Encode() []byte {
	out := make([]byte, 0, RequestLen)
	out = append(out, c.BlobID[:]...)
	out = binary.LittleEndian.AppendUint32(out, c.Epoch)
	out = wire.AppendBool(out, c.Deletable)
	return append(out, c.Object[:]...)
}

// Message is the byte string the confirmation signs (staking.ConfirmationMessage).
func (c *Request) Message(network [32]byte) []byte {
	return staking.ConfirmationMessage(network, c.Epoch, c.BlobID, c.Deletable, c.Object)
}

// DecodeRequest parses an untrusted request.
func DecodeRequest(b []byte) (Request, error) {
	r := wire.NewReader(b, ErrMalformed)
	var c Request
	r.Fixed(c.BlobID[:])
	c.Epoch = r.U32()
	if v := r.U8(); v > 1 {
		r.Failf("persistence flag %d", v)
	} else {
		c.Deletable = v == 1
	}
	r.Fixed(c.Object[:])
	if err := r.End(); err != nil {
		return Request{}, err
	}
	return c, nil
}

// Confirmation is a node's signed storage confirmation.
type Confirmation struct {
	Epoch     uint32
	Signature bls.Signature
}

// Encode returns the response body.
func (c *Confirmation) Encode() []byte {
	out := binary.LittleEndian.AppendUint32(make([]byte, 0, ResponseLen), c.Epoch)
	return append(out, c.Signature[:]...)
}

// Decode parses an untrusted response. The signature is checked by the caller against the
// message it expects (epoch.CertBuilder.Add).
func Decode(b []byte) (Confirmation, error) {
	r := wire.NewReader(b, ErrMalformed)
	c := Confirmation{Epoch: r.U32()}
	r.Fixed(c.Signature[:])
	if err := r.End(); err != nil {
		return Confirmation{}, err
	}
	return c, nil
}
