package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/nodestatus"
)

// A node's report on itself (docs/operating.md "Health"): served over /walrus/node-status/1
// (what `walrus health` asks), in /v1/health and as gauges on /metrics.

const (
	// holdingsMaxAge is how stale the counts of blobs and slivers held and the datastore's
	// size may get: they come from walks (the blob keys, the datastore directory), redone
	// when someone asks and the last walk is older than 20 times its own duration, at least
	// holdingsMinAge and at most holdingsMaxAge. Walking a store of thousands of blobs takes
	// well under a second, so answers are fresh within a second or two while the walks cost
	// at most a twentieth of the time even on a store that takes seconds to walk.
	holdingsMaxAge = 15 * time.Second
	holdingsMinAge = time.Second
	// holdingsMaxKeys bounds one walk of the blob keys (metadata, state and a pair marker per
	// held shard for every blob): beyond it the counts stop and are reported as lower bounds.
	holdingsMaxKeys = 1 << 20
	// holdingsTimeout bounds one walk in time, with the same outcome.
	holdingsTimeout = 5 * time.Second
	// diskMaxFiles bounds the walk of the datastore directory (pebble keeps a few thousand
	// table files at most for terabytes).
	diskMaxFiles = 1 << 16
	// toRecoverMaxBlobs bounds the blobs of the blob-sync backlog whose missing slivers one
	// count visits (a key walk each); the count is recounted like the holdings, within
	// holdingsTimeout, and is a lower bound beyond either.
	toRecoverMaxBlobs = 4096
)

// statusCache holds the last walks' results.
type statusCache struct {
	mu   sync.Mutex
	at   time.Time     // when the last walk ended (zero: never)
	took time.Duration // how long it took
	hold blobstore.Holdings
	disk uint64

	// The count of slivers still to recover (toRecover), cached the same way.
	recMu     sync.Mutex
	recAt     time.Time
	recTook   time.Duration
	recCount  uint64
	recCapped bool
	recKey    [2]int64 // the syncer's backlog and recovered slivers at the count
}

// Stats is the part of /v1/health that `walrus health` also shows.
type Stats struct {
	ShardsHeld      int    `json:"shards_held"`
	BlobsHeld       uint64 `json:"blobs_held"`
	BlobsHeldCapped bool   `json:"blobs_held_capped,omitempty"` // blobs_held and slivers_held are lower bounds
	SliversHeld     uint64 `json:"slivers_held"`
	SliverBytesHeld uint64 `json:"sliver_bytes_held"`
	SyncBacklog     uint64 `json:"sync_backlog"`
	// SliversToRecover is what blob sync still has to recover over its backlog's blobs
	// (two slivers per shard lacking its pair); a lower bound when SliversToRecoverCapped.
	SliversToRecover       uint64 `json:"slivers_to_recover"`
	SliversToRecoverCapped bool   `json:"slivers_to_recover_capped,omitempty"`
	RecoveredSlivers       uint64 `json:"recovered_slivers"`
	RecoveredBytes         uint64 `json:"recovered_bytes"`
	// RecoveryReceivedBytes is what blob sync received (recovery symbols, proofs, framing)
	// to recover them; RecoverySymbols the symbols it received and RecoverySymbolsNeeded
	// those its decodes needed.
	RecoveryReceivedBytes uint64 `json:"recovery_received_bytes"`
	RecoverySymbols       uint64 `json:"recovery_symbols"`
	RecoverySymbolsNeeded uint64 `json:"recovery_symbols_needed"`
	LastScrubUnixMs       int64  `json:"last_scrub_unix_ms"` // 0: no scrub pass ended since start
	ScrubChecked          uint64 `json:"scrub_checked"`
	BytesStored           uint64 `json:"bytes_stored"`
	GCBlobs               uint64 `json:"gc_blobs"`
	GCBytes               uint64 `json:"gc_bytes"`
	// Member says the node is in the current committee. The epoch change: the epoch of
	// the last change started, gained shards still syncing, and since start gained shards
	// completed (recovered: by recovery), sliver bytes pulled and lost-shard pairs given
	// back.
	Member          bool   `json:"member"`
	ChangeEpoch     uint32 `json:"epoch_change_epoch"`
	ShardsSyncing   uint32 `json:"shards_syncing"`
	ShardsSynced    uint64 `json:"shards_synced"`
	ShardsRecovered uint64 `json:"shards_recovered"`
	MovedBytes      uint64 `json:"moved_bytes"`
	ReleasedPairs   uint64 `json:"released_pairs"`
}

