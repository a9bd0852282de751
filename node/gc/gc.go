// Package gc is a storage node's garbage collector (docs/architecture.md §5 "Garbage
// collection"): it removes the metadata and slivers of blobs the ledger says are no longer
// live — expired (end epoch reached), deleted (no live blob object left) or invalidated —
// and leaves a small "removed" marker so reads answer "not stored here" instead of
// "unknown blob".
//
// One goroutine (Run) owned by the node does all the work in bounded steps: every Interval
// it removes at most Batch blobs (BusyBatch while the node serves users) and examines at
// most Scan stored blob IDs, and it paces itself by CPU work as the background scrub does:
// each step and each compaction is timed, and the next step waits until the collector's work
// is at most CPU of one core's time (BusyCPU while the node serves users). Ledger events
// say where to look (BlobDeleted and BlobInvalidated name a blob; EpochChanged starts a
// sweep, since that is when blobs expire); the sweep walks every blob with stored metadata
// and repairs anything an event missed (ledger subscriptions drop events when full, and a
// node that was down saw none); a full sweep, at most once a day, also walks every shard's
// slivers for blobs whose metadata is gone. Nothing is removed on an event's word: the
// decision is taken from the latest ledger View inside blobstore.RemoveBlob, under the
// store's write lock, so a collection racing an extension, a new registration or a
// certification keeps the blob.
package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/staking"
)

// Defaults of Config.
const (
	DefaultInterval      = time.Second
	DefaultBatch         = 16
	DefaultScan          = 512
	DefaultSweepInterval = 10 * time.Minute
	DefaultCompactAfter  = 64 << 20
	DefaultCompactEvery  = 10 * time.Minute
	DefaultBusyBatch     = 1
	// DefaultCPU is the share of one core the collector's work may take (Config.CPU).
	//
	// The collector must outpace a writer that stores and deletes blobs, yet on a
	// two-core node it shares the cores with the reads and writes of users on every node,
	// the ones not serving a user at that moment included (their Busy is false). A removal
	// of a 4 MiB blob at n = 1000 on a node holding 250 shards (4.9 MiB of slivers, 750
	// keys, one synced batch) takes 5.6–9.7 ms (BenchmarkRemoveBlob on a loaded 2-core
	// machine), so 10% of a core removes about 10–18 blobs a second, 50–90 MiB/s of slivers
	// per node, beyond what a node takes in from uploads (each of which also costs it the
	// uploaded slivers' verification and a synced write), and still about 3–5 MiB/s at
	// the busy share (DefaultCPU/16). Batch caps a step below that for small blobs.
	DefaultCPU = 0.10
	// busyCPUDivisor divides CPU while the node serves users, as the scrub's does.
	busyCPUDivisor = 16
	// fullSweepEvery is how often a sweep also walks every shard's slivers (StartFullSweep):
	// that walk reads every stored sliver's block, so only the periodic sweep does it, and
	// at most once this often.
	fullSweepEvery = 24 * time.Hour
	// busyScanDivisor divides Scan while the node serves users: walking the blobs' keys
	// reads their metadata's blocks (and a full sweep's walk over a shard, its slivers').
	busyScanDivisor = 16
	// maxPending bounds the blob IDs queued from events; beyond it the sweep finds them.
	maxPending = 4096
)

// Ledger is what the collector needs from the node's ledger.
type Ledger interface {
	// View is the latest committed state.
	View() *ledger.View
	// Subscribe delivers ledger events (it may drop them).
	Subscribe(buf int) *ledger.Subscription
}

