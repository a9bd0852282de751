package p2p_test

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	swarm "github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
)

// TestRoutedFindsMovedPeer: a peer whose only known address is stale (it moved since it
// registered it) is still reached through the routed host, which asks the DHT; the plain
// host fails.
func TestRoutedFindsMovedPeer(t *testing.T) {
	hs := newHosts(t, 3, false)
	a, b, c := hs[0], hs[1], hs[2]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ds := make([]*p2p.Discovery, len(hs))
	for i, h := range hs {
		var boot []peer.AddrInfo
		if i != 1 {
			boot = []peer.AddrInfo{p2ptest.Info(b)}
		}
		d, err := p2p.NewDiscovery(h, "testnet", boot)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		ds[i] = d
	}
	p2ptest.Connect(t, a, b)
	p2ptest.Connect(t, c, b)
	for i, d := range ds {
		if err := d.Bootstrap(ctx); err != nil {
			t.Fatalf("bootstrap %d: %v", i, err)
		}
	}
	// B, the only peer both know, must have C in its routing table to answer A's lookup.
	for ds[1].RoutingTableSize() < 2 {
		select {
		case <-ctx.Done():
			t.Fatal("C never joined B's routing table")
		case <-time.After(20 * time.Millisecond):
		}
	}
	echo := p2p.Protocol{ID: "/walrus-test/echo/1", MaxRequest: 64, MaxResponse: 64, Timeout: 10 * time.Second}
	if err := p2p.Handle(c, echo, func(_ context.Context, _ peer.ID, b []byte) ([]byte, error) { return b, nil }, quiet); err != nil {
		t.Fatal(err)
	}
	// A is not connected to C and knows only a stale address of it (nothing listens
	// there): what the ledger says of a node that moved.
	stale, err := ma.NewMultiaddr("/ip4/127.0.0.1/tcp/9")
	if err != nil {
		t.Fatal(err)
	}
	_ = a.Network().ClosePeer(c.ID())
	a.Peerstore().ClearAddrs(c.ID())
	a.Peerstore().AddAddrs(c.ID(), []ma.Multiaddr{stale}, peerstore.PermanentAddrTTL)
	if a.Network().Connectedness(c.ID()) == network.Connected {
		t.Fatal("still connected")
	}
	// A lookup in a three-node DHT can miss (the query races the routing tables), and
	// callers retry: a few attempts, each a fresh lookup.
	routed := ds[0].Routed()
	for attempt := 1; ; attempt++ {
		// A failed attempt leaves the swarm's dial backoff (5 s and up) on C's addresses,
		// which would fail every later attempt at once; a caller retrying later would not
		// meet it.
		sw, ok := a.Network().(*swarm.Swarm)
		if !ok {
			t.Fatalf("host network is a %T, not a swarm", a.Network())
		}
		sw.Backoff().Clear(c.ID())
		out, err := p2p.Call(ctx, routed, c.ID(), echo, []byte("hi"))
		if err == nil && string(out) == "hi" {
			break
		}
		if attempt == 10 {
			t.Fatalf("routed call: %q, %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
