package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// Defaults for the pebble engine (see doc.go for why pebble).
const (
	// DefaultCacheSize is pebble's block cache: metadata (64n+32 bytes per blob, ~64 KB at
	// n=1000) and ledger state are read far more often than slivers, and 256 MiB keeps
	// tens of thousands of blobs' metadata hot.
	DefaultCacheSize = 256 << 20
	// DefaultMemTableSize is pebble's memtable. Pebble applies a batch of at least half
	// the memtable as a flushable batch (WAL, then straight to an sstable at flush) instead
	// of copying it into the memtable's arena; 12 MiB puts that threshold near 6 MiB, below
	// a client's 8 MiB sliver upload requests, so slivers skip the memtable copy while
	// ledger and metadata writes (kilobytes) still go through it. Measured in make
	// bench-e2e at n = 1000, 64 MiB against 64 MiB here: upload page faults 160k -> 115k
	// cold, 50k -> 9k warm; store_vs_target warm 1.24 -> 0.98-1.14.
	DefaultMemTableSize = 12 << 20
	// l0CompactionThreshold is how many L0 sublevels start a compaction into the base
	// level (pebble's default is 4). A node's sliver batches are flushed as L0 tables of a
	// few MiB whose keys overlap every earlier blob's (the layout is shard-major), so each
	// L0 compaction rewrites the base level's overlapping sliver bytes; merging 16 sublevels
	// at a time instead of 4 rewrites them a quarter as often. (Bloom filters on L0 were
	// tried for the extra sublevels a read may visit: reads got slower, so there are none.) Measured in make bench-e2e at n = 1000, 64 MiB: compactions
	// were a fifth of the CPU of the upload window (WALRUS_E2E_UPLOAD_PROFILE) and left it;
	// warm store_vs_target 1.20-1.24 -> 1.03-1.04.
	l0CompactionThreshold = 16
	// l0StopWritesThreshold is where pebble stalls writes for L0 to drain (default 12, which
	// must stay above the compaction threshold).
	l0StopWritesThreshold = 48
	// bytesPerSync smooths background writes of sstables so a flush does not stall the
	// WAL fsyncs that confirmations wait for.
	bytesPerSync = 1 << 20
)

// config holds Open's options.
type config struct {
	cacheSize    int64
	memTableSize uint64
	noSync       bool
	valueSepMin  int
	pages        PagePolicy
}

// Option configures [Open].
type Option func(*config) error

// WithCacheSize sets the block cache size in bytes.
func WithCacheSize(n int64) Option {
	return func(c *config) error {
		if n < 1<<20 {
			return fmt.Errorf("store: cache size %d below 1 MiB", n)
		}
		c.cacheSize = n
		return nil
	}
}

// WithMemTableSize sets the memtable size in bytes (at least 4 MiB).
func WithMemTableSize(n uint64) Option {
	return func(c *config) error {
		if n < 4<<20 {
			return fmt.Errorf("store: memtable size %d below 4 MiB", n)
		}
		c.memTableSize = n
		return nil
	}
}

// WithoutSync makes writes return before the WAL is fsynced. Only for tests and for
// rebuildable caches: a node that signs confirmations must not use it (docs/architecture.md §7:
// writes a confirmation promises are durable before the confirmation is signed).
func WithoutSync() Option {
	return func(c *config) error {
		c.noSync = true
		return nil
	}
}

// WithValueSeparation stores values of at least minSize bytes in pebble blob files
// instead of sstables, so compactions move references rather than rewriting sliver bytes
// (pebble's experimental value separation; it ratchets the on-disk format to
// FormatValueSeparation, which older pebble releases cannot open).
func WithValueSeparation(minSize int) Option {
	return func(c *config) error {
		if minSize < 1 {
			return fmt.Errorf("store: value separation threshold %d < 1", minSize)
		}
		c.valueSepMin = minSize
		return nil
	}
}

// PagePolicy says which ingested sliver tables (store.PutDurably's bulk writes) keep their
// pages in the page cache once pebble has them.
//
// A node takes in many times its memory in slivers, and writing them into fresh page cache
// is costly on some machines: on this project's benchmark VM, whose host backs guest
// memory on first touch, it was a quarter of the nodes' CPU while taking a 1 GiB blob
// (make bench-big), while the pages of a dropped table are reused by the next one at about
// a tenth of that. Most slivers are not read soon, if ever: a read fetches the systematic
// primary slivers, a third of the pairs and two thirds of their bytes; the rest serve
// recovery. So by default only the tables holding a value the writer did not mark
// [KV.Cold] stay in the cache.
type PagePolicy uint8

const (
	// PagesHot (the default) drops a table whose every value is marked Cold.
	PagesHot PagePolicy = iota
	// PagesAll keeps every table's pages (the kernel evicts them as it sees fit).
	PagesAll
	// PagesNone drops every table's pages: the cheapest writes, and reads soon after a
	// store come from disk (a 1 GiB read right after its store: 222 -> 143 MiB/s on the
	// benchmark VM).
	PagesNone
)

