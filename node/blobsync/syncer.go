package blobsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/staking"
)

// Ledger is what the syncer reads of the node's ledger.
type Ledger interface {
	View() *ledger.View
	Subscribe(buf int) *ledger.Subscription
}

// Config configures a Syncer. Zero fields get the defaults named.
type Config struct {
	// Fetcher recovers slivers over the network. Required.
	Fetcher *Fetcher
	// Store holds the node's slivers. Required.
	Store *blobstore.Store
	// Ledger says which blobs are certified and who holds which shard. Required.
	Ledger Ledger
	// Metadata fetches a blob's metadata from the committee, verified against its ID, when
	// the node does not have it. Required.
	Metadata func(ctx context.Context, com *epoch.Committee, id codec.BlobID) (codec.Metadata, error)
	// Delay is how long after a certification the node waits before recovering what it
	// misses: the writer's uploads to the last nodes continue after the certificate
	// (default 10 s).
	Delay time.Duration
	// Sweep is how often every certified blob is checked (the start-up sweep catches up a
	// node that was down or wiped; later ones repair dropped events). Default 5 minutes.
	Sweep time.Duration
	// Workers is how many blobs are synced at once (default 2).
	Workers int
	// Queue bounds the blobs waiting (default 4096). A sweep fills at most three quarters
	// of it and goes on from its cursor (the last blob it queued) as the workers make room,
	// so a node behind by more blobs than Queue reaches every one in bounded memory; a
	// certification or retry that finds the queue full is dropped, and starts a new sweep
	// once there is room.
	Queue int
	// Retry is how long after a failed sync the blob is tried again (default 5 s); each
	// further failure doubles it, up to Sweep, and after Retries attempts the blob is left
	// to the next sweep. An invalid-blob certificate submitted is checked the same way: if
	// the ledger does not say "invalid" by the retry, the recovery and the certificate are
	// made again.
	Retry time.Duration
	// Retries bounds the attempts after a failure (default 8).
	Retries int
	// Receiving, if not nil, reports whether a writer stored slivers of the blob on this
	// node within the last Delay, at least 2 s (dataplane.Service.Receiving): its upload is under way
	// (the last nodes' uploads go on after the certificate, for minutes at gigabytes), so
	// the sync waits another Delay instead of recovering the same slivers beside it, for
	// at most MaxHold (default 10 minutes) in all.
	Receiving func(id codec.BlobID, window time.Duration) bool
	MaxHold   time.Duration
	// Budget bounds the sliver bytes one recovery round holds (default 64 MiB): a blob
	// whose missing slivers are larger is recovered in rounds.
	Budget int
	// Logger receives progress (default: discarded).
	Logger *slog.Logger
	// Recovered, if not nil, is called after slivers of a blob are recovered and stored.
	Recovered func(slivers int, bytes int64, stats Stats)
	// Inconsistent, if not nil, is handed the proof when a recovery finds the blob
	// inconsistently encoded (Invalidator.Invalidate): the blob is then certified invalid
	// instead of repaired.
	Inconsistent func(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta *codec.Metadata, proof *codec.InconsistencyProof) error
}

