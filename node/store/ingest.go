package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/objstorage/objstorageprovider"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ipfs/go-datastore"
)

// KV is one put of an ingestion.
type KV struct {
	Key   datastore.Key
	Value []byte
	// Cold says the value is not expected to be read soon: for slivers, anything but a
	// systematic primary sliver, which is what reads fetch. Under the default [PagePolicy]
	// a table of only cold values leaves the page cache once ingested.
	Cold bool
}

// Ingester is a datastore that can store a large set of puts by writing them once, as a
// table file the engine adopts, instead of through its log and memtable (where every byte is
// written twice and copied twice more).
type Ingester interface {
	// Ingest stores every put atomically and durably: when it returns nil all of them
	// survive a crash; on an error none is visible. Keys must be distinct.
	Ingest(ctx context.Context, puts []KV) error
}

// MinIngestBytes is the size from which a batch of puts is better ingested than committed:
// an ingestion costs a file create, two fsyncs and a manifest write, more than the log
// write it replaces for small batches. Sliver uploads arrive in batches of megabytes.
const MinIngestBytes = 1 << 20

// ingestDirName is where table files are built before pebble links them in; whatever a
// crash leaves there is removed on the next Open.
const ingestDirName = "ingest-tmp"

// ingester builds and ingests table files for one pebble DB.
type ingester struct {
	db    *pebble.DB
	dir   string
	opts  sstable.WriterOptions
	seq   atomic.Uint64
	pages PagePolicy // which tables leave the page cache once ingested
}

func newIngester(db *pebble.DB, dir string, popts *pebble.Options, pages PagePolicy) (*ingester, error) {
	tmp := filepath.Join(dir, ingestDirName)
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("store: clear %s: %w", tmp, err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	o := popts.Clone()
	o.EnsureDefaults()
	return &ingester{db: db, dir: tmp, opts: o.MakeWriterOptions(0, db.TableFormat()), pages: pages}, nil
}

func (in *ingester) Ingest(ctx context.Context, puts []KV) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if len(puts) == 0 {
		return nil
	}
	keys := make([][]byte, len(puts))
	order := make([]int, len(puts))
	for i := range puts {
		keys[i], order[i] = puts[i].Key.Bytes(), i
	}
	slices.SortFunc(order, func(a, b int) int { return bytes.Compare(keys[a], keys[b]) })
	for i := 1; i < len(order); i++ {
		if bytes.Equal(keys[order[i-1]], keys[order[i]]) {
			return fmt.Errorf("store: ingest: duplicate key %s", puts[order[i]].Key)
		}
	}
	path := filepath.Join(in.dir, fmt.Sprintf("%d-%d.sst", os.Getpid(), in.seq.Add(1)))
	defer func() {
		// Pebble links the file in; this name is ours to remove either way.
		if rmErr := os.Remove(path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
			err = fmt.Errorf("store: ingest: %w", rmErr)
		}
	}()
	f, err := vfs.Default.Create(path, vfs.WriteCategoryUnspecified)
	if err != nil {
		return fmt.Errorf("store: ingest: %w", err)
	}
	w := sstable.NewWriter(objstorageprovider.NewFileWritable(f), in.opts)
	for _, i := range order {
		if err := w.Set(keys[i], puts[i].Value); err != nil {
			_ = w.Close()
			return fmt.Errorf("store: ingest: %w", err)
		}
	}
	// Close finishes the table and fsyncs it; Ingest links it into the DB and syncs the
	// directory and the manifest before returning.
	if err := w.Close(); err != nil {
		return fmt.Errorf("store: ingest: write table: %w", err)
	}
	// Once pebble has the table (it moves the file) and has read its bounds, the pages of a
	// table no reader is expected to want soon leave the page cache, for the next table to
	// reuse (see PagePolicy).
	if in.drop(puts) {
		drop := cacheDropper(path)
		defer drop()
	}
	if err := in.db.Ingest(ctx, []string{path}); err != nil {
		return fmt.Errorf("store: ingest: %w", err)
	}
	return nil
}

// drop says whether the table of puts leaves the page cache once ingested.
func (in *ingester) drop(puts []KV) bool {
	switch in.pages {
	case PagesAll:
		return false
	case PagesNone:
		return true
	}
	for _, p := range puts {
		if !p.Cold {
			return false
		}
	}
	return true
}

// PutDurably stores bulk, then marks, on d and returns once all of them are durable. When
// d is an [Ingester] and bulk totals at least MinIngestBytes, bulk is ingested as one table
// and marks follow in a batch: a crash between the two leaves bulk without its marks, never
// marks without bulk. Otherwise both go in one batch, atomically. Keep bulk's keys in one
// narrow key range (an ingested table overlapping the memtable's keys makes pebble queue a
// flush), which is why small marker keys elsewhere in the key space go in marks.
func PutDurably(ctx context.Context, d datastore.Batching, bulk, marks []KV) error {
	bulkSize := 0
	for _, p := range bulk {
		bulkSize += EntrySize(p.Key, len(p.Value))
	}
	batched := marks
	if in, ok := d.(Ingester); ok && bulkSize >= MinIngestBytes {
		if err := in.Ingest(ctx, bulk); err != nil {
			return err
		}
	} else {
		batched = append(slices.Clip(bulk), marks...)
	}
	if len(batched) == 0 {
		return nil
	}
	size := 0
	for _, p := range batched {
		size += EntrySize(p.Key, len(p.Value))
	}
	b, err := NewBatch(ctx, d, size)
	if err != nil {
		return fmt.Errorf("store: batch: %w", err)
	}
	for _, p := range batched {
		if err := b.Put(ctx, p.Key, p.Value); err != nil {
			return fmt.Errorf("store: put: %w", err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return d.Sync(ctx, datastore.NewKey("/"))
}
