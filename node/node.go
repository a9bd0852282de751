// Package node is walrus-go's composition root (docs/architecture.md §2, §8): it loads a Config,
// opens the datastore, loads the keys, builds the libp2p host, GossipSub and the DHT, spawns
// the ledger and consensus actors, registers the stream protocols, and serves /metrics and
// /v1/health over HTTP. Nothing else wires; the actors and protocols live in sub-packages
// (node/ledger, node/consensus, and the data plane's node/dataplane and node/blobstore).
//
// Lifecycle: New builds everything without talking to the network; Start connects to the
// bootstrap peers, starts the topic readers, discovery and the HTTP server; Close stops all
// of it in reverse order and closes the datastore last. Every checkpoint the node reports
// committed was synced to disk first, so Close (or a crash) loses nothing acknowledged.
// Signal handling belongs to the CLI.
package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/genesisfile"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/blobsync"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/node/dataplane"
	"github.com/walrus-go/walrus-go/node/epochchange"
	"github.com/walrus-go/walrus-go/node/gc"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/node/store"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// Option customises New.
type Option func(*options) error

type options struct {
	gater  connmgr.ConnectionGater
	logger *slog.Logger
	clock  actors.Clock
}

// WithConnectionGater installs a libp2p connection gater (the testnet harness uses one to
// cut partitions).
func WithConnectionGater(g connmgr.ConnectionGater) Option {
	return func(o *options) error { o.gater = g; return nil }
}

// WithLogger replaces the logger built from Config.LogLevel.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("node: nil logger")
		}
		o.logger = l
		return nil
	}
}

// WithClock replaces the clock of the actors (consensus timeouts and checkpoint time).
func WithClock(c actors.Clock) Option {
	return func(o *options) error { o.clock = c; return nil }
}

// Node is one storage node process.
type Node struct {
	cfg     *Config
	log     *slog.Logger
	genesis *staking.Genesis
	blsKey  *bls.SecretKey
	account *account // the node's ledger account (invalid.go)

	store  datastore.Batching
	host   host.Host
	gossip *p2p.Gossip
	disc   *p2p.Discovery
	sys    *actors.System
	ledger *ledger.Ledger
	lnet   *ledger.Net
	cons   *consensus.Consensus
	cnet   *consensus.Net
	data   *dataplane.Service
	blobs  *blobstore.Store // shared by the data plane and garbage collection
	gc     *gc.Collector    // nil when disabled
	sync   *blobsync.Syncer // nil when disabled
	change *epochchange.Changer
	scrub  *blobsync.Scrubber
	ckpts  *p2p.Topic
	certs  *p2p.Topic // `certs` (certs.go)
	met    *metrics

	// statusCache caches the count of blobs held (status.go).
	statusCache statusCache
	// scrubStatus, when set, reports the background scrub in the node's status (status.go,
	// /walrus/node-status/1, /v1/health): when its last pass ended (Unix ms, 0 = never) and
	// how many slivers it re-verified since start. Nil reports zeros.
	scrubStatus func() (lastUnixMs, checked int64)

	bootstrap []peer.AddrInfo
	httpSrv   *http.Server
	httpAddr  net.Addr

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu              sync.Mutex
	started, closed bool
}