func (c *Config) validate() error {
	if c.Fetcher == nil || c.Store == nil || c.Ledger == nil || c.Metadata == nil {
		return errors.New("blobsync: Fetcher, Store, Ledger and Metadata are required")
	}
	if c.Delay == 0 {
		c.Delay = 10 * time.Second
	}
	if c.Sweep == 0 {
		c.Sweep = 5 * time.Minute
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.Queue == 0 {
		c.Queue = 4096
	}
	if c.Budget == 0 {
		c.Budget = 64 << 20
	}
	if c.Retry == 0 {
		c.Retry = 5 * time.Second
	}
	if c.Retries == 0 {
		c.Retries = 8
	}
	if c.MaxHold == 0 {
		c.MaxHold = 10 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Delay < 0 || c.Sweep < 0 || c.Workers < 0 || c.Queue < 0 || c.Budget < 0 || c.Retry < 0 || c.Retries < 0 || c.MaxHold < 0 {
		return errors.New("blobsync: negative setting")
	}
	return nil
}

// Syncer makes sure the node holds every sliver of its shards of every certified blob
// (docs/architecture.md §5 "Blob sync"): on each certification it checks, after Delay, and
// recovers what is missing from the other nodes' recovery symbols; a sweep over all
// certified blobs at start and every Sweep catches up after downtime, a wipe or lost events.
// Progress is the store itself: recovered slivers are stored durably at once, so a
// restarted node goes on from what it has.
type Syncer struct {
	cfg Config

	mu      sync.Mutex
	pending map[codec.BlobID]time.Time // not before
	order   []codec.BlobID
	failed  map[codec.BlobID]int       // attempts failed in a row, of blobs queued again
	held    map[codec.BlobID]time.Time // since when a blob waits for its writer's upload
	busy    map[codec.BlobID]bool      // being synced by a worker: not taken by another
	wake    chan struct{}
	// The sweep in progress: it has queued the certified blobs up to cursor (in the
	// ledger's listing order) and goes on when there is room (more). overflow says a blob
	// was dropped for lack of room since the last sweep started.
	sweeping bool
	cursor   codec.BlobID
	overflow bool
	more     chan struct{}

	backlog   atomic.Int64 // blobs queued or being synced
	recovered atomic.Int64 // slivers recovered
	retries   atomic.Int64 // failed syncs queued again
}

// errInvalidating says an invalid-blob certificate was submitted: the blob is checked again
// later, in case the transaction never commits.
var errInvalidating = errors.New("blobsync: invalid-blob certificate submitted; checking it commits")

// errReceiving says a writer is still uploading the blob to this node: the sync waits.
var errReceiving = errors.New("blobsync: a writer is still uploading the blob here")

// minReceivingWindow is the least gap between a writer's pair writes that still counts as
// one upload under way (the window is Delay, at least this): a loaded writer or node can
// pause that long between two requests.
const minReceivingWindow = 2 * time.Second

// New returns a Syncer; Run starts it.
func New(cfg Config) (*Syncer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Syncer{cfg: cfg, pending: make(map[codec.BlobID]time.Time), failed: make(map[codec.BlobID]int),
		held: make(map[codec.BlobID]time.Time), busy: make(map[codec.BlobID]bool), wake: make(chan struct{}, 1), more: make(chan struct{}, 1)}, nil
}

// Check asks for blob id to be checked and repaired now (the scrubber found a bad sliver).
func (s *Syncer) Check(id codec.BlobID) { s.enqueue(id, time.Now()) }

// SyncFrom recovers, before returning, what this node misses of blob id on the given
// shards of its current ones (nil: all of them), asking the members of committee src for
// symbols (nil: the current committee): the epoch-change fallback when a shard's previous
// owner fails, which asks the previous committee, whose members keep their lost shards
// until the change completes.
func (s *Syncer) SyncFrom(ctx context.Context, id codec.BlobID, src *epoch.Committee, shards []uint16) error {
	if err := s.sync(ctx, id, shards, src); !errors.Is(err, errInvalidating) {
		return err
	}
	return nil
}

// Backlog is how many blobs are waiting or being synced.
func (s *Syncer) Backlog() int64 { return s.backlog.Load() }

// Recovered is how many slivers this syncer recovered and stored.
func (s *Syncer) Recovered() int64 { return s.recovered.Load() }

// Retries is how many failed syncs were queued again.
func (s *Syncer) Retries() int64 { return s.retries.Load() }

// enqueue adds id, due at at; a full queue drops it (and a sweep finds it once there is
// room).
func (s *Syncer) enqueue(id codec.BlobID, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enqueueLocked(id, at)
}

func (s *Syncer) enqueueLocked(id codec.BlobID, at time.Time) bool {
	if _, ok := s.pending[id]; ok {
		return false
	}
	if len(s.pending) >= s.cfg.Queue {
		s.overflow = true
		return false
	}
	s.pending[id] = at
	s.order = append(s.order, id)
	s.backlog.Add(1)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return true
}

// hold reports whether a sync of id may still wait for its writer's upload at now: for
// MaxHold from the first wait.
func (s *Syncer) hold(id codec.BlobID, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	since, ok := s.held[id]
	if !ok {
		s.held[id] = now
		return true
	}
	return now.Sub(since) < s.cfg.MaxHold
}

// settle records how a sync of id ended at now: a failure queues it again after a backoff
// that doubles with each failure in a row (Retry, 2×Retry, … up to Sweep); after Retries
// of them, or on success, the blob is forgotten until its next event or sweep.
func (s *Syncer) settle(id codec.BlobID, err error, now time.Time) (again bool, after time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if errors.Is(err, errReceiving) {
		// Not a failure: check again after Delay (hold bounds the wait).
		if s.enqueueLocked(id, now.Add(s.cfg.Delay)) {
			return true, s.cfg.Delay
		}
		delete(s.held, id)
		return false, 0
	}
	delete(s.held, id)
	if err == nil {
		delete(s.failed, id)
		return false, 0
	}
	n := s.failed[id] + 1
	if n > s.cfg.Retries {
		delete(s.failed, id)
		return false, 0
	}
	after = s.cfg.Retry << min(n-1, 30)
	if s.cfg.Sweep > 0 && (after > s.cfg.Sweep || after <= 0) {
		after = s.cfg.Sweep
	}
	if !s.enqueueLocked(id, now.Add(after)) {
		delete(s.failed, id) // queued already, or the queue is full: the sweep finds it
		return false, 0
	}
	s.failed[id] = n
	s.retries.Add(1)
	return true, after
}

// next takes the first due blob that no worker is syncing (queued again by an event or a
// sweep meanwhile, it waits for that sync to end: the same pairs are not fetched twice), or
// reports when the earliest one is due.
func (s *Syncer) next(now time.Time) (codec.BlobID, bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := time.Duration(-1)
	for i, id := range s.order {
		if s.busy[id] {
			continue // the worker syncing it takes it next
		}
		at := s.pending[id]
		if !now.Before(at) {
			s.order = append(s.order[:i], s.order[i+1:]...)
			delete(s.pending, id)
			if s.busy != nil {
				s.busy[id] = true
			}
			if (s.sweeping || s.overflow) && len(s.pending) <= s.sweepRoom()/2 {
				select {
				case s.more <- struct{}{}:
				default:
				}
			}
			return id, true, 0
		}
		if d := at.Sub(now); wait < 0 || d < wait {
			wait = d
		}
	}
	return codec.BlobID{}, false, wait
}

// Run syncs until ctx ends.
func (s *Syncer) Run(ctx context.Context) {
	sub := s.cfg.Ledger.Subscribe(1024)
	defer sub.Cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	for range s.cfg.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); s.work(ctx) }()
	}
	sweep := time.NewTimer(0) // the start-up sweep
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.C:
			if c, ok := ev.(*ledger.BlobCertified); ok {
				s.enqueue(c.BlobID, time.Now().Add(s.cfg.Delay))
			}
		case <-sweep.C:
			s.mu.Lock()
			if !s.sweeping { // a sweep still in progress goes on from its cursor
				s.startSweepLocked()
			}
			s.mu.Unlock()
			s.sweepStep(ctx)
			sweep.Reset(s.cfg.Sweep)
		case <-s.more:
			s.sweepStep(ctx)
		}
	}
}

