// Package query is the home of /walrus/query/1 (docs/architecture.md §4, docs/protocol.md
// §9): a client asks a node about its ledger (height, a blob's status and objects, an
// account, the network's info and committee) or waits for a transaction's receipt. Every
// answer carries the height it reflects, so a client comparing nodes can tell stale from
// wrong.
//
//	request:  kind u8 | argument (blob_id[32], address[32], tx_hash[32] | wait_ms u32 |
//	          after u64, cursor[32], or address[32] | cursor[32])
//	answers:  see the Encode functions; all start with the node's height u64.
package query

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// ID is the protocol ID.
const ID protocol.ID = "/walrus/query/1"

// MaxWait bounds how long a QueryWaitTx may ask the node to wait; it is below the
// protocol's timeout so the answer still fits the exchange.
const MaxWait = 50 * time.Second

// MaxReceiptMessage caps a receipt's reason.
const MaxReceiptMessage = 1024

// Spec is the protocol's spec. The answer to Info carries the committee, up to ~70 bytes
// of key material and shard list per member plus 2 bytes per shard.
var Spec = p2p.Protocol{ID: ID, MaxRequest: 1 << 10, MaxResponse: 16 << 20, Timeout: 60 * time.Second}

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("query: malformed message")

// Kind selects a query.
type Kind uint8

// Query kinds.
const (
	QueryHeight Kind = 1 + iota
	QueryBlobStatus
	QueryAccount
	QueryInfo
	QueryWaitTx
	QueryCommittee // registered nodes, pools and shards, a page after Cursor (staking.go)
	QueryStakes    // the stakes Address owns, a page after Cursor (staking.go)
	QueryBlobs     // the blob objects Address owns, a page after Cursor (blobs.go)
	// Kinds 9 to 12, the proven answers, are in proven.go; 13 to 16, the proven listings
	// and receipts, in provenlist.go; 17, the proven receipts of a range of heights, in
	// receipts.go.
)

// Query is a request.
type Query struct {
	Kind    Kind
	BlobID  codec.BlobID    // QueryBlobStatus
	Address staking.Address // QueryAccount; QueryStakes, QueryBlobs: the owner
	TxHash  [32]byte        // QueryWaitTx
	Wait    time.Duration   // QueryWaitTx, at most MaxWait
	// After (QueryWaitTx): only a receipt from a checkpoint above this height answers.
	// Identical signed bytes can be committed twice (a retried reservation and
	// registration re-sign the same transactions); the receipt of the earlier, failed
	// inclusion must not answer the wait for the later one.
	After uint64
	// Cursor (QueryCommittee, QueryStakes, QueryBlobs): the page holds IDs above it, in ascending
	// order; zero starts from the first. (The proven listings: a tree path, see
	// provenlist.go.)
	Cursor [32]byte
	// At (the proven kinds, proven.go): the height to prove at, 0 for the node's latest; a
	// node keeps a few recent heights and answers not found for others.
	At uint64
	// FromEpoch (QueryEpochLinks): the epoch whose committee signs the first link.
	FromEpoch uint32
	// FromHeight, ToHeight (QueryProvenReceipts, receipts.go): the heights whose receipts
	// are asked, at most MaxReceiptSpan of them.
	FromHeight, ToHeight uint64
}

