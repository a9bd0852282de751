package node

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/store"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/nodestatus"
)

// A node's report on itself (docs/operating.md "Health"): served over /walrus/node-status/1
// (what `walrus health` asks), in /v1/health and as gauges on /metrics.

const (
	// blobCountEvery is how stale the count of blobs held may be: it walks the datastore's
	// blob keys, so it is recounted at most this often, whoever asks.
	blobCountEvery = 15 * time.Second
	// blobCountMaxKeys bounds one count: beyond this many blob keys (metadata, state and a
	// sliver pair per held shard for every blob) the count stops and is reported as a
	// lower bound.
	blobCountMaxKeys = 1 << 20
	// blobCountTimeout bounds one count in time, with the same outcome.
	blobCountTimeout = 5 * time.Second
)

// statusCache holds the bounded count of blobs held.
type statusCache struct {
	mu     sync.Mutex
	at     time.Time
	blobs  uint64
	capped bool
}

// Stats is the part of /v1/health that `walrus health` also shows.
type Stats struct {
	ShardsHeld       int    `json:"shards_held"`
	BlobsHeld        uint64 `json:"blobs_held"`
	BlobsHeldCapped  bool   `json:"blobs_held_capped,omitempty"` // blobs_held is a lower bound
	SyncBacklog      uint64 `json:"sync_backlog"`
	RecoveredSlivers uint64 `json:"recovered_slivers"`
	RecoveredBytes   uint64 `json:"recovered_bytes"`
	LastScrubUnixMs  int64  `json:"last_scrub_unix_ms"` // 0: no scrub pass ended since start
	ScrubChecked     uint64 `json:"scrub_checked"`
	BytesStored      uint64 `json:"bytes_stored"`
	GCBlobs          uint64 `json:"gc_blobs"`
	GCBytes          uint64 `json:"gc_bytes"`
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
		gauge("walrus_blobs_held", "Blobs whose metadata this node stores (recounted at most every 15 s; "+
			"a lower bound past about a million keys).", func() float64 {
			b, _ := n.blobsHeld()
			return float64(b)
		}),
		gauge("walrus_store_bytes", "Approximate size of the datastore on disk.", func() float64 {
			return float64(n.bytesStored())
		}),
	} {
		if err := n.met.reg.Register(c); err != nil {
			return fmt.Errorf("node: status metrics: %w", err)
		}
	}
	return nil
}

func (n *Node) handleNodeStatus(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
	if err := nodestatus.DecodeRequest(req); err != nil {
		return nil, p2p.Errorf(p2p.CodeBadRequest, "%v", err)
	}
	return n.status().Encode(), nil
}

// status gathers the node's report. Everything is local and cheap but the blob count,
// which is cached (blobCountEvery).
func (n *Node) status() nodestatus.Status {
	ep, shards := n.shardsHeld()
	s := nodestatus.Status{Epoch: ep, Height: n.Height(), ShardsHeld: uint16(min(shards, 1<<16-1)), BytesStored: n.bytesStored()}
	s.BlobsHeld, s.BlobsCapped = n.blobsHeld()
	if n.sync != nil {
		s.SyncBacklog = uint64(max(n.sync.Backlog(), 0))
	}
	s.RecoveredSlivers = counterSum(n.met.synced, "slivers")
	s.RecoveredBytes = counterSum(n.met.synced, "bytes")
	s.GCBlobs, s.GCBytes = counterSum(n.met.gcBlobs, ""), counterSum(n.met.gcBytes, "")
	last, checked := n.lastScrub()
	s.LastScrubUnixMs, s.ScrubChecked = max(last, 0), uint64(max(checked, 0))
	return s
}

// stats is status in /v1/health's form.
func (n *Node) stats() Stats {
	s := n.status()
	return Stats{ShardsHeld: int(s.ShardsHeld), BlobsHeld: s.BlobsHeld, BlobsHeldCapped: s.BlobsCapped,
		SyncBacklog: s.SyncBacklog, RecoveredSlivers: s.RecoveredSlivers, RecoveredBytes: s.RecoveredBytes,
		LastScrubUnixMs: s.LastScrubUnixMs, ScrubChecked: s.ScrubChecked, BytesStored: s.BytesStored,
		GCBlobs: s.GCBlobs, GCBytes: s.GCBytes}
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

// bytesStored is the datastore's size on disk as pebble reports it (its metrics, no walk).
func (n *Node) bytesStored() uint64 {
	u, err := datastore.DiskUsage(context.Background(), n.store)
	if err != nil {
		return 0
	}
	return u
}

// blobsHeld is how many blobs have metadata in the store: a bounded walk of the blob keys
// (blobCountMaxKeys, blobCountTimeout), redone at most every blobCountEvery; capped says
// the walk stopped early and the count is a lower bound.
func (n *Node) blobsHeld() (count uint64, capped bool) {
	c := &n.statusCache
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < blobCountEvery {
		return c.blobs, c.capped
	}
	ctx, cancel := context.WithTimeout(n.ctx, blobCountTimeout)
	defer cancel()
	count, capped, err := countMetadata(ctx, n.store)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		n.log.Debug("counting blobs", "err", err)
		return c.blobs, c.capped
	}
	c.at, c.blobs, c.capped = time.Now(), count, capped
	return count, capped
}

// countMetadata counts the /blobs/<id>/meta keys, visiting at most blobCountMaxKeys keys.
func countMetadata(ctx context.Context, ds datastore.Read) (count uint64, capped bool, err error) {
	res, err := ds.Query(ctx, query.Query{Prefix: store.BlobsPrefix.String() + "/", KeysOnly: true})
	if err != nil {
		return 0, false, err
	}
	defer res.Close()
	prefix := store.BlobsPrefix.String() + "/"
	for visited := 0; ; visited++ {
		if visited >= blobCountMaxKeys {
			return count, true, nil
		}
		if visited%4096 == 0 && ctx.Err() != nil {
			return count, true, ctx.Err()
		}
		r, ok := res.NextSync()
		if !ok {
			return count, false, nil
		}
		if r.Error != nil {
			return count, true, r.Error
		}
		// /blobs/<64 hex>/meta
		if rest, ok := strings.CutPrefix(r.Key, prefix); ok && len(rest) == 64+len("/meta") && strings.HasSuffix(rest, "/meta") {
			count++
		}
	}
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