// Config configures a Collector.
type Config struct {
	// Store is the node's blob store (the same instance the data plane writes through, so
	// its lock orders puts against removals). Required.
	Store *blobstore.Store
	// Ledger is the node's ledger. Required.
	Ledger Ledger
	// Node is this node's ID: its shards (this epoch's and the previous one's) are the ones
	// whose slivers are removed, besides every shard with a pair marker of the blob.
	Node epoch.NodeID
	// Interval is the period of a step (default 1 s).
	Interval time.Duration
	// Batch is the most blobs removed in one step (default 16).
	Batch int
	// Scan is the most stored blob IDs the sweep examines in one step (default 512).
	Scan int
	// SweepInterval starts a sweep at least this often even without an epoch change or a
	// dropped event (default 10 min).
	SweepInterval time.Duration
	// OnRemoved, if set, is called for every removal with the reason ("expired",
	// "deleted", "invalid"), the blobs removed (1, or 0 when a full sweep finds slivers
	// left of a blob removed before) and the bytes freed (metrics).
	OnRemoved func(reason string, blobs int, bytes int64)
	// Compact, if set, makes the engine give the space of removed keys back
	// (store.Compact). It runs once CompactAfter bytes were removed since the last run,
	// or when anything was removed and CompactEvery has passed (defaults 64 MiB, 10 min):
	// a compaction rewrites what is stored, so it is not run for every removal.
	Compact      func(ctx context.Context) error
	CompactAfter int64
	CompactEvery time.Duration
	// Busy, if set, reports whether the node is serving users now (dataplane Service.Busy,
	// as the scrub uses it). While it is, a step removes at most BusyBatch blobs (default
	// 1, so removals go on at one a second at the default Interval and a sweep still
	// ends), examines at most a sixteenth of Scan, works at BusyCPU, and a due compaction
	// waits, at most CompactEvery after the first removal it would give the space of back.
	Busy      func() bool
	BusyBatch int
	// OnCompacted, if set, is told how long each compaction took (metrics).
	OnCompacted func(time.Duration)
	// CPU is the share of one core's time the collector may spend (default DefaultCPU,
	// 10%): each step's work (its removals and its walk over stored keys) and each
	// compaction is timed with Clock, and the next step waits until the collector's work
	// since it was last idle is at most this share of the wall-clock time. Batch and Scan
	// (BusyBatch and a sixteenth of Scan while busy) still cap a step. 1 turns pacing off.
	CPU float64
	// BusyCPU is the share while the node serves users (Busy; default CPU/16).
	BusyCPU float64
	// Clock returns the current time (default time.Now). The pacing takes every time it
	// measures or waits for from it, so a test can drive the collector step by step.
	Clock func() time.Time
	// Logger receives a line per completed sweep (default slog.Default()).
	Logger *slog.Logger
}

