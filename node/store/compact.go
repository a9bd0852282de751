package store

import (
	"context"

	"github.com/ipfs/go-datastore"
)

// compacter is a datastore whose engine can compact.
type compacter interface {
	compactAll() error
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
