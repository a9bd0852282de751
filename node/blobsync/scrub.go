package blobsync

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/blobstore"
)

// Scrub defaults (ScrubConfig).
const (
	// DefaultScrubCPU is the share of one core the scrub may keep busy on an idle node.
	DefaultScrubCPU = 0.03
	// DefaultScrubRate caps the sliver bytes re-verified per second.
	DefaultScrubRate = 8 << 20
	// DefaultScrubPause is the rest between two full passes.
	DefaultScrubPause = 10 * time.Minute
	// scrubBusyDivisor divides the CPU share and the byte rate while the node serves users.
	scrubBusyDivisor = 16
)

// ScrubConfig configures a Scrubber. Zero fields get the defaults named.
type ScrubConfig struct {
	// Store holds the node's slivers. Required.
	Store *blobstore.Store
	// Shards returns the shards this node holds now. Required.
	Shards func() []uint16
	// Repair is told of a blob one of whose slivers failed, or whose metadata did: the
	// blob-sync Syncer's Check. Required.
	Repair func(id codec.BlobID)
	// CPU is the share of one core's time the scrub may spend (default DefaultScrubCPU,
	// 3%): each sliver's read and re-verification is timed, and the pass then rests long
	// enough that its work is at most this share of the wall-clock time. This is the scrub's
	// rate in CPU work, whatever the slivers' sizes: re-verifying a sliver expands it to n
	// symbols and hashes them in a Merkle tree of n leaves, so a sliver of a small blob costs
	// far more per byte than one of a large blob. On a loaded machine the same work takes
	// longer, and the pass slows down with it.
	CPU float64
	// Rate caps the sliver bytes re-verified per second (default 8 MiB/s), whatever CPU
	// allows.
	Rate int
	// Pause is the rest between two full passes (default 10 minutes).
	Pause time.Duration
	// Busy, if not nil, reports whether the node is serving users now (dataplane
	// Service.Busy): while it is, the scrub runs at BusyCPU and BusyRate, so it takes little
	// from reads and writes yet still ends its pass on a node that is never idle.
	Busy func() bool
	// BusyCPU and BusyRate are the CPU share and byte rate while Busy (defaults CPU/16 and
	// Rate/16).
	BusyCPU  float64
	BusyRate int
	// Logger receives progress (default: discarded).
	Logger *slog.Logger
}

// Scrubber re-verifies the node's stored slivers against their metadata in the background
// (docs/architecture.md §5 "Blob sync"): a sliver that no longer hashes to its commitment
// (bit rot, a damaged file) is dropped with its pair marker and its blob handed to blob sync,
// which recovers it from the other nodes; metadata that no longer decodes or no longer hashes
// to its blob ID is dropped with the blob's slivers and markers, and blob sync fetches it
// again (verified against the ID) and recovers the slivers. It walks every held shard's blobs
// in blob-ID order at a bounded share of a core, then rests, then starts again.
type Scrubber struct {
	cfg ScrubConfig

	checked, bad atomic.Int64
	badMeta      atomic.Int64
	lastPass     atomic.Int64 // unix ms of the last completed pass, 0 before
	running      atomic.Bool  // a pass is in progress
	lastStats    atomic.Pointer[PassStats]
}

// PassStats describes a completed pass.
type PassStats struct {
	// Slivers and Bytes are what it re-verified.
	Slivers, Bytes int64
	// Work is the wall-clock time spent reading and re-verifying (what the CPU share
	// paces), Duration the whole pass, rests included.
	Work, Duration time.Duration
}

