package p2p_test

import (
	"context"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
)

// consensusPayload is a `consensus` topic payload: a sequence number the sender picks, then
// the message (node/consensus/wire.go).
func consensusPayload(seq uint64, msg string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, seq), msg...)
}

// TestGossipReplaysNotForwarded: on a line replayer — relay — observer, a valid message the
// replayer publishes once is validated once by the relay and delivered once to the
// observer; the same message published again and again under new sequence numbers (new
// GossipSub messages, the same content) is Ignored by the relay without running its
// validator, so the observer never sees it again, and the replayer's score at the relay
// drops until it is graylisted. The relay's own re-publication of the content (what a
// Tendermint relay does) goes out, is Ignored by the observer as a replay it already has,
// and costs the honest relay nothing. A content the observer forgets is delivered again.
func TestGossipReplaysNotForwarded(t *testing.T) {
	hs := newHosts(t, 3, false)
	replayer, relay, observer := hs[0], hs[1], hs[2]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var mu sync.Mutex
	validated := make([]map[string]int, len(hs)) // per node: validations of remote copies
	gs := make([]*p2p.Gossip, len(hs))
	topics := make([]*p2p.Topic, len(hs))
	relayGrafts := make(chan peer.ID, 64)
	for i, h := range hs {
		opts := []p2p.GossipOption{p2p.WithGossipLogger(quiet)}
		if i == 1 {
			opts = append(opts, p2p.WithGossipTracer(&meshTracer{grafts: relayGrafts}))
		}
		g, err := p2p.NewGossip(h, "testnet", opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Close() })
		gs[i] = g
		validated[i] = map[string]int{}
		v := func(_ context.Context, m p2p.Message) p2p.Verdict {
			if m.ReceivedFrom != h.ID() { // remote copies only
				mu.Lock()
				validated[i][string(m.Data[8:])]++
				mu.Unlock()
			}
			return p2p.Accept
		}
		if topics[i], err = g.Join(p2p.TopicConsensus, v); err != nil {
			t.Fatal(err)
		}
	}
	subs := make([]*p2p.Subscription, len(hs))
	for i := range topics {
		s, err := topics[i].Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Cancel)
		subs[i] = s
	}
	p2ptest.Connect(t, replayer, relay)
	p2ptest.Connect(t, relay, observer)
	for i, n := range []int{1, 2, 1} {
		if err := topics[i].AwaitPeers(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	// Forwarding follows the mesh: wait until the relay has grafted the observer.
	for p := peer.ID(""); p != observer.ID(); {
		select {
		case p = <-relayGrafts:
		case <-ctx.Done():
			t.Fatal("the relay never grafted the observer")
		}
	}
	// next returns the next message the observer delivers.
	next := func() string {
		t.Helper()
		m, err := subs[2].Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return string(m.Data[8:])
	}

	const vote = "valid vote"
	if err := topics[0].Publish(ctx, consensusPayload(1, vote)); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != vote {
		t.Fatalf("observer got %q first", got)
	}
	// The replays: the same content under 40 new sequence numbers.
	for seq := uint64(2); seq < 42; seq++ {
		if err := topics[0].Publish(ctx, consensusPayload(seq, vote)); err != nil {
			t.Fatal(err)
		}
	}
	// The relay's own re-publication of the content it forwarded (a Tendermint relay).
	if err := topics[1].Publish(ctx, consensusPayload(1000, vote)); err != nil {
		t.Fatal(err)
	}
	// Until the relay has graylisted the replayer (scores are reported every second).
	for !gs[1].Graylisted(replayer.ID()) {
		select {
		case <-ctx.Done():
			t.Fatalf("replayer not graylisted: score %.1f", gs[1].PeerScore(replayer.ID()))
		case <-time.After(100 * time.Millisecond):
		}
	}
	// A new message from the relay travels the same path as any forwarded replay would
	// have; the observer delivers it next, with no copy of the vote before it.
	if err := topics[1].Publish(ctx, consensusPayload(2000, "after the replays")); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "after the replays" {
		t.Fatalf("observer delivered %q again", got)
	}
	mu.Lock()
	if n := validated[1][vote]; n != 1 {
		t.Errorf("the relay validated the vote %d times, want once", n)
	}
	if n := validated[2][vote]; n != 1 {
		t.Errorf("the observer validated the vote %d times, want once", n)
	}
	mu.Unlock()
	if s := gs[2].PeerScore(relay.ID()); s < 0 {
		t.Errorf("honest relay's score at the observer: %.1f", s)
	}

	// Forgotten (its delivery could not be used): the next copy is delivered again.
	topics[2].Forget(consensusPayload(0, vote))
	if err := topics[1].Publish(ctx, consensusPayload(3000, vote)); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != vote {
		t.Fatalf("after Forget the observer got %q", got)
	}
}
