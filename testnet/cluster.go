package testnet

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node"
)

// Instance is a running node as the harness sees it. The default StartFunc wraps node.Node;
// tests of the harness itself may plug in anything else (hashicorp/raft's harness is
// likewise generic over its transport).
type Instance interface {
	// PeerID is the node's libp2p identity.
	PeerID() peer.ID
	// Addrs are the node's dialable addresses, with /p2p/.
	Addrs() []ma.Multiaddr
	// Height is the node's last committed ledger height.
	Height() uint64
	// Close stops the node cleanly.
	Close() error
}

// Crasher is implemented by instances that can stop without a clean shutdown (no flush,
// no goodbye). Crash uses it when present and Close otherwise.
type Crasher interface {
	Crash() error
}

// Connector is implemented by instances that can dial a peer on request. Heal uses it to
// reconnect the cluster at once instead of waiting for the nodes' own redial.
type Connector interface {
	Connect(ctx context.Context, pi peer.AddrInfo) error
}

// BlobCertifier is implemented by instances that can report a blob's certification in
// their ledger state. WaitCertified needs it.
type BlobCertifier interface {
	Certified(id codec.BlobID) (bool, error)
}

// Epocher is implemented by instances that report their ledger's current epoch.
// WaitEpoch needs it.
type Epocher interface {
	Epoch() uint32
}

// StartFunc starts one node from its generated files. It must install gater as the node's
// libp2p connection gater (Partition depends on it) and return once the node is running.
// The context bounds the start only.
type StartFunc func(ctx context.Context, nf *NodeFiles, gater *Gater) (Instance, error)

// Option configures New.
type Option func(*clusterConfig) error

type clusterConfig struct {
	gen     Options
	start   StartFunc
	timeout time.Duration
}

// WithSeed derives every key of the cluster from seed. The default is a hash of the test's
// name: reproducible run to run, and different between tests, so clusters of parallel
// tests never share peer IDs.
func WithSeed(seed uint64) Option {
	return func(c *clusterConfig) error {
		if seed == 0 {
			return errors.New("testnet: WithSeed(0): a harness is always seeded")
		}
		c.gen.Seed = seed
		return nil
	}
}

// WithShards sets the shard count (default 10: small enough for fast tests, large enough
// for f = 3).
func WithShards(n int) Option { return func(c *clusterConfig) error { c.gen.Shards = n; return nil } }

// WithEpochDuration sets the epoch length (default testnet.DefaultEpochDuration, an hour).
func WithEpochDuration(d time.Duration) Option {
	return func(c *clusterConfig) error { c.gen.EpochDuration = d; return nil }
}

// WithGenerate edits the generation options directly (prices, stake, network name …).
// Dir, Nodes and Seed are set by the harness after it runs.
func WithGenerate(f func(*Options)) Option {
	return func(c *clusterConfig) error { f(&c.gen); return nil }
}

// WithStartFunc replaces how nodes are started (default: node.New + Start).
func WithStartFunc(f StartFunc) Option {
	return func(c *clusterConfig) error {
		if f == nil {
			return errors.New("testnet: WithStartFunc(nil)")
		}
		c.start = f
		return nil
	}
}

// WithTimeout bounds every wait of the harness: node start, WaitHeight, WaitCertified
// (default 60 s; the machine is shared, so generous).
func WithTimeout(d time.Duration) Option {
	return func(c *clusterConfig) error {
		if d <= 0 {
			return fmt.Errorf("testnet: timeout %v", d)
		}
		c.timeout = d
		return nil
	}
}

// testSeed is FNV-1a of name, never zero (zero means "unseeded" to Generate).
func testSeed(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64() | 1
}

// fastConsensus gives harness nodes short consensus timeouts and frequent catch-up, so
// tests commit in well under a second per height on a loaded machine (the values the node
// package's own network tests use).
func fastConsensus(_ int, c *node.Config) {
	c.Consensus = node.ConsensusConfig{
		ProposeTimeout: 600 * time.Millisecond, PrevoteTimeout: 300 * time.Millisecond,
		PrecommitTimeout: 300 * time.Millisecond, TimeoutDelta: 200 * time.Millisecond,
		RebroadcastInterval: 400 * time.Millisecond, TickInterval: 100 * time.Millisecond,
	}
	c.Ledger = node.LedgerConfig{SnapshotEvery: 4, SyncInterval: 500 * time.Millisecond}
}

// DefaultClusterShards is the harness's default shard count.
const DefaultClusterShards = 10

// DefaultClusterTimeout is the harness's default bound on waits.
const DefaultClusterTimeout = 60 * time.Second

// pollInterval is how often waits re-read node state. Nodes expose no height subscription
// to the harness, so waits poll; the interval is small next to a checkpoint's latency.
const pollInterval = 20 * time.Millisecond

