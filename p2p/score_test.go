package p2p_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
