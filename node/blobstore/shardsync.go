package blobstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/go-datastore"

	"github.com/walrus-go/walrus-go/codec"
	nodestore "github.com/walrus-go/walrus-go/node/store"
)

// SyncProgress returns how far the pull of shard for the change into epoch ep got: the last
// blob ID stored, or nil before the first page (docs/architecture.md §5 "Epoch change").
func (s *Store) SyncProgress(ctx context.Context, ep uint32, shard int) (*codec.BlobID, error) {
	if err := s.checkShard(shard); err != nil {
		return nil, err
	}
	b, err := s.ds.Get(ctx, nodestore.ShardSyncProgress(ep, uint16(shard)))
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blobstore: get sync progress: %w", err)
	}
	var id codec.BlobID
	if len(b) != len(id) {
		return nil, fmt.Errorf("blobstore: corrupt sync progress of shard %d", shard)
	}
	copy(id[:], b)
	return &id, nil
}

// SetSyncProgress records durably that the pull of shard for epoch ep has stored every
// blob up to and including id.
func (s *Store) SetSyncProgress(ctx context.Context, ep uint32, shard int, id codec.BlobID) error {
	if err := s.checkShard(shard); err != nil {
		return err
	}
	key := nodestore.ShardSyncProgress(ep, uint16(shard))
	if err := s.ds.Put(ctx, key, id[:]); err != nil {
		return fmt.Errorf("blobstore: put sync progress: %w", err)
	}
	return s.ds.Sync(ctx, key)
}

// ReleaseShard removes the slivers and pair markers of at most limit blobs stored on shard
// and returns how many it removed (0: the shard is empty). Metadata stays: other shards of
// the node may hold the same blobs. For a shard the node lost at an epoch change, once the
// change is complete.
func (s *Store) ReleaseShard(ctx context.Context, shard int, limit int) (int, error) {
	ids, err := s.ShardBlobs(ctx, shard, nil, limit)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	b, err := s.ds.Batch(ctx)
	if err != nil {
		return 0, fmt.Errorf("blobstore: batch: %w", err)
	}
	for _, id := range ids {
		for _, axis := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
			if err := b.Delete(ctx, SliverKey(shard, id, axis)); err != nil {
				return 0, fmt.Errorf("blobstore: delete sliver: %w", err)
			}
		}
		if err := b.Delete(ctx, nodestore.BlobPair(id, uint16(shard))); err != nil {
			return 0, fmt.Errorf("blobstore: delete pair marker: %w", err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		return 0, fmt.Errorf("blobstore: commit release: %w", err)
	}
	return len(ids), s.ds.Sync(ctx, nodestore.Shard(uint16(shard)))
}
