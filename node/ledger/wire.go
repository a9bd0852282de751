package ledger

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// Protocol IDs of the control plane (defined with the others in p2p/protocols.go).
const (
	IDTx    = p2p.IDTx
	IDQuery = p2p.IDQuery
)

// TxProtocol is the /walrus/tx/1 spec: one signed transaction in, a TxReply out.
var TxProtocol = p2p.Protocol{ID: IDTx, MaxRequest: staking.MaxTxSize, MaxResponse: 4 << 10, Timeout: 15 * time.Second}

// QueryProtocol is the /walrus/query/1 spec. The answer to Info carries the committee, up
// to ~70 bytes of key material and shard list per member plus 2 bytes per shard.
var QueryProtocol = p2p.Protocol{ID: IDQuery, MaxRequest: 1 << 10, MaxResponse: 16 << 20, Timeout: 60 * time.Second}

// MaxWait bounds how long a QueryWaitTx may ask the node to wait; it is below the
// protocol timeout so the answer still fits the exchange.
const MaxWait = 50 * time.Second

// QueryKind selects a query.
type QueryKind uint8

// Query kinds.
const (
	QueryHeight QueryKind = 1 + iota
	QueryBlobStatus
	QueryAccount
	QueryInfo
	QueryWaitTx
)

// Query is a /walrus/query/1 request.
type Query struct {
	Kind    QueryKind
	BlobID  codec.BlobID    // QueryBlobStatus
	Address staking.Address // QueryAccount
	TxHash  [32]byte        // QueryWaitTx
	Wait    time.Duration   // QueryWaitTx, at most MaxWait
	// After (QueryWaitTx): only a receipt from a checkpoint above this height answers.
	// Identical signed bytes can be committed twice (a retried reservation and
	// registration re-sign the same transactions); the receipt of the earlier, failed
	// inclusion must not answer the wait for the later one.
	After uint64
}

// ErrWire reports malformed control-plane protocol bytes.
var ErrWire = errors.New("ledger: malformed message")

// Encode returns the wire form: kind u8, then the kind's argument.
func (q *Query) Encode() []byte {
	b := []byte{byte(q.Kind)}
	switch q.Kind {
	case QueryBlobStatus:
		b = append(b, q.BlobID[:]...)
	case QueryAccount:
		b = append(b, q.Address[:]...)
	case QueryWaitTx:
		b = append(b, q.TxHash[:]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(min(q.Wait, MaxWait)/time.Millisecond))
		b = binary.LittleEndian.AppendUint64(b, q.After)
	}
	return b
}

// DecodeQuery parses an untrusted query.
func DecodeQuery(b []byte) (*Query, error) {
	r := &rd{b: b}
	q := &Query{Kind: QueryKind(r.u8())}
	switch q.Kind {
	case QueryHeight, QueryInfo:
	case QueryBlobStatus:
		r.fixed(q.BlobID[:])
	case QueryAccount:
		r.fixed(q.Address[:])
	case QueryWaitTx:
		r.fixed(q.TxHash[:])
		q.Wait = min(time.Duration(r.u32())*time.Millisecond, MaxWait)
		q.After = r.u64()
	default:
		return nil, fmt.Errorf("%w: query kind %d", ErrWire, q.Kind)
	}
	return q, r.done()
}

// BlobAnswer is the answer to QueryBlobStatus.
type BlobAnswer struct {
	Height  uint64
	Status  staking.BlobStatus
	Objects []staking.Blob // live objects (without attributes)
}

// AccountAnswer is the answer to QueryAccount.
type AccountAnswer struct {
	Height  uint64
	Account staking.Account
}

// Info is the answer to QueryInfo: what a client needs to store and read (DESIGN.md §8,
// `walrus info`).
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
}

// WaitAnswer is the answer to QueryWaitTx.
type WaitAnswer struct {
	Height  uint64 // the node's height when it answered
	Receipt TxReceipt
}

// TxReply is the answer of /walrus/tx/1.
type TxReply struct {
	Accepted bool
	Hash     [32]byte
	Code     staking.Code // why a dry run rejected it (Accepted false)
	Message  string
	// Height is the node's committed height when it answered: a receipt for this
	// submission comes from a later checkpoint (wait with Query.After = Height).
	Height uint64
}

// maxCount bounds decoded list lengths by what the bytes can hold.
func (r *rd) count(minElem int) int {
	n := int(r.u32())
	if r.err == nil && (n < 0 || n*minElem > len(r.b)-r.off) {
		r.err = fmt.Errorf("%w: count %d exceeds input", ErrWire, n)
		return 0
	}
	return n
}