// New builds a node from cfg (validated here) without contacting the network.
func New(ctx context.Context, cfg *Config, opts ...Option) (n *Node, err error) {
	if cfg == nil {
		return nil, errors.New("node: nil config")
	}
	var o options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n = &Node{cfg: cfg, log: o.logger}
	if n.log == nil {
		lvl, _ := parseLevel(cfg.LogLevel)
		n.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	}
	n.ctx, n.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			_ = n.Close()
		}
	}()
	if n.genesis, err = genesisfile.Read(cfg.GenesisFile); err != nil {
		return nil, err
	}
	if n.blsKey, err = LoadBLSKey(cfg.BLSKeyFile); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("node: data dir: %w", err)
	}
	if n.account, err = loadOrCreateAccount(cfg.AccountKeyFile); err != nil {
		return nil, err
	}
	id, err := p2p.LoadOrCreateIdentity(cfg.IdentityKeyFile)
	if err != nil {
		return nil, fmt.Errorf("node: identity: %w", err)
	}
	for _, s := range cfg.Bootstrap {
		ai, err := peer.AddrInfoFromString(s)
		if err != nil {
			return nil, fmt.Errorf("node: bootstrap %q: %w", s, err)
		}
		n.bootstrap = append(n.bootstrap, *ai)
	}
	pages, err := store.ParsePagePolicy(cfg.Datastore.WrittenPages)
	if err != nil {
		return nil, fmt.Errorf("node: datastore.written_pages: %w", err)
	}
	sopts := []store.Option{store.WithIngestedPages(pages)}
	if n.store, err = store.Open(filepath.Join(cfg.DataDir, "datastore"), sopts...); err != nil {
		return nil, fmt.Errorf("node: datastore: %w", err)
	}
	if n.host, err = p2p.NewHost(p2p.HostConfig{Identity: id, ListenAddrs: cfg.ListenAddrs, DisableQUIC: cfg.DisableQUIC, Gater: o.gater}); err != nil {
		return nil, err
	}
	n.log = n.log.With("peer_id", n.host.ID().String())
	if n.gossip, err = p2p.NewGossip(n.host, n.genesis.Network, p2p.WithGossipLogger(n.log)); err != nil {
		return nil, err
	}
	var bs []peer.AddrInfo
	for _, b := range n.bootstrap {
		if b.ID != n.host.ID() {
			bs = append(bs, b)
		}
	}
	if n.disc, err = p2p.NewDiscovery(n.host, n.genesis.Network, bs); err != nil {
		return nil, err
	}
	// From here on streams are opened through the DHT-routed host: a peer whose registered
	// addresses fail (it moved) is looked up in the DHT (docs/architecture.md §5).
	n.host = n.disc.Routed()
	sysOpts := []actors.Option{actors.WithLogger(n.log)}
	if o.clock != nil {
		sysOpts = append(sysOpts, actors.WithClock(o.clock))
	}
	if n.sys, err = actors.New("node", sysOpts...); err != nil {
		return nil, err
	}
	if n.ledger, err = ledger.New(n.sys, ledger.Config{
		Genesis: n.genesis, Datastore: n.store, Logger: n.log,
		SnapshotEvery: cfg.Ledger.SnapshotEvery, ReceiptHeights: cfg.Ledger.ReceiptHeights,
	}); err != nil {
		return nil, err
	}
	if n.lnet, err = ledger.NewNet(n.ledger, ledger.NetConfig{Host: n.host, SyncInterval: cfg.Ledger.SyncInterval, Logger: n.log}); err != nil {
		return nil, err
	}
	if n.ckpts, err = n.gossip.Join(p2p.TopicCheckpoints, n.lnet.ValidateCheckpoint); err != nil {
		return nil, err
	}
	cc := cfg.Consensus
	if n.cons, err = consensus.New(n.sys, consensus.Config{
		Ledger: n.ledger, Key: n.blsKey, Clock: o.clock, Logger: n.log, Datastore: n.store,
		ProposeTimeout: cc.ProposeTimeout, PrevoteTimeout: cc.PrevoteTimeout, PrecommitTimeout: cc.PrecommitTimeout,
		TimeoutDelta: cc.TimeoutDelta, RebroadcastInterval: cc.RebroadcastInterval, TickInterval: cc.TickInterval,
		TimeBound: cc.TimeBound, MaxMempool: cc.MaxMempool,
	}); err != nil {
		return nil, err
	}
	n.cons.SetHint(n.lnet.Hint)
	if n.cnet, err = consensus.NewNet(n.cons, consensus.NetConfig{Host: n.host, Gossip: n.gossip, Checkpoints: n.ckpts, Logger: n.log}); err != nil {
		return nil, err
	}
	if n.certs, err = n.gossip.Join(p2p.TopicCertificates, n.validateCert); err != nil {
		return nil, err
	}
	// The data plane (docs/architecture.md §5): its actor and protocols over the same datastore, reading
	// the ledger through the dataplane.Ledger interface.
	n.blobs = blobstore.New(n.store, n.ledger.Params())
	if n.data, err = dataplane.New(dataplane.Config{
		Host: n.host, Store: n.blobs, Ledger: n.ledger,
		Key: n.blsKey, System: n.sys, Logger: n.log,
	}); err != nil {
		return nil, err
	}
	n.met = newMetrics(n)
	// Garbage collection (docs/architecture.md §5) over the same store instance, whose lock
	// orders the data plane's puts against removals.
	if !cfg.GC.Disabled {
		if n.gc, err = gc.New(gc.Config{
			Store: n.blobs, Ledger: n.ledger, Node: epoch.NodeIDOf(n.blsKey.PublicKey()), Logger: n.log,
			Interval: cfg.GC.Interval, Batch: cfg.GC.Batch, Scan: cfg.GC.Scan, SweepInterval: cfg.GC.SweepInterval,
			Compact:      func(ctx context.Context) error { return store.CompactBlobs(ctx, n.store) },
			Busy:         func() bool { return n.data.Busy(2 * time.Second) },
			CompactAfter: cfg.GC.CompactAfter, CompactEvery: cfg.GC.CompactEvery,
			CPU: cfg.GC.CPU, BusyCPU: cfg.GC.BusyCPU,
			OnRemoved: func(reason string, blobs int, bytes int64) {
				n.met.gcBlobs.WithLabelValues(reason).Add(float64(blobs))
				n.met.gcBytes.WithLabelValues(reason).Add(float64(bytes))
			},
		}); err != nil {
			return nil, err
		}
		gcol := n.gc
		n.met.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "walrus_gc_work_seconds_total",
			Help: "Time garbage collection spent working (removals, walks over stored keys, compactions) since start, what gc.cpu paces.",
		}, func() float64 { return gcol.Work().Seconds() }))
	}
	// Blob sync (docs/architecture.md §5): recovering missed slivers from recovery symbols.
	if !cfg.BlobSync.Disabled {
		if n.sync, err = n.newSyncer(cfg.BlobSync); err != nil {
			return nil, err
		}
		if n.scrub, err = blobsync.NewScrubber(blobsync.ScrubConfig{
			Store: n.blobs, Shards: blobsync.HeldShards(n.ledger, epoch.NodeIDOf(n.blsKey.PublicKey())),
			Repair: n.sync.Check, Rate: cfg.BlobSync.ScrubRate, CPU: cfg.BlobSync.ScrubCPU, Pause: cfg.BlobSync.ScrubPause, Logger: n.log,
			Busy: func() bool { return n.data.Busy(2 * time.Second) },
		}); err != nil {
			return nil, err
		}
	}
	// Epoch changes (epochchange.go): shard migration, blob sync its fallback.
	if n.change, err = n.newChanger(); err != nil {
		return nil, err
	}
	// The node's report on itself (status.go): /walrus/node-status/1 and its gauges,
	// registered once everything it reads is built.
	if err := n.initStatus(); err != nil {
		return nil, err
	}
	return n, nil
}

