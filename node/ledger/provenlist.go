package ledger

import (
	"context"
	"time"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// serveProvenList answers the proven listings (kinds 13 to 15): a page of the view of the
// asked height (the latest when At is 0; the pages of one listing name the first page's
// height, so they describe one state), proven against its certified checkpoint.
func (n *Net) serveProvenList(q *query.Query) ([]byte, error) {
	v, d, err := n.provenView(q.At)
	if err != nil {
		return nil, err
	}
	st := v.State()
	a := &query.ProvenPageAnswer{Height: v.Height(), At: certifiedOf(d)}
	switch q.Kind {
	case query.QueryProvenCommittee:
		extra := []staking.Key{staking.ParamsKey(), staking.CommitteeKey(false), staking.CommitteeKey(true)}
		a.Page = *st.ProvePage(staking.NodeListing(), q.Cursor, query.MaxProvenCandidatesPerPage, extra)
		pools := st.Pools()
		for _, e := range a.Page.Entries {
			if nd, err := staking.DecodeNodeEntry(e); err == nil {
				a.Pools = append(a.Pools, pools[nd.ID])
			}
		}
	case query.QueryProvenStakes:
		a.Page = *st.ProvePage(staking.StakeListing(q.Address), q.Cursor, query.MaxProvenStakesPerPage, []staking.Key{staking.CommitteeKey(true)})
	case query.QueryProvenBlobs:
		a.Page = *st.ProvePage(staking.BlobListing(q.Address), q.Cursor, query.MaxProvenBlobsPerPage, nil)
	default:
		return nil, p2p.Errorf(p2p.CodeBadRequest, "unknown query")
	}
	return query.EncodeProvenPageAnswer(a), nil
}

// serveProvenWait answers QueryProvenWaitTx: it waits for the receipt as QueryWaitTx does,
// then proves the state's receipt entry of the transaction's height and index at the
// latest view (published before waiters are answered, so it holds that height).
func (n *Net) serveProvenWait(ctx context.Context, q *query.Query) ([]byte, error) {
	wctx, cancel := context.WithTimeout(ctx, max(q.Wait, time.Millisecond))
	defer cancel()
	r, err := n.l.WaitTxAfter(wctx, q.TxHash, q.After)
	if err != nil {
		if wctx.Err() != nil {
			return nil, p2p.Errorf(p2p.CodeNotFound, "transaction not committed yet")
		}
		return nil, p2p.Errorf(p2p.CodeNotFound, "%v", err)
	}
	v := n.l.View()
	d := v.Commit()
	if d == nil || v.Height() < r.Height || v.Height() >= r.Height+staking.ReceiptHeights {
		return nil, p2p.Errorf(p2p.CodeNotFound, "the receipt of height %d is not provable at height %d", r.Height, v.Height())
	}
	a := &query.ProvenWaitAnswer{Height: v.Height(), At: certifiedOf(d), Where: r.Height, Index: r.Index, Message: r.Message}
	a.Entry.Value, a.Entry.Proof = v.State().Prove(staking.ReceiptKey(r.Height, r.Index))
	if a.Entry.Value == nil {
		return nil, p2p.Errorf(p2p.CodeNotFound, "no receipt entry at height %d index %d", r.Height, r.Index)
	}
	return query.EncodeProvenWaitAnswer(a), nil
}

// serveProvenReceipts answers QueryProvenReceipts: a page of the receipts of heights
// FromHeight..ToHeight (the decoder bounds the span), proven at the view of the asked
// height (the latest when At is 0). Heights the view does not keep — above it, or past
// the receipts' retention — are not found: their range would prove empty.
func (n *Net) serveProvenReceipts(q *query.Query) ([]byte, error) {
	v, d, err := n.provenView(q.At)
	if err != nil {
		return nil, err
	}
	h := v.Height()
	if q.ToHeight > h || q.FromHeight+staking.ReceiptHeights <= h {
		return nil, p2p.Errorf(p2p.CodeNotFound, "the receipts of heights %d..%d are not all kept at height %d", q.FromHeight, q.ToHeight, h)
	}
	pp := v.State().ProvePage(staking.ReceiptListing(q.FromHeight, q.ToHeight), q.Cursor, query.MaxProvenReceiptsPerPage, nil)
	return query.EncodeProvenReceiptsAnswer(&query.ProvenReceiptsAnswer{Height: h, At: certifiedOf(d),
		More: pp.More, Next: pp.Next, Receipts: pp.Entries, Proof: pp.Proof}), nil
}
