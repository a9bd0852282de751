// Package p2ptest holds test helpers for code that talks over libp2p: real hosts on
// loopback (the same construction as the node's, [p2p.NewHost]) and the raw throughput of
// one stream between two of them, the baseline that `make bench` and `make bench-e2e`
// report against.
//
// It is imported by tests and by the testnet harness only, never by a node or client.
package p2ptest

import (
	"context"
	"crypto/rand"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/p2p"
)

// Host starts a libp2p host listening on 127.0.0.1 TCP only (Noise, yamux, no QUIC), with
// an Ed25519 identity drawn from rng (crypto/rand when rng is nil; a seeded source gives
// the same peer ID on every run). The host is closed at the test's cleanup; closing it
// earlier is fine.
func Host(tb testing.TB, rng io.Reader) host.Host {
	tb.Helper()
	return newHost(tb, rng, false)
}

// QUICHost is [Host] on 127.0.0.1 QUIC (TLS 1.3, QUIC streams) instead of TCP.
func QUICHost(tb testing.TB, rng io.Reader) host.Host {
	tb.Helper()
	return newHost(tb, rng, true)
}

func newHost(tb testing.TB, rng io.Reader, quic bool) host.Host {
	tb.Helper()
	if rng == nil {
		rng = rand.Reader
	}
	id, err := p2p.GenerateIdentity(rng)
	if err != nil {
		tb.Fatal(err)
	}
	addrs := []string{"/ip4/127.0.0.1/tcp/0"}
	if quic {
		addrs = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
	}
	h, err := p2p.NewHost(p2p.HostConfig{
		Identity:    id,
		ListenAddrs: addrs,
		DisableQUIC: !quic,
		// Default budgets: they are accounting limits, not allocations, and tests of
		// stream concurrency need the real per-peer numbers.
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

// Info is h's peer ID and listen addresses, what another host dials.
func Info(h host.Host) peer.AddrInfo { return peer.AddrInfo{ID: h.ID(), Addrs: h.Addrs()} }

// Connect dials b from a (a no-op when they are connected already) and fails the test if
// that does not succeed within a minute.
func Connect(tb testing.TB, a, b host.Host) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Connect(ctx, Info(b)); err != nil {
		tb.Fatalf("connect %s → %s: %v", a.ID(), b.ID(), err)
	}
}

// sinkProtocol is the protocol StreamThroughput sends on: the receiver only counts bytes.
// It is no walrus protocol, so its ID is outside the /walrus/ namespace.
const sinkProtocol = "/p2ptest/sink/1"

// StreamChunk is the size of the writes StreamThroughput makes.
const StreamChunk = 1 << 20

// chunk is what StreamThroughput writes, made once so that benchmarks do not time it.
var chunk = sync.OnceValue(func() []byte {
	b := make([]byte, StreamChunk)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
})

// StreamThroughput sends bytes over one new stream from from to to, in [StreamChunk]
// writes, and returns the throughput in bytes per second, timed from opening the stream to
// the receiver having read everything. It connects the hosts first (untimed) if they are
// not connected, and fails the test if the receiver does not get exactly bytes. This is
// the baseline that the p2p stream benchmark and the end-to-end store/read benchmark
// report against.
func StreamThroughput(tb testing.TB, from, to host.Host, bytes int) (bytesPerSecond float64) {
	tb.Helper()
	done := make(chan int64, 1)
	to.SetStreamHandler(sinkProtocol, func(s network.Stream) {
		n, err := io.Copy(io.Discard, s)
		if err != nil {
			_ = s.Reset()
		} else {
			_ = s.Close()
		}
		done <- n
	})
	defer to.RemoveStreamHandler(sinkProtocol)
	Connect(tb, from, to)
	buf := chunk()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start := time.Now()
	s, err := from.NewStream(ctx, to.ID(), sinkProtocol)
	if err != nil {
		tb.Fatal(err)
	}
	for sent := 0; sent < bytes; sent += StreamChunk {
		if _, err := s.Write(buf[:min(StreamChunk, bytes-sent)]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := s.CloseWrite(); err != nil {
		tb.Fatal(err)
	}
	if n := <-done; n != int64(bytes) {
		tb.Fatalf("receiver got %d bytes, want %d", n, bytes)
	}
	_ = s.Close()
	return float64(bytes) / time.Since(start).Seconds()
}