// newSyncer builds blob sync over the node's host, store and ledger; metadata it lacks is
// fetched with the client library's verified, hedged fetch.
func (n *Node) newSyncer(bc BlobSyncConfig) (*blobsync.Syncer, error) {
	p := n.ledger.Params()
	cl, err := client.New(client.Config{Host: n.host, Params: p, Network: n.ledger.NetworkID(), Logger: n.log})
	if err != nil {
		return nil, err
	}
	self := epoch.NodeIDOf(n.blsKey.PublicKey())
	inv, err := n.newInvalidator()
	if err != nil {
		return nil, err
	}
	return blobsync.New(blobsync.Config{
		Fetcher: &blobsync.Fetcher{Host: n.host, Params: p, Self: self, Logger: n.log, Local: n.data.LocalSymbols},
		Store:   n.blobs, Ledger: n.ledger, Metadata: cl.Metadata,
		Delay: bc.Delay, Sweep: bc.Sweep, Workers: bc.Workers, Queue: bc.Queue, Budget: bc.Budget, Logger: n.log,
		Inconsistent: inv.Invalidate, Receiving: n.data.Receiving,
		Recovered: func(slivers int, bytes int64, st blobsync.Stats) {
			n.met.synced.WithLabelValues("slivers").Add(float64(slivers))
			n.met.synced.WithLabelValues("bytes").Add(float64(bytes))
			n.met.synced.WithLabelValues("received_bytes").Add(float64(st.Bytes))
			n.met.synced.WithLabelValues("symbols").Add(float64(st.Symbols))
			n.met.synced.WithLabelValues("symbols_needed").Add(float64(st.Needed))
		},
	})
}

