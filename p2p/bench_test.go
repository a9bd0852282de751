package p2p_test

import (
	"testing"

	"github.com/walrus-go/walrus-go/p2p/p2ptest"
)

// BenchmarkStreamThroughput moves 256 MiB over one libp2p stream (TCP, Noise, yamux) on
// loopback per iteration: the baseline the end-to-end store/read benchmark reports against.
//
// Measured 2026-11-22 on the shared 2-core build VM: 65–340 MB/s over TCP and 75–95 MB/s
// over QUIC, with load averages of 13–21 from parallel builds; docs/architecture.md §9 reports
// ≈790 MB/s (TCP) and ≈460 MB/s (QUIC) on the same kind of machine when quiet. Compare
// end-to-end numbers only with a baseline from the same run.
func BenchmarkStreamThroughput(b *testing.B) { benchStream(b, false) }

// BenchmarkStreamThroughputQUIC is the same over QUIC (TLS 1.3, QUIC streams).
func BenchmarkStreamThroughputQUIC(b *testing.B) { benchStream(b, true) }

func benchStream(b *testing.B, quic bool) {
	const total = 256 << 20
	hs := newHosts(b, 2, quic)
	p2ptest.Connect(b, hs[0], hs[1])
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p2ptest.StreamThroughput(b, hs[0], hs[1], total)
	}
}
