// Package epochchange moves shards between nodes when the committee changes
// (docs/architecture.md §5 "Epoch change"). It applies the pure plan (epoch.Plan) and takes
// no decisions of its own: at each EpochChanged event a node locks the shards it lost to new
// writes (they keep serving reads and the transfer), marks the shards it gained as syncing
// (they take new writes at once) and pulls their older slivers from the previous owner over
// /walrus/shard-sync/1, page by page in blob-ID order, storing each verified pair durably
// and recording its progress, so a restart goes on where it stopped. When the previous owner
// fails repeatedly or sends a sliver that does not verify, the shard falls back to RedStuff
// recovery from the other nodes (blob sync). With every gained shard complete the node
// submits `sync done`; the change is over when nodes worth n-f shards did, and only then does
// a node give the bytes of its lost shards back.
package epochchange

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/shardsync"
	"github.com/walrus-go/walrus-go/staking"
)

// Ledger is what the changer reads of the node's ledger.
type Ledger interface {
	View() *ledger.View
	Subscribe(buf int) *ledger.Subscription
}

// Config configures a Changer. Zero fields get the defaults named.
type Config struct {
	// Host opens the streams. Required.
	Host host.Host
	// Store holds the node's slivers and shard states. Required.
	Store *blobstore.Store
	// Ledger gives the committees and blob statuses. Required.
	Ledger Ledger
	// Key is the node's BLS key: it signs `sync done`. Required.
	Key *bls.SecretKey
	// Metadata fetches a blob's metadata from a committee, verified against its ID. Required.
	Metadata func(ctx context.Context, com *epoch.Committee, id codec.BlobID) (codec.Metadata, error)
	// Repair recovers, before returning, what the node misses of a blob on the given
	// shards, from the symbols of committee src's members (blobsync.Syncer.SyncFrom).
	// Required.
	Repair func(ctx context.Context, id codec.BlobID, src *epoch.Committee, shards []uint16) error
	// SubmitSyncDone submits the node's `sync done`. Required.
	SubmitSyncDone func(ctx context.Context, op *staking.SyncDone) error
	// Page is how many blobs one shard-sync exchange asks for (default 256).
	Page int
	// Attempts is how many failed exchanges in a row make a source failed (default 3).
	Attempts int
	// RetryDelay is the pause after a failed exchange (default 1 s).
	RetryDelay time.Duration
	// Logger receives progress (default: discarded).
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if c.Host == nil || c.Store == nil || c.Ledger == nil || c.Key == nil || c.Metadata == nil ||
		c.Repair == nil || c.SubmitSyncDone == nil {
		return errors.New("epochchange: Host, Store, Ledger, Key, Metadata, Repair and SubmitSyncDone are required")
	}
	if c.Page <= 0 {
		c.Page = 256
	}
	c.Page = min(c.Page, shardsync.MaxLimit)
	if c.Attempts <= 0 {
		c.Attempts = 3
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Changer runs epoch changes for one node.
type Changer struct {
	cfg  Config
	self epoch.NodeID

	epoch      atomic.Uint32 // the epoch of the change last started
	syncing    atomic.Int64  // gained shards not complete yet
	done       atomic.Int64  // gained shards completed, since start
	recovered  atomic.Int64  // gained shards completed by recovery, since start
	bytesMoved atomic.Int64  // sliver bytes pulled from previous owners, since start
	received   atomic.Int64  // shard-sync response bytes received, since start
	blobsMoved atomic.Int64  // pairs pulled, since start
	released   atomic.Int64  // pairs of lost shards given back, since start
	locked     atomic.Bool   // some shard may be locked to move: release looks
}

// New returns a Changer; Run starts it.
func New(cfg Config) (*Changer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Changer{cfg: cfg, self: epoch.NodeIDOf(cfg.Key.PublicKey())}
	c.locked.Store(true) // a restart may have left some
	return c, nil
}

// Status is what the changer reports (metrics, health).
type Status struct {
	Epoch                    uint32
	Syncing, Done, Recovered int64
	BytesMoved, BlobsMoved   int64
	Released                 int64
	// ReceivedBytes is what shard sync received (pages with their framing), since start.
	ReceivedBytes int64
}

// Status reports the changer's progress.
func (c *Changer) Status() Status {
	return Status{Epoch: c.epoch.Load(), Syncing: c.syncing.Load(), Done: c.done.Load(), Recovered: c.recovered.Load(),
		BytesMoved: c.bytesMoved.Load(), BlobsMoved: c.blobsMoved.Load(), Released: c.released.Load(),
		ReceivedBytes: c.received.Load()}
}

// Run handles epoch changes until ctx ends: first whatever a restart left unfinished, then
// each EpochChanged event, one change at a time and in order, so that a change overtaken by
// the next epoch still pulls from the owners it planned with (they keep their lost shards
// until the change completes).
func (c *Changer) Run(ctx context.Context) {
	sub := c.cfg.Ledger.Subscribe(64)
	defer sub.Cancel()
	type job struct{ prev, com *epoch.Committee }
	queue := make(chan job, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case j := <-queue:
				c.change(ctx, j.prev, j.com)
			}
		}
	}()
	defer func() { <-done }()
	v := c.cfg.Ledger.View()
	var prev *epoch.Committee
	if v.Epoch() > 0 {
		prev, _ = v.Committee(v.Epoch() - 1)
	}
	queue <- job{prev, v.SigningCommittee()}
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.C:
			switch e := ev.(type) {
			case *ledger.EpochChanged:
				select {
				case queue <- job{e.Previous, e.Committee}:
				default:
					// 64 changes behind: the newest one completes what the others left.
					c.cfg.Logger.Warn("epoch change queue full; a change is skipped", "epoch", e.Epoch)
				}
			case *ledger.CheckpointCommitted:
				if c.locked.Load() && e.View.State().SyncDone() {
					c.release(ctx, e.View)
				}
			}
		}
	}
}