// Start connects to the network and starts serving: topic readers and the catch-up loop,
// bootstrap connections (retried while they fail), DHT bootstrap and shard provider
// records, and the HTTP API.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return errors.New("node: closed")
	}
	if n.started {
		return errors.New("node: already started")
	}
	n.started = true
	if n.cfg.APIAddr != "" {
		ln, err := net.Listen("tcp", n.cfg.APIAddr)
		if err != nil {
			return fmt.Errorf("node: api listen: %w", err)
		}
		n.httpAddr = ln.Addr()
		n.httpSrv = &http.Server{Handler: n.apiHandler(), ReadHeaderTimeout: 10 * time.Second}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				n.log.Error("api server stopped", "err", err)
			}
		}()
	}
	if err := n.lnet.Start(n.ckpts); err != nil {
		return err
	}
	if err := n.cnet.Start(); err != nil {
		return err
	}
	csub, err := n.certs.Subscribe()
	if err != nil {
		return err
	}
	n.wg.Add(4)
	go func() { defer n.wg.Done(); n.relayCerts(n.ctx, csub) }()
	go func() { defer n.wg.Done(); n.keepConnected() }()
	go func() { defer n.wg.Done(); n.discovery() }()
	go func() { defer n.wg.Done(); n.count() }()
	if n.gc != nil {
		n.wg.Add(1)
		go func() { defer n.wg.Done(); n.gc.Run(n.ctx) }()
	}
	n.wg.Add(1)
	go func() { defer n.wg.Done(); n.change.Run(n.ctx) }()
	if n.sync != nil {
		n.wg.Add(2)
		go func() { defer n.wg.Done(); n.sync.Run(n.ctx) }()
		go func() { defer n.wg.Done(); n.scrub.Run(n.ctx) }()
	}
	n.log.Info("node started", "addrs", fmt.Sprint(n.Addrs()), "height", n.Height(), "network", n.genesis.Network)
	return nil
}

// keepConnected dials bootstrap peers that are not connected, at start and every few
// seconds, so nodes started in any order (or healed after a partition) find each other.
func (n *Node) keepConnected() {
	for {
		for _, ai := range n.bootstrap {
			if ai.ID == n.host.ID() || n.host.Network().Connectedness(ai.ID) == network.Connected {
				continue
			}
			ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
			if err := n.host.Connect(ctx, ai); err != nil {
				n.log.Debug("bootstrap dial failed", "bootstrap_peer", ai.ID.String(), "err", err)
			}
			cancel()
		}
		select {
		case <-n.ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// discovery bootstraps the DHT and provides (network, epoch, shard) for this node's shards
// (docs/architecture.md §5 shard discovery), again at every epoch change.
func (n *Node) discovery() {
	sub := n.ledger.Subscribe(16)
	defer sub.Cancel()
	ctx := n.ctx
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := n.disc.Bootstrap(bctx); err != nil && ctx.Err() == nil {
		n.log.Debug("dht bootstrap", "err", err)
	}
	cancel()
	provide := func() {
		v := n.ledger.View()
		c := v.SigningCommittee()
		i := c.MemberIndex(epoch.NodeIDOf(n.blsKey.PublicKey()))
		if i < 0 {
			return
		}
		for _, s := range c.Members[i].Shards {
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := n.disc.ProvideShard(pctx, c.Epoch, s)
			cancel()
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				n.log.Debug("provide shard", "shard", s, "epoch", c.Epoch, "err", err)
			}
		}
	}
	provide()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-sub.C:
			if _, ok := ev.(*ledger.EpochChanged); ok {
				provide()
			}
		}
	}
}