// EncodeBlobAnswer encodes a BlobAnswer.
func EncodeBlobAnswer(a *BlobAnswer) []byte {
	w := &wr{}
	w.u64(a.Height)
	w.u8(uint8(a.Status.Kind))
	w.u32(a.Status.EndEpoch)
	w.boolean(a.Status.Deletable)
	w.u32(uint32(a.Status.Objects))
	w.u32(uint32(len(a.Objects)))
	for i := range a.Objects {
		o := &a.Objects[i]
		w.fixed(o.ID[:])
		w.fixed(o.Owner[:])
		w.fixed(o.BlobID[:])
		w.fixed(o.Root[:])
		w.u64(o.Length)
		w.u8(o.Encoding)
		w.u64(o.EncodedSize)
		w.fixed(o.Storage.ID[:])
		w.u32(o.Storage.Start)
		w.u32(o.Storage.End)
		w.u64(o.Storage.Size)
		w.boolean(o.Deletable)
		w.u32(o.Registered)
		w.boolean(o.Certified)
		w.u32(o.CertEpoch)
	}
	return w.b
}

// DecodeBlobAnswer parses an untrusted BlobAnswer.
func DecodeBlobAnswer(b []byte) (*BlobAnswer, error) {
	r := &rd{b: b}
	a := &BlobAnswer{Height: r.u64()}
	a.Status.Kind = staking.BlobStatusKind(r.u8())
	a.Status.EndEpoch = r.u32()
	a.Status.Deletable = r.boolean()
	a.Status.Objects = int(r.u32())
	n := r.count(4 * 32)
	for i := 0; i < n && r.err == nil; i++ {
		var o staking.Blob
		r.fixed(o.ID[:])
		r.fixed(o.Owner[:])
		r.fixed(o.BlobID[:])
		r.fixed(o.Root[:])
		o.Length = r.u64()
		o.Encoding = r.u8()
		o.EncodedSize = r.u64()
		r.fixed(o.Storage.ID[:])
		o.Storage.Start = r.u32()
		o.Storage.End = r.u32()
		o.Storage.Size = r.u64()
		o.Deletable = r.boolean()
		o.Registered = r.u32()
		o.Certified = r.boolean()
		o.CertEpoch = r.u32()
		o.Storage.Owner = o.Owner
		a.Objects = append(a.Objects, o)
	}
	return a, r.done()
}

// EncodeAccountAnswer encodes an AccountAnswer.
func EncodeAccountAnswer(a *AccountAnswer) []byte {
	w := &wr{}
	w.u64(a.Height)
	w.u64(a.Account.Balance)
	w.u64(a.Account.Nonce)
	return w.b
}

// DecodeAccountAnswer parses an untrusted AccountAnswer.
func DecodeAccountAnswer(b []byte) (*AccountAnswer, error) {
	r := &rd{b: b}
	a := &AccountAnswer{Height: r.u64()}
	a.Account.Balance = r.u64()
	a.Account.Nonce = r.u64()
	return a, r.done()
}

// EncodeInfo encodes an Info.
func EncodeInfo(in *Info) ([]byte, error) {
	w := &wr{}
	w.u64(in.Height)
	w.fixed(in.Network[:])
	w.str(in.NetworkName)
	w.u32(in.Epoch)
	w.u64(uint64(in.Time))
	w.u32(uint32(in.NShards))
	w.u64(uint64(in.EpochDuration))
	w.u64(uint64(in.GenesisTime))
	w.u64(in.Prices.Storage)
	w.u64(in.Prices.Write)
	w.u64(in.Prices.Capacity)
	w.u64(in.MaxBlobSize)
	c, err := in.Committee.MarshalBinary()
	if err != nil {
		return nil, err
	}
	w.str(string(c))
	w.u32(uint32(len(in.Stakes)))
	for _, v := range in.Stakes {
		w.u64(v)
	}
	return w.b, nil
}

// DecodeInfo parses an untrusted Info. The committee is decoded and indexed.
func DecodeInfo(b []byte) (*Info, error) {
	r := &rd{b: b}
	in := &Info{Height: r.u64()}
	r.fixed(in.Network[:])
	in.NetworkName = r.str(staking.MaxNetworkName)
	in.Epoch = r.u32()
	in.Time = int64(r.u64())
	in.NShards = int(r.u32())
	in.EpochDuration = int64(r.u64())
	in.GenesisTime = int64(r.u64())
	in.Prices.Storage, in.Prices.Write, in.Prices.Capacity = r.u64(), r.u64(), r.u64()
	in.MaxBlobSize = r.u64()
	cb := r.str(len(b))
	if ns := int(r.u32()); ns > 0 {
		if ns > (len(b)-r.off)/8 {
			return nil, fmt.Errorf("%w: %d stakes in %d bytes", ErrWire, ns, len(b)-r.off)
		}
		in.Stakes = make([]uint64, ns)
		for i := range in.Stakes {
			in.Stakes[i] = r.u64()
		}
	}
	if err := r.done(); err != nil {
		return nil, err
	}
	c, err := epoch.DecodeCommittee([]byte(cb))
	if err != nil {
		return nil, fmt.Errorf("%w: committee: %v", ErrWire, err)
	}
	if err := c.Index(); err != nil {
		return nil, fmt.Errorf("%w: committee: %v", ErrWire, err)
	}
	if in.Stakes != nil && len(in.Stakes) != len(c.Members) {
		return nil, fmt.Errorf("%w: %d stakes for %d members", ErrWire, len(in.Stakes), len(c.Members))
	}
	in.Committee = c
	return in, nil
}