// Encode returns the request body: kind u8, then the kind's argument.
func (q *Query) Encode() []byte {
	b := []byte{byte(q.Kind)}
	switch q.Kind {
	case QueryBlobStatus:
		b = append(b, q.BlobID[:]...)
	case QueryAccount:
		b = append(b, q.Address[:]...)
	case QueryWaitTx:
		b = append(b, q.TxHash[:]...)
		b = wire.AppendU32(b, uint32(min(q.Wait, MaxWait)/time.Millisecond))
		b = wire.AppendU64(b, q.After)
	case QueryCommittee:
		b = append(b, q.Cursor[:]...)
	case QueryStakes, QueryBlobs:
		b = append(b, q.Address[:]...)
		b = append(b, q.Cursor[:]...)
	case QueryProvenBlobStatus:
		b = append(b, q.BlobID[:]...)
		b = wire.AppendU64(b, q.At)
	case QueryProvenAccount:
		b = append(b, q.Address[:]...)
		b = wire.AppendU64(b, q.At)
	case QueryProvenInfo:
		b = wire.AppendU64(b, q.At)
	case QueryEpochLinks:
		b = wire.AppendU32(b, q.FromEpoch)
	case QueryProvenCommittee:
		b = append(b, q.Cursor[:]...)
		b = wire.AppendU64(b, q.At)
	case QueryProvenStakes, QueryProvenBlobs:
		b = append(b, q.Address[:]...)
		b = append(b, q.Cursor[:]...)
		b = wire.AppendU64(b, q.At)
	case QueryProvenWaitTx:
		b = append(b, q.TxHash[:]...)
		b = wire.AppendU32(b, uint32(min(q.Wait, MaxWait)/time.Millisecond))
		b = wire.AppendU64(b, q.After)
	case QueryProvenReceipts:
		b = wire.AppendU64(b, q.FromHeight)
		b = wire.AppendU64(b, q.ToHeight)
		b = append(b, q.Cursor[:]...)
		b = wire.AppendU64(b, q.At)
	}
	return b
}

// Decode parses an untrusted request.
func Decode(b []byte) (*Query, error) {
	r := wire.NewReader(b, ErrMalformed)
	q := &Query{Kind: Kind(r.U8())}
	switch q.Kind {
	case QueryHeight, QueryInfo:
	case QueryBlobStatus:
		r.Fixed(q.BlobID[:])
	case QueryAccount:
		r.Fixed(q.Address[:])
	case QueryWaitTx:
		r.Fixed(q.TxHash[:])
		q.Wait = min(time.Duration(r.U32())*time.Millisecond, MaxWait)
		q.After = r.U64()
	case QueryCommittee:
		r.Fixed(q.Cursor[:])
	case QueryStakes, QueryBlobs:
		r.Fixed(q.Address[:])
		r.Fixed(q.Cursor[:])
	case QueryProvenBlobStatus:
		r.Fixed(q.BlobID[:])
		q.At = r.U64()
	case QueryProvenAccount:
		r.Fixed(q.Address[:])
		q.At = r.U64()
	case QueryProvenInfo:
		q.At = r.U64()
	case QueryEpochLinks:
		q.FromEpoch = r.U32()
	case QueryProvenCommittee:
		r.Fixed(q.Cursor[:])
		q.At = r.U64()
	case QueryProvenStakes, QueryProvenBlobs:
		r.Fixed(q.Address[:])
		r.Fixed(q.Cursor[:])
		q.At = r.U64()
	case QueryProvenWaitTx:
		r.Fixed(q.TxHash[:])
		q.Wait = min(time.Duration(r.U32())*time.Millisecond, MaxWait)
		q.After = r.U64()
	case QueryProvenReceipts:
		q.FromHeight, q.ToHeight = r.U64(), r.U64()
		r.Fixed(q.Cursor[:])
		q.At = r.U64()
		if r.Err() == nil {
			if err := ReceiptRange(q.FromHeight, q.ToHeight); err != nil {
				return nil, err
			}
		}
	default:
		return nil, fmt.Errorf("%w: query kind %d", ErrMalformed, q.Kind)
	}
	return q, r.End()
}

// EncodeHeight encodes the answer to QueryHeight.
func EncodeHeight(h uint64) []byte { return wire.AppendU64(nil, h) }

// DecodeHeight parses the answer to QueryHeight.
func DecodeHeight(b []byte) (uint64, error) {
	r := wire.NewReader(b, ErrMalformed)
	h := r.U64()
	return h, r.End()
}

// BlobAnswer is the answer to QueryBlobStatus.
type BlobAnswer struct {
	Height  uint64
	Status  staking.BlobStatus
	Objects []staking.Blob // live objects (without attributes)
	// Epoch and Proven are not on the wire: a verifying client sets them when the answer
	// was proven (QueryProvenBlobStatus) at Height, in Epoch.
	Epoch  uint32
	Proven bool
}