// change brings this node's shards in line with committee com, whose predecessor is prev
// (nil: unknown, or genesis), and announces sync done while com is current.
func (c *Changer) change(ctx context.Context, prev, com *epoch.Committee) {
	c.epoch.Store(com.Epoch)
	me := com.MemberIndex(c.self)
	if prev != nil && prev.Epoch+1 == com.Epoch {
		plan, err := epoch.Plan(prev, com)
		if err != nil {
			c.cfg.Logger.Error("epoch change plan", "epoch", com.Epoch, "err", err)
			return
		}
		if np := plan.Node(c.self); np != nil {
			if err := c.begin(ctx, np); err != nil {
				c.cfg.Logger.Error("epoch change", "epoch", com.Epoch, "err", err)
				return
			}
		}
	} else {
		prev = nil
	}
	if me < 0 {
		return // not a member: nothing to hold, nothing to announce
	}
	// Every shard of com still syncing (gained now, or left so by a restart) is completed:
	// pulled from its previous owner when known, else recovered.
	bySource := make(map[int][]uint16) // previous owner's index in prev (-1: none) → shards
	n := 0
	for _, sh := range com.Members[me].Shards {
		st, err := c.cfg.Store.ShardState(ctx, int(sh))
		if err != nil {
			c.cfg.Logger.Error("epoch change: shard state", "shard", sh, "err", err)
			return
		}
		if st != blobstore.Syncing && st != blobstore.Recovering {
			continue
		}
		src := -1
		if prev != nil && st == blobstore.Syncing {
			if o := prev.Owner(int(sh)); o >= 0 && prev.Members[o].Node != c.self {
				src = o
			}
		}
		bySource[src] = append(bySource[src], sh)
		n++
	}
	c.syncing.Store(int64(n))
	if n > 0 {
		c.cfg.Logger.Info("epoch change: syncing gained shards", "epoch", com.Epoch, "shards", n, "sources", len(bySource))
	}
	// One puller per source, in parallel: a failing source delays only its own shards.
	type pulled struct {
		sh uint16
		ok bool
	}
	results := make(chan []pulled, len(bySource))
	for src, shards := range bySource {
		go func() {
			var out []pulled
			for _, sh := range shards {
				out = append(out, pulled{sh, c.pullShard(ctx, prev, com, src, sh)})
			}
			results <- out
		}()
	}
	var pending []uint16
	recovered := map[uint16]bool{}
	for range bySource {
		for _, r := range <-results {
			pending = append(pending, r.sh)
			recovered[r.sh] = !r.ok
		}
	}
	if err := ctx.Err(); err != nil {
		return
	}
	// One pass over the certified blobs repairs whatever the pulls did not bring (all of a
	// shard whose source failed, or blobs a source missed), from prev's members.
	from := prev
	if from == nil {
		from = com
	}
	failed := false
	if len(pending) > 0 {
		if err := c.complete(ctx, from, pending); err != nil {
			failed = true
			if ctx.Err() == nil {
				c.cfg.Logger.Error("epoch change: shards not completed", "epoch", com.Epoch, "shards", len(pending), "err", err)
			}
		}
	}
	if !failed {
		for _, sh := range pending {
			if err := c.cfg.Store.SetShardState(ctx, int(sh), blobstore.Active); err != nil {
				failed = true
				break
			}
			if recovered[sh] {
				c.recovered.Add(1)
			}
			c.syncing.Add(-1)
			c.done.Add(1)
		}
	}
	v := c.cfg.Ledger.View()
	if failed || prev == nil || v.Epoch() != com.Epoch || v.State().NodeSyncDone(c.self) {
		return // unfinished (the next change or restart goes on), genesis, stale or already announced
	}
	msg := staking.SyncDoneMessage(v.Network(), com.Epoch, c.self)
	op := &staking.SyncDone{Node: c.self, Epoch: com.Epoch, Sig: c.cfg.Key.Sign(msg)}
	for attempt := 0; ; attempt++ {
		err := c.cfg.SubmitSyncDone(ctx, op)
		if err == nil {
			c.cfg.Logger.Info("epoch change: sync done submitted", "epoch", com.Epoch)
			return
		}
		if ctx.Err() != nil || attempt >= c.cfg.Attempts || c.cfg.Ledger.View().Epoch() != com.Epoch {
			c.cfg.Logger.Warn("epoch change: sync done not submitted", "epoch", com.Epoch, "err", err)
			return
		}
		if !sleep(ctx, c.cfg.RetryDelay) {
			return
		}
	}
}

