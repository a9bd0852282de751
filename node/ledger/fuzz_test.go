package ledger_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/staking"
)

// FuzzWire feeds arbitrary bytes to every decoder of the control-plane protocols
// (/walrus/tx/1 and /walrus/query/1 answers, queries, ledger sync): none may panic, and
// whatever one accepts must encode back to the same bytes where the encoding is canonical.
func FuzzWire(f *testing.F) {
	f.Add(byte(0), (&ledger.Query{Kind: ledger.QueryWaitTx, Wait: time.Second, After: 7}).Encode())
	f.Add(byte(0), (&ledger.Query{Kind: ledger.QueryBlobStatus}).Encode())
	f.Add(byte(1), ledger.EncodeBlobAnswer(&ledger.BlobAnswer{Height: 3, Objects: make([]staking.Blob, 2)}))
	f.Add(byte(2), ledger.EncodeAccountAnswer(&ledger.AccountAnswer{Height: 1}))
	f.Add(byte(3), ledger.EncodeWaitAnswer(&ledger.WaitAnswer{Height: 1}))
	f.Add(byte(4), ledger.EncodeTxReply(&ledger.TxReply{Accepted: true, Message: "m", Height: 9}))
	f.Add(byte(5), ledger.EncodeSyncBatch([][]byte{{1, 2}, {3}}))
	f.Add(byte(6), []byte{1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0})
	f.Add(byte(7), []byte{0, 0, 0, 0, 0, 0, 0, 9})
	f.Add(byte(8), []byte{})
	f.Fuzz(func(t *testing.T, which byte, b []byte) {
		switch which % 9 {
		case 0:
			if q, err := ledger.DecodeQuery(b); err == nil {
				if q.Wait > ledger.MaxWait {
					t.Fatalf("wait %v over the cap", q.Wait)
				}
				if q.Kind != ledger.QueryWaitTx && !bytes.Equal(q.Encode(), b) {
					t.Fatalf("query %x re-encodes as %x", b, q.Encode())
				}
			}
		case 1:
			_, _ = ledger.DecodeBlobAnswer(b)
		case 2:
			if a, err := ledger.DecodeAccountAnswer(b); err == nil && !bytes.Equal(ledger.EncodeAccountAnswer(a), b) {
				t.Fatalf("account answer %x re-encodes differently", b)
			}
		case 3:
			_, _ = ledger.DecodeWaitAnswer(b)
		case 4:
			_, _ = ledger.DecodeTxReply(b)
		case 5:
			if recs, err := ledger.DecodeSyncBatch(b); err == nil && !bytes.Equal(ledger.EncodeSyncBatch(recs), b) {
				t.Fatalf("sync batch %x re-encodes differently", b)
			}
		case 6:
			_, _ = ledger.DecodeInfo(b)
		case 7:
			_, _ = ledger.DecodeHeight(b)
		case 8:
			_, _ = ledger.DecodeSyncRequest(b)
		}
	})
}
