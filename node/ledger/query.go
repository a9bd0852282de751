package ledger

import (
	"context"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
)

// serveQuery answers /walrus/query/1 from the latest View. Every answer carries the height
// it reflects, so a client comparing nodes can tell stale from wrong.
func (n *Net) serveQuery(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
	q, err := query.Decode(req)
	if err != nil {
		return nil, p2p.Errorf(p2p.CodeBadRequest, "%v", err)
	}
	v := n.l.View()
	st := v.State()
	switch q.Kind {
	case query.QueryHeight:
		return query.EncodeHeight(v.Height()), nil
	case query.QueryBlobStatus:
		a := &query.BlobAnswer{Height: v.Height(), Status: st.BlobStatus(q.BlobID)}
		for _, oid := range st.BlobObjects(q.BlobID) {
			if b, ok := st.Blob(oid); ok {
				b.Attributes = nil
				a.Objects = append(a.Objects, b)
			}
		}
		return query.EncodeBlobAnswer(a), nil
	case query.QueryAccount:
		return query.EncodeAccountAnswer(&query.AccountAnswer{Height: v.Height(), Account: st.Account(q.Address)}), nil
	case query.QueryInfo:
		cfg := st.Config()
		com := st.Committee()
		stakes := make([]uint64, len(com.Members))
		for i := range com.Members {
			stakes[i] = st.StakeOf(com.Members[i].Node, st.Epoch())
		}
		return query.EncodeInfo(&query.Info{Stakes: stakes,
			Height: v.Height(), Network: v.Network(), NetworkName: v.NetworkName(), Epoch: st.Epoch(),
			Time: st.Time(), NShards: cfg.NShards, EpochDuration: cfg.EpochDuration, GenesisTime: cfg.GenesisTime,
			Prices: st.Prices(), MaxBlobSize: v.Params().MaxBlobSize(), Committee: st.Committee(),
		})
	case query.QueryWaitTx:
		wctx, cancel := context.WithTimeout(ctx, max(q.Wait, time.Millisecond))
		defer cancel()
		r, err := n.l.WaitTxAfter(wctx, q.TxHash, q.After)
		if err != nil {
			if wctx.Err() != nil {
				return nil, p2p.Errorf(p2p.CodeNotFound, "transaction not committed yet")
			}
			return nil, p2p.Errorf(p2p.CodeNotFound, "%v", err)
		}
		return query.EncodeWaitAnswer(&query.WaitAnswer{Height: n.l.Height(), Receipt: r}), nil
	}
	return nil, p2p.Errorf(p2p.CodeBadRequest, "unknown query")
}
