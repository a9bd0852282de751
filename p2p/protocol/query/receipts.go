package query

import (
	"fmt"

	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/staking"
)

// Proven receipt ranges (kind 17; docs/protocol.md §9.7): every receipt of the heights
// FromHeight..ToHeight, a page at a time after Cursor (a tree path: the last receipt's,
// zero for the first page), proven complete against a certified checkpoint — the one of
// height At, 0 for the node's latest. A client uses it to prove that a transaction of its
// own was not committed in some heights (its nonce recovery, node/client/nonce.go): a
// page can neither hide a receipt nor add one (staking.ReceiptListing).

// QueryProvenReceipts asks for the receipts of a range of heights:
// from u64 | to u64 | cursor[32] | at u64.
const QueryProvenReceipts Kind = 17

// MaxReceiptSpan caps the heights of one QueryProvenReceipts (to − from + 1); a longer
// range is asked in several queries.
const MaxReceiptSpan = 64

// MaxProvenReceiptsPerPage caps the receipts of one page (85 bytes each, plus about as
// much again of multiproof).
const MaxProvenReceiptsPerPage = 1024

// ReceiptEntrySize is the size of a receipt entry's canonical encoding: height u64 |
// index u32 | tx_hash[32] | code u8 | fee u64 | created[32].
const ReceiptEntrySize = 8 + 4 + 32 + 1 + 8 + 32

// ProvenReceiptsAnswer answers QueryProvenReceipts: a page of the receipt entries of the
// asked heights, in height and index order, with the multiproof of the page's range.
type ProvenReceiptsAnswer struct {
	Height   uint64 // the checkpoint proven at
	At       Certified
	More     bool
	Next     [32]byte // with More: the path of the first receipt after the page
	Receipts [][]byte // receipt entries, ReceiptEntrySize bytes each
	Proof    []byte   // smt multiproof
}

// EncodeProvenReceiptsAnswer encodes a ProvenReceiptsAnswer.
func EncodeProvenReceiptsAnswer(a *ProvenReceiptsAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = appendCertified(b, &a.At)
	b = wire.AppendBool(b, a.More)
	b = append(b, a.Next[:]...)
	b = wire.AppendU32(b, uint32(len(a.Receipts)))
	for _, e := range a.Receipts {
		if len(e) != ReceiptEntrySize { // the server's bug: an entry that never verifies
			e = make([]byte, ReceiptEntrySize)
		}
		b = append(b, e...)
	}
	return wire.AppendU32Bytes(b, a.Proof)
}

// DecodeProvenReceiptsAnswer parses an untrusted ProvenReceiptsAnswer (shape and caps
// only; VerifyReceiptsPage checks the facts). Entries alias b.
func DecodeProvenReceiptsAnswer(b []byte) (*ProvenReceiptsAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &ProvenReceiptsAnswer{Height: r.U64()}
	a.At = readCertified(&r)
	a.More = r.Bool()
	r.Fixed(a.Next[:])
	n := r.Count(ReceiptEntrySize)
	if n > MaxProvenReceiptsPerPage {
		r.Failf("%d receipts", n)
	}
	if r.Err() == nil && n > 0 {
		a.Receipts = make([][]byte, 0, n)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		if e := r.Take(ReceiptEntrySize); e != nil {
			a.Receipts = append(a.Receipts, e)
		}
	}
	a.Proof = r.U32Bytes(r.Len())
	if err := r.End(); err != nil {
		return nil, err
	}
	return a, nil
}

// ReceiptRange checks the heights asked of a QueryProvenReceipts: 1 ≤ from ≤ to, at most
// MaxReceiptSpan heights.
func ReceiptRange(from, to uint64) error {
	if from == 0 || from > to || to-from >= MaxReceiptSpan {
		return fmt.Errorf("%w: receipts of heights %d..%d (at most %d heights from 1)", ErrMalformed, from, to, MaxReceiptSpan)
	}
	return nil
}

// VerifyReceiptsPage checks a QueryProvenReceipts answer for the page of heights
// from..to after cursor against a verified checkpoint (the caller checked its
// certificate and that a.Height is its height). The heights must be ones the checkpoint
// keeps: from..to within its ReceiptHeights retention and not above it — an older
// height's receipts are deleted, and their range proves empty, which proves nothing. It
// returns the receipts in height and index order and the cursor of the next page.
func VerifyReceiptsPage(cp *staking.Checkpoint, from, to uint64, cursor [32]byte, a *ProvenReceiptsAnswer) ([]staking.ReceiptEntry, [32]byte, error) {
	if err := ReceiptRange(from, to); err != nil {
		return nil, [32]byte{}, err
	}
	if to > cp.Height || from+staking.ReceiptHeights <= cp.Height {
		return nil, [32]byte{}, fmt.Errorf("%w: receipts of heights %d..%d are not all kept at height %d", ErrUnverified, from, to, cp.Height)
	}
	pp := &staking.PageProof{More: a.More, Next: a.Next, Entries: a.Receipts, Proof: a.Proof}
	if _, _, err := staking.VerifyPage(cp.StateRoot, staking.ReceiptListing(from, to), cursor, MaxProvenReceiptsPerPage, nil, pp); err != nil {
		return nil, [32]byte{}, fmt.Errorf("%w: receipts: %v", ErrUnverified, err)
	}
	out := make([]staking.ReceiptEntry, 0, len(a.Receipts))
	var next [32]byte
	for _, v := range a.Receipts {
		e, err := staking.DecodeReceiptEntry(v)
		if err != nil { // verified entries decode; never
			return nil, [32]byte{}, fmt.Errorf("%w: receipt: %v", ErrUnverified, err)
		}
		out = append(out, *e)
		next = staking.ReceiptKey(e.Height, e.Index).Path()
	}
	return out, next, nil
}