// ParsePagePolicy parses "hot", "all" or "none" (node config datastore.written_pages);
// "" is the default, hot.
func ParsePagePolicy(s string) (PagePolicy, error) {
	switch s {
	case "", "hot":
		return PagesHot, nil
	case "all":
		return PagesAll, nil
	case "none":
		return PagesNone, nil
	}
	return 0, fmt.Errorf("store: page policy %q is not hot, all or none", s)
}

// WithIngestedPages sets which ingested tables keep their pages in the page cache.
func WithIngestedPages(p PagePolicy) Option {
	return func(c *config) error {
		if p > PagesNone {
			return fmt.Errorf("store: unknown page policy %d", p)
		}
		c.pages = p
		return nil
	}
}

// mallocOnce tunes the C allocator pebble uses once per process (malloc_cgo.go).
var mallocOnce sync.Once

// Open opens (creating if needed) the node's datastore in dir: go-ds-pebble over an
// embedded pebble engine. Every Put, Delete and Batch.Commit is durable when it returns
// (the WAL is fsynced), so "stored" means stored even after a power cut, which is what a
// storage confirmation promises (docs/protocol.md §5). Keys follow the layout in keys.go.
// Close the returned datastore to flush and release the directory lock.
func Open(dir string, opts ...Option) (datastore.Batching, error) {
	cfg := config{cacheSize: DefaultCacheSize, memTableSize: DefaultMemTableSize}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	if dir == "" {
		return nil, errors.New("store: empty directory")
	}
	mallocOnce.Do(tuneCAllocator)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	popts := &pebble.Options{
		MemTableSize:                cfg.memTableSize,
		MemTableStopWritesThreshold: 4,
		BytesPerSync:                bytesPerSync,
		WALBytesPerSync:             bytesPerSync,
		Logger:                      quietLogger{},
		L0CompactionThreshold:       l0CompactionThreshold,
		L0StopWritesThreshold:       l0StopWritesThreshold,
	}
	// Every level inherits these from L0. Sliver bytes are mostly Reed-Solomon parity,
	// which does not compress: snappy would only spend CPU finding that out.
	popts.Levels[0].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
	if cfg.valueSepMin > 0 {
		popts.FormatMajorVersion = pebble.FormatValueSeparation
		popts.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
			return pebble.ValueSeparationPolicy{
				Enabled:               true,
				MinimumSize:           cfg.valueSepMin,
				MaxBlobReferenceDepth: 10,
				RewriteMinimumAge:     5 * time.Minute,
				TargetGarbageRatio:    0.2,
			}
		}
	}
	write := pebble.Sync
	if cfg.noSync {
		write = pebble.NoSync
	}
	d, err := pebbleds.NewDatastore(dir,
		pebbleds.WithPebbleOpts(popts),
		pebbleds.WithCacheSize(cfg.cacheSize),
		pebbleds.WithPebbleWriteOptions(write),
	)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	in, err := newIngester(d.DB, dir, popts, cfg.pages)
	if err != nil {
		_ = d.Close()
		return nil, err
	}
	if cfg.noSync {
		return unsyncedDatastore{d, write, in}, nil
	}
	return syncedDatastore{d, in}, nil
}

// SizedBatching is a datastore whose batches can be sized up front. A batch of slivers is
// tens of megabytes; pebble grows an unsized batch by doubling, copying it each time
// (measured in make bench-e2e: a tenth of a node's CPU while it takes an upload).
type SizedBatching interface {
	datastore.Batching
	// BatchSized returns a batch with room for about size bytes of keys and values.
	BatchSized(ctx context.Context, size int) (datastore.Batch, error)
}

// NewBatch returns a batch of d sized for about size bytes when d is a SizedBatching, an
// ordinary one otherwise.
func NewBatch(ctx context.Context, d datastore.Batching, size int) (datastore.Batch, error) {
	if sb, ok := d.(SizedBatching); ok {
		return sb.BatchSized(ctx, size)
	}
	return d.Batch(ctx)
}

// batchEntryOverhead is pebble's per-entry framing in a batch (kind byte and two varint
// lengths), rounded up.
const batchEntryOverhead = 16

// sizedBatch is a go-datastore batch over a pre-sized pebble batch.
type sizedBatch struct {
	b  *pebble.Batch
	wo *pebble.WriteOptions
}

func newSizedBatch(db *pebble.DB, wo *pebble.WriteOptions, size int) *sizedBatch {
	return &sizedBatch{b: db.NewBatchWithSize(max(size, 0)), wo: wo}
}

// Put adds key = value to the batch (the value is copied).
func (b *sizedBatch) Put(_ context.Context, key datastore.Key, value []byte) error {
	if b.b == nil {
		return pebbleds.ErrBatchCommitted
	}
	return b.b.Set(key.Bytes(), value, nil)
}

