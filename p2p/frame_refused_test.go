package p2p

import (
	"context"
	"errors"
	"math/rand"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// loopbackHost starts a TCP-only host on 127.0.0.1 with the given memory budget.
func loopbackHost(t *testing.T, seed int64, memory int64) host.Host {
	t.Helper()
	id, err := GenerateIdentity(rand.New(rand.NewSource(seed)))
	if err != nil {
		t.Fatal(err)
	}
	h, err := NewHost(HostConfig{Identity: id, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DisableQUIC: true, MemoryBudget: memory})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// TestFrameRefusedByBudget: over real libp2p streams, a receiver whose resource manager
// has a small memory budget (64 MiB: 16 MiB per peer, of which a frame may take 60%) is
// sent a 16 MiB frame, announced and really sent. The reader fails with ErrFrameRefused
// once the first part has arrived, without allocating the frame (it allocates less than a
// quarter of it, where reading it would allocate it twice over as the buffer grows), and a
// request/response server Resets such a request without calling its handler.
func TestFrameRefusedByBudget(t *testing.T) {
	const size = 16 << 20
	receiver := loopbackHost(t, 1, 64<<20)
	sender := loopbackHost(t, 2, DefaultMemoryBudget)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sender.Connect(ctx, peer.AddrInfo{ID: receiver.ID(), Addrs: receiver.Addrs()}); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(i * 7)
	}

	type result struct {
		body  []byte
		err   error
		alloc uint64
	}
	done := make(chan result, 1)
	const raw = "/p2ptest/frame/1"
	receiver.SetStreamHandler(raw, func(s network.Stream) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		got, release, err := readStreamFrame(s, s.Scope(), 64<<20)
		runtime.ReadMemStats(&after)
		release()
		_ = s.Reset()
		done <- result{got, err, after.TotalAlloc - before.TotalAlloc}
	})
	s, err := sender.NewStream(ctx, receiver.ID(), raw)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = WriteFrame(s, body) }() // fails once the receiver resets
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("the receiver never returned")
	}
	_ = s.Reset()
	if !errors.Is(r.err, ErrFrameRefused) || r.body != nil {
		t.Fatalf("read %d bytes, err %v; want ErrFrameRefused", len(r.body), r.err)
	}
	if r.alloc >= size/4 {
		t.Fatalf("the refused read allocated %d bytes (frame %d)", r.alloc, size)
	}
	t.Logf("refused after allocating %d KiB: %v", r.alloc>>10, r.err)

	// The request/response server: the handler never runs, the caller gets an error.
	var called atomic.Bool
	p := Protocol{ID: "/p2ptest/frame-rpc/1", MaxRequest: 64 << 20, MaxResponse: 1 << 10, Timeout: 30 * time.Second}
	if err := Handle(receiver, p, func(context.Context, peer.ID, []byte) ([]byte, error) {
		called.Store(true)
		return []byte("ok"), nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Call(ctx, sender, receiver.ID(), p, body); err == nil {
		t.Fatal("a request the receiver's budget refuses was answered")
	}
	if called.Load() {
		t.Fatal("the handler ran on a refused request")
	}
	// A request the budget allows still goes through.
	if resp, err := Call(ctx, sender, receiver.ID(), p, body[:1<<20]); err != nil || string(resp) != "ok" {
		t.Fatalf("a 1 MiB request: %q, %v", resp, err)
	}
}
