package dataplane

import (
	"context"
	"errors"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
)

// handleRecovery answers /walrus/recovery-symbol/1 (docs/protocol.md §4): for each target
// sliver, the symbols this node's own source slivers of the other axis contribute, each with
// its Merkle proof. It answers from every pair it stores (its shards of this epoch, and
// shards it lost at an epoch change and still keeps until the change completes, which is
// what recovery during a change needs), only for registered or certified blobs, and never
// more than the response cap: targets that do not fit are marked unavailable, to be asked
// again. The work runs on the worker pool, so
// a flood of requests queues there and is refused as "busy" beyond it; and each peer may
// have at most Config.RecoveryPerPeer requests (of both versions) in flight, queued or
// served, so one peer cannot fill the pool: beyond that its requests are refused with
// CodeUnavailable, which a fetcher takes as "this member failed" and asks others
// (node/blobsync).
//
// Each source sliver is expanded once per request, whatever the number of targets it serves,
// and dropped before the next: memory is one expansion plus the answer.
func (s *Service) handleRecovery(ctx context.Context, from peer.ID, body []byte) ([]byte, error) {
	p := s.cfg.Ledger.Params()
	targets, err := recovery.DecodeRequest(p, body)
	if err != nil {
		return nil, classify(err)
	}
	done, err := s.admitRecovery(from)
	if err != nil {
		s.cfg.Logger.Debug("recovery symbols refused: peer at its bound", "peer_id", from)
		return nil, err
	}
	defer done()
	return s.ask(ctx, func(ctx context.Context) ([]byte, error) {
		results := make([]recovery.Result, len(targets))
		// Targets served by the same source slivers: one blob, one target axis.
		type group struct {
			id   codec.BlobID
			axis codec.Axis
		}
		groups := make(map[group][]int)
		var order []group
		for i, t := range targets {
			if err := s.writable(t.BlobID); err != nil {
				results[i].Code = p2p.CodeForbidden
				continue
			}
			g := group{t.BlobID, t.Axis}
			if _, ok := groups[g]; !ok {
				order = append(order, g)
			}
			groups[g] = append(groups[g], i)
		}
		for _, g := range order {
			stored, err := s.cfg.Store.StoredShards(ctx, g.id)
			if err != nil {
				return nil, err
			}
			if err := s.recoverySymbols(ctx, p, stored, g.id, g.axis, targets, groups[g], results); err != nil {
				return nil, err
			}
		}
		size := recovery.HeaderLen
		for i := range results {
			res := &results[i]
			if res.Code == 0 && len(res.Symbols) == 0 {
				res.Code = p2p.CodeNotFound // no source sliver of it here
			}
			if res.Code == 0 && size+res.EncodedLen() > recovery.ResponseCap(p) {
				*res = recovery.Result{Code: p2p.CodeUnavailable}
			}
			size += res.EncodedLen()
		}
		s.cfg.Logger.Debug("served recovery symbols", "peer_id", from, "targets", len(targets), "bytes", size)
		return recovery.EncodeResponse(results), nil
	})
}

// recoverySymbols adds to results[i], for each target i in idx (all of blob id and target
// axis), the symbol of every stored source sliver of the other axis on the given shards.
func (s *Service) recoverySymbols(ctx context.Context, p codec.Params, shards []uint16, id codec.BlobID,
	target codec.Axis, targets []recovery.Target, idx []int, results []recovery.Result) error {
	return s.eachSource(ctx, p, shards, id, target, func(x *codec.ExpandedSliver) {
		for _, i := range idx {
			if l := int(targets[i].Limit); l != 0 && len(results[i].Symbols) >= l {
				continue
			}
			sym, err := x.RecoverySymbol(int(targets[i].Index))
			if err != nil {
				continue
			}
			results[i].Symbols = append(results[i].Symbols, sym.MarshalBCS())
		}
	})
}

// sourceIndex is the index of the source sliver (of the axis other than target) that shard
// holds for blob id, and whether it can serve a target of that axis (a secondary target
// only takes primary sources below the usable bound).
func sourceIndex(p codec.Params, id codec.BlobID, shard uint16, target codec.Axis) (int, bool) {
	index := p.PairIndexForShard(id, int(shard))
	if target == codec.AxisPrimary {
		return p.SecondaryIndexOfPair(index), true
	}
	return index, index < p.UsablePrimarySlivers()
}

// eachSource expands, one at a time, every stored source sliver on the given shards that
// can serve targets of axis target, and hands it to fn.
func (s *Service) eachSource(ctx context.Context, p codec.Params, shards []uint16, id codec.BlobID,
	target codec.Axis, fn func(x *codec.ExpandedSliver)) error {
	src := target.Other()
	for _, shard := range shards {
		if err := ctx.Err(); err != nil {
			return err
		}
		index, ok := sourceIndex(p, id, shard, target)
		if !ok {
			continue // RecoverSliver cannot use it for a secondary target
		}
		sl, err := s.cfg.Store.Sliver(ctx, id, int(shard), src)
		if errors.Is(err, blobstore.ErrNotFound) {
			continue // not stored (yet): other nodes answer for it
		}
		if err != nil {
			return err
		}
		if int(sl.Index) != index {
			continue // cannot happen: the store checks pairs on write
		}
		x, err := codec.ExpandSliver(p, &sl)
		if err != nil {
			s.cfg.Logger.Warn("stored sliver does not expand", "blob_id", id, "shard", shard, "axis", src, "err", err)
			continue
		}
		fn(x)
	}
	return nil
}

