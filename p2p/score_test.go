package p2p_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
)

// TestGossipGraylistsFlooder: a peer that keeps sending messages the validator rejects loses
// score until it is pruned from the mesh (it was grafted first) and graylisted, after
// which even its valid messages are dropped unread, while an honest peer's still arrive
// and its score stays non-negative.
func TestGossipGraylistsFlooder(t *testing.T) {
	hs := newHosts(t, 3, false)
	node, honest, flooder := hs[0], hs[1], hs[2]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var fromFlooder atomic.Int64 // validations of the flooder's messages at the node
	mesh := &floodMeshTracer{flooder: flooder.ID(), grafted: make(chan struct{}), pruned: make(chan struct{})}
	gs := make([]*p2p.Gossip, len(hs))
	topics := make([]*p2p.Topic, len(hs))
	for i, h := range hs {
		opts := []p2p.GossipOption{p2p.WithGossipLogger(quiet)}
		if i == 0 {
			opts = append(opts, p2p.WithGossipTracer(mesh))
		}
		g, err := p2p.NewGossip(h, "testnet", opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Close() })
		gs[i] = g
		var v p2p.Validator
		if i == 0 {
			v = func(_ context.Context, m p2p.Message) p2p.Verdict {
				if m.From == flooder.ID() {
					fromFlooder.Add(1)
				}
				if bytes.HasPrefix(m.Data, []byte("forged")) {
					return p2p.Reject
				}
				return p2p.Accept
			}
		}
		if topics[i], err = g.Join(p2p.TopicCertificates, v); err != nil {
			t.Fatal(err)
		}
	}
	var sub *p2p.Subscription
	for i := range topics { // subscribing announces the topic to peers
		s, err := topics[i].Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			sub = s
		} else {
			t.Cleanup(s.Cancel)
		}
	}
	p2ptest.Connect(t, node, honest)
	p2ptest.Connect(t, node, flooder)
	for _, i := range []int{1, 2} {
		if err := topics[i].AwaitPeers(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := topics[0].AwaitPeers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	select { // the node's heartbeat takes the flooder into its mesh
	case <-mesh.grafted:
	case <-ctx.Done():
		t.Fatal("the flooder never joined the node's mesh")
	}
	// The flood: distinct invalid messages until the node's score for the flooder (reported
	// every second) is below the graylist threshold.
	for i := 0; !gs[0].Graylisted(flooder.ID()); i++ {
		if i > 200 {
			t.Fatalf("flooder not graylisted after %d invalid messages: score %.1f", i, gs[0].PeerScore(flooder.ID()))
		}
		if err := topics[2].Publish(ctx, fmt.Appendf(nil, "forged %d", i)); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	select { // a heartbeat drops a peer with a negative score from the mesh
	case <-mesh.pruned:
	case <-ctx.Done():
		t.Fatalf("graylisted flooder not pruned from the mesh: score %.1f", gs[0].PeerScore(flooder.ID()))
	}
	seen := fromFlooder.Load()
	// Graylisted, its valid message is not even validated; the honest peer's arrives.
	if err := topics[2].Publish(ctx, []byte("valid from the flooder")); err != nil {
		t.Fatal(err)
	}
	if err := topics[1].Publish(ctx, []byte("valid from the honest peer")); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) == "valid from the flooder" {
			t.Fatal("a graylisted peer's message was delivered")
		}
		if string(m.Data) == "valid from the honest peer" {
			break
		}
	}
	// Its RPCs are dropped before validation.
	time.Sleep(time.Second)
	if got := fromFlooder.Load(); got != seen {
		t.Fatalf("%d more of the flooder's messages were validated after graylisting", got-seen)
	}
	if s := gs[0].PeerScore(honest.ID()); s < 0 {
		t.Fatalf("honest peer's score %.1f", s)
	}
}

// floodMeshTracer closes grafted when the flooder joins the node's mesh and pruned when it
// leaves it after that; every other tracer event is ignored (meshTracer).
type floodMeshTracer struct {
	meshTracer
	flooder         peer.ID
	grafted, pruned chan struct{}
	gOnce, pOnce    sync.Once
}