// EncodeBlobAnswer encodes a BlobAnswer.
func EncodeBlobAnswer(a *BlobAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = append(b, uint8(a.Status.Kind))
	b = wire.AppendU32(b, a.Status.EndEpoch)
	b = wire.AppendBool(b, a.Status.Deletable)
	b = wire.AppendU32(b, uint32(a.Status.Objects))
	b = wire.AppendU32(b, uint32(len(a.Objects)))
	for i := range a.Objects {
		b = appendBlobObject(b, &a.Objects[i])
	}
	return b
}

// DecodeBlobAnswer parses an untrusted BlobAnswer.
func DecodeBlobAnswer(b []byte) (*BlobAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &BlobAnswer{Height: r.U64()}
	a.Status.Kind = staking.BlobStatusKind(r.U8())
	a.Status.EndEpoch = r.U32()
	a.Status.Deletable = r.Bool()
	a.Status.Objects = int(r.U32())
	n := r.Count(4 * 32)
	for i := 0; i < n && r.Err() == nil; i++ {
		a.Objects = append(a.Objects, readBlobObject(&r))
	}
	return a, r.End()
}

// AccountAnswer is the answer to QueryAccount.
type AccountAnswer struct {
	Height  uint64
	Account staking.Account
	// Proven is not on the wire: set by a verifying client (QueryProvenAccount).
	Proven bool
}

// EncodeAccountAnswer encodes an AccountAnswer.
func EncodeAccountAnswer(a *AccountAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = wire.AppendU64(b, a.Account.Balance)
	return wire.AppendU64(b, a.Account.Nonce)
}

// DecodeAccountAnswer parses an untrusted AccountAnswer.
func DecodeAccountAnswer(b []byte) (*AccountAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &AccountAnswer{Height: r.U64()}
	a.Account.Balance = r.U64()
	a.Account.Nonce = r.U64()
	return a, r.End()
}

// Info is the answer to QueryInfo: what a client needs to store and read (`walrus info`).
type Info struct {
	Height        uint64
	Network       epoch.NetworkID
	NetworkName   string
	Epoch         uint32
	Time          int64 // of the last checkpoint, unix ms
	NShards       int
	EpochDuration int64
	GenesisTime   int64
	Prices        staking.Prices
	MaxBlobSize   uint64
	Committee     *epoch.Committee
	// Stakes[i] is the stake (FROST) of Committee.Members[i] counting for this epoch.
	Stakes []uint64
	// Previous is the previous epoch's committee while the change into this epoch is not
	// complete (sync done by n-f shards), nil otherwise: blobs certified before the change
	// are read from it (docs/protocol.md §7).
	Previous *epoch.Committee
	// Proven is not on the wire: a verifying client sets it when the network, parameters,
	// prices and committee were proven at Height (QueryProvenInfo); Stakes stay the
	// node's word.
	Proven bool
}