// handleRecovery2 answers /walrus/recovery-symbol/2: like handleRecovery, but an item names
// many targets of one axis of one blob, and each source sliver answers them with its cells
// and one multiproof (codec.SymbolBatch). Each source sliver is expanded once per request
// whatever the number of items it serves. Items are admitted against the response cap
// before any batch is built, from their worst case (limit or held sources, whichever is
// less, times one source's answer); the rest are marked unavailable.
func (s *Service) handleRecovery2(ctx context.Context, from peer.ID, body []byte) ([]byte, error) {
	p := s.cfg.Ledger.Params()
	items, err := recovery.DecodeRequest2(p, body)
	if err != nil {
		return nil, classify(err)
	}
	done, err := s.admitRecovery(from)
	if err != nil {
		s.cfg.Logger.Debug("recovery symbols refused: peer at its bound", "peer_id", from)
		return nil, err
	}
	defer done()
	return s.ask(ctx, func(ctx context.Context) ([]byte, error) {
		results := make([]recovery.ItemResult, len(items))
		type group struct {
			id   codec.BlobID
			axis codec.Axis
		}
		groups := make(map[group][]int)
		var order []group
		for i, it := range items {
			if err := s.writable(it.BlobID); err != nil {
				results[i].Code = p2p.CodeForbidden
				continue
			}
			g := group{it.BlobID, it.Axis}
			if _, ok := groups[g]; !ok {
				order = append(order, g)
			}
			groups[g] = append(groups[g], i)
		}
		// Every item takes at least its code byte; an admitted one its worst case.
		limit, size := recovery.ResponseCap2(p), recovery.HeaderLen+len(items)
		hashes := make([]int, len(items))
		for _, g := range order {
			stored, err := s.cfg.Store.StoredShards(ctx, g.id)
			if err != nil {
				return nil, err
			}
			held := 0
			for _, sh := range stored {
				if _, ok := sourceIndex(p, g.id, sh, g.axis); ok {
					held++
				}
			}
			admitted := false
			err = s.eachSource(ctx, p, stored, g.id, g.axis, func(x *codec.ExpandedSliver) {
				sz := int(x.Sliver.SymbolSize)
				if !admitted {
					admitted = true
					for _, i := range groups[g] {
						h, err := codec.MultiProofLen(p.N, items[i].Targets)
						if err != nil {
							results[i].Code = p2p.CodeBadRequest // cannot happen: decoded
							continue
						}
						hashes[i] = h
						srcs := held
						if l := int(items[i].Limit); l != 0 {
							srcs = min(srcs, l)
						}
						need := recovery.ItemAnswerLen2(sz, len(items[i].Targets), h, srcs) - 1
						if size+need > limit {
							results[i].Code = p2p.CodeUnavailable
							continue
						}
						size += need
						results[i].SymbolSize = sz
					}
				}
				for _, i := range groups[g] {
					res := &results[i]
					if res.Code != 0 || res.SymbolSize != sz {
						continue // not admitted, or (cannot happen) another symbol size
					}
					if l := int(items[i].Limit); l != 0 && len(res.Batches) >= l {
						continue
					}
					b, err := x.SymbolBatch(items[i].Targets)
					if err != nil || len(b.Proof.Hashes) != hashes[i] {
						continue
					}
					res.Batches = append(res.Batches, b)
				}
			})
			if err != nil {
				return nil, err
			}
		}
		for i := range results {
			if res := &results[i]; res.Code == 0 && len(res.Batches) == 0 {
				res.Code = p2p.CodeNotFound // no source sliver of it here
			}
		}
		out := recovery.EncodeResponse2(results)
		s.cfg.Logger.Debug("served recovery symbols (v2)", "peer_id", from, "items", len(items), "bytes", len(out))
		return out, nil
	})
}

// LocalSymbols returns, for each target sliver (all of blob id and one axis), the recovery
// symbols this node's own stored source slivers contribute (docs/architecture.md §5 "Blob
// sync": a node recovering a sliver counts its own symbols, which a small committee needs).
// They come from the node's store, verified when stored, and are verified again by the
// caller like any other.
func (s *Service) LocalSymbols(ctx context.Context, id codec.BlobID, axis codec.Axis, indices []int) ([][]codec.RecoverySymbol, error) {
	p := s.cfg.Ledger.Params()
	stored, err := s.cfg.Store.StoredShards(ctx, id)
	if err != nil {
		return nil, err
	}
	targets := make([]recovery.Target, len(indices))
	idx := make([]int, len(indices))
	for i, x := range indices {
		targets[i] = recovery.Target{BlobID: id, Axis: axis, Index: uint16(x)}
		idx[i] = i
	}
	results := make([]recovery.Result, len(targets))
	if err := s.recoverySymbols(ctx, p, stored, id, axis, targets, idx, results); err != nil {
		return nil, err
	}
	out := make([][]codec.RecoverySymbol, len(targets))
	for i := range results {
		for _, b := range results[i].Symbols {
			sym, err := codec.UnmarshalRecoverySymbolBCS(p, axis, b)
			if err != nil {
				return nil, err
			}
			out[i] = append(out[i], sym)
		}
	}
	return out, nil
}
