package blobsync

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/blobstore"
)

// ScrubConfig configures a Scrubber. Zero fields get the defaults named.
type ScrubConfig struct {
	// Store holds the node's slivers. Required.
	Store *blobstore.Store
	// Shards returns the shards this node holds now. Required.
	Shards func() []uint16
	// Repair is told of a blob one of whose slivers failed: the blob-sync Syncer's Check.
	// Required.
	Repair func(id codec.BlobID)
	// Rate bounds the sliver bytes re-verified per second (default 8 MiB/s), so scrubbing
	// costs reads and writes little.
	Rate int
	// Pause is the rest between two full passes (default 10 minutes).
	Pause time.Duration
	// Busy, if not nil, reports whether the node is serving users now (dataplane
	// Service.Busy): while it is, the scrub runs at BusyRate, so it takes little from reads
	// and writes yet still ends its pass on a node that is never idle.
	Busy func() bool
	// BusyRate is the rate while Busy (default Rate/16).
	BusyRate int
	// Logger receives progress (default: discarded).
	Logger *slog.Logger
}

// Scrubber re-verifies the node's stored slivers against their metadata in the background
// (docs/architecture.md §5 "Blob sync"): a sliver that no longer hashes to its commitment
// (bit rot, a damaged file) is dropped with its pair marker and its blob handed to blob sync,
// which recovers it from the other nodes. It walks every held shard's blobs in blob-ID order
// at a bounded byte rate, then rests, then starts again.
type Scrubber struct {
	cfg ScrubConfig

	checked, bad atomic.Int64
	lastPass     atomic.Int64 // unix ms of the last completed pass, 0 before
}

// NewScrubber returns a Scrubber; Run starts it.
func NewScrubber(cfg ScrubConfig) (*Scrubber, error) {
	if cfg.Store == nil || cfg.Shards == nil || cfg.Repair == nil {
		return nil, errors.New("blobsync: ScrubConfig.Store, Shards and Repair are required")
	}
	if cfg.Rate < 0 || cfg.Pause < 0 || cfg.BusyRate < 0 {
		return nil, errors.New("blobsync: negative scrub rate or pause")
	}
	if cfg.Rate == 0 {
		cfg.Rate = 8 << 20
	}
	if cfg.Pause == 0 {
		cfg.Pause = 10 * time.Minute
	}
	if cfg.BusyRate == 0 {
		cfg.BusyRate = max(cfg.Rate/16, 1)
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

// Pass re-verifies every stored sliver of the held shards once, at the configured rate.
func (s *Scrubber) Pass(ctx context.Context) error {
	start := time.Now()
	var bytes int64
	checked, bad := s.checked.Load(), s.bad.Load()
	// The pace: each sliver's bytes cost n/rate seconds of the budget, at the rate of the
	// moment (BusyRate while the node serves users); the pass sleeps while it is ahead.
	var due time.Duration
	pace := func(n int64) error {
		rate := s.cfg.Rate
		if s.cfg.Busy != nil && s.cfg.Busy() {
			rate = s.cfg.BusyRate
		}
		// No credit beyond a second: a pass that fell behind (slow disk, a pause) does not
		// then burst to catch up.
		due = max(due, time.Since(start)-time.Second)
		due += time.Duration(float64(n) / float64(rate) * float64(time.Second))
		if ahead := due - time.Since(start); ahead > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(ahead):
			}
		}
		return nil
	}
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
				n, err := s.scrubPair(ctx, id, shard, metas)
				if err != nil {
					return err
				}
				bytes += n
				if err := pace(n); err != nil {
					return err
				}
			}
			after = &ids[len(ids)-1]
		}
	}
	s.lastPass.Store(time.Now().UnixMilli())
	s.cfg.Logger.Info("scrub pass done", "slivers", s.checked.Load()-checked, "bad", s.bad.Load()-bad,
		"bytes", bytes, "duration_ms", time.Since(start).Milliseconds())
	return nil
}

// scrubPair re-verifies the slivers of blob id stored on shard and returns their bytes.
func (s *Scrubber) scrubPair(ctx context.Context, id codec.BlobID, shard uint16, metas map[codec.BlobID]*codec.Metadata) (int64, error) {
	m := metas[id]
	if m == nil {
		meta, err := s.cfg.Store.Metadata(ctx, id)
		if errors.Is(err, blobstore.ErrNotFound) {
			return 0, nil // removed meanwhile (garbage collection)
		}
		if err != nil {
			return 0, err
		}
		m = &meta
		metas[id] = m
	}
	p := s.cfg.Store.Params()
	var n int64
	for _, axis := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
		sl, err := s.cfg.Store.Sliver(ctx, id, int(shard), axis)
		if errors.Is(err, blobstore.ErrNotFound) {
			continue // not stored (yet): blob sync's business
		}
		s.checked.Add(1)
		if err == nil {
			n += int64(len(sl.Data))
			err = codec.VerifySliver(p, m, &sl)
			if err == nil {
				pair := p.PairIndexForShard(id, int(shard))
				want := pair
				if axis == codec.AxisSecondary {
					want = p.SecondaryIndexOfPair(pair)
				}
				if int(sl.Index) != want {
					err = errors.New("stored under another shard's index")
				}
			}
		}
		if err == nil {
			continue
		}
		// A sliver that does not parse or verify: drop it, and let blob sync recover it.
		s.bad.Add(1)
		s.cfg.Logger.Warn("stored sliver failed re-verification", "blob_id", id, "shard", shard, "axis", axis, "err", err)
		if err := s.cfg.Store.DropSliver(ctx, id, int(shard), axis); err != nil {
			return n, err
		}
		s.cfg.Repair(id)
	}
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