func (m *floodMeshTracer) Graft(p peer.ID, _ string) {
	if p == m.flooder {
		m.gOnce.Do(func() { close(m.grafted) })
	}
}

func (m *floodMeshTracer) Prune(p peer.ID, _ string) {
	select {
	case <-m.grafted:
	default:
		return
	}
	if p == m.flooder {
		m.pOnce.Do(func() { close(m.pruned) })
	}
}

// TestRestartedPeerKeepsItsPeers: a node that stops and comes back with the same identity
// within the peers' message-cache window is offered its own earlier messages (the peers'
// IHAVE gossip, since they back off re-grafting a peer that just left). GossipSub refuses
// them as self-originated and, by itself, counts each as an invalid delivery by the honest
// peer that sent it: about ten of them graylisted every peer of a restarted testnet node,
// whose publications then reached no one for the hour the penalty took to decay. Our
// scoring counts only what a validator or a signature check refuses, so the restarted node
// keeps its peers and its publications arrive.
func TestRestartedPeerKeepsItsPeers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const seed = 99 // the restarted node's identity
	others := newHosts(t, 2, false)
	start := func(h host.Host, opts ...p2p.GossipOption) (*p2p.Gossip, *p2p.Topic, *p2p.Subscription) {
		t.Helper()
		g, err := p2p.NewGossip(h, "testnet", append(opts, p2p.WithGossipLogger(quiet))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Close() })
		top, err := g.Join(p2p.TopicCertificates, nil)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := top.Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Cancel)
		return g, top, sub
	}
	var subs []*p2p.Subscription
	for _, h := range others {
		_, _, sub := start(h)
		subs = append(subs, sub)
	}
	p2ptest.Connect(t, others[0], others[1])

	// The first life: it joins, publishes, and leaves the topic (as a stopping node does)
	// before its host closes.
	first := p2ptest.Host(t, rand.New(rand.NewSource(seed)))
	g, top, sub := start(first)
	for _, h := range others {
		p2ptest.Connect(t, first, h)
	}
	if err := top.AwaitPeers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // heartbeats build the mesh, which leaving will prune
	const n = 24
	for i := range n {
		if err := top.Publish(ctx, fmt.Appendf(nil, "first life %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range subs { // both peers hold them (in their message caches too)
		for range n {
			if _, err := s.Next(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	sub.Cancel()
	time.Sleep(200 * time.Millisecond) // its PRUNEs go out
	_ = g.Close()
	_ = first.Close()

	// The second life, at once, with the same identity.
	again := p2ptest.Host(t, rand.New(rand.NewSource(seed)))
	if again.ID() != first.ID() {
		t.Fatal("not the same identity")
	}
	own := &selfOriginTracer{}
	g, top, _ = start(again, p2p.WithGossipTracer(own))
	for _, h := range others {
		p2ptest.Connect(t, again, h)
	}
	if err := top.AwaitPeers(ctx, 2); err != nil {
		t.Fatal(err)
	}
	// A few heartbeats: the peers' gossip offers the first life's messages and the node
	// asks for them. Its scores of the honest peers stay non-negative.
	time.Sleep(4 * time.Second)
	if own.n.Load() == 0 {
		t.Fatal("no peer offered the restarted node its earlier messages: the test shows nothing")
	}
	for _, h := range others {
		if s := g.PeerScore(h.ID()); s < 0 {
			t.Fatalf("the restarted node scores honest peer %s at %.1f", h.ID(), s)
		}
	}
	if err := top.Publish(ctx, []byte("second life")); err != nil {
		t.Fatal(err)
	}
	for _, s := range subs {
		for {
			m, err := s.Next(ctx)
			if err != nil {
				t.Fatalf("the restarted node's publication did not arrive: %v", err)
			}
			if string(m.Data) == "second life" {
				break
			}
		}
	}
}

// selfOriginTracer counts messages GossipSub refused as the node's own (meshTracer ignores
// every other event).
type selfOriginTracer struct {
	meshTracer
	n atomic.Int64
}

func (s *selfOriginTracer) RejectMessage(_ *pubsub.Message, reason string) {
	if reason == pubsub.RejectSelfOrigin {
		s.n.Add(1)
	}
}