// EncodeInfo encodes an Info.
func EncodeInfo(in *Info) ([]byte, error) {
	c, err := in.Committee.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b := wire.AppendU64(nil, in.Height)
	b = append(b, in.Network[:]...)
	b = wire.AppendU32Bytes(b, []byte(in.NetworkName))
	b = wire.AppendU32(b, in.Epoch)
	b = wire.AppendU64(b, uint64(in.Time))
	b = wire.AppendU32(b, uint32(in.NShards))
	b = wire.AppendU64(b, uint64(in.EpochDuration))
	b = wire.AppendU64(b, uint64(in.GenesisTime))
	b = wire.AppendU64(b, in.Prices.Storage)
	b = wire.AppendU64(b, in.Prices.Write)
	b = wire.AppendU64(b, in.Prices.Capacity)
	b = wire.AppendU64(b, in.MaxBlobSize)
	b = wire.AppendU32Bytes(b, c)
	b = wire.AppendU32(b, uint32(len(in.Stakes)))
	for _, v := range in.Stakes {
		b = wire.AppendU64(b, v)
	}
	var prev []byte
	if in.Previous != nil {
		if prev, err = in.Previous.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	return wire.AppendU32Bytes(b, prev), nil
}

// DecodeInfo parses an untrusted Info. The committee is decoded and indexed.
func DecodeInfo(b []byte) (*Info, error) {
	r := wire.NewReader(b, ErrMalformed)
	in := &Info{Height: r.U64()}
	r.Fixed(in.Network[:])
	in.NetworkName = string(r.U32Bytes(staking.MaxNetworkName))
	in.Epoch = r.U32()
	in.Time = int64(r.U64())
	in.NShards = int(r.U32())
	in.EpochDuration = int64(r.U64())
	in.GenesisTime = int64(r.U64())
	in.Prices.Storage, in.Prices.Write, in.Prices.Capacity = r.U64(), r.U64(), r.U64()
	in.MaxBlobSize = r.U64()
	cb := r.U32Bytes(len(b))
	if ns := r.Count(8); ns > 0 {
		in.Stakes = make([]uint64, ns)
		for i := range in.Stakes {
			in.Stakes[i] = r.U64()
		}
	}
	pb := r.U32Bytes(len(b))
	if err := r.End(); err != nil {
		return nil, err
	}
	c, err := epoch.DecodeCommittee(cb)
	if err != nil {
		return nil, fmt.Errorf("%w: committee: %v", ErrMalformed, err)
	}
	if err := c.Index(); err != nil {
		return nil, fmt.Errorf("%w: committee: %v", ErrMalformed, err)
	}
	if len(pb) > 0 {
		prev, err := epoch.DecodeCommittee(pb)
		if err == nil {
			err = prev.Index()
		}
		if err != nil {
			return nil, fmt.Errorf("%w: previous committee: %v", ErrMalformed, err)
		}
		if prev.Epoch+1 != c.Epoch || prev.NShards != c.NShards {
			return nil, fmt.Errorf("%w: previous committee of epoch %d with %d shards", ErrMalformed, prev.Epoch, prev.NShards)
		}
		in.Previous = prev
	}
	if in.Stakes != nil && len(in.Stakes) != len(c.Members) {
		return nil, fmt.Errorf("%w: %d stakes for %d members", ErrMalformed, len(in.Stakes), len(c.Members))
	}
	in.Committee = c
	return in, nil
}

// TxReceipt is the ledger's outcome of a committed transaction.
type TxReceipt struct {
	Hash   [32]byte
	Height uint64 // checkpoint that carried it
	Index  uint32 // position in the checkpoint
	staking.Receipt
}

// WaitAnswer is the answer to QueryWaitTx.
type WaitAnswer struct {
	Height  uint64 // the node's height when it answered
	Receipt TxReceipt
}

// EncodeWaitAnswer encodes a WaitAnswer; a receipt message over MaxReceiptMessage is cut.
func EncodeWaitAnswer(a *WaitAnswer) []byte {
	msg := wire.CutUTF8(a.Receipt.Message, MaxReceiptMessage)
	b := wire.AppendU64(nil, a.Height)
	b = append(b, a.Receipt.Hash[:]...)
	b = wire.AppendU64(b, a.Receipt.Height)
	b = wire.AppendU32(b, a.Receipt.Index)
	b = append(b, uint8(a.Receipt.Code))
	return wire.AppendU32Bytes(b, []byte(msg))
}

// DecodeWaitAnswer parses an untrusted WaitAnswer.
func DecodeWaitAnswer(b []byte) (*WaitAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &WaitAnswer{Height: r.U64()}
	r.Fixed(a.Receipt.Hash[:])
	a.Receipt.Height = r.U64()
	a.Receipt.Index = r.U32()
	a.Receipt.Code = staking.Code(r.U8())
	a.Receipt.Message = string(r.U32Bytes(MaxReceiptMessage))
	return a, r.End()
}