// Delete adds a deletion of key to the batch.
func (b *sizedBatch) Delete(_ context.Context, key datastore.Key) error {
	if b.b == nil {
		return pebbleds.ErrBatchCommitted
	}
	return b.b.Delete(key.Bytes(), nil)
}

// Commit applies the batch atomically with the store's write options.
func (b *sizedBatch) Commit(_ context.Context) error {
	if b.b == nil {
		return pebbleds.ErrBatchCommitted
	}
	err := b.b.Commit(b.wo)
	_ = b.b.Close()
	b.b = nil
	return err
}

// unsyncedDatastore is the pebble datastore opened WithoutSync.
type unsyncedDatastore struct {
	*pebbleds.Datastore
	wo *pebble.WriteOptions
	*ingester
}

// BatchSized implements SizedBatching.
func (d unsyncedDatastore) BatchSized(_ context.Context, size int) (datastore.Batch, error) {
	return newSizedBatch(d.DB, d.wo, size), nil
}

// syncedDatastore is the pebble datastore when every Put, Delete and batch commit is already
// fsynced (pebble.Sync write options). go-ds-pebble implements Sync as one more fsynced WAL
// record; after a synced write it would only cost a second fsync per request (callers such as
// the blob store Sync after every batch, as the go-datastore contract asks of them), so here
// it has nothing left to do.
type syncedDatastore struct {
	*pebbleds.Datastore
	*ingester
}

// Sync returns at once: every acknowledged write is already durable.
func (d syncedDatastore) Sync(ctx context.Context, _ datastore.Key) error { return ctx.Err() }

// BatchSized implements SizedBatching; its Commit is fsynced like every write here.
func (d syncedDatastore) BatchSized(_ context.Context, size int) (datastore.Batch, error) {
	return newSizedBatch(d.DB, pebble.Sync, size), nil
}

// Lender is a datastore that can lend a value instead of copying it. A node serving a read
// sends each sliver from the engine's cache, without copying it into a response first.
type Lender interface {
	// Lend returns the value stored under key, valid until release is called (exactly
	// once); datastore.ErrNotFound when there is none.
	Lend(ctx context.Context, key datastore.Key) (value []byte, release func(), err error)
}

// Lend returns d's value for key and what to call when done with it: without a copy when d
// is a [Lender], after a Get otherwise.
func Lend(ctx context.Context, d datastore.Read, key datastore.Key) ([]byte, func(), error) {
	if l, ok := d.(Lender); ok {
		return l.Lend(ctx, key)
	}
	b, err := d.Get(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	return b, func() {}, nil
}

// ErrClosed is what Lend and ListKeys return on a closed datastore (pebble panics).
var ErrClosed = errors.New("store: datastore closed")

// closedAsError turns pebble's panic on a closed database into ErrClosed in *err, for the
// calls that go to pebble directly: a background job finishing its page while the node
// shuts down gets an error, not a crash. Any other panic goes on.
func closedAsError(err *error) {
	r := recover()
	if r == nil {
		return
	}
	if e, ok := r.(error); ok && errors.Is(e, pebble.ErrClosed) {
		*err = ErrClosed
		return
	}
	panic(r)
}

func lendPebble(ctx context.Context, db *pebble.DB, key datastore.Key) (v []byte, release func(), err error) {
	defer closedAsError(&err)
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	v, closer, err := db.Get(key.Bytes())
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil, datastore.ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	return v, func() { _ = closer.Close() }, nil
}

// Lend implements Lender.
func (d syncedDatastore) Lend(ctx context.Context, key datastore.Key) ([]byte, func(), error) {
	return lendPebble(ctx, d.DB, key)
}

// Lend implements Lender.
func (d unsyncedDatastore) Lend(ctx context.Context, key datastore.Key) ([]byte, func(), error) {
	return lendPebble(ctx, d.DB, key)
}

// EntrySize is what one key/value pair takes in a batch, for sizing NewBatch.
func EntrySize(key datastore.Key, valueLen int) int {
	return len(key.String()) + valueLen + batchEntryOverhead
}

// quietLogger drops pebble's informational chatter (every flush and compaction) and sends
// errors to slog. Fatalf exits like pebble's default logger: pebble calls it only when
// continuing could corrupt the database.
type quietLogger struct{}

// Infof drops the message.
func (quietLogger) Infof(string, ...any) {}

// Errorf logs at error level.
func (quietLogger) Errorf(format string, args ...any) {
	slog.Error("pebble: " + fmt.Sprintf(format, args...))
}

// Fatalf logs and exits.
func (quietLogger) Fatalf(format string, args ...any) {
	slog.Error("pebble: fatal: " + fmt.Sprintf(format, args...))
	os.Exit(1)
}