// begin records the plan's shard states durably: lost shards locked to new writes, gained
// ones syncing (unless already complete in this change).
func (c *Changer) begin(ctx context.Context, np *epoch.NodePlan) error {
	for _, sh := range np.Lost {
		if err := c.cfg.Store.SetShardState(ctx, int(sh), blobstore.LockedToMove); err != nil {
			return err
		}
		c.locked.Store(true)
	}
	for _, sh := range np.Gained {
		st, err := c.cfg.Store.ShardState(ctx, int(sh))
		if err != nil {
			return err
		}
		if st == blobstore.Syncing || st == blobstore.Recovering {
			continue // a restart: progress is kept
		}
		if err := c.cfg.Store.SetShardState(ctx, int(sh), blobstore.Syncing); err != nil {
			return err
		}
	}
	if len(np.Gained)+len(np.Lost) > 0 {
		c.cfg.Logger.Info("epoch change planned", "gained", len(np.Gained), "lost", len(np.Lost), "kept", len(np.Kept))
	}
	return nil
}

// pullShard pulls shard sh of com from member src of prev when src >= 0 and reports
// whether that succeeded; otherwise (or when the source fails or lies) the shard is marked
// recovering, for the completion pass to rebuild from the other nodes.
func (c *Changer) pullShard(ctx context.Context, prev, com *epoch.Committee, src int, sh uint16) bool {
	if src >= 0 {
		err := c.pull(ctx, prev, com.Epoch, sh, &prev.Members[src])
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.cfg.Logger.Warn("epoch change: previous owner failed, recovering the shard instead",
			"shard", sh, "source", fmt.Sprintf("%x", prev.Members[src].Node[:4]), "err", err)
	}
	if err := c.cfg.Store.SetShardState(ctx, int(sh), blobstore.Recovering); err != nil {
		c.cfg.Logger.Warn("epoch change: shard state", "shard", sh, "err", err)
	}
	return false
}

// pull copies shard sh's pairs from member src, resuming after the recorded progress.
func (c *Changer) pull(ctx context.Context, prev *epoch.Committee, ep uint32, sh uint16, src *epoch.Member) error {
	p := c.cfg.Store.Params()
	to, err := p2p.MemberPeer(c.cfg.Host, src)
	if err != nil {
		return err
	}
	after, err := c.cfg.Store.SyncProgress(ctx, ep, int(sh))
	if err != nil {
		return err
	}
	spec := shardsync.Spec(p)
	failures := 0
	for {
		req := shardsync.Request{Epoch: ep, Shard: sh, After: after, Limit: uint16(c.cfg.Page)}
		out, err := p2p.Call(ctx, c.cfg.Host, to, spec, req.Encode())
		c.received.Add(int64(len(out)))
		var pg shardsync.Page
		if err == nil {
			pg, err = shardsync.DecodePage(p, out, after, c.cfg.Page)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if failures++; failures >= c.cfg.Attempts {
				return fmt.Errorf("%d attempts: %w", failures, err)
			}
			if !sleep(ctx, c.cfg.RetryDelay) {
				return ctx.Err()
			}
			continue
		}
		failures = 0
		for i := range pg.Items {
			it := &pg.Items[i]
			if err := c.store(ctx, prev, sh, it); err != nil {
				// A sliver that does not verify is the source's lie: no second chance.
				return fmt.Errorf("blob %s: %w", it.BlobID, err)
			}
			after = &it.BlobID
		}
		if after != nil && len(pg.Items) > 0 {
			if err := c.cfg.Store.SetSyncProgress(ctx, ep, int(sh), *after); err != nil {
				return err
			}
		}
		if !pg.More {
			return nil
		}
		if len(pg.Items) == 0 {
			return errors.New("an empty page announcing more")
		}
	}
}

