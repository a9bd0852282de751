package staking

import "math"

// Proven receipt ranges (docs/architecture.md §4 "Light clients"): a client that must know
// whether a transaction of its own was committed in some heights — not only where a node
// says it was — asks for every receipt of those heights. A height's receipts sit together
// under the receipt kind (pathOf: kind || height BE || index BE), so the receipts of
// heights from..to are one range of paths, listed in pages like the other listings
// (ProvePage, VerifyPage): a page is proven complete, so a receipt can be neither hidden
// nor added. Only heights within the ReceiptHeights retention of the proving checkpoint
// are meaningful: an older height's receipts were deleted, and their range proves empty.

// ReceiptListing lists the receipt entries of heights from..to (inclusive) in path order:
// by height, then index (entries ReceiptKey; DecodeReceiptEntry).
func ReceiptListing(from, to uint64) Listing {
	l := Listing{check: func(v []byte) ([32]byte, Key, bool, error) {
		r, err := DecodeReceiptEntry(v)
		if err != nil {
			return [32]byte{}, Key{}, false, err
		}
		return ReceiptKey(r.Height, r.Index).Path(), Key{}, false, nil
	}}
	l.lo = ReceiptKey(from, 0).Path()
	l.hi = ReceiptKey(to, math.MaxUint32).Path()
	for i := 13; i < 32; i++ {
		l.hi[i] = 0xff
	}
	return l
}
