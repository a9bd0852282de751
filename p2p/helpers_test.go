package p2p_test

import (
	"log/slog"
	"math/rand"
	"testing"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/walrus-go/walrus-go/p2p/p2ptest"
)

// newHosts starts n real libp2p hosts on loopback (TCP only unless quic), with identities
// from a seeded source so peer IDs are stable across runs.
func newHosts(t testing.TB, n int, quic bool) []host.Host {
	t.Helper()
	rng := rand.New(rand.NewSource(int64(n) + 1))
	start := p2ptest.Host
	if quic {
		start = p2ptest.QUICHost
	}
	hosts := make([]host.Host, n)
	for i := range hosts {
		hosts[i] = start(t, rng)
	}
	return hosts
}

// quiet discards handler logs (the panic test logs on purpose).
var quiet = slog.New(slog.DiscardHandler)
