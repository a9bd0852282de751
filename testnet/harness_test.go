package testnet_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/testnet"
)

// hostNode is a stand-in node for testing the harness itself: a real libp2p host built
// from the generated identity and listen addresses, with the harness's gater, dialing its
// bootstrap peers. Its "height" is the number of cluster peers it is connected to, and it
// counts its starts in a file in its data directory, so restarts are observable.
type hostNode struct {
	h      host.Host
	starts int
	stop   chan struct{}
	once   sync.Once
}

func startHost(ctx context.Context, nf *testnet.NodeFiles, g *testnet.Gater) (testnet.Instance, error) {
	id, err := p2p.LoadIdentity(nf.IdentityKeyFile)
	if err != nil {
		return nil, err
	}
	h, err := libp2p.New(
		libp2p.Identity(id),
		libp2p.ListenAddrStrings(nf.ListenAddrs...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.ConnectionGater(g),
		libp2p.DisableRelay(),
	)
	if err != nil {
		return nil, err
	}
	counter := filepath.Join(nf.DataDir, "starts")
	b, _ := os.ReadFile(counter)
	starts, _ := strconv.Atoi(string(b))
	starts++
	if err := os.WriteFile(counter, []byte(strconv.Itoa(starts)), 0o600); err != nil {
		h.Close()
		return nil, err
	}
	n := &hostNode{h: h, starts: starts, stop: make(chan struct{})}
	var boot []peer.AddrInfo
	for _, a := range nf.Bootstrap {
		pi, err := peer.AddrInfoFromString(a)
		if err != nil {
			h.Close()
			return nil, err
		}
		boot = append(boot, *pi)
		_ = h.Connect(ctx, *pi) // peers not up yet dial us later
	}
	// Like a real node, redial bootstrap peers it is not connected to (a dial that failed
	// under load, a peer that restarted); the gater still decides during a partition.
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-n.stop:
				return
			case <-tick.C:
			}
			for _, pi := range boot {
				if h.Network().Connectedness(pi.ID) != network.Connected {
					dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
					_ = h.Connect(dctx, pi)
					cancel()
				}
			}
		}
	}()
	return n, nil
}

func (n *hostNode) PeerID() peer.ID { return n.h.ID() }
func (n *hostNode) Addrs() []ma.Multiaddr {
	pi := peer.AddrInfo{ID: n.h.ID(), Addrs: n.h.Addrs()}
	out, _ := peer.AddrInfoToP2pAddrs(&pi)
	return out
}
func (n *hostNode) Height() uint64 { return uint64(len(n.h.Network().Peers())) }
func (n *hostNode) Close() error   { n.once.Do(func() { close(n.stop) }); return n.h.Close() }
func (n *hostNode) Connect(ctx context.Context, pi peer.AddrInfo) error {
	return n.h.Connect(ctx, pi)
}

