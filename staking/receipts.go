package staking

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/blake2b"
)

// Receipts in the state (docs/architecture.md §4 "Light clients"): every checkpoint writes
// one entry per transaction, at ReceiptKey(height, index), holding the transaction's hash
// and what the ledger decided (code, fee, created object), and deletes the entries of the
// height that leaves the retention window. A receipt is then proven like any entry, against
// the state root of a certified checkpoint at most ReceiptHeights-1 heights later.
//
// Why in the state rather than a receipts root in each checkpoint: the checkpoint format and
// its hash stay as they are, the query server proves receipts with the state it already
// keeps (no per-height receipt lists beside it), and the cost is bounded: each transaction
// adds one leaf and, ReceiptHeights heights later, removes it — two tree updates per
// transaction, next to the two to four every transaction already makes (sender account,
// income, objects). The reason text is not committed: it is a human message whose wording
// may change between versions, which must never change a state root; a proven receipt
// carries the node's text as a display hint only.

// ReceiptHeights is how many heights of receipts the state keeps: a checkpoint of height h
// holds the receipts of heights h-ReceiptHeights+1 .. h.
const ReceiptHeights = 256

// receiptID is a receipt's key: where its transaction was committed.
type receiptID struct {
	Height uint64
	Index  uint32
}

func (r receiptID) bytes() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 12), r.Height)
	return binary.BigEndian.AppendUint32(b, r.Index)
}

type receiptEntry = ReceiptEntry

// encReceipt: height u64 | index u32 | tx hash[32] | code u8 | fee u64 | created[32].
func encReceipt(e *encoder, r *receiptEntry) {
	e.u64(r.Height)
	e.u32(r.Index)
	e.fixed(r.TxHash[:])
	e.u8(uint8(r.Code))
	e.u64(r.Fee)
	e.fixed(r.Created[:])
}

// TxHash is a transaction's hash: Blake2b-256 of its signed bytes (as node/ledger.TxHash).
func TxHash(raw []byte) [32]byte { return blake2b.Sum256(raw) }

// recordReceipts writes the receipts of the checkpoint of height h (one per transaction, in
// order) and deletes those of height h-ReceiptHeights.
func (s *State) recordReceipts(h uint64, txs [][]byte, rs []Receipt) {
	for i := range txs {
		r := &receiptEntry{Height: h, Index: uint32(i), TxHash: TxHash(txs[i])}
		if i < len(rs) {
			r.Code, r.Fee, r.Created = rs[i].Code, rs[i].Fee, rs[i].Created
		}
		s.receipts.put(receiptID{h, uint32(i)}, r)
	}
	if h <= ReceiptHeights {
		return
	}
	// The old height's entries were flushed long ago: they are all in the tree.
	prefix := append([]byte{kindReceipt}, binary.BigEndian.AppendUint64(nil, h-ReceiptHeights)...)
	var old []receiptID
	s.st.tree.Walk(prefix, func(_, _ [32]byte, p any) bool {
		r := p.(*receiptEntry)
		old = append(old, receiptID{r.Height, r.Index})
		return true
	})
	for _, id := range old {
		s.receipts.del(id)
	}
}

// ReceiptEntry is a proven receipt entry (ReceiptKey): where the transaction was committed,
// its hash, and the ledger's decision.
type ReceiptEntry struct {
	Height  uint64
	Index   uint32
	TxHash  [32]byte
	Code    Code
	Fee     uint64
	Created ObjectID
}

// DecodeReceiptEntry decodes a receipt entry strictly.
func DecodeReceiptEntry(b []byte) (*ReceiptEntry, error) {
	d := newDecoder(b)
	r := &ReceiptEntry{Height: d.U64(), Index: d.U32()}
	d.Fixed(r.TxHash[:])
	r.Code = Code(d.U8())
	r.Fee = d.U64()
	d.Fixed(r.Created[:])
	if err := d.End(); err != nil {
		return nil, err
	}
	if r.Code >= codeEnd {
		return nil, fmt.Errorf("%w: receipt code %d", ErrDecode, r.Code)
	}
	return r, nil
}