// EncodeWaitAnswer encodes a WaitAnswer.
func EncodeWaitAnswer(a *WaitAnswer) []byte {
	w := &wr{}
	w.u64(a.Height)
	w.fixed(a.Receipt.Hash[:])
	w.u64(a.Receipt.Height)
	w.u32(a.Receipt.Index)
	w.u8(uint8(a.Receipt.Code))
	w.str(a.Receipt.Message)
	return w.b
}

// DecodeWaitAnswer parses an untrusted WaitAnswer.
func DecodeWaitAnswer(b []byte) (*WaitAnswer, error) {
	r := &rd{b: b}
	a := &WaitAnswer{Height: r.u64()}
	r.fixed(a.Receipt.Hash[:])
	a.Receipt.Height = r.u64()
	a.Receipt.Index = r.u32()
	a.Receipt.Code = staking.Code(r.u8())
	a.Receipt.Message = r.str(1024)
	return a, r.done()
}

// EncodeTxReply encodes a TxReply.
func EncodeTxReply(t *TxReply) []byte {
	w := &wr{}
	w.boolean(t.Accepted)
	w.fixed(t.Hash[:])
	w.u8(uint8(t.Code))
	w.str(t.Message)
	w.u64(t.Height)
	return w.b
}

// DecodeTxReply parses an untrusted TxReply.
func DecodeTxReply(b []byte) (*TxReply, error) {
	r := &rd{b: b}
	t := &TxReply{Accepted: r.boolean()}
	r.fixed(t.Hash[:])
	t.Code = staking.Code(r.u8())
	t.Message = r.str(1024)
	t.Height = r.u64()
	return t, r.done()
}

// SyncRequest asks for committed checkpoints from height From on, at most Max of them.
type SyncRequest struct {
	From uint64
	Max  uint32
}

// MaxSyncBatch bounds the checkpoints of one sync answer.
const MaxSyncBatch = 64

// Encode returns From u64 LE || Max u32 LE.
func (s *SyncRequest) Encode() []byte {
	b := binary.LittleEndian.AppendUint64(nil, s.From)
	return binary.LittleEndian.AppendUint32(b, s.Max)
}

// DecodeSyncRequest parses an untrusted sync request.
func DecodeSyncRequest(b []byte) (*SyncRequest, error) {
	r := &rd{b: b}
	s := &SyncRequest{From: r.u64(), Max: r.u32()}
	return s, r.done()
}

// EncodeSyncBatch encodes stored decision records: count u32, then u32 length || bytes each.
func EncodeSyncBatch(recs [][]byte) []byte {
	w := &wr{}
	w.u32(uint32(len(recs)))
	for _, r := range recs {
		w.str(string(r))
	}
	return w.b
}

// DecodeSyncBatch splits an untrusted sync answer into decision records (each still to be
// decoded and verified).
func DecodeSyncBatch(b []byte) ([][]byte, error) {
	r := &rd{b: b}
	n := r.count(4)
	if n > MaxSyncBatch {
		return nil, fmt.Errorf("%w: %d checkpoints in one batch", ErrWire, n)
	}
	out := make([][]byte, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, []byte(r.str(len(b))))
	}
	return out, r.done()
}

type wr struct{ b []byte }

func (w *wr) u8(v uint8)     { w.b = append(w.b, v) }
func (w *wr) u32(v uint32)   { w.b = binary.LittleEndian.AppendUint32(w.b, v) }
func (w *wr) u64(v uint64)   { w.b = binary.LittleEndian.AppendUint64(w.b, v) }
func (w *wr) fixed(b []byte) { w.b = append(w.b, b...) }
func (w *wr) str(s string)   { w.u32(uint32(len(s))); w.b = append(w.b, s...) }
func (w *wr) boolean(v bool) {
	if v {
		w.u8(1)
	} else {
		w.u8(0)
	}
}

type rd struct {
	b   []byte
	off int
	err error
}

func (r *rd) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b)-r.off {
		r.err = fmt.Errorf("%w: truncated", ErrWire)
		return nil
	}
	out := r.b[r.off : r.off+n]
	r.off += n
	return out
}

func (r *rd) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *rd) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *rd) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *rd) fixed(dst []byte) { copy(dst, r.take(len(dst))) }

func (r *rd) boolean() bool {
	v := r.u8()
	if v > 1 && r.err == nil {
		r.err = fmt.Errorf("%w: boolean %d", ErrWire, v)
	}
	return v == 1
}

// str reads u32 length || bytes, refusing lengths over max before taking anything.
func (r *rd) str(max int) string {
	n := r.u32()
	if r.err == nil && int64(n) > int64(max) {
		r.err = fmt.Errorf("%w: string of %d bytes over %d", ErrWire, n, max)
		return ""
	}
	return string(r.take(int(n)))
}

func (r *rd) done() error {
	if r.err != nil {
		return r.err
	}
	if r.off != len(r.b) {
		return fmt.Errorf("%w: %d trailing bytes", ErrWire, len(r.b)-r.off)
	}
	return nil
}