// store verifies and stores one pulled pair: only of a blob the ledger says is registered
// or certified, each sliver checked against the blob's metadata (fetched from the previous
// committee, verified against the blob ID, when the node lacks it).
func (c *Changer) store(ctx context.Context, prev *epoch.Committee, sh uint16, it *shardsync.Item) error {
	if len(it.Primary) == 0 && len(it.Secondary) == 0 {
		return nil // the source lacks it: complete() recovers it
	}
	switch c.cfg.Ledger.View().State().BlobStatus(it.BlobID).Kind {
	case staking.StatusRegistered, staking.StatusCertified:
	default:
		return nil // dead or unknown: nothing to keep
	}
	p := c.cfg.Store.Params()
	pr, err := codec.UnmarshalSliverBCS(p, codec.AxisPrimary, it.Primary)
	if err != nil {
		return err
	}
	se, err := codec.UnmarshalSliverBCS(p, codec.AxisSecondary, it.Secondary)
	if err != nil {
		return err
	}
	pair := p.PairIndexForShard(it.BlobID, int(sh))
	if int(pr.Index) != pair || int(se.Index) != p.SecondaryIndexOfPair(pair) {
		return fmt.Errorf("pair %d/%d is not shard %d's (%d)", pr.Index, se.Index, sh, pair)
	}
	has, err := c.cfg.Store.HasMetadata(ctx, it.BlobID)
	if err != nil {
		return err
	}
	if !has {
		meta, err := c.cfg.Metadata(ctx, prev, it.BlobID)
		if err != nil {
			return fmt.Errorf("metadata: %w", err)
		}
		if err := c.cfg.Store.PutMetadata(ctx, it.BlobID, &meta); err != nil {
			return err
		}
	}
	if err := c.cfg.Store.PutSlivers(ctx, it.BlobID, int(sh), &pr, &se); err != nil {
		return err
	}
	c.bytesMoved.Add(int64(len(pr.Data) + len(se.Data)))
	c.blobsMoved.Add(1)
	return nil
}

// complete repairs every certified blob that lacks a pair on any of shards, from src's
// members: one pass over the certified blobs, whatever the number of shards.
func (c *Changer) complete(ctx context.Context, src *epoch.Committee, shards []uint16) error {
	var after codec.BlobID
	for {
		ids := c.cfg.Ledger.View().State().CertifiedBlobs(after, 256)
		if len(ids) == 0 {
			return nil
		}
		for _, id := range ids {
			missing, err := c.cfg.Store.MissingShards(ctx, id, shards)
			if err != nil {
				return err
			}
			if len(missing) > 0 {
				if err := c.cfg.Repair(ctx, id, src, missing); err != nil {
					return fmt.Errorf("repair %s: %w", id, err)
				}
			}
		}
		after = ids[len(ids)-1]
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// release gives back the bytes of shards this node locked at the change (lost shards) once
// the change is complete and the shard's current owner announced sync done, unless the node
// holds them again.
func (c *Changer) release(ctx context.Context, v *ledger.View) {
	com := v.SigningCommittee()
	me := com.MemberIndex(c.self)
	p := c.cfg.Store.Params()
	c.locked.Store(false)
	for sh := range p.N {
		st, err := c.cfg.Store.ShardState(ctx, sh)
		if err != nil || st != blobstore.LockedToMove {
			if err != nil {
				c.locked.Store(true) // look again later
			}
			continue
		}
		if me >= 0 && com.Owner(sh) == me {
			continue // gained back: its sync decides
		}
		// Only once the shard's owner now has announced it holds everything: until then
		// these slivers may be what it pulls or recovers from (a change completes at n-f
		// shards, and the owner of this one may be among the rest).
		if o := com.Owner(sh); o < 0 || !v.State().NodeSyncDone(com.Members[o].Node) {
			c.locked.Store(true)
			continue
		}
		n := 0
		for ctx.Err() == nil {
			k, err := c.cfg.Store.ReleaseShard(ctx, sh, 256)
			if err != nil {
				c.cfg.Logger.Warn("epoch change: release lost shard", "shard", sh, "err", err)
				c.locked.Store(true)
				return
			}
			if k == 0 {
				break
			}
			n += k
		}
		if ctx.Err() != nil {
			c.locked.Store(true)
			return
		}
		if err := c.cfg.Store.SetShardState(ctx, sh, blobstore.Active); err != nil {
			c.locked.Store(true)
			return
		}
		c.released.Add(int64(n))
		c.cfg.Logger.Info("epoch change complete: lost shard given back", "shard", sh, "pairs", n)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
