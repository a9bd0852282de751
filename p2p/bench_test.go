package p2p_test

import (
	"context"
	"io"
	"testing"

	"github.com/libp2p/go-libp2p/core/network"
)

// BenchmarkStreamThroughput moves 256 MiB over one libp2p stream (TCP, Noise, yamux) on
// loopback per iteration: the baseline the end-to-end store/read benchmark reports against.
//
// Measured 2026-11-22 on the shared 2-core build VM: 65–340 MB/s over TCP and 75–95 MB/s
// over QUIC, with load averages of 13–21 from parallel builds; DESIGN.md §9 reports
// ≈790 MB/s (TCP) and ≈460 MB/s (QUIC) on the same kind of machine when quiet. Compare
// end-to-end numbers only with a baseline from the same run.
func BenchmarkStreamThroughput(b *testing.B) { benchStream(b, false) }

// BenchmarkStreamThroughputQUIC is the same over QUIC (TLS 1.3, QUIC streams).
func BenchmarkStreamThroughputQUIC(b *testing.B) { benchStream(b, true) }

func benchStream(b *testing.B, quic bool) {
	const total = 256 << 20
	const chunk = 1 << 20
	hs := newHosts(b, 2, quic)
	const proto = "/walrus/test-sink/1"
	done := make(chan int64, 1)
	hs[1].SetStreamHandler(proto, func(s network.Stream) {
		n, err := io.Copy(io.Discard, s)
		if err != nil {
			_ = s.Reset()
		} else {
			_ = s.Close()
		}
		done <- n
	})
	connect(b, hs[0], hs[1])
	buf := make([]byte, chunk)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	b.SetBytes(total)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := hs[0].NewStream(context.Background(), hs[1].ID(), proto)
		if err != nil {
			b.Fatal(err)
		}
		for sent := 0; sent < total; sent += chunk {
			if _, err := s.Write(buf); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.CloseWrite(); err != nil {
			b.Fatal(err)
		}
		if n := <-done; n != total {
			b.Fatalf("receiver got %d bytes", n)
		}
		_ = s.Close()
	}
}
