package dataplane

import (
	"context"
	"errors"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/shardsync"
)

// handleShardSync answers /walrus/shard-sync/1 (docs/protocol.md §9.13): a page of the pairs
// this node stores on a shard, in blob-ID order, for the node that owns the shard in the
// current epoch and nobody else. The requester is the stream's remote peer, authenticated by
// the libp2p handshake; the committee names each member's peer ID. The page is read on the
// worker pool, so concurrent pulls queue there and are refused as "busy" beyond it.
func (s *Service) handleShardSync(ctx context.Context, from peer.ID, body []byte) ([]byte, error) {
	p := s.cfg.Ledger.Params()
	req, err := shardsync.DecodeRequest(p, body)
	if err != nil {
		return nil, classify(err)
	}
	ep := s.cfg.Ledger.CurrentEpoch()
	if req.Epoch != ep {
		return nil, p2p.Errorf(p2p.CodeUnavailable, "shard sync for epoch %d asked, node is in epoch %d", req.Epoch, ep)
	}
	com, err := s.cfg.Ledger.Committee(ep)
	if err != nil {
		return nil, p2p.Errorf(p2p.CodeUnavailable, "committee of epoch %d: %v", ep, err)
	}
	if m := com.Owner(int(req.Shard)); m < 0 || com.Members[m].PeerID != string(from) {
		return nil, p2p.Errorf(p2p.CodeForbidden, "shard %d is not the asking node's in epoch %d", req.Shard, ep)
	}
	return s.ask(ctx, func(ctx context.Context) ([]byte, error) {
		limit := int(req.Limit)
		ids, err := s.cfg.Store.ShardBlobs(ctx, int(req.Shard), req.After, limit+1)
		if err != nil {
			return nil, err
		}
		pg := shardsync.Page{More: len(ids) > limit}
		budget := shardsync.ResponseCap(p) - shardsync.ResponseHeaderLen
		for _, id := range ids[:min(len(ids), limit)] {
			it, err := s.pairBytes(ctx, id, int(req.Shard))
			if err != nil {
				return nil, err
			}
			size := shardsync.ItemLen(len(it.Primary), len(it.Secondary))
			if size > budget {
				pg.More = true // the rest in the next page
				break
			}
			budget -= size
			pg.Items = append(pg.Items, it)
		}
		s.cfg.Logger.Debug("served shard sync", "peer_id", from, "shard", req.Shard, "blobs", len(pg.Items), "more", pg.More)
		return pg.Encode(), nil
	})
}

// pairBytes returns the stored pair of blob id on shard, or an item with both slivers empty
// when the node does not hold both.
func (s *Service) pairBytes(ctx context.Context, id codec.BlobID, shard int) (shardsync.Item, error) {
	it := shardsync.Item{BlobID: id}
	pr, err := s.cfg.Store.SliverBytes(ctx, id, shard, codec.AxisPrimary)
	if err == nil {
		it.Secondary, err = s.cfg.Store.SliverBytes(ctx, id, shard, codec.AxisSecondary)
	}
	switch {
	case errors.Is(err, blobstore.ErrNotFound):
		return shardsync.Item{BlobID: id}, nil
	case err != nil:
		return it, err
	}
	it.Primary = pr
	return it, nil
}
