package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/ipfs/go-datastore"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// Defaults for the pebble engine (see doc.go for why pebble).
const (
	// DefaultCacheSize is pebble's block cache: metadata (64n+32 bytes per blob, ~64 KB at
	// n=1000) and ledger state are read far more often than slivers, and 256 MiB keeps
	// tens of thousands of blobs' metadata hot.
	DefaultCacheSize = 256 << 20
	// DefaultMemTableSize is pebble's memtable. Slivers are 64 KiB–44 MiB values; with
	// pebble's 4 MiB default every large sliver would force a flush. 64 MiB absorbs a
	// burst of slivers and lets flushes write reasonably sized L0 tables.
	DefaultMemTableSize = 64 << 20
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
// rebuildable caches: a node that signs confirmations must not use it (DESIGN.md §7:
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

// Open opens (creating if needed) the node's datastore in dir: go-ds-pebble over an
// embedded pebble engine. Every Put, Delete and Batch.Commit is durable when it returns
// (the WAL is fsynced), so "stored" means stored even after a power cut, which is what a
// storage confirmation promises (PROTOCOL.md §5). Keys follow the layout in keys.go.
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
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	popts := &pebble.Options{
		MemTableSize:                cfg.memTableSize,
		MemTableStopWritesThreshold: 4,
		BytesPerSync:                bytesPerSync,
		WALBytesPerSync:             bytesPerSync,
		Logger:                      quietLogger{},
	}
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
	if cfg.noSync {
		return d, nil
	}
	return syncedDatastore{d}, nil
}

// syncedDatastore is the pebble datastore when every Put, Delete and batch commit is already
// fsynced (pebble.Sync write options). go-ds-pebble implements Sync as one more fsynced WAL
// record; after a synced write it would only cost a second fsync per request (callers such as
// the blob store Sync after every batch, as the go-datastore contract asks of them), so here
// it has nothing left to do.
type syncedDatastore struct{ *pebbleds.Datastore }

// Sync returns at once: every acknowledged write is already durable.
func (d syncedDatastore) Sync(ctx context.Context, _ datastore.Key) error { return ctx.Err() }

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
