package ledger

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
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
		var prev *epoch.Committee
		if st.Epoch() > 0 && !st.SyncDone() {
			prev, _ = v.Committee(st.Epoch() - 1)
		}
		return query.EncodeInfo(&query.Info{Stakes: stakes,
			Height: v.Height(), Network: v.Network(), NetworkName: v.NetworkName(), Epoch: st.Epoch(),
			Time: st.Time(), NShards: cfg.NShards, EpochDuration: cfg.EpochDuration, GenesisTime: cfg.GenesisTime,
			Prices: st.Prices(), MaxBlobSize: v.Params().MaxBlobSize(), Committee: st.Committee(), Previous: prev,
		})
	case query.QueryCommittee:
		return query.EncodeCommitteeAnswer(committeePage(v.Height(), st, q.Cursor)), nil
	case query.QueryStakes:
		return query.EncodeStakesAnswer(stakesPage(v.Height(), st, q.Address, q.Cursor)), nil
	case query.QueryBlobs:
		return query.EncodeBlobsAnswer(blobsPage(v.Height(), st, q.Address, q.Cursor)), nil
	case query.QueryProvenBlobStatus, query.QueryProvenAccount, query.QueryProvenInfo, query.QueryEpochLinks:
		return n.serveProven(ctx, q)
	case query.QueryProvenCommittee, query.QueryProvenStakes, query.QueryProvenBlobs:
		return n.serveProvenList(q)
	case query.QueryProvenWaitTx:
		return n.serveProvenWait(ctx, q)
	case query.QueryProvenReceipts:
		return n.serveProvenReceipts(q)
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

// committeePage is a page of the node registry after cursor: every registered node, member
// or candidate, with its votes, its pool and its shards now and in the next committee.
func committeePage(height uint64, st *staking.State, cursor [32]byte) *query.CommitteeAnswer {
	a := &query.CommitteeAnswer{Height: height, Epoch: st.Epoch(), NShards: st.Config().NShards}
	if p, ok := st.NextPrices(); ok {
		a.NextSelected, a.NextPrices = true, p
	}
	ids := st.Nodes()
	i, _ := slices.BinarySearchFunc(ids, epoch.NodeID(cursor), func(a, b epoch.NodeID) int { return bytes.Compare(a[:], b[:]) })
	if i < len(ids) && ids[i] == epoch.NodeID(cursor) {
		i++
	}
	ids = ids[i:]
	if len(ids) > query.MaxCandidatesPerPage {
		ids, a.More = ids[:query.MaxCandidatesPerPage], true
	}
	pools := st.Pools()
	com, next := st.Committee(), st.NextCommittee()
	for _, id := range ids {
		nd, _ := st.Node(id)
		c := query.Candidate{Node: id, Operator: nd.Operator, PeerID: nd.PeerID, Addrs: nd.Addrs,
			Commission: nd.Commission, NextCommission: nd.NextCommission, NextCommissionEpoch: nd.NextCommissionEpoch,
			StoragePrice: nd.StoragePrice, WritePrice: nd.WritePrice, Capacity: nd.Capacity, Pool: pools[id]}
		if m := com.MemberIndex(id); m >= 0 {
			c.Shards = com.Members[m].Shards
		}
		if next != nil {
			if m := next.MemberIndex(id); m >= 0 {
				c.NextShards = next.Members[m].Shards
			}
		}
		a.Candidates = append(a.Candidates, c)
	}
	return a
}

// stakesPage is a page of the stakes owner owns, after cursor.
func stakesPage(height uint64, st *staking.State, owner staking.Address, cursor [32]byte) *query.StakesAnswer {
	a := &query.StakesAnswer{Height: height, Epoch: st.Epoch(), FirstUnselected: st.FirstUnselected()}
	for _, s := range st.StakesOwnedBy(owner) {
		if bytes.Compare(s.ID[:], cursor[:]) <= 0 {
			continue
		}
		if len(a.Stakes) == query.MaxStakesPerPage {
			a.More = true
			break
		}
		a.Stakes = append(a.Stakes, query.StakeInfo{ID: s.ID, Node: s.Node, Amount: s.Amount, Activation: s.Activation,
			Withdrawing: s.Withdrawing, WithdrawAt: s.WithdrawAt})
	}
	return a
}

// blobsPage is a page of the blob objects owner owns (live or expired), after cursor, in
// ascending ID order, without attributes.
func blobsPage(height uint64, st *staking.State, owner staking.Address, cursor [32]byte) *query.BlobsAnswer {
	a := &query.BlobsAnswer{Height: height, Epoch: st.Epoch()}
	_, ids, _ := st.Owned(owner)
	ids = slices.DeleteFunc(ids, func(id staking.ObjectID) bool { return bytes.Compare(id[:], cursor[:]) <= 0 })
	slices.SortFunc(ids, func(x, y staking.ObjectID) int { return bytes.Compare(x[:], y[:]) })
	if len(ids) > query.MaxBlobsPerPage {
		ids, a.More = ids[:query.MaxBlobsPerPage], true
	}
	for _, id := range ids {
		if b, ok := st.Blob(id); ok {
			b.Attributes = nil
			a.Blobs = append(a.Blobs, b)
		}
	}
	return a
}