// NewScrubber returns a Scrubber; Run starts it.
func NewScrubber(cfg ScrubConfig) (*Scrubber, error) {
	if cfg.Store == nil || cfg.Shards == nil || cfg.Repair == nil {
		return nil, errors.New("blobsync: ScrubConfig.Store, Shards and Repair are required")
	}
	if cfg.Rate < 0 || cfg.Pause < 0 || cfg.BusyRate < 0 || cfg.CPU < 0 || cfg.BusyCPU < 0 || cfg.CPU > 1 || cfg.BusyCPU > 1 {
		return nil, errors.New("blobsync: negative scrub rate or pause, or a CPU share outside [0, 1]")
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultScrubRate
	}
	if cfg.CPU == 0 {
		cfg.CPU = DefaultScrubCPU
	}
	if cfg.Pause == 0 {
		cfg.Pause = DefaultScrubPause
	}
	if cfg.BusyRate == 0 {
		cfg.BusyRate = max(cfg.Rate/scrubBusyDivisor, 1)
	}
	if cfg.BusyCPU == 0 {
		cfg.BusyCPU = cfg.CPU / scrubBusyDivisor
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Scrubber{cfg: cfg}, nil
}

// Checked and Bad count the slivers re-verified and those that failed, since start.
func (s *Scrubber) Checked() int64 { return s.checked.Load() }

// Bad counts the slivers that failed re-verification since start.
func (s *Scrubber) Bad() int64 { return s.bad.Load() }

// BadMetadata counts the blobs whose stored metadata failed (did not decode or did not hash
// to the blob ID) since start.
func (s *Scrubber) BadMetadata() int64 { return s.badMeta.Load() }

// LastPassStats describes the last completed pass (zero before the first).
func (s *Scrubber) LastPassStats() PassStats {
	if st := s.lastStats.Load(); st != nil {
		return *st
	}
	return PassStats{}
}

// Running reports whether a pass is in progress.
func (s *Scrubber) Running() bool { return s.running.Load() }

// LastPass is when the last full pass ended (zero before the first).
func (s *Scrubber) LastPass() time.Time {
	if ms := s.lastPass.Load(); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Time{}
}

// Run scrubs until ctx ends: a pass at start, then one every Pause.
func (s *Scrubber) Run(ctx context.Context) {
	for {
		if err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("scrub pass failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.cfg.Pause):
		}
	}
}

// pacer spaces a pass's work out: each unit of work (a sliver read and re-verified) costs
// max(its bytes / rate, its wall-clock time / CPU share) of the pass's time, at the rate and
// share of the moment (the busy ones while the node serves users); the pass sleeps while it
// is ahead.
type pacer struct {
	s     *Scrubber
	start time.Time
	due   time.Duration
	work  time.Duration // the pass's work so far

	// verified holds, for blobs whose metadata this pass checked against the ID, a hash
	// of the bytes checked (at most maxVerifiedMetadata blobs).
	verified map[codec.BlobID]uint64
	seed     maphash.Seed
}

// maxVerifiedMetadata bounds pacer.verified (40 bytes a blob).
const maxVerifiedMetadata = 1 << 16

func (pc *pacer) pace(ctx context.Context, bytes int64, work time.Duration) error {
	cfg := &pc.s.cfg
	pc.work += work
	rate, share := cfg.Rate, cfg.CPU
	if cfg.Busy != nil && cfg.Busy() {
		rate, share = cfg.BusyRate, cfg.BusyCPU
	}
	cost := time.Duration(float64(bytes) / float64(rate) * float64(time.Second))
	if share > 0 && share < 1 {
		cost = max(cost, time.Duration(float64(work)/share))
	}
	// No credit beyond a second: a pass that fell behind (slow disk, a pause) does not then
	// burst to catch up.
	pc.due = max(pc.due, time.Since(pc.start)-time.Second)
	pc.due += cost
	if ahead := pc.due - time.Since(pc.start); ahead > 0 {
		t := time.NewTimer(ahead)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Pass re-verifies every stored sliver of the held shards once, at the configured pace. A
// blob whose metadata fails is dropped and handed to repair, and the pass goes on; only a
// storage error (or ctx) ends it early.
func (s *Scrubber) Pass(ctx context.Context) error {
	s.running.Store(true)
	defer s.running.Store(false)
	pc := &pacer{s: s, start: time.Now(), verified: make(map[codec.BlobID]uint64), seed: maphash.MakeSeed()}
	var bytes int64
	checked, bad := s.checked.Load(), s.bad.Load()
	metas := make(map[codec.BlobID]*codec.Metadata) // this pass's metadata, a page at a time
	for _, shard := range s.cfg.Shards() {
		var after *codec.BlobID
		for {
			ids, err := s.cfg.Store.ShardBlobs(ctx, int(shard), after, 64)
			if err != nil {
				return err
			}
			if len(ids) == 0 {
				break
			}
			clear(metas)
			for _, id := range ids {
				n, err := s.scrubPair(ctx, pc, id, shard, metas)
				bytes += n
				if err != nil {
					return err
				}
			}
			after = &ids[len(ids)-1]
		}
	}
	st := PassStats{Slivers: s.checked.Load() - checked, Bytes: bytes, Work: pc.work, Duration: time.Since(pc.start)}
	s.lastStats.Store(&st)
	s.lastPass.Store(time.Now().UnixMilli())
	s.cfg.Logger.Info("scrub pass done", "slivers", st.Slivers, "bad", s.bad.Load()-bad,
		"bytes", bytes, "work_ms", st.Work.Milliseconds(), "duration_ms", st.Duration.Milliseconds())
	return nil
}

// metadata returns blob id's stored metadata, checked against the ID; nil when it is not
// stored (removed meanwhile) or failed and was dropped.
func (s *Scrubber) metadata(ctx context.Context, pc *pacer, id codec.BlobID, shard uint16) (*codec.Metadata, error) {
	b, err := s.cfg.Store.MetadataBytes(ctx, id)
	if errors.Is(err, blobstore.ErrNotFound) {
		return nil, nil // removed meanwhile (garbage collection, or dropped below)
	}
	if err != nil {
		return nil, err
	}
	p := s.cfg.Store.Params()
	m, err := codec.UnmarshalMetadataBCS(p, b)
	// Checking the metadata against the ID (a Merkle root over its n pair hashes) costs as
	// much as re-verifying a small blob's sliver, and a pass meets each blob once per held
	// shard: the same bytes are checked once a pass (verified remembers them, bounded).
	sum := maphash.Bytes(pc.seed, b)
	if v, ok := pc.verified[id]; err == nil && (!ok || v != sum) {
		if err = codec.VerifyMetadata(p, id, &m); err == nil && len(pc.verified) < maxVerifiedMetadata {
			pc.verified[id] = sum
		}
	}
	if err == nil {
		return &m, nil
	}
	// Metadata that does not decode, or decodes to something other than what the blob ID
	// commits to: nothing of the blob can be verified here any more. Drop it with the
	// blob's slivers and pair markers on this node's shards, so blob sync sees them
	// missing, fetches the metadata again from the committee (verified against the ID)
	// and recovers the slivers.
	s.badMeta.Add(1)
	s.cfg.Logger.Warn("stored metadata failed re-verification: dropping the blob here for repair", "blob_id", id, "err", err)
	shards, serr := s.cfg.Store.StoredShards(ctx, id)
	if serr != nil {
		return nil, serr
	}
	for _, sh := range append(slices.Clone(s.cfg.Shards()), shard) {
		if !slices.Contains(shards, sh) {
			shards = append(shards, sh)
		}
	}
	if err := s.cfg.Store.DeleteBlob(ctx, id, shards); err != nil {
		return nil, fmt.Errorf("drop blob %s with bad metadata: %w", id, err)
	}
	s.cfg.Repair(id)
	return nil, nil
}

// scrubPair re-verifies the slivers of blob id stored on shard, pacing each, and returns
// their bytes.
func (s *Scrubber) scrubPair(ctx context.Context, pc *pacer, id codec.BlobID, shard uint16, metas map[codec.BlobID]*codec.Metadata) (int64, error) {
	t0 := time.Now()
	m, ok := metas[id]
	if !ok {
		var err error
		if m, err = s.metadata(ctx, pc, id, shard); err != nil {
			return 0, err
		}
		metas[id] = m
	}
	if m == nil {
		return 0, pc.pace(ctx, 0, time.Since(t0))
	}
	p := s.cfg.Store.Params()
	var total int64
	for _, axis := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
		if axis == codec.AxisSecondary {
			t0 = time.Now()
		}
		n, err := s.scrubSliver(ctx, p, m, id, shard, axis)
		total += n
		if err != nil {
			return total, err
		}
		if err := pc.pace(ctx, n, time.Since(t0)); err != nil {
			return total, err
		}
	}
	return total, nil
}

// scrubSliver re-verifies one stored sliver and returns its bytes; one that fails is dropped
// and its blob handed to repair.
func (s *Scrubber) scrubSliver(ctx context.Context, p codec.Params, m *codec.Metadata, id codec.BlobID, shard uint16, axis codec.Axis) (int64, error) {
	sl, err := s.cfg.Store.Sliver(ctx, id, int(shard), axis)
	if errors.Is(err, blobstore.ErrNotFound) {
		return 0, nil // not stored (yet): blob sync's business
	}
	s.checked.Add(1)
	var n int64
	if err == nil {
		n = int64(len(sl.Data))
		err = codec.VerifySliver(p, m, &sl)
		if err == nil && int(sl.Index) != blobstore.ExpectedIndex(p, id, int(shard), axis) {
			err = errors.New("stored under another shard's index")
		}
	}
	if err == nil {
		return n, nil
	}
	// A sliver that does not parse or verify: drop it, and let blob sync recover it.
	s.bad.Add(1)
	s.cfg.Logger.Warn("stored sliver failed re-verification", "blob_id", id, "shard", shard, "axis", axis, "err", err)
	if err := s.cfg.Store.DropSliver(ctx, id, int(shard), axis); err != nil {
		return n, err
	}
	s.cfg.Repair(id)
	return n, nil
}

// HeldShards returns a ScrubConfig.Shards for node self: its shards in ledger l's current
// committee.
func HeldShards(l Ledger, self epoch.NodeID) func() []uint16 {
	return func() []uint16 {
		com := l.View().SigningCommittee()
		if i := com.MemberIndex(self); i >= 0 {
			return com.Members[i].Shards
		}
		return nil
	}
}
