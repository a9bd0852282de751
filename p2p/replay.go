package p2p

import (
	"math"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"golang.org/x/crypto/blake2b"
)

// Replays (docs/architecture.md §4). GossipSub drops a message whose ID it has seen in the
// last two minutes, and our IDs are hashes of the data, so the same bytes sent again soon
// cost one hash and go no further. That is not enough: a `consensus` payload carries a
// sequence number the sender picks (node/consensus/wire.go), so anyone can wrap a valid
// vote again and GossipSub sees a new message; and after two minutes the same bytes are new
// again. Each such replay would be validated, delivered and forwarded by every node.
//
// So each topic keeps a bounded cache of the contents it accepted, keyed by the hash of the
// content (the data, less a `consensus` payload's sequence number), not by the pubsub
// message ID. A remote message whose content is in the cache is Ignored before the node's
// validator runs: not delivered, not forwarded. Our own publications are never refused by
// it (Tendermint relays the others' votes as its own publications) and are cached too.
// A content whose local delivery failed is forgotten, so the senders' re-broadcast repairs
// it: GossipSub's dropped deliveries to a slow subscriber are forgotten automatically, and
// an application that drops a delivered message calls [Topic.Forget].
//
// Honest nodes send the same content more than once: the originator re-broadcasts while
// consensus is stuck, and the mempool re-gossips a local transaction still waiting, both at
// most once per consensus RebroadcastInterval (2 s by default, 300 ms in the fastest test
// configuration), and a node may forward a message once and then relay it itself. A copy
// of a content the peer itself sent us less than replayInterval earlier is none of those:
// it counts against the peer as a replay, whichever way it came (a GossipSub duplicate of
// the same bytes, or new bytes of a cached content). Replays cost the peer score through
// GossipSub's application-specific score, quadratically beyond a small allowance and
// decaying over minutes, so a replayer is pruned, then graylisted, as a peer sending
// invalid messages is (score.go), and an honest peer's rare coincidence costs nothing.
const (
	// seenPerTopic bounds each topic's content cache (entries of ~80 bytes).
	seenPerTopic = 1 << 15
	// replayInterval: a peer sending a content it sent us less than this long ago replays.
	replayInterval = 200 * time.Millisecond
	// replayAllowance recent replays cost nothing; beyond it, the score is
	// replayWeight·(replays-replayAllowance)²: past 13 recent replays a peer gets no gossip
	// from us, past 23 it is graylisted (score.go's thresholds).
	replayAllowance = 3
	replayWeight    = -1
	// replayHalfLife is how fast the replay count decays.
	replayHalfLife = time.Minute
)

// contentKey names a gossip message's content.
type contentKey [32]byte

// contentOf returns the content key of data on topic name: the hash of the data, less the
// sequence number that prefixes a `consensus` payload.
func contentOf(name TopicName, data []byte) contentKey {
	if seqPrefixed(name) && len(data) >= seqPrefixSize {
		data = data[seqPrefixSize:]
	}
	return blake2b.Sum256(data)
}

// seqPrefixSize is the length of the sequence number that prefixes every `consensus` and
// `txs` payload (node/consensus/wire.go): it makes each publication distinct, so that a
// sender's re-broadcast of the same content is not dropped by GossipSub as a message it
// has already seen, and means nothing.
const seqPrefixSize = 8

// seqPrefixed says whether the topic's payloads carry the sequence prefix.
func seqPrefixed(name TopicName) bool { return name == TopicConsensus || name == TopicTxs }

// seenEntry is what a topic remembers of an accepted content: who last sent it, and when.
type seenEntry struct {
	from peer.ID
	at   time.Time
}

// seenCache is a topic's bounded set of accepted contents (a ring: the oldest is evicted).
type seenCache struct {
	mu   sync.Mutex
	max  int
	m    map[contentKey]seenEntry
	ring []contentKey
	next int
}

// newSeenCache returns a cache of at most n contents; it allocates as it fills.
func newSeenCache(n int) *seenCache {
	return &seenCache{max: n, m: map[contentKey]seenEntry{}}
}

// add records an accepted content sent by from.
func (c *seenCache) add(k contentKey, from peer.ID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok {
		// A content forgotten and added again takes a second slot; the first one's eviction
		// then drops it early, which only costs a validation.
		if len(c.ring) < c.max {
			c.ring = append(c.ring, k)
		} else {
			delete(c.m, c.ring[c.next])
			c.ring[c.next] = k
			c.next = (c.next + 1) % len(c.ring)
		}
	}
	c.m[k] = seenEntry{from: from, at: now}
}

// copyOf records that from sent a content again. seen reports whether the content is
// cached; replay whether from had sent it less than replayInterval before.
func (c *seenCache) copyOf(k contentKey, from peer.ID, now time.Time) (seen, replay bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[k]
	if !ok {
		return false, false
	}
	replay = e.from == from && now.Sub(e.at) < replayInterval
	c.m[k] = seenEntry{from: from, at: now}
	return true, replay
}

