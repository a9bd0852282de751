package blobsync

import (
	"errors"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
)

// A failed sync is queued again with a doubling backoff capped at the sweep period, up to
// Retries attempts; a success forgets the failures; a submitted invalid-blob certificate is
// checked again like a failure.
func TestSettleBackoff(t *testing.T) {
	cfg := Config{Retry: time.Second, Retries: 4, Sweep: 5 * time.Second, Queue: 16}
	s := &Syncer{cfg: cfg, pending: map[codec.BlobID]time.Time{}, failed: map[codec.BlobID]int{}, wake: make(chan struct{}, 1)}
	id := codec.BlobID{1}
	now := time.Unix(1000, 0)
	boom := errors.New("boom")
	take := func() {
		t.Helper()
		got, ok, _ := s.next(now.Add(time.Hour))
		if !ok || got != id {
			t.Fatalf("not queued again: %v %v", got, ok)
		}
	}
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second} {
		again, after := s.settle(id, boom, now)
		if !again || after != want {
			t.Fatalf("failure %d: again %v after %v, want %v", i+1, again, after, want)
		}
		if at := s.pending[id]; !at.Equal(now.Add(want)) {
			t.Fatalf("failure %d: due at %v", i+1, at)
		}
		if _, ok, _ := s.next(now.Add(want - time.Millisecond)); ok {
			t.Fatalf("failure %d: due before its backoff", i+1)
		}
		take()
	}
	if again, _ := s.settle(id, boom, now); again || len(s.pending) != 0 || len(s.failed) != 0 {
		t.Fatalf("attempt past Retries queued again: %v %v %v", again, s.pending, s.failed)
	}
	// A success in between starts the count again.
	s.settle(id, boom, now)
	take()
	if again, _ := s.settle(id, nil, now); again || len(s.failed) != 0 {
		t.Fatal("success kept the failure count")
	}
	if _, after := s.settle(id, errInvalidating, now); after != time.Second {
		t.Fatalf("submitted invalidation checked after %v", after)
	}
	// A full queue drops the retry (the sweep finds it) and keeps nothing.
	take()
	s.cfg.Queue = 0
	if again, _ := s.settle(id, boom, now); again || len(s.failed) != 0 {
		t.Fatal("retry queued past the queue bound")
	}
}
