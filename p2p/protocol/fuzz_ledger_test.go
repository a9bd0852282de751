package protocol_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/p2p/protocol/ledgersync"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// FuzzWire feeds arbitrary bytes to every decoder of the control-plane protocols
// (/walrus/tx/1 and /walrus/query/1 answers, queries, ledger sync): none may panic, and
// whatever one accepts must encode back to the same bytes where the encoding is canonical.
func FuzzLedgerDecoders(f *testing.F) {
	f.Add(byte(0), (&query.Query{Kind: query.QueryWaitTx, Wait: time.Second, After: 7}).Encode())
	f.Add(byte(0), (&query.Query{Kind: query.QueryBlobStatus}).Encode())
	f.Add(byte(1), query.EncodeBlobAnswer(&query.BlobAnswer{Height: 3, Objects: make([]staking.Blob, 2)}))
	f.Add(byte(2), query.EncodeAccountAnswer(&query.AccountAnswer{Height: 1}))
	f.Add(byte(3), query.EncodeWaitAnswer(&query.WaitAnswer{Height: 1}))
	f.Add(byte(4), (&tx.Reply{Accepted: true, Message: "m", Height: 9}).Encode())
	f.Add(byte(5), ledgersync.EncodeBatch([][]byte{{1, 2}, {3}}))
	f.Add(byte(6), []byte{1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0})
	f.Add(byte(7), []byte{0, 0, 0, 0, 0, 0, 0, 9})
	f.Add(byte(8), []byte{})
	f.Add(byte(0), (&query.Query{Kind: query.QueryCommittee, Cursor: [32]byte{7}}).Encode())
	f.Add(byte(0), (&query.Query{Kind: query.QueryStakes, Address: staking.Address{1}, Cursor: [32]byte{2}}).Encode())
	f.Add(byte(9), query.EncodeCommitteeAnswer(&query.CommitteeAnswer{Height: 5, Epoch: 1, NShards: 10, NextSelected: true, More: true,
		Candidates: []query.Candidate{{Node: [32]byte{1}, PeerID: "p", Addrs: []string{"/ip4/1.2.3.4/tcp/1"}, Shards: []uint16{0, 4}, NextShards: []uint16{9}},
			{Node: [32]byte{2}}}}))
	f.Add(byte(10), query.EncodeStakesAnswer(&query.StakesAnswer{Height: 2, Epoch: 1, FirstUnselected: 2,
		Stakes: []query.StakeInfo{{ID: staking.ObjectID{1}, Amount: 9, Withdrawing: true, WithdrawAt: 3}}}))
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		switch which % 11 {
		case 0:
			if q, err := query.Decode(b); err == nil {
				if q.Wait > query.MaxWait {
					t.Fatalf("wait %v over the cap", q.Wait)
				}
				if q.Kind != query.QueryWaitTx && !bytes.Equal(q.Encode(), b) {
					t.Fatalf("query %x re-encodes as %x", b, q.Encode())
				}
			}
		case 1:
			_, _ = query.DecodeBlobAnswer(b)
		case 2:
			if a, err := query.DecodeAccountAnswer(b); err == nil && !bytes.Equal(query.EncodeAccountAnswer(a), b) {
				t.Fatalf("account answer %x re-encodes differently", b)
			}
		case 3:
			_, _ = query.DecodeWaitAnswer(b)
		case 4:
			_, _ = tx.DecodeReply(b)
		case 5:
			if recs, err := ledgersync.DecodeBatch(b); err == nil && !bytes.Equal(ledgersync.EncodeBatch(recs), b) {
				t.Fatalf("sync batch %x re-encodes differently", b)
			}
		case 6:
			_, _ = query.DecodeInfo(b)
		case 7:
			_, _ = query.DecodeHeight(b)
		case 8:
			_, _ = ledgersync.DecodeRequest(b)
		case 9:
			if a, err := query.DecodeCommitteeAnswer(b); err == nil && !bytes.Equal(query.EncodeCommitteeAnswer(a), b) {
				t.Fatalf("committee answer %x re-encodes differently", b)
			}
		case 10:
			if a, err := query.DecodeStakesAnswer(b); err == nil && !bytes.Equal(query.EncodeStakesAnswer(a), b) {
				t.Fatalf("stakes answer %x re-encodes differently", b)
			}
		}
	})
}