// sweepRoom is how many queued blobs a sweep fills the queue up to: three quarters of it,
// leaving room for certifications and retries.
func (s *Syncer) sweepRoom() int { return max(1, s.cfg.Queue-s.cfg.Queue/4) }

// startSweepLocked starts a sweep from the first certified blob.
func (s *Syncer) startSweepLocked() {
	s.sweeping, s.cursor, s.overflow = true, codec.BlobID{}, false
}

// sweepStep queues the certified blobs after the sweep's cursor, page by page, until the
// queue holds sweepRoom or the listing ends; next calls it again (more) once the workers
// have taken half of that. A sweep that ends while a blob was dropped for lack of room
// starts again from the first.
func (s *Syncer) sweepStep(ctx context.Context) {
	s.mu.Lock()
	if !s.sweeping && s.overflow {
		s.startSweepLocked()
	}
	s.mu.Unlock()
	for ctx.Err() == nil {
		s.mu.Lock()
		room, cursor, sweeping := s.sweepRoom()-len(s.pending), s.cursor, s.sweeping
		s.mu.Unlock()
		if !sweeping || room <= 0 {
			return
		}
		ids := s.cfg.Ledger.View().State().CertifiedBlobs(cursor, min(room, 256))
		s.mu.Lock()
		if len(ids) == 0 {
			s.sweeping = false
			s.cfg.Logger.Debug("blob sync sweep done")
			if s.overflow {
				s.startSweepLocked()
			}
			s.mu.Unlock()
			continue
		}
		now := time.Now()
		for _, id := range ids {
			if len(s.pending) >= s.sweepRoom() {
				break
			}
			s.enqueueLocked(id, now) // false: already queued
			s.cursor = id
		}
		s.mu.Unlock()
	}
}

