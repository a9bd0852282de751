package staking_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/walrus-go/walrus-go/staking"
)

// receiptsOf returns the receipt entries the state holds for heights from..to, by asking
// each key (the truth the listing is compared with).
func receiptsOf(s *staking.State, from, to uint64) [][]byte {
	var out [][]byte
	for h := from; h <= to; h++ {
		for i := uint32(0); ; i++ {
			v, _ := s.Prove(staking.ReceiptKey(h, i))
			if v == nil {
				break
			}
			out = append(out, v)
		}
	}
	return out
}

func receiptCursor(t *testing.T) func(v []byte) [32]byte {
	return func(v []byte) [32]byte {
		r, err := staking.DecodeReceiptEntry(v)
		if err != nil {
			t.Fatal(err)
		}
		return staking.ReceiptKey(r.Height, r.Index).Path()
	}
}

// TestReceiptListing lists the receipts of ranges of heights in pages of several sizes,
// verifying each page, and compares with the receipt entries the state holds: every one,
// in height and index order, and nothing of a height outside the range.
func TestReceiptListing(t *testing.T) {
	s := scriptState(t).s
	h := s.Height()
	if h < 10 {
		t.Fatalf("a script of %d heights", h)
	}
	sawMany := false
	for _, r := range [][2]uint64{{1, h}, {h - 5, h}, {2, 2}, {h, h}, {h + 1, h + 9}} {
		want := receiptsOf(s, r[0], r[1])
		for _, limit := range []int{1, 2, 1024} {
			got, _ := listAll(t, s, staking.ReceiptListing(r[0], r[1]), limit, receiptCursor(t))
			if len(got) != len(want) {
				t.Fatalf("heights %d..%d, pages of %d: %d receipts listed, the state has %d", r[0], r[1], limit, len(got), len(want))
			}
			for i := range got {
				if !slices.Equal(got[i], want[i]) {
					t.Fatalf("heights %d..%d: receipt %d differs", r[0], r[1], i)
				}
			}
		}
		sawMany = sawMany || len(want) > 2
	}
	if !sawMany {
		t.Fatal("no range with several receipts")
	}
}

// TestReceiptListingLies: a page of receipts with one left out, one added, one of another
// height, or proven for another range of heights does not verify.
func TestReceiptListingLies(t *testing.T) {
	s := scriptState(t).s
	h := s.Height()
	root := s.Root()
	from, to := h-4, h
	l := staking.ReceiptListing(from, to)
	pp := s.ProvePage(l, [32]byte{}, 1024, nil)
	if len(pp.Entries) < 3 || pp.More {
		t.Fatalf("%d receipts, more %v", len(pp.Entries), pp.More)
	}
	if _, _, err := staking.VerifyPage(root, l, [32]byte{}, 1024, nil, pp); err != nil {
		t.Fatal(err)
	}
	outside := s.ProvePage(staking.ReceiptListing(from-1, from-1), [32]byte{}, 1, nil)
	lies := map[string]func(p *staking.PageProof){
		"left out":        func(p *staking.PageProof) { p.Entries = slices.Delete(p.Entries, 1, 2) },
		"added twice":     func(p *staking.PageProof) { p.Entries = slices.Insert(p.Entries, 1, p.Entries[1]) },
		"another height":  func(p *staking.PageProof) { p.Entries[0] = outside.Entries[0] },
		"changed entry":   func(p *staking.PageProof) { p.Entries[1] = slices.Clone(p.Entries[1]); p.Entries[1][50] ^= 1 },
		"more when not":   func(p *staking.PageProof) { p.More, p.Next = true, staking.ReceiptKey(to, 9).Path() },
		"no entry at all": func(p *staking.PageProof) { p.Entries = nil },
	}
	for name, lie := range lies {
		p := &staking.PageProof{More: pp.More, Next: pp.Next, Entries: slices.Clone(pp.Entries), Proof: pp.Proof}
		lie(p)
		if _, _, err := staking.VerifyPage(root, l, [32]byte{}, 1024, nil, p); !errors.Is(err, staking.ErrProof) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The same proof for a wider range: it does not show the heights it leaves out.
	if _, _, err := staking.VerifyPage(root, staking.ReceiptListing(from-1, to), [32]byte{}, 1024, nil, pp); err == nil {
		t.Error("a page of heights 4..0 back verifies as one of 5..0 back")
	}
	// A page cut short (limit 2) proves "more" with the next receipt.
	short := s.ProvePage(l, [32]byte{}, 2, nil)
	if !short.More || len(short.Entries) != 2 {
		t.Fatalf("short page: %d entries, more %v", len(short.Entries), short.More)
	}
	if _, _, err := staking.VerifyPage(root, l, [32]byte{}, 2, nil, short); err != nil {
		t.Fatal(err)
	}
}
