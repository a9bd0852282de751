// Package tx is the home of /walrus/tx/1 (docs/architecture.md §4, docs/protocol.md §9 and
// §11): a client submits one signed transaction to a node's mempool and learns whether its
// dry run accepted it. Inclusion is learned later, through /walrus/query/1 (QueryWaitTx).
//
//	request:   signed transaction (staking.SignedTx's canonical encoding)
//	response:  accepted u8 | tx_hash[32] | code u8 | u32 len | message | height u64
package tx

import (
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// ID is the protocol ID.
const ID protocol.ID = "/walrus/tx/1"

// MaxMessage caps the reason carried in a reply.
const MaxMessage = 1024

// replyLen is a reply's length without its message.
const replyLen = 1 + 32 + 1 + 4 + 8

// Spec is the protocol's spec: one transaction in, one short reply out.
var Spec = p2p.Protocol{ID: ID, MaxRequest: staking.MaxTxSize, MaxResponse: replyLen + MaxMessage, Timeout: 15 * time.Second}

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("tx: malformed message")

// Reply is a node's answer to a submitted transaction.
type Reply struct {
	Accepted bool
	Hash     [32]byte
	Code     staking.Code // why a dry run rejected it (Accepted false)
	Message  string
	// Height is the node's committed height when it answered: a receipt for this
	// submission comes from a later checkpoint (wait with query.Query.After = Height).
	Height uint64
}

// Encode returns the response body; a message over MaxMessage is cut.
func (t *Reply) Encode() []byte {
	msg := wire.CutUTF8(t.Message, MaxMessage)
	b := wire.AppendBool(make([]byte, 0, replyLen+len(msg)), t.Accepted)
	b = append(b, t.Hash[:]...)
	b = append(b, byte(t.Code))
	b = wire.AppendU32Bytes(b, []byte(msg))
	return wire.AppendU64(b, t.Height)
}

// DecodeReply parses an untrusted response.
func DecodeReply(b []byte) (*Reply, error) {
	r := wire.NewReader(b, ErrMalformed)
	t := &Reply{Accepted: r.Bool()}
	r.Fixed(t.Hash[:])
	t.Code = staking.Code(r.U8())
	t.Message = string(r.U32Bytes(MaxMessage))
	t.Height = r.U64()
	return t, r.End()
}
