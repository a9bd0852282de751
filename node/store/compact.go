package store

import (
	"context"

	"github.com/ipfs/go-datastore"
)

// compacter is a datastore whose engine can compact.
type compacter interface {
	compactAll() error
	compactRanges(ranges [][2][]byte) error
}

// Compact flushes d's memtable and compacts its whole key space, so the space of deleted
// keys is given back to the file system (pebble otherwise reclaims it only as later writes
// compact the tables holding it). It is a no-op for datastores without an engine to compact.
// Its cost grows with the data stored: garbage collection calls it only after removing
// enough (gc.compact_after) and not more often than gc.compact_every.
func Compact(ctx context.Context, d datastore.Batching) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c, ok := d.(compacter); ok {
		return c.compactAll()
	}
	return nil
}

// CompactBlobs is Compact over the key spaces garbage collection deletes from — blob
// metadata and markers (/blobs/) and slivers (/shards/) — leaving the ledger's checkpoints
// and snapshots, consensus and shard-sync state alone, which removals never touch. A
// blob's slivers are spread over every shard the node holds, so the sliver space is
// compacted whole rather than blob by blob: one range per removed blob and shard would
// rewrite each table once per range overlapping it.
func CompactBlobs(ctx context.Context, d datastore.Batching) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c, ok := d.(compacter); ok {
		return c.compactRanges(blobRanges)
	}
	return nil
}

// blobRanges are [/blobs/, /blobs0) and [/shards/, /shards0): "0" follows "/" in byte
// order, so each covers exactly the keys below its prefix (not /shardstate/).
var blobRanges = [][2][]byte{
	{[]byte(BlobsPrefix.String() + "/"), []byte(BlobsPrefix.String() + "0")},
	{[]byte(ShardsPrefix.String() + "/"), []byte(ShardsPrefix.String() + "0")},
}

// compactRanges flushes db's memtable and compacts each range.
func compactRanges(db interface {
	Flush() error
	Compact(ctx context.Context, start, end []byte, parallelize bool) error
}, ranges [][2][]byte) error {
	if err := db.Flush(); err != nil {
		return err
	}
	for _, r := range ranges {
		if err := db.Compact(context.Background(), r[0], r[1], true); err != nil {
			return err
		}
	}
	return nil
}

func (d syncedDatastore) compactRanges(ranges [][2][]byte) error {
	return compactRanges(d.DB, ranges)
}

func (d unsyncedDatastore) compactRanges(ranges [][2][]byte) error {
	return compactRanges(d.DB, ranges)
}

// Every key of the layout starts with "/" (0x2f), so [0x00, 0xff) covers all of them.
var keySpaceStart, keySpaceEnd = []byte{0x00}, []byte{0xff}

func (d syncedDatastore) compactAll() error {
	if err := d.DB.Flush(); err != nil {
		return err
	}
	return d.DB.Compact(context.Background(), keySpaceStart, keySpaceEnd, true)
}

func (d unsyncedDatastore) compactAll() error {
	if err := d.DB.Flush(); err != nil {
		return err
	}
	return d.DB.Compact(context.Background(), keySpaceStart, keySpaceEnd, true)
}
