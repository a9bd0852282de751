package blobsync

import (
	"context"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/staking"
)

// SliversToRecover counts the slivers still to recover of the blobs waiting for or in blob
// sync (Backlog's blobs, at most maxBlobs of them): two for each of this node's current
// shards that lacks its pair of a blob still certified, leaving out shards an epoch change
// is still pulling from their previous owner, as the sync itself does. It reads the store,
// a key walk per blob; capped says it stopped early (maxBlobs or ctx) and the count is a
// lower bound.
func (s *Syncer) SliversToRecover(ctx context.Context, maxBlobs int) (slivers int64, capped bool, err error) {
	s.mu.Lock()
	ids := make([]codec.BlobID, 0, min(len(s.busy)+len(s.order), maxBlobs))
	for id := range s.busy { // being synced by a worker
		ids = append(ids, id)
	}
	for _, id := range s.order {
		if !s.busy[id] {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	if len(ids) > maxBlobs {
		ids, capped = ids[:maxBlobs], true
	}
	if len(ids) == 0 {
		return 0, false, nil
	}
	v := s.cfg.Ledger.View()
	com := v.SigningCommittee()
	me := com.MemberIndex(s.cfg.Fetcher.Self)
	if me < 0 {
		return 0, false, nil
	}
	var shards []uint16 // the shards blob sync recovers
	for _, sh := range com.Members[me].Shards {
		st, err := s.cfg.Store.ShardState(ctx, int(sh))
		if err != nil {
			return 0, true, err
		}
		if st != blobstore.Syncing {
			shards = append(shards, sh)
		}
	}
	state := v.State()
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return slivers, true, err
		}
		if state.BlobStatus(id).Kind != staking.StatusCertified {
			continue
		}
		missing, err := s.cfg.Store.MissingShards(ctx, id, shards)
		if err != nil {
			return slivers, true, err
		}
		slivers += 2 * int64(len(missing))
	}
	return slivers, capped, nil
}