// Validate checks c and fills defaults.
func (c *Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("gc: Config.Store is required")
	case c.Ledger == nil:
		return errors.New("gc: Config.Ledger is required")
	case c.Interval < 0 || c.Batch < 0 || c.Scan < 0 || c.SweepInterval < 0 || c.CompactAfter < 0 || c.CompactEvery < 0 || c.BusyBatch < 0:
		return errors.New("gc: negative setting")
	case !(c.CPU >= 0 && c.CPU <= 1) || !(c.BusyCPU >= 0 && c.BusyCPU <= 1):
		return errors.New("gc: CPU share outside [0, 1]")
	}
	if c.CPU == 0 {
		c.CPU = DefaultCPU
	}
	if c.BusyCPU == 0 {
		c.BusyCPU = c.CPU / busyCPUDivisor
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.CompactAfter == 0 {
		c.CompactAfter = DefaultCompactAfter
	}
	if c.CompactEvery == 0 {
		c.CompactEvery = DefaultCompactEvery
	}
	if c.BusyBatch == 0 {
		c.BusyBatch = DefaultBusyBatch
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Scan == 0 {
		c.Scan = DefaultScan
	}
	if c.SweepInterval == 0 {
		c.SweepInterval = DefaultSweepInterval
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Decide says, from the ledger view v, whether the blob may be removed and the removal to
// record. A blob that is registered or certified is live and kept; invalid, expired and
// nonexistent (every object deleted, never registered, or pruned by the ledger some epochs
// after it expired: staking.ExpiredRetention) blobs are removed. A nonexistent blob is
// recorded as deleted: the ledger no longer says why it went.
func Decide(v *ledger.View, id codec.BlobID) (blobstore.Removal, bool) {
	r := blobstore.Removal{Epoch: v.Epoch(), Height: v.Height()}
	switch v.State().BlobStatus(id).Kind {
	case staking.StatusInvalid:
		r.Reason = blobstore.RemovedInvalid
	case staking.StatusExpired:
		r.Reason = blobstore.RemovedExpired
	case staking.StatusNonexistent:
		r.Reason = blobstore.RemovedDeleted
	default: // registered, certified, or a status this code does not know: keep
		return r, false
	}
	return r, true
}

// Collector is the garbage collector. Its methods other than Run and Step are not for
// concurrent use; Run calls Step.
type Collector struct {
	cfg Config

	pending   []codec.BlobID
	queued    map[codec.BlobID]bool
	sweep     *sweep    // the pass in progress, nil when none
	again     bool      // start another pass when this one ends
	againFull bool      // and make it a full one
	lastPass  time.Time // start of the last pass
	dropped   uint64    // the subscription's drop count last seen

	freed       int64     // bytes removed since the last compaction
	freedSince  time.Time // when the first of them was removed
	lastCompact time.Time // when it ran (or the collector started)

	lastFull time.Time // start of the last full sweep (zero: none since start)
	due      time.Time // the next step waits until then (CPU share)
	work     atomic.Int64
}

// sweep is one pass over the stored blobs: first every blob with metadata, then, in a full
// sweep, each shard's slivers (orphans without metadata).
type sweep struct {
	start    time.Time
	full     bool // walk the shards' slivers after the metadata
	shard    int  // -1: the metadata walk; then 0..n-1
	after    *codec.BlobID
	examined int
	removed  int
	bytes    int64
}

// New returns a collector; Run starts it.
func New(cfg Config) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Collector{cfg: cfg, queued: make(map[codec.BlobID]bool)}, nil
}

// Run collects until ctx ends: a sweep at start, then a step every Interval, or later when
// the CPU share says so (NextStep), fed by ledger events.
func (c *Collector) Run(ctx context.Context) {
	sub := c.cfg.Ledger.Subscribe(256)
	defer sub.Cancel()
	c.StartSweep()
	t := time.NewTimer(c.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.C:
			c.Observe(ev)
		case <-t.C:
			if d := sub.Dropped(); d != c.dropped {
				c.dropped = d
				c.StartSweep()
			}
			if c.now().Sub(c.lastPass) >= c.cfg.SweepInterval {
				if c.lastFull.IsZero() || c.now().Sub(c.lastFull) >= fullSweepEvery {
					c.StartFullSweep()
				} else {
					c.StartSweep()
				}
			}
			if _, err := c.Step(ctx); err != nil && ctx.Err() == nil {
				c.cfg.Logger.Warn("gc step failed", "err", err)
			}
			c.maybeCompact(ctx, c.now())
			t.Reset(max(c.cfg.Interval, c.NextStep().Sub(c.now())))
		}
	}
}

// now is the collector's clock (Config.Clock).
func (c *Collector) now() time.Time {
	if c.cfg.Clock == nil {
		return time.Now()
	}
	return c.cfg.Clock()
}

// pace accounts for work that started at start and took work: the next step is due once
// the collector's work since it was last idle is at most the CPU share of the moment (the
// busy one while the node serves users) of the wall-clock time. Work done while the
// collector is behind (a step that ran late) earns no credit.
func (c *Collector) pace(start time.Time, work time.Duration) {
	c.work.Add(int64(work))
	share := c.cfg.CPU
	if c.busy() {
		share = c.cfg.BusyCPU
	}
	if share <= 0 || share >= 1 {
		return
	}
	if c.due.Before(start) {
		c.due = start
	}
	c.due = c.due.Add(time.Duration(float64(work) / share))
	if limit := start.Add(work + MaxRest); c.due.After(limit) {
		// A long piece of work at the busy share (a compaction forced through after
		// CompactEvery, 2 s of it: over 5 minutes at a sixteenth of 10%) must not stop
		// removals for that long.
		c.due = limit
	}
}

// MaxRest bounds the rest the CPU share imposes after any one step or compaction.
const MaxRest = time.Minute

// NextStep is the earliest time the CPU share lets the next step start (Run also waits
// Interval between steps).
func (c *Collector) NextStep() time.Time { return c.due }

// Work is the time the collector spent working (steps and compactions) since start, what
// the CPU share paces. Safe for concurrent use.
func (c *Collector) Work() time.Duration { return time.Duration(c.work.Load()) }

// maybeCompact compacts the store when enough was removed, or when anything was and
// CompactEvery has passed since the last compaction.
func (c *Collector) maybeCompact(ctx context.Context, now time.Time) {
	if c.cfg.Compact == nil || c.freed == 0 {
		return
	}
	if c.lastCompact.IsZero() {
		c.lastCompact = now
	}
	if c.freed < c.cfg.CompactAfter && now.Sub(c.lastCompact) < c.cfg.CompactEvery {
		return
	}
	// A compaction rewrites tables and competes with reads for CPU and disk: while users
	// are served it waits, but no longer than CompactEvery after the first removal.
	if c.busy() && !c.freedSince.IsZero() && now.Sub(c.freedSince) < c.cfg.CompactEvery {
		return
	}
	start := c.now()
	err := c.cfg.Compact(ctx)
	took := c.now().Sub(start)
	c.pace(start, took)
	if err != nil {
		if ctx.Err() == nil {
			c.cfg.Logger.Warn("gc compaction failed", "err", err)
		}
		return
	}
	c.cfg.Logger.Info("gc compacted the store", "freed_bytes", c.freed, "took", took)
	c.freed, c.lastCompact, c.freedSince = 0, now, time.Time{}
	if c.cfg.OnCompacted != nil {
		c.cfg.OnCompacted(took)
	}
}

// Observe takes in one ledger event.
func (c *Collector) Observe(ev ledger.Event) {
	switch ev := ev.(type) {
	case *ledger.BlobDeleted:
		c.Enqueue(ev.BlobID)
	case *ledger.BlobInvalidated:
		c.Enqueue(ev.BlobID)
	case *ledger.EpochChanged:
		c.StartSweep() // blobs ending at this epoch expired
	}
}

// Enqueue asks for blob id to be considered at the next step.
func (c *Collector) Enqueue(id codec.BlobID) {
	if c.queued[id] {
		return
	}
	if len(c.pending) >= maxPending {
		c.StartSweep()
		return
	}
	c.queued[id] = true
	c.pending = append(c.pending, id)
}

// StartSweep starts a pass over every blob with stored metadata, or another one after the
// pass in progress. It walks the blobs' metadata keys, reading no sliver.
func (c *Collector) StartSweep() { c.startSweep(false) }

// StartFullSweep starts a pass that, after the blobs with stored metadata, walks every
// shard's sliver keys for slivers whose metadata is gone (which no removal should leave,
// but a crash in an older version or a foreign write could), or another one after the pass
// in progress. The walk over a shard's slivers reads their blocks: Run starts one with the
// periodic sweep at most once a day, not at start.
func (c *Collector) StartFullSweep() { c.startSweep(true) }

func (c *Collector) startSweep(full bool) {
	if c.sweep != nil {
		c.again = true
		c.againFull = c.againFull || full
		return
	}
	c.lastPass = c.now()
	if full {
		c.lastFull = c.lastPass
	}
	c.sweep = &sweep{start: c.lastPass, full: full, shard: -1}
}

// Sweeping reports whether a sweep is in progress or queued, or blobs are pending.
func (c *Collector) Sweeping() bool { return c.sweep != nil || c.again || len(c.pending) > 0 }

// Step does one bounded step: pending blobs first, then the sweep, removing at most Batch
// blobs and examining at most Scan stored blob IDs. It returns the number removed. Its work
// is timed and moves NextStep on (the CPU share); Step itself does not wait.
func (c *Collector) Step(ctx context.Context) (int, error) {
	start := c.now()
	defer func() { c.pace(start, c.now().Sub(start)) }()
	removed, batch, scan := 0, c.cfg.Batch, c.cfg.Scan
	if c.busy() {
		batch, scan = min(batch, c.cfg.BusyBatch), max(scan/busyScanDivisor, 1)
	}
	for len(c.pending) > 0 && removed < batch {
		id := c.pending[0]
		c.pending = c.pending[1:]
		delete(c.queued, id)
		ok, _, err := c.consider(ctx, id, -1, false)
		if err != nil {
			return removed, err
		}
		if ok {
			removed++
		}
	}
	if len(c.pending) == 0 {
		c.pending = nil // give the backing array back
	}
	sw := c.sweep
	if sw == nil {
		return removed, nil
	}
	n := c.cfg.Ledger.View().Params().N
	for scanned := 0; removed < batch && scanned < scan; {
		if sw.shard >= n || sw.shard >= 0 && !sw.full {
			c.endSweep()
			break
		}
		limit := scan - scanned
		var ids []codec.BlobID
		var err error
		if sw.shard < 0 {
			ids, err = c.cfg.Store.MetadataBlobs(ctx, sw.after, limit)
		} else {
			ids, err = c.cfg.Store.ShardBlobs(ctx, sw.shard, sw.after, limit)
		}
		if err != nil {
			return removed, err
		}
		done := 0
		for _, id := range ids {
			if removed >= batch {
				break
			}
			scanned++
			sw.examined++
			done++
			// Slivers found on a shard of a blob removed before (by an earlier sweep or
			// on another shard of this one: its removal marker is there) free bytes but
			// are not another blob.
			again := false
			if sw.shard >= 0 {
				if _, again, err = c.cfg.Store.Removed(ctx, id); err != nil {
					return removed, err
				}
			}
			ok, freed, err := c.consider(ctx, id, sw.shard, again)
			if err != nil {
				return removed, err
			}
			cur := id
			sw.after = &cur
			if ok {
				removed++
				sw.bytes += freed
				if !again {
					sw.removed++
				}
			}
		}
		if done == len(ids) && len(ids) < limit {
			sw.shard, sw.after = sw.shard+1, nil // this source is done
		}
	}
	return removed, nil
}

func (c *Collector) endSweep() {
	sw := c.sweep
	v := c.cfg.Ledger.View()
	c.cfg.Logger.Info("gc sweep done", "full", sw.full, "examined", sw.examined, "removed", sw.removed, "bytes", sw.bytes,
		"duration_ms", c.now().Sub(sw.start).Milliseconds(), "height", v.Height(), "epoch", v.Epoch())
	c.sweep = nil
	if c.again {
		full := c.againFull
		c.again, c.againFull = false, false
		c.startSweep(full)
	}
}

// consider removes blob id if the latest view says it is not live (decided under the
// store's lock), reporting whether it did and the bytes freed. Its slivers go on this
// node's shards, on every shard with a pair marker of it and on shard walked (-1: none),
// where the full sweep found some; again says the blob was removed before (its slivers
// left on another shard), so the removal frees bytes but counts no blob.
func (c *Collector) consider(ctx context.Context, id codec.BlobID, walked int, again bool) (bool, int64, error) {
	v := c.cfg.Ledger.View()
	if _, remove := Decide(v, id); !remove {
		return false, 0, nil // cheap pre-check; RemoveBlob decides again under the lock
	}
	var reason uint8
	shards := c.shards(v)
	if walked >= 0 && !slices.Contains(shards, uint16(walked)) {
		shards = append(shards, uint16(walked))
	}
	ok, n, err := c.cfg.Store.RemoveBlob(ctx, id, shards, func() (blobstore.Removal, bool) {
		r, remove := Decide(c.cfg.Ledger.View(), id)
		reason = r.Reason
		return r, !remove
	})
	if err != nil {
		return false, 0, fmt.Errorf("gc: remove %s: %w", id, err)
	}
	if ok {
		if c.freed == 0 {
			c.freedSince = c.now()
		}
		c.freed += n
		c.cfg.Logger.Debug("gc removed blob", "blob_id", id, "reason", blobstore.RemovalReason(reason), "bytes", n)
		if c.cfg.OnRemoved != nil {
			blobs := 1
			if again {
				blobs = 0
			}
			c.cfg.OnRemoved(blobstore.RemovalReason(reason), blobs, n)
		}
	}
	return ok, n, nil
}

// busy reports whether the node serves users now (Config.Busy).
func (c *Collector) busy() bool { return c.cfg.Busy != nil && c.cfg.Busy() }

// shards are the shards this node holds in the view's epoch and the previous one.
func (c *Collector) shards(v *ledger.View) []uint16 {
	var out []uint16
	for _, e := range []uint32{v.Epoch(), v.Epoch() - 1} {
		if e > v.Epoch() { // epoch 0 has no previous
			continue
		}
		if com, ok := v.Committee(e); ok {
			if i := com.MemberIndex(c.cfg.Node); i >= 0 {
				out = append(out, com.Members[i].Shards...)
			}
		}
	}
	return out
}