func (s *Syncer) work(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		id, ok, wait := s.next(time.Now())
		if ok {
			err := s.sync(ctx, id, nil, nil)
			if ctx.Err() != nil {
				s.backlog.Add(-1)
				return
			}
			s.mu.Lock()
			delete(s.busy, id)
			s.mu.Unlock()
			again, after := s.settle(id, err, time.Now())
			switch {
			case errors.Is(err, errReceiving):
				s.cfg.Logger.Debug("blob sync: a writer is still uploading the blob here; waiting", "blob_id", id, "check_in", after)
			case errors.Is(err, errInvalidating):
				s.cfg.Logger.Info("blob sync: invalid-blob certificate submitted", "blob_id", id, "check_in", after)
			case err != nil && again:
				s.cfg.Logger.Warn("blob sync failed; retrying", "blob_id", id, "retry_in", after, "err", err)
			case err != nil:
				s.cfg.Logger.Warn("blob sync failed; left to the next sweep", "blob_id", id, "err", err)
			}
			s.backlog.Add(-1)
			continue
		}
		if wait < 0 {
			wait = time.Hour
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// sync recovers what this node misses of blob id on its current shards. Without only,
// shards still being pulled from their previous owner after an epoch change
// (blobstore.Syncing) are left to that pull; with only, just those of its shards are
// recovered. Symbols are asked of src's members (nil: the current committee).
func (s *Syncer) sync(ctx context.Context, id codec.BlobID, only []uint16, src *epoch.Committee) error {
	v := s.cfg.Ledger.View()
	if v.State().BlobStatus(id).Kind != staking.StatusCertified {
		return nil // expired, deleted or invalid since: nothing to hold
	}
	com := v.SigningCommittee()
	me := com.MemberIndex(s.cfg.Fetcher.Self)
	if me < 0 {
		return nil
	}
	missing, err := s.cfg.Store.MissingShards(ctx, id, com.Members[me].Shards)
	if err != nil || len(missing) == 0 {
		return err
	}
	kept := missing[:0]
	for _, sh := range missing {
		if only != nil {
			if slices.Contains(only, sh) {
				kept = append(kept, sh)
			}
		} else if st, err := s.cfg.Store.ShardState(ctx, int(sh)); err != nil {
			return err
		} else if st != blobstore.Syncing {
			kept = append(kept, sh)
		}
	}
	if missing = kept; len(missing) == 0 {
		return nil
	}
	if only == nil && src == nil && s.cfg.Receiving != nil && s.cfg.Receiving(id, max(s.cfg.Delay, minReceivingWindow)) && s.hold(id, time.Now()) {
		return errReceiving
	}
	meta, err := s.cfg.Store.Metadata(ctx, id)
	if errors.Is(err, blobstore.ErrNotFound) {
		if meta, err = s.cfg.Metadata(ctx, com, id); err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		err = s.cfg.Store.PutMetadata(ctx, id, &meta)
	}
	if err != nil {
		return err
	}
	p := s.cfg.Fetcher.Params
	symbol, err := meta.SymbolSize(p)
	if err != nil {
		return err
	}
	pairBytes := p.PrimarySliverSize(symbol) + p.SecondarySliverSize(symbol)
	per := max(1, s.cfg.Budget/pairBytes)
	s.cfg.Logger.Info("recovering slivers", "blob_id", id, "shards", len(missing))
	for start := 0; start < len(missing); start += per {
		shards := missing[start:min(start+per, len(missing))]
		if start > 0 {
			// A round takes seconds at gigabytes: drop what arrived meanwhile (a late
			// upload, an epoch change's pull).
			if shards, err = s.cfg.Store.MissingShards(ctx, id, shards); err != nil {
				return err
			}
			if len(shards) == 0 {
				continue
			}
		}
		var targets []Target
		for _, sh := range shards {
			pair := p.PairIndexForShard(id, int(sh))
			targets = append(targets, Target{codec.AxisSecondary, p.SecondaryIndexOfPair(pair)}, Target{codec.AxisPrimary, pair})
		}
		from := com
		if src != nil {
			from = src
		}
		res, err := s.cfg.Fetcher.Recover(ctx, from, id, &meta, targets)
		if err != nil {
			if res == nil || res.Proof == nil || s.cfg.Inconsistent == nil {
				return err
			}
			s.cfg.Logger.Warn("blob is inconsistently encoded: certifying it invalid", "blob_id", id,
				"target", res.Proof.Target, "index", res.Proof.TargetIndex)
			if ierr := s.cfg.Inconsistent(ctx, com, id, &meta, res.Proof); ierr != nil {
				return fmt.Errorf("%w; invalidating it: %w", err, ierr)
			}
			return errInvalidating
		}
		var bytes int64
		for _, sh := range shards {
			pair := p.PairIndexForShard(id, int(sh))
			pr := res.Slivers[Target{codec.AxisPrimary, pair}]
			se := res.Slivers[Target{codec.AxisSecondary, p.SecondaryIndexOfPair(pair)}]
			if err := s.cfg.Store.PutSlivers(ctx, id, int(sh), pr, se); err != nil {
				return fmt.Errorf("store shard %d: %w", sh, err)
			}
			bytes += int64(len(pr.Data) + len(se.Data))
		}
		s.recovered.Add(int64(2 * len(shards)))
		if s.cfg.Recovered != nil {
			s.cfg.Recovered(2*len(shards), bytes, res.Stats)
		}
		s.cfg.Logger.Info("recovered slivers", "blob_id", id, "shards", len(shards),
			"bytes", bytes, "received_bytes", res.Stats.Bytes, "symbols", res.Stats.Symbols, "needed", res.Stats.Needed)
	}
	return nil
}