// forget drops a content, so its next copy is validated and delivered again. The ring slot
// stays until it is reused.
func (c *seenCache) forget(k contentKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, k)
}

// peerCounts counts each peer's recent events of one kind (replays here, invalid messages
// in score.go), each count halving every halfLife.
type peerCounts struct {
	halfLife time.Duration
	mu       sync.Mutex
	m        map[peer.ID]*peerCount
}

type peerCount struct {
	n  float64
	at time.Time
}

func (r *peerCounts) decayed(c *peerCount, now time.Time) float64 {
	return c.n * math.Exp2(-float64(now.Sub(c.at))/float64(r.halfLife))
}

// add counts one event by p.
func (r *peerCounts) add(p peer.ID, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[peer.ID]*peerCount{}
	}
	c := r.m[p]
	if c == nil {
		c = &peerCount{}
		r.m[p] = c
	}
	c.n, c.at = r.decayed(c, now)+1, now
	// Forget peers whose count has decayed away, so the map holds only recent offenders.
	if len(r.m) > 1024 {
		for q, qc := range r.m {
			if r.decayed(qc, now) < 0.5 {
				delete(r.m, q)
			}
		}
	}
}

// count returns p's decayed count.
func (r *peerCounts) count(p peer.ID, now time.Time) float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.m[p]
	if c == nil {
		return 0
	}
	return r.decayed(c, now)
}

// replayScore is the score of n recent replays: nothing up to the allowance, then
// replayWeight·(n-replayAllowance)².
func replayScore(n float64) float64 {
	excess := n - replayAllowance
	if excess <= 0 {
		return 0
	}
	return replayWeight * excess * excess
}

// replayTracer is the pubsub tracer that counts same-bytes replays (GossipSub duplicates)
// and forgets contents a slow subscriber never received.
type replayTracer struct {
	g *Gossip
}

// topic returns msg's topic and its cache. It takes no lock of the Gossip's: tracers run
// on GossipSub's event loop, which Join waits on with the Gossip locked.
func (t replayTracer) topic(msg *pubsub.Message) (TopicName, *seenCache) {
	name, ok := t.g.wire[msg.GetTopic()]
	if !ok {
		return "", nil
	}
	return name, t.g.seen[name]
}

// DuplicateMessage: the same bytes again. Only a copy from the peer that sent the content
// less than replayInterval before counts (each neighbour forwards a message once).
func (t replayTracer) DuplicateMessage(msg *pubsub.Message) {
	name, seen := t.topic(msg)
	if seen == nil || msg.ReceivedFrom == t.g.self {
		return
	}
	var k contentKey
	if !seqPrefixed(name) && len(msg.ID) == len(k) {
		copy(k[:], msg.ID) // the message ID is the hash of the data (NewGossip)
	} else {
		k = contentOf(name, msg.GetData())
	}
	now := time.Now()
	if _, replay := seen.copyOf(k, msg.ReceivedFrom, now); replay {
		t.g.replays.add(msg.ReceivedFrom, now)
	}
}

// RejectMessage: a message refused. What a validator or a signature check refuses counts
// against the peer that sent it (score.go); not what pubsub refuses for other reasons: a
// full validation queue or throttling says nothing about the peer, and a "self-originated"
// message is the node's own from before a restart, which honest peers still offer from
// their message caches (GossipSub's own scoring would count those as invalid).
func (t replayTracer) RejectMessage(msg *pubsub.Message, reason string) {
	switch reason {
	case pubsub.RejectValidationFailed, pubsub.RejectInvalidSignature, pubsub.RejectMissingSignature,
		pubsub.RejectUnexpectedSignature, pubsub.RejectUnexpectedAuthInfo:
		if msg.ReceivedFrom != t.g.self {
			t.g.invalid.add(msg.ReceivedFrom, time.Now())
		}
	}
}

// UndeliverableMessage: a subscriber fell behind and GossipSub dropped the delivery; forget
// the content so that a re-broadcast is delivered.
func (t replayTracer) UndeliverableMessage(msg *pubsub.Message) {
	if name, seen := t.topic(msg); seen != nil {
		seen.forget(contentOf(name, msg.GetData()))
	}
}

func (replayTracer) Join(string)                              {}
func (replayTracer) Leave(string)                             {}
func (replayTracer) Graft(peer.ID, string)                    {}
func (replayTracer) Prune(peer.ID, string)                    {}
func (replayTracer) ValidateMessage(*pubsub.Message)          {}
func (replayTracer) DeliverMessage(*pubsub.Message)           {}
func (replayTracer) ThrottlePeer(peer.ID)                     {}
func (replayTracer) RecvRPC(*pubsub.RPC)                      {}
func (replayTracer) SendRPC(*pubsub.RPC, peer.ID)             {}
func (replayTracer) DropRPC(*pubsub.RPC, peer.ID)             {}
func (replayTracer) OnNewOutboundStream(peer.ID, protocol.ID) {}
func (replayTracer) OnClosedOutboundStream(peer.ID)           {}
