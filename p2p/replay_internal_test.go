package p2p

import (
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// TestSeenCacheReplayRule: a copy of an accepted content is a replay only when the same
// peer sent it less than replayInterval before: neighbours forwarding it once each, and an
// originator re-broadcasting it every RebroadcastInterval, are not.
func TestSeenCacheReplayRule(t *testing.T) {
	c := newSeenCache(4)
	a, b := peer.ID("a"), peer.ID("b")
	k := contentOf(TopicTxs, []byte("tx"))
	t0 := time.Unix(1000, 0)
	if seen, _ := c.copyOf(k, a, t0); seen {
		t.Fatal("an unknown content is seen")
	}
	c.add(k, a, t0)
	step := func(p peer.ID, at time.Duration, wantReplay bool) {
		t.Helper()
		seen, replay := c.copyOf(k, p, t0.Add(at))
		if !seen || replay != wantReplay {
			t.Fatalf("copy from %s at +%v: seen %v replay %v, want replay %v", p, at, seen, replay, wantReplay)
		}
	}
	step(b, 10*time.Millisecond, false)  // another neighbour forwards it
	step(a, 20*time.Millisecond, false)  // the first one again, but b came between
	step(a, 400*time.Millisecond, false) // a re-broadcast at the fastest test interval
	step(a, 450*time.Millisecond, true)  // 50 ms later: a replay
	step(a, 460*time.Millisecond, true)

	// The consensus topic's sequence number is not content.
	if contentOf(TopicConsensus, []byte("12345678vote")) != contentOf(TopicConsensus, []byte("87654321vote")) {
		t.Fatal("consensus content depends on the sequence number")
	}
	if contentOf(TopicTxs, []byte("12345678tx")) != contentOf(TopicTxs, []byte("87654321tx")) {
		t.Fatal("txs content depends on the sequence number")
	}
	if contentOf(TopicCertificates, []byte("12345678cert")) == contentOf(TopicCertificates, []byte("87654321cert")) {
		t.Fatal("certs content ignores its first bytes")
	}

	// Forget, and bounded: the oldest content goes first.
	c.forget(k)
	if seen, _ := c.copyOf(k, a, t0); seen {
		t.Fatal("a forgotten content is seen")
	}
	for i := range 6 {
		c.add(contentOf(TopicTxs, []byte{byte(i)}), a, t0)
	}
	if len(c.m) != 4 {
		t.Fatalf("%d contents cached, cap 4", len(c.m))
	}
	if seen, _ := c.copyOf(contentOf(TopicTxs, []byte{0}), b, t0); seen {
		t.Fatal("the oldest content was not evicted")
	}
	if seen, _ := c.copyOf(contentOf(TopicTxs, []byte{5}), b, t0); !seen {
		t.Fatal("the newest content was evicted")
	}
}

// TestReplayScore: a few replays cost nothing, more cost quadratically, and the count
// halves every replayHalfLife.
func TestReplayScore(t *testing.T) {
	r := peerCounts{halfLife: replayHalfLife}
	p := peer.ID("p")
	now := time.Now()
	for range replayAllowance {
		r.add(p, now)
	}
	if s := replayScore(r.count(p, now)); s != 0 {
		t.Fatalf("score after %d replays: %v", replayAllowance, s)
	}
	for range 20 {
		r.add(p, now)
	}
	if s := replayScore(r.count(p, now)); s > graylistThreshold+1 {
		t.Fatalf("score after %d replays: %v, want graylisted (< %d)", replayAllowance+20, s, graylistThreshold)
	}
	if c := r.count(p, now.Add(replayHalfLife)); c < 11 || c > 12 {
		t.Fatalf("count after a half-life: %v", c)
	}
}
