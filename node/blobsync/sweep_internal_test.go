package blobsync

import (
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
)

// A blob queued again while a worker syncs it waits for that sync to end instead of being
// synced beside it; a queue that is full drops a blob and marks the overflow that starts a
// sweep, and taking blobs asks the sweep for more once half its room is free.
func TestQueueBusyAndOverflow(t *testing.T) {
	cfg := Config{Queue: 4, Workers: 2}
	s := &Syncer{cfg: cfg, pending: map[codec.BlobID]time.Time{}, failed: map[codec.BlobID]int{},
		held: map[codec.BlobID]time.Time{}, busy: map[codec.BlobID]bool{}, wake: make(chan struct{}, 1), more: make(chan struct{}, 1)}
	now := time.Unix(1000, 0)
	a, b := codec.BlobID{1}, codec.BlobID{2}
	s.enqueue(a, now)
	if got, ok, _ := s.next(now); !ok || got != a {
		t.Fatal("a not taken")
	}
	s.enqueue(a, now) // an event while a is synced
	s.enqueue(b, now)
	if got, ok, _ := s.next(now); !ok || got != b {
		t.Fatalf("took %v %v, want b (a is being synced)", got, ok)
	}
	if _, ok, _ := s.next(now); ok {
		t.Fatal("a taken while a worker syncs it")
	}
	delete(s.busy, a) // its sync ended
	if got, ok, _ := s.next(now); !ok || got != a {
		t.Fatal("a not taken after its sync ended")
	}

	// Fill the queue: the fifth is dropped and marks the overflow.
	for i := range 5 {
		s.enqueue(codec.BlobID{10, byte(i)}, now)
	}
	if len(s.pending) != 4 || !s.overflow {
		t.Fatalf("%d queued, overflow %v: want 4 and true", len(s.pending), s.overflow)
	}
	select {
	case <-s.more:
		t.Fatal("sweep asked for more with the queue full")
	default:
	}
	// sweepRoom is 3: taking down to 1 queued asks for more.
	s.next(now)
	s.next(now)
	select {
	case <-s.more:
		t.Fatal("sweep asked for more with 2 queued")
	default:
	}
	s.next(now)
	select {
	case <-s.more:
	default:
		t.Fatal("sweep not asked for more with 1 queued")
	}
}
