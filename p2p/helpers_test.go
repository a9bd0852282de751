package p2p_test

import (
	"context"
	"log/slog"
	"math/rand"
	"testing"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/p2p"
)

// newHosts starts n real libp2p hosts on loopback (TCP only unless quic), with identities
// from a seeded source so peer IDs are stable across runs.
func newHosts(t testing.TB, n int, quic bool) []host.Host {
	t.Helper()
	rng := rand.New(rand.NewSource(int64(n) + 1))
	hosts := make([]host.Host, n)
	for i := range hosts {
		key, err := p2p.GenerateIdentity(rng)
		if err != nil {
			t.Fatal(err)
		}
		addrs := []string{"/ip4/127.0.0.1/tcp/0"}
		if quic {
			addrs = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
		}
		h, err := p2p.NewHost(p2p.HostConfig{
			Identity:    key,
			ListenAddrs: addrs,
			DisableQUIC: !quic,
			// Default budgets: they are accounting limits, not allocations, and the
			// stream-concurrency test needs the real per-peer numbers.
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.Close() })
		hosts[i] = h
	}
	return hosts
}

func info(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

func connect(t testing.TB, a, b host.Host) {
	t.Helper()
	if err := a.Connect(context.Background(), info(b)); err != nil {
		t.Fatalf("connect %s → %s: %v", a.ID(), b.ID(), err)
	}
}

// quiet discards handler logs (the panic test logs on purpose).
var quiet = slog.New(slog.DiscardHandler)