// Cluster is n real nodes in this process: real libp2p on 127.0.0.1 and real datastores
// under t.TempDir(). Methods are safe for concurrent use; failures end the test through t.
type Cluster struct {
	t       testing.TB
	start   StartFunc
	timeout time.Duration
	// Layout is the generated network (keys, configs, genesis).
	Layout *Layout

	mu     sync.Mutex
	nodes  []Instance // nil while crashed
	gaters []*Gater   // one per node, kept across restarts
}

// New generates a network of n nodes in t.TempDir(), starts every node and registers their
// shutdown with t.Cleanup. Nodes listen on TCP only, with no HTTP API.
func New(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	c, err := newCluster(t, n, opts...)
	if err != nil {
		t.Fatalf("testnet.New: %v", err)
	}
	return c
}

func newCluster(t testing.TB, n int, opts ...Option) (*Cluster, error) {
	cfg := clusterConfig{
		gen: Options{Seed: testSeed(t.Name()), Shards: DefaultClusterShards, DisableQUIC: true, DisableAPI: true, LogLevel: "warn",
			NodeConfig: fastConsensus},
		start:   startNode,
		timeout: DefaultClusterTimeout,
	}
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	cfg.gen.Dir = t.TempDir()
	cfg.gen.Nodes = n
	if n < 1 {
		return nil, fmt.Errorf("testnet: cluster of %d nodes", n)
	}
	l, err := Generate(cfg.gen)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		t: t, start: cfg.start, timeout: cfg.timeout, Layout: l,
		nodes: make([]Instance, n), gaters: make([]*Gater, n),
	}
	for i := range c.gaters {
		c.gaters[i] = NewGater()
	}
	t.Cleanup(c.closeAll)
	// Start nodes together: started one by one, the first would wait alone through
	// consensus rounds while the others load.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
			in, err := c.start(ctx, &c.Layout.Nodes[i], c.gaters[i])
			if err != nil {
				errs[i] = fmt.Errorf("testnet: starting node %d: %w", i, err)
				return
			}
			c.mu.Lock()
			c.nodes[i] = in
			c.mu.Unlock()
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err // cleanup closes the nodes that did start
	}
	return c, nil
}

// N is the number of nodes in the cluster.
func (c *Cluster) N() int { return len(c.nodes) }

func (c *Cluster) check(i int) {
	c.t.Helper()
	if i < 0 || i >= len(c.nodes) {
		c.t.Fatalf("testnet: node %d of a %d-node cluster", i, len(c.nodes))
	}
}

// startLocked starts node i. Callers hold c.mu, or own c exclusively (New).
func (c *Cluster) startLocked(i int) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	in, err := c.start(ctx, &c.Layout.Nodes[i], c.gaters[i])
	if err != nil {
		return fmt.Errorf("testnet: starting node %d: %w", i, err)
	}
	c.nodes[i] = in
	return nil
}

// Node returns node i, or nil while it is crashed.
func (c *Cluster) Node(i int) Instance {
	c.t.Helper()
	c.check(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Crash stops node i abruptly (Crasher) or, if the node cannot, with Close. Its data
// directory stays for Restart.
func (c *Cluster) Crash(i int) {
	c.t.Helper()
	c.check(i)
	c.mu.Lock()
	in := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if in == nil {
		c.t.Fatalf("testnet: Crash(%d): node is not running", i)
	}
	var err error
	if cr, ok := in.(Crasher); ok {
		err = cr.Crash()
	} else {
		err = in.Close()
	}
	if err != nil {
		c.t.Logf("testnet: node %d stopped with %v", i, err)
	}
}

// Restart starts a crashed node again with the same keys, configuration and data
// directory.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.check(i)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes[i] != nil {
		c.t.Fatalf("testnet: Restart(%d): node is running; Crash it first", i)
	}
	if err := c.startLocked(i); err != nil {
		c.t.Fatal(err)
	}
}

// Partition splits the cluster: nodes in different groups can no longer connect (existing
// connections are closed, new ones refused by each node's Gater). Nodes named in no group
// form one more group together. Peers outside the cluster (clients) are unaffected.
func (c *Cluster) Partition(groups ...[]int) {
	c.t.Helper()
	group := make([]int, len(c.nodes))
	for i := range group {
		group[i] = -1
	}
	for g, members := range groups {
		for _, i := range members {
			c.check(i)
			if group[i] != -1 {
				c.t.Fatalf("testnet: Partition: node %d in two groups", i)
			}
			group[i] = g
		}
	}
	for i := range group {
		if group[i] == -1 {
			group[i] = len(groups)
		}
	}
	for i, g := range c.gaters {
		var far []peer.ID
		for j := range c.Layout.Nodes {
			if group[j] != group[i] {
				far = append(far, c.Layout.Nodes[j].PeerID)
			}
		}
		g.Block(far)
	}
}