// count feeds ledger events into the metrics.
func (n *Node) count() {
	sub := n.ledger.Subscribe(256)
	defer sub.Cancel()
	for {
		select {
		case <-n.ctx.Done():
			return
		case ev := <-sub.C:
			switch ev := ev.(type) {
			case *ledger.CheckpointCommitted:
				n.met.checkpoints.Inc()
				for _, r := range ev.Receipts {
					if r.OK() {
						n.met.txs.WithLabelValues("ok").Inc()
					} else {
						n.met.txs.WithLabelValues("rejected").Inc()
					}
				}
			case *ledger.EpochChanged:
				n.met.epochs.Inc()
			}
		}
	}
}

// Health is the /v1/health answer.
type Health struct {
	Status  string `json:"status"` // "ok" once a checkpoint is committed, else "starting"
	PeerID  string `json:"peer_id"`
	Network string `json:"network"`
	Height  uint64 `json:"height"`
	Epoch   uint32 `json:"epoch"`
	Peers   int    `json:"peers"`
	Mempool int    `json:"mempool"`
	// Stats: shards and blobs held, blob sync, scrub, bytes stored, GC (status.go).
	Stats
}

// Health reports the node's state.
func (n *Node) Health() Health {
	h := Health{Status: "starting", PeerID: n.host.ID().String(), Network: n.genesis.Network,
		Height: n.Height(), Epoch: n.ledger.CurrentEpoch(), Peers: len(n.host.Network().Peers()), Mempool: n.cons.MempoolSize()}
	h.Stats = n.stats()
	if h.Height > 0 {
		h.Status = "ok"
	}
	return h
}

func (n *Node) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.met.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(n.Health())
	})
	return mux
}

// Close stops the node: HTTP, topic readers and protocols, actors, DHT, GossipSub, host,
// and finally the datastore (flushed). It is safe to call more than once.
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	var errs []error
	if n.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, n.httpSrv.Shutdown(ctx))
		cancel()
	}
	n.cancel()
	if n.cnet != nil {
		n.cnet.Close()
	}
	if n.lnet != nil {
		n.lnet.Close()
	}
	if n.cons != nil {
		n.cons.Close()
	}
	if n.data != nil {
		n.data.Close()
	}
	n.wg.Wait()
	if n.sys != nil {
		errs = append(errs, n.sys.Stop())
	}
	if n.disc != nil {
		errs = append(errs, n.disc.Close())
	}
	if n.gossip != nil {
		errs = append(errs, n.gossip.Close())
	}
	if n.host != nil {
		errs = append(errs, n.host.Close())
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	return errors.Join(errs...)
}

// Addrs returns the node's listen addresses with /p2p/<peer ID>, ready to dial.
func (n *Node) Addrs() []ma.Multiaddr {
	p2pPart, err := ma.NewComponent("p2p", n.host.ID().String())
	if err != nil {
		return nil
	}
	var out []ma.Multiaddr
	for _, a := range n.host.Addrs() {
		out = append(out, a.Encapsulate(p2pPart))
	}
	return out
}

// PeerID is the node's libp2p identity.
func (n *Node) PeerID() peer.ID { return n.host.ID() }

// Height is the height of the last committed checkpoint.
func (n *Node) Height() uint64 { return n.ledger.Height() }

// EpochChange reports the epoch-change actor's progress.
func (n *Node) EpochChange() epochchange.Status { return n.change.Status() }

// Ledger is the node's ledger actor (for tests and the in-process harness).
func (n *Node) Ledger() *ledger.Ledger { return n.ledger }

// Consensus is the node's consensus actor (for tests and the in-process harness).
func (n *Node) Consensus() *consensus.Consensus { return n.cons }

// DataPlane is the node's data-plane service.
func (n *Node) DataPlane() *dataplane.Service { return n.data }

// Host is the node's libp2p host.
func (n *Node) Host() host.Host { return n.host }

// APIAddr is the address the HTTP API listens on, nil before Start or when disabled.
func (n *Node) APIAddr() net.Addr { return n.httpAddr }

// WaitHeight blocks until the ledger has committed height h (or ctx ends), driven by ledger
// events rather than polling.
func (n *Node) WaitHeight(ctx context.Context, h uint64) error {
	sub := n.ledger.Subscribe(64)
	defer sub.Cancel()
	for n.Height() < h {
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: waiting for height %d (at %d): %w", h, n.Height(), ctx.Err())
		case <-sub.C:
		case <-time.After(time.Second): // events may be dropped; re-check the view
		}
	}
	return nil
}
