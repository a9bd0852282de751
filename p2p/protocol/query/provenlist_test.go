package query_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// TestProvenListRoundTrip: the proven listing and receipt answers and their queries survive
// their encodings.
func TestProvenListRoundTrip(t *testing.T) {
	c := newChain(t)
	c.commit(t, c.g.GenesisTime+1, c.transfer(staking.Address{1}))
	pp := c.st.ProvePage(staking.NodeListing(), [32]byte{}, 1, []staking.Key{staking.ParamsKey(), staking.CommitteeKey(true)})
	a := &query.ProvenPageAnswer{Height: 1, At: c.last, Page: *pp, Pools: []staking.Pool{{Active: 1, Stakes: 2}}}
	b := query.EncodeProvenPageAnswer(a)
	got, err := query.DecodeProvenPageAnswer(b)
	if err != nil || !bytes.Equal(query.EncodeProvenPageAnswer(got), b) || got.Page.More != pp.More || len(got.Page.Points) != 2 || got.Page.Points[1] != nil {
		t.Fatalf("page answer: %v", err)
	}
	val, pr := c.st.Prove(staking.ReceiptKey(1, 0))
	w := &query.ProvenWaitAnswer{Height: 1, At: c.last, Where: 1, Message: "m", Entry: query.ProvenEntry{Value: val, Proof: pr}}
	wb := query.EncodeProvenWaitAnswer(w)
	gw, err := query.DecodeProvenWaitAnswer(wb)
	if err != nil || !bytes.Equal(query.EncodeProvenWaitAnswer(gw), wb) || gw.Message != "m" || val == nil {
		t.Fatalf("wait answer: %v", err)
	}
	for _, q := range []*query.Query{
		{Kind: query.QueryProvenCommittee, Cursor: [32]byte{7}, At: 3},
		{Kind: query.QueryProvenStakes, Address: staking.Address{1}, Cursor: [32]byte{7}, At: 3},
		{Kind: query.QueryProvenBlobs, Address: staking.Address{1}, Cursor: [32]byte{7}, At: 3},
		{Kind: query.QueryProvenWaitTx, TxHash: [32]byte{2}, Wait: time.Second, After: 5},
	} {
		d, err := query.Decode(q.Encode())
		if err != nil || *d != *q {
			t.Fatalf("%v: %+v, %v", q.Kind, d, err)
		}
	}
}

// FuzzProvenListDecoders: the proven listing and receipt decoders never panic and accept
// only canonical encodings.
func FuzzProvenListDecoders(f *testing.F) {
	c := newChain(f)
	c.commit(f, c.g.GenesisTime+1, c.transfer(staking.Address{1}))
	pp := c.st.ProvePage(staking.NodeListing(), [32]byte{}, 1, []staking.Key{staking.ParamsKey(), staking.CommitteeKey(true)})
	f.Add(false, query.EncodeProvenPageAnswer(&query.ProvenPageAnswer{Height: 1, At: c.last, Page: *pp, Pools: []staking.Pool{{Active: 1}}}))
	val, pr := c.st.Prove(staking.ReceiptKey(1, 0))
	f.Add(true, query.EncodeProvenWaitAnswer(&query.ProvenWaitAnswer{Height: 1, At: c.last, Where: 1, Entry: query.ProvenEntry{Value: val, Proof: pr}}))
	f.Fuzz(func(t *testing.T, wait bool, b []byte) {
		var re []byte
		if wait {
			if a, err := query.DecodeProvenWaitAnswer(b); err == nil {
				re = query.EncodeProvenWaitAnswer(a)
			}
		} else if a, err := query.DecodeProvenPageAnswer(b); err == nil {
			re = query.EncodeProvenPageAnswer(a)
		}
		if re != nil && !bytes.Equal(re, b) {
			t.Fatalf("%x re-encodes as %x", b, re)
		}
	})
}