// Heal ends a partition and asks every running node that can (Connector) to reconnect to
// every other.
func (c *Cluster) Heal() {
	c.t.Helper()
	for _, g := range c.gaters {
		g.Unblock()
	}
	c.mu.Lock()
	nodes := append([]Instance(nil), c.nodes...)
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	for i, a := range nodes {
		cn, ok := a.(Connector)
		if !ok {
			continue
		}
		for j, b := range nodes {
			if i == j || b == nil {
				continue
			}
			if err := cn.Connect(ctx, peer.AddrInfo{ID: b.PeerID(), Addrs: b.Addrs()}); err != nil {
				// Not fatal: the node's own redial may still succeed, and waits will tell.
				c.t.Logf("testnet: Heal: node %d → %d: %v", i, j, err)
			}
		}
	}
}

// WaitHeight waits until the given nodes (default: every running node) have committed
// height h, failing the test after the harness timeout.
func (c *Cluster) WaitHeight(h uint64, nodes ...int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := c.WaitHeightContext(ctx, h, nodes...); err != nil {
		c.t.Fatal(err)
	}
}

// WaitHeightContext is WaitHeight with a caller's context and an error instead of a
// test failure. Crashed nodes are skipped.
func (c *Cluster) WaitHeightContext(ctx context.Context, h uint64, nodes ...int) error {
	for _, i := range nodes {
		c.check(i)
	}
	return c.poll(ctx, func() (bool, string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, in := range c.nodes {
			if len(nodes) > 0 && !slices.Contains(nodes, i) {
				continue
			}
			if in != nil && in.Height() < h {
				return false, fmt.Sprintf("node %d at height %d, want %d", i, in.Height(), h)
			}
		}
		return true, ""
	})
}

// WaitEpoch waits until every running node's ledger is in epoch e or later, failing the
// test after the harness timeout. Epochs advance with checkpoint time (docs/architecture.md §4), so
// a cluster built WithEpochDuration(short) moves through epochs on its own: this is the
// harness's AdvanceEpoch.
func (c *Cluster) WaitEpoch(e uint32) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	err := c.poll(ctx, func() (bool, string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, in := range c.nodes {
			if in == nil {
				continue
			}
			ep, ok := in.(Epocher)
			if !ok {
				return false, fmt.Sprintf("node %d (%T) cannot report its epoch", i, in)
			}
			if got := ep.Epoch(); got < e {
				return false, fmt.Sprintf("node %d in epoch %d, want %d", i, got, e)
			}
		}
		return true, ""
	})
	if err != nil {
		c.t.Fatalf("testnet: WaitEpoch(%d): %v", e, err)
	}
}

// WaitCertified waits until every running node's ledger reports blob id certified,
// failing the test after the harness timeout.
func (c *Cluster) WaitCertified(id codec.BlobID) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	if err := c.WaitCertifiedContext(ctx, id); err != nil {
		c.t.Fatalf("testnet: WaitCertified(%v): %v", id, err)
	}
}

// WaitCertifiedContext is WaitCertified with a caller's context and an error instead of a
// test failure. Every running node must implement BlobCertifier.
func (c *Cluster) WaitCertifiedContext(ctx context.Context, id codec.BlobID) error {
	return c.poll(ctx, func() (bool, string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for i, in := range c.nodes {
			if in == nil {
				continue
			}
			bc, ok := in.(BlobCertifier)
			if !ok {
				return false, fmt.Sprintf("node %d (%T) cannot report blob status", i, in)
			}
			if ok, err := bc.Certified(id); err != nil || !ok {
				return false, fmt.Sprintf("node %d: certified=%v err=%v", i, ok, err)
			}
		}
		return true, ""
	})
}

// poll evaluates cond every pollInterval until it holds or ctx ends; the error then
// carries cond's last explanation.
func (c *Cluster) poll(ctx context.Context, cond func() (bool, string)) error {
	tk := time.NewTicker(pollInterval)
	defer tk.Stop()
	for {
		ok, why := cond()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testnet: %w: %s", ctx.Err(), why)
		case <-tk.C:
		}
	}
}

// Close stops every running node now rather than at test cleanup (benchmarks that build
// many clusters use it). Calling it again, or Restart afterwards, is allowed.
func (c *Cluster) Close() { c.closeAll() }

// closeAll stops every running node (t.Cleanup).
func (c *Cluster) closeAll() {
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = make([]Instance, len(nodes))
	c.mu.Unlock()
	var wg sync.WaitGroup
	for i, in := range nodes {
		if in == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.Close(); err != nil {
				c.t.Logf("testnet: closing node %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
}
