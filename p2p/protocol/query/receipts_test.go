package query_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// receiptsChain is a chain of a few heights of transfers; it returns the chain and the
// verifier of its answers.
func receiptsChain(t testing.TB) (*chain, *verifier) {
	c := newChain(t)
	genesis := c.st.Committee()
	for h := 0; h < 5; h++ {
		c.commit(t, c.g.GenesisTime+int64(h+1)*1000, c.transfer(staking.Address{1}), c.transfer(staking.Address{2}), c.transfer(staking.Address{3}))
	}
	return c, &verifier{network: c.g.NetworkID(), nShards: 12, coms: map[uint32]*epoch.Committee{0: genesis}, cache: map[[32]byte]*staking.Checkpoint{}}
}

func receiptsAnswer(c *chain, from, to uint64, cursor [32]byte, limit int) *query.ProvenReceiptsAnswer {
	pp := c.st.ProvePage(staking.ReceiptListing(from, to), cursor, limit, nil)
	return &query.ProvenReceiptsAnswer{Height: c.st.Height(), At: c.last, More: pp.More, Next: pp.Next, Receipts: pp.Entries, Proof: pp.Proof}
}

// TestReceiptsPage: a proven page of the receipts of a range of heights verifies, lists
// every receipt of those heights in order, pages on with its cursor, and fails when any
// one of its bytes changes or when its heights are not all kept at its checkpoint.
func TestReceiptsPage(t *testing.T) {
	c, v := receiptsChain(t)
	h := c.st.Height()
	check := func(from, to uint64, cursor [32]byte) func(b []byte) error {
		return func(b []byte) error {
			a, err := query.DecodeProvenReceiptsAnswer(b)
			if err != nil {
				return err
			}
			cp, err := v.certified(a.Height, &a.At)
			if err != nil {
				return err
			}
			_, _, err = query.VerifyReceiptsPage(cp, from, to, cursor, a)
			return err
		}
	}
	whole := query.EncodeProvenReceiptsAnswer(receiptsAnswer(c, 2, h, [32]byte{}, query.MaxProvenReceiptsPerPage))
	a, _ := query.DecodeProvenReceiptsAnswer(whole)
	cp, err := v.certified(a.Height, &a.At)
	if err != nil {
		t.Fatal(err)
	}
	rs, _, err := query.VerifyReceiptsPage(cp, 2, h, [32]byte{}, a)
	if err != nil || len(rs) != 3*int(h-1) || a.More {
		t.Fatalf("%d receipts, more %v: %v", len(rs), a.More, err)
	}
	for i, r := range rs {
		if r.Height != 2+uint64(i/3) || r.Index != uint32(i%3) || !r.Code.Admitted() {
			t.Fatalf("receipt %d: %+v", i, r)
		}
	}
	flipEach(t, "whole range", whole, 0, check(2, h, [32]byte{}))

	// Pages of 2: the second page after the first's cursor.
	first := receiptsAnswer(c, 2, h, [32]byte{}, 2)
	rs1, next, err := query.VerifyReceiptsPage(cp, 2, h, [32]byte{}, first)
	if err != nil || !first.More || len(rs1) != 2 {
		t.Fatalf("first page: %d, %v", len(rs1), err)
	}
	second := query.EncodeProvenReceiptsAnswer(receiptsAnswer(c, 2, h, next, 2))
	flipEach(t, "second page", second, 0, check(2, h, next))
	if check(2, h, [32]byte{})(second) == nil {
		t.Fatal("the second page verifies as the first")
	}
	// A page proven for other heights than asked, or heights the checkpoint does not keep.
	if check(3, h, [32]byte{})(whole) == nil {
		t.Fatal("a page of heights 2.. verifies as one of 3..")
	}
	for _, r := range [][2]uint64{{h, h + 1}, {0, 1}, {3, 2}, {1, 1 + query.MaxReceiptSpan}} {
		if _, _, err := query.VerifyReceiptsPage(cp, r[0], r[1], [32]byte{}, a); err == nil {
			t.Fatalf("heights %d..%d verified at height %d", r[0], r[1], h)
		}
	}
	old := &staking.Checkpoint{Height: 2 + staking.ReceiptHeights, StateRoot: cp.StateRoot}
	if _, _, err := query.VerifyReceiptsPage(old, 2, 3, [32]byte{}, a); !errors.Is(err, query.ErrUnverified) {
		t.Fatalf("heights out of the retention: %v", err)
	}
	if len(a.Receipts[0]) != query.ReceiptEntrySize {
		t.Fatalf("a receipt entry of %d bytes", len(a.Receipts[0]))
	}
}

// TestReceiptsQueryEncoding: kind 17 round-trips; a range of no heights, of height 0 or
// of more than MaxReceiptSpan heights is malformed.
func TestReceiptsQueryEncoding(t *testing.T) {
	q := &query.Query{Kind: query.QueryProvenReceipts, FromHeight: 7, ToHeight: 7 + query.MaxReceiptSpan - 1, Cursor: [32]byte{1}, At: 99}
	got, err := query.Decode(q.Encode())
	if err != nil || *got != *q {
		t.Fatalf("%+v, %v", got, err)
	}
	for _, r := range [][2]uint64{{0, 0}, {5, 4}, {1, query.MaxReceiptSpan + 1}} {
		q := &query.Query{Kind: query.QueryProvenReceipts, FromHeight: r[0], ToHeight: r[1]}
		if _, err := query.Decode(q.Encode()); !errors.Is(err, query.ErrMalformed) {
			t.Fatalf("heights %d..%d: %v", r[0], r[1], err)
		}
	}
	if _, err := query.Decode(append(q.Encode(), 0)); err == nil {
		t.Fatal("a trailing byte")
	}
}

// FuzzProvenReceiptsDecoder: the kind-17 answer and request decoders never panic, and what
// they accept re-encodes to the same bytes.
func FuzzProvenReceiptsDecoder(f *testing.F) {
	c, _ := receiptsChain(f)
	f.Add(false, query.EncodeProvenReceiptsAnswer(receiptsAnswer(c, 2, c.st.Height(), [32]byte{}, 4)))
	f.Add(false, query.EncodeProvenReceiptsAnswer(&query.ProvenReceiptsAnswer{}))
	f.Add(true, (&query.Query{Kind: query.QueryProvenReceipts, FromHeight: 1, ToHeight: 3, At: 2}).Encode())
	f.Fuzz(func(t *testing.T, req bool, b []byte) {
		var re []byte
		if req {
			if q, err := query.Decode(b); err == nil && q.Kind == query.QueryProvenReceipts {
				re = q.Encode()
			}
		} else if a, err := query.DecodeProvenReceiptsAnswer(b); err == nil {
			if len(a.Receipts) > query.MaxProvenReceiptsPerPage {
				t.Fatalf("%d receipts", len(a.Receipts))
			}
			re = query.EncodeProvenReceiptsAnswer(a)
		}
		if re != nil && !bytes.Equal(re, b) {
			t.Fatalf("%x re-encodes as %x", b, re)
		}
	})
}
