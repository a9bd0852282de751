package p2p_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
)

// TestGossipRejectsForgedMessages runs 4 honest hosts and 1 byzantine host on loopback.
// Honest hosts validate the consensus topic (anything starting with "forged" is invalid);
// the byzantine host joins without a validator and publishes a forged message followed by
// a valid one. Every honest host must deliver the valid message and never the forged one.
func TestGossipRejectsForgedMessages(t *testing.T) {
	const honest = 4
	hs := newHosts(t, honest+1, false)
	byz := hs[honest]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	rejectedBy := make(chan int, 64) // honest host indexes, one per rejection
	topics := make([]*p2p.Topic, len(hs))
	grafts := make([]chan peer.ID, len(hs))
	for i := range grafts {
		grafts[i] = make(chan peer.ID, 64)
	}
	subs := make([]*p2p.Subscription, honest)
	for i, h := range hs {
		tr := &meshTracer{grafts: grafts[i]}
		g, err := p2p.NewGossip(h, "testnet", p2p.WithGossipTracer(tr))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Close() })
		var v p2p.Validator
		if i < honest {
			i := i
			v = func(_ context.Context, m p2p.Message) p2p.Verdict {
				if bytes.HasPrefix(m.Data, []byte("forged")) {
					select {
					case rejectedBy <- i:
					default:
					}
					return p2p.Reject
				}
				return p2p.Accept
			}
		}
		topics[i], err = g.Join(p2p.TopicConsensus, v)
		if err != nil {
			t.Fatal(err)
		}
		if i < honest {
			if subs[i], err = topics[i].Subscribe(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A ring plus the byzantine host linked to one honest host: delivery to the far side
	// needs forwarding, so a validator that let the forgery through would show. Connect
	// after GossipSub is up, as a node does, so identify announces the protocol.
	for i := 0; i < honest; i++ {
		p2ptest.Connect(t, hs[i], hs[(i+1)%honest])
	}
	p2ptest.Connect(t, byz, hs[0])
	// Wait (on join events) until the byzantine host's neighbour sees it subscribed and it
	// sees its neighbour, so its publishes have somewhere to go.
	if err := topics[honest].AwaitPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < honest; i++ {
		if err := topics[i].AwaitPeers(ctx, 2); err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
	}
	// Forwarding follows the GossipSub mesh: wait (on the tracer's graft events) until every
	// honest host has both ring neighbours in its mesh.
	for i := 0; i < honest; i++ {
		want := map[peer.ID]bool{hs[(i+1)%honest].ID(): true, hs[(i+honest-1)%honest].ID(): true}
		for len(want) > 0 {
			select {
			case p := <-grafts[i]:
				delete(want, p)
			case <-ctx.Done():
				t.Fatalf("host %d: mesh never formed", i)
			}
		}
	}

	// An honest publisher's own validator refuses the forgery before it leaves the host.
	if err := topics[1].Publish(ctx, []byte("forged by an honest node")); err == nil {
		t.Fatal("local publish of an invalid message succeeded")
	}

	if err := topics[honest].Publish(ctx, []byte("forged: a fake certificate")); err != nil {
		t.Fatal(err)
	}
	if err := topics[honest].Publish(ctx, []byte("valid: a real certificate")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < honest; i++ {
		m, err := subs[i].Next(ctx)
		if err != nil {
			t.Fatalf("host %d: %v", i, err)
		}
		if string(m.Data) != "valid: a real certificate" {
			t.Fatalf("host %d delivered %q", i, m.Data)
		}
		if m.From != byz.ID() {
			t.Fatalf("host %d: From = %s, want the publisher %s", i, m.From, byz.ID())
		}
	}
	// Only hs[0] hears from the byzantine host directly, so it must be the one that
	// rejected the forgery (hs[1] rejected its own local publish above).
	for got := false; !got; {
		select {
		case i := <-rejectedBy:
			got = i == 0
		case <-ctx.Done():
			t.Fatal("the byzantine host's neighbour never rejected the forgery")
		}
	}
	for i := 0; i < honest; i++ {
		c, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		m, err := subs[i].Next(c)
		cancel()
		if err == nil {
			t.Fatalf("host %d delivered an extra message %q", i, m.Data)
		}
	}
}

// meshTracer reports mesh grafts; every other tracer event is ignored.
type meshTracer struct{ grafts chan peer.ID }

func (m *meshTracer) Graft(p peer.ID, _ string) {
	select {
	case m.grafts <- p:
	default:
	}
}
func (*meshTracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (*meshTracer) OnClosedOutboundStream(peer.ID)           {}
func (*meshTracer) Join(string)                              {}
func (*meshTracer) Leave(string)                             {}
func (*meshTracer) Prune(peer.ID, string)                    {}
func (*meshTracer) ValidateMessage(*pubsub.Message)          {}
func (*meshTracer) DeliverMessage(*pubsub.Message)           {}
func (*meshTracer) RejectMessage(*pubsub.Message, string)    {}
func (*meshTracer) DuplicateMessage(*pubsub.Message)         {}
func (*meshTracer) ThrottlePeer(peer.ID)                     {}
func (*meshTracer) RecvRPC(*pubsub.RPC)                      {}
func (*meshTracer) SendRPC(*pubsub.RPC, peer.ID)             {}
func (*meshTracer) DropRPC(*pubsub.RPC, peer.ID)             {}
func (*meshTracer) UndeliverableMessage(*pubsub.Message)     {}

func TestGossipOversizeRejected(t *testing.T) {
	hs := newHosts(t, 2, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var ts []*p2p.Topic
	for _, h := range hs {
		g, err := p2p.NewGossip(h, "testnet")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = g.Close() })
		tp, err := g.Join(p2p.TopicCertificates, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Join(p2p.TopicCertificates, nil); err == nil {
			t.Fatal("joined a topic twice")
		}
		if _, err := g.Join("nope", nil); err == nil {
			t.Fatal("joined an unknown topic")
		}
		ts = append(ts, tp)
	}
	if err := ts[0].Publish(ctx, make([]byte, 65<<10)); err == nil {
		t.Fatal("published a message over the topic cap")
	}
	if got := p2p.TopicString("mainnet", p2p.TopicTxs); got != "/walrus/mainnet/txs/1" {
		t.Fatalf("TopicString = %q", got)
	}
}

func TestDiscoveryProvideAndFind(t *testing.T) {
	const n = 5
	hs := newHosts(t, n, false)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ds := make([]*p2p.Discovery, n)
	for i, h := range hs {
		var boot []peer.AddrInfo
		if i > 0 {
			boot = []peer.AddrInfo{p2ptest.Info(hs[0])} // host 0 is everyone's bootstrap peer
		}
		d, err := p2p.NewDiscovery(h, "testnet", boot)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Close() })
		ds[i] = d
	}
	for i := 1; i < n; i++ {
		p2ptest.Connect(t, hs[i], hs[0])
	}
	for i, d := range ds {
		if err := d.Bootstrap(ctx); err != nil {
			t.Fatalf("bootstrap %d: %v", i, err)
		}
	}
	// Host 3 holds shards 7 and 8 in epoch 2; host 4 holds shard 7 as well.
	for _, p := range []struct {
		host  int
		shard uint16
	}{{3, 7}, {3, 8}, {4, 7}} {
		if err := ds[p.host].ProvideShard(ctx, 2, p.shard); err != nil {
			t.Fatalf("provide: %v", err)
		}
	}
	holders, err := ds[1].FindShardHolders(ctx, 2, 7, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[peer.ID]bool{}
	for _, ai := range holders {
		got[ai.ID] = true
	}
	if !got[hs[3].ID()] || !got[hs[4].ID()] || len(got) != 2 {
		t.Fatalf("holders of shard 7: %v, want hosts 3 and 4", holders)
	}
	// Another epoch is another key: nobody provides shard 7 in epoch 3.
	short, cancelShort := context.WithTimeout(ctx, 2*time.Second)
	none, _ := ds[2].FindShardHolders(short, 3, 7, 0)
	cancelShort()
	if len(none) != 0 {
		t.Fatalf("epoch 3 holders: %v", none)
	}
	// Peer routing: host 2 resolves host 4's addresses (it is not directly connected).
	ai, err := ds[2].FindPeer(ctx, hs[4].ID())
	if err != nil {
		t.Fatal(err)
	}
	if len(ai.Addrs) == 0 {
		t.Fatal("FindPeer returned no addresses")
	}
}

func TestShardKey(t *testing.T) {
	a := p2p.ShardKey("mainnet", 1, 2)
	if a != p2p.ShardKey("mainnet", 1, 2) {
		t.Fatal("ShardKey not deterministic")
	}
	seen := map[string]string{}
	for _, k := range []struct {
		net   string
		epoch uint32
		shard uint16
	}{{"mainnet", 1, 2}, {"mainnet", 2, 1}, {"testnet", 1, 2}, {"mainnet", 1, 3}, {"mainnet", 0x10000, 2}} {
		c := p2p.ShardKey(k.net, k.epoch, k.shard).String()
		name := fmt.Sprint(k)
		if prev, dup := seen[c]; dup {
			t.Fatalf("%s and %s share key %s", prev, name, c)
		}
		seen[c] = name
	}
}