func TestHarnessCrashRestartPartition(t *testing.T) {
	c := testnet.New(t, 4, testnet.WithStartFunc(startHost), testnet.WithTimeout(30*time.Second))
	if c.N() != 4 {
		t.Fatalf("N = %d", c.N())
	}
	c.WaitHeight(3) // full mesh

	// Crash and restart node 2: same identity, same address, same data directory.
	before := c.Node(2)
	addrs := before.Addrs()
	c.Crash(2)
	if c.Node(2) != nil {
		t.Fatal("crashed node still listed")
	}
	c.Restart(2)
	after := c.Node(2).(*hostNode)
	if after.PeerID() != before.PeerID() || after.Addrs()[0].String() != addrs[0].String() {
		t.Fatalf("restart changed identity or address: %s %v → %s %v", before.PeerID(), addrs, after.PeerID(), after.Addrs())
	}
	if after.starts != 2 {
		t.Fatalf("restarted node saw %d starts in its data directory, want 2", after.starts)
	}
	c.WaitHeight(3)

	// Partition {0,1} | {2,3}: cross connections close and cannot be re-made.
	c.Partition([]int{0, 1}, []int{2, 3})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 4; i++ {
		n := c.Node(i).(*hostNode)
		for j := 0; j < 4; j++ {
			other := c.Node(j)
			same := (i < 2) == (j < 2)
			err := n.Connect(ctx, peer.AddrInfo{ID: other.PeerID(), Addrs: other.Addrs()})
			if i != j && !same && err == nil {
				t.Errorf("node %d dialled node %d across the partition", i, j)
			}
			if i != j && same && err != nil {
				t.Errorf("node %d cannot reach node %d in its own group: %v", i, j, err)
			}
		}
		if got := n.Height(); got != 1 {
			t.Errorf("node %d has %d peers during the partition, want 1", i, got)
		}
	}

	// Heal reconnects everything.
	c.Heal()
	c.WaitHeight(3)

	// A node named in no group is alone with the other unnamed ones.
	c.Partition([]int{0, 1, 2})
	for i := 0; i < 3; i++ {
		if got := c.Node(i).Height(); got != 2 {
			t.Errorf("node %d has %d peers, want 2", i, got)
		}
	}
	if got := c.Node(3).Height(); got != 0 {
		t.Errorf("isolated node 3 has %d peers", got)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := c.WaitHeightContext(short, 3); err == nil {
		t.Fatal("WaitHeightContext returned nil while node 3 is isolated")
	}
	c.Heal()
	c.WaitHeight(3)
}

func TestGaterBlocksBeforeConnect(t *testing.T) {
	ga, gb := testnet.NewGater(), testnet.NewGater()
	mk := func(g *testnet.Gater) host.Host {
		h, err := libp2p.New(libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
			libp2p.Transport(tcp.NewTCPTransport), libp2p.ConnectionGater(g), libp2p.DisableRelay())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		return h
	}
	a, b := mk(ga), mk(gb)
	// Only b blocks a: a's dial must still fail, refused at b's side.
	gb.Block([]peer.ID{a.ID()})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The dial may complete on a's side before b's gater refuses the secured connection;
	// what matters is that b never keeps one.
	_ = a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()})
	if len(b.Network().ConnsToPeer(a.ID())) != 0 {
		t.Fatal("b holds a connection to a blocked peer")
	}
	if !gb.Blocked(a.ID()) || ga.Blocked(b.ID()) {
		t.Fatal("Blocked reports the wrong state")
	}
	gb.Unblock()
	if err := a.Connect(ctx, peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatalf("after Unblock: %v", err)
	}
}

// certNode is a hostNode whose ledger "certifies" the blobs the test marks.
type certNode struct {
	*hostNode
	mu        sync.Mutex
	certified map[codec.BlobID]bool
}

func (n *certNode) Certified(id codec.BlobID) (bool, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.certified[id], nil
}

func (n *certNode) certify(id codec.BlobID) {
	n.mu.Lock()
	n.certified[id] = true
	n.mu.Unlock()
}

func TestHarnessWaitCertified(t *testing.T) {
	start := func(ctx context.Context, nf *testnet.NodeFiles, g *testnet.Gater) (testnet.Instance, error) {
		in, err := startHost(ctx, nf, g)
		if err != nil {
			return nil, err
		}
		return &certNode{hostNode: in.(*hostNode), certified: map[codec.BlobID]bool{}}, nil
	}
	c := testnet.New(t, 4, testnet.WithStartFunc(start))
	id := codec.BlobID{7}
	for i := 0; i < 3; i++ {
		c.Node(i).(*certNode).certify(id)
	}
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := c.WaitCertifiedContext(short, id); err == nil || !strings.Contains(err.Error(), "node 3") {
		t.Fatalf("WaitCertifiedContext with node 3 behind: %v", err)
	}
	// A crashed node does not hold the wait up.
	c.Crash(3)
	c.WaitCertified(id)
	// A restarted node must certify again.
	c.Restart(3)
	short2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := c.WaitCertifiedContext(short2, id); err == nil {
		t.Fatal("restarted node counted as certified")
	}
	c.Node(3).(*certNode).certify(id)
	c.WaitCertified(id)
}