// initStatus registers the node-status protocol and the gauges /metrics lacks.
func (n *Node) initStatus() error {
	if err := p2p.Handle(n.host, nodestatus.Spec, n.handleNodeStatus, n.log); err != nil {
		return err
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	for _, c := range []prometheus.Collector{
		gauge("walrus_shards_held", "Shards this node holds in the current epoch.", func() float64 {
			_, shards := n.shardsHeld()
			return float64(shards)
		}),
		gauge("walrus_blobs_held", "Blobs whose metadata this node stores (a walk of the blob keys, redone "+
			"at most every second and at least every 15 s when asked; a lower bound past about a million keys).", func() float64 {
			h, _ := n.holdings()
			return float64(h.Blobs)
		}),
		gauge("walrus_slivers_held", "Slivers this node stores whole, two per stored pair (counted with walrus_blobs_held).", func() float64 {
			h, _ := n.holdings()
			return float64(h.Slivers)
		}),
		gauge("walrus_sliver_bytes_held", "Bytes of the slivers this node stores whole (counted with walrus_blobs_held).", func() float64 {
			h, _ := n.holdings()
			return float64(h.SliverBytes)
		}),
		gauge("walrus_store_bytes", "Size of the datastore's files (a walk of its directory, as du --apparent-size "+
			"counts; recounted with walrus_blobs_held).", func() float64 {
			_, disk := n.holdings()
			return float64(disk)
		}),
	} {
		if err := n.met.reg.Register(c); err != nil {
			return fmt.Errorf("node: status metrics: %w", err)
		}
	}
	return nil
}

func (n *Node) handleNodeStatus(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
	v, err := nodestatus.DecodeRequest(req)
	if err != nil {
		return nil, p2p.Errorf(p2p.CodeBadRequest, "%v", err)
	}
	s := n.status()
	s.Version = v
	return s.Encode(), nil
}

// status gathers the node's report. Everything is local and cheap but the blobs and slivers
// held and the bytes stored, which come from walks and are cached (holdings).
func (n *Node) status() nodestatus.Status {
	ep, shards := n.shardsHeld()
	h, disk := n.holdings()
	s := nodestatus.Status{Version: nodestatus.Version, Epoch: ep, Height: n.Height(), ShardsHeld: uint16(min(shards, 1<<16-1)),
		BytesStored: disk, BlobsHeld: h.Blobs, BlobsCapped: h.Capped, SliversHeld: h.Slivers, SliverBytesHeld: h.SliverBytes}
	if n.sync != nil {
		s.SyncBacklog = uint64(max(n.sync.Backlog(), 0))
		s.SliversToRecover, s.ToRecoverCapped = n.toRecover()
	}
	s.RecoveredSlivers = counterSum(n.met.synced, "slivers")
	s.RecoveredBytes = counterSum(n.met.synced, "bytes")
	s.GCBlobs, s.GCBytes = counterSum(n.met.gcBlobs, ""), counterSum(n.met.gcBytes, "")
	last, checked := n.lastScrub()
	s.LastScrubUnixMs, s.ScrubChecked = max(last, 0), uint64(max(checked, 0))
	s.Member = n.ledger.View().SigningCommittee().MemberIndex(epoch.NodeIDOf(n.blsKey.PublicKey())) >= 0
	if n.change != nil {
		c := n.change.Status()
		s.ChangeEpoch, s.ShardsSyncing = c.Epoch, uint32(max(c.Syncing, 0))
		s.ShardsSynced, s.ShardsRecovered = uint64(max(c.Done, 0)), uint64(max(c.Recovered, 0))
		s.MovedBytes, s.ReleasedPairs = uint64(max(c.BytesMoved, 0)), uint64(max(c.Released, 0))
	}
	return s
}

// stats is status in /v1/health's form, with blob sync's traffic beside.
func (n *Node) stats() Stats {
	s := n.status()
	return Stats{ShardsHeld: int(s.ShardsHeld), BlobsHeld: s.BlobsHeld, BlobsHeldCapped: s.BlobsCapped,
		SliversHeld: s.SliversHeld, SliverBytesHeld: s.SliverBytesHeld,
		SyncBacklog: s.SyncBacklog, SliversToRecover: s.SliversToRecover, SliversToRecoverCapped: s.ToRecoverCapped,
		RecoveredSlivers: s.RecoveredSlivers, RecoveredBytes: s.RecoveredBytes,
		RecoveryReceivedBytes: counterSum(n.met.synced, "received_bytes"),
		RecoverySymbols:       counterSum(n.met.synced, "symbols"),
		RecoverySymbolsNeeded: counterSum(n.met.synced, "symbols_needed"),
		LastScrubUnixMs:       s.LastScrubUnixMs, ScrubChecked: s.ScrubChecked, BytesStored: s.BytesStored,
		GCBlobs: s.GCBlobs, GCBytes: s.GCBytes,
		Member: s.Member, ChangeEpoch: s.ChangeEpoch, ShardsSyncing: s.ShardsSyncing, ShardsSynced: s.ShardsSynced,
		ShardsRecovered: s.ShardsRecovered, MovedBytes: s.MovedBytes, ReleasedPairs: s.ReleasedPairs}
}

// lastScrub is when the last scrub pass ended (Unix ms, 0 = never) and how many slivers the
// scrub re-verified since start: from the scrubStatus hook when set, else from the node's
// scrubber (zeros when blob sync, and with it the scrub, is disabled).
func (n *Node) lastScrub() (lastUnixMs, checked int64) {
	if f := n.scrubStatus; f != nil {
		return f()
	}
	if n.scrub == nil {
		return 0, 0
	}
	if t := n.scrub.LastPass(); !t.IsZero() {
		lastUnixMs = t.UnixMilli()
	}
	return lastUnixMs, n.scrub.Checked()
}

// shardsHeld is the current epoch and how many of its shards this node holds.
func (n *Node) shardsHeld() (uint32, int) {
	ep := n.ledger.CurrentEpoch()
	c, err := n.ledger.Committee(ep)
	if err != nil {
		return ep, 0
	}
	i := c.MemberIndex(epoch.NodeIDOf(n.blsKey.PublicKey()))
	if i < 0 {
		return ep, 0
	}
	return ep, len(c.Members[i].Shards)
}

// holdings is what the node holds (blobs, slivers and their bytes: one walk of the blob
// keys, bounded by holdingsMaxKeys and holdingsTimeout) and the size of its datastore's files
// (a walk of the directory), from walks redone at most as often as holdingsMaxAge explains.
// Pebble's own metrics are not used for the size: they leave out what the live write-ahead
// log holds, which on a node that stored only small blobs is nearly everything (a testnet
// node reported 71.5 KiB while its directory held megabytes).
func (n *Node) holdings() (blobstore.Holdings, uint64) {
	c := &n.statusCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < min(max(20*c.took, holdingsMinAge), holdingsMaxAge) {
		return c.hold, c.disk
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(n.ctx, holdingsTimeout)
	defer cancel()
	h, err := n.blobs.Holdings(ctx, holdingsMaxKeys)
	if err != nil {
		n.log.Debug("counting blobs and slivers held", "err", err)
		h = c.hold
	}
	disk, err := dirBytes(filepath.Join(n.cfg.DataDir, "datastore"), diskMaxFiles)
	if err != nil {
		n.log.Debug("sizing the datastore", "err", err)
	}
	c.at, c.took, c.hold, c.disk = time.Now(), time.Since(start), h, disk
	return h, disk
}

// toRecover is how many slivers blob sync still has to recover over its backlog's blobs
// (blobsync.Syncer.SliversToRecover, at most toRecoverMaxBlobs of them and within
// holdingsTimeout), and whether that is a lower bound; recounted when asked, as often as
// the holdings are, and sooner (as soon as the last count's 20-fold duration has passed)
// once the backlog or the slivers recovered changed. Zero without blob sync.
func (n *Node) toRecover() (uint64, bool) {
	if n.sync == nil {
		return 0, false
	}
	c := &n.statusCache
	c.recMu.Lock()
	defer c.recMu.Unlock()
	key := [2]int64{n.sync.Backlog(), n.sync.Recovered()}
	if age := time.Since(c.recAt); !c.recAt.IsZero() && (age < 20*c.recTook ||
		key == c.recKey && age < min(max(20*c.recTook, holdingsMinAge), holdingsMaxAge)) {
		return c.recCount, c.recCapped
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(n.ctx, holdingsTimeout)
	defer cancel()
	count, capped, err := n.sync.SliversToRecover(ctx, toRecoverMaxBlobs)
	if err != nil {
		n.log.Debug("counting slivers to recover", "err", err)
		capped = true
	}
	c.recAt, c.recTook, c.recCount, c.recCapped, c.recKey = time.Now(), time.Since(start), uint64(max(count, 0)), capped, key
	return c.recCount, c.recCapped
}

// dirBytes is the size of the regular files under dir (their length, as du --apparent-size
// counts), visiting at most maxFiles entries; files that vanish during the walk (pebble
// deletes obsolete tables and logs at any time) are skipped.
func dirBytes(dir string, maxFiles int) (uint64, error) {
	var total uint64
	visited := 0
	errStop := errors.New("stop")
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if visited++; visited > maxFiles {
			return errStop
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		total += uint64(fi.Size())
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return total, err
}

// counterSum reads a counter vector's value for one label value, or its sum over all
// labels when label is "".
func counterSum(v *prometheus.CounterVec, label string) uint64 {
	ch := make(chan prometheus.Metric, 16)
	go func() { v.Collect(ch); close(ch) }()
	var sum float64
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) != nil {
			continue
		}
		if label != "" {
			match := false
			for _, lp := range d.GetLabel() {
				match = match || lp.GetValue() == label
			}
			if !match {
				continue
			}
		}
		sum += d.GetCounter().GetValue()
	}
	return uint64(sum)
}
