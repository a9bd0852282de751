package p2p

import (
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// GossipSub peer scoring (docs/architecture.md §4): a peer that forwards messages the
// node's validators Reject (invalid: bad signature, forged certificate, malformed) loses
// score quadratically in their number, and below the thresholds it is first no longer
// gossiped to, then not published to, then graylisted (everything it sends is ignored).
// Ignore verdicts (stale, duplicate, not checkable yet) cost nothing. The penalty decays
// over an hour, so an honest node that once sent something others could not yet check
// recovers; a flood does not.
//
// We count invalid messages ourselves (replayTracer.RejectMessage) and add them through the
// application-specific score, instead of GossipSub's per-topic invalid-delivery counter
// (P4, weight 0 here): that counter also counts "self-originated" messages, and a node
// restarted with the same identity within the peers' message-cache window is offered its
// own earlier messages by every honest peer (their gossip, since they back off re-grafting
// a peer that just left). Counted as invalid, a few dozen of them graylisted every peer of
// the restarted node, whose publications then reached no one until the penalty decayed
// (TestRestartedPeerKeepsItsPeers).
//
// Choices:
//   - IP colocation is off: committee members may share an address (several nodes behind one
//     NAT, every node of a local testnet on 127.0.0.1), and consensus weight comes from
//     stake, not from the number of peers, so many peers on one IP gain nothing.
//   - Mesh delivery rates (P3) are off: the topics are bursty (a checkpoint every few
//     seconds, certificates when blobs are stored), and a quiet mesh is not misbehaviour.
//   - Small positive scores for time in the mesh and first deliveries order honest peers,
//     capped so that good behaviour cannot bank credit against a later flood.
const (
	// invalidWeight is the score of n invalid messages: invalidWeight·n², n halving every
	// invalidHalfLife (a count falls to 1% in about an hour).
	invalidWeight   = -10
	invalidHalfLife = 9 * time.Minute
	// Score thresholds: below gossipThreshold a peer gets no gossip from us, below
	// publishThreshold none of our publications, below graylistThreshold all of its
	// messages are ignored. 7 recent invalid messages reach the graylist.
	gossipThreshold   = -100
	publishThreshold  = -200
	graylistThreshold = -400
)

func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		TopicWeight:                  1,
		TimeInMeshWeight:             0.01,
		TimeInMeshQuantum:            time.Second,
		TimeInMeshCap:                300,
		FirstMessageDeliveriesWeight: 0.5,
		FirstMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(10 * time.Minute),
		FirstMessageDeliveriesCap:    20,
		// Invalid messages count in the application-specific score (see above). GossipSub
		// wants a decay even at weight 0.
		InvalidMessageDeliveriesWeight: 0,
		InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(time.Hour),
	}
}

// scoreOptions returns the pubsub options that turn scoring on for network's topics, and
// keep the latest scores in s.
func scoreOptions(network string, s *scores, app func(peer.ID) float64) []pubsub.Option {
	topics := make(map[string]*pubsub.TopicScoreParams, len(topicCaps))
	for name := range topicCaps {
		topics[TopicString(network, name)] = topicScoreParams()
	}
	params := &pubsub.PeerScoreParams{
		Topics:                    topics,
		TopicScoreCap:             50,
		AppSpecificScore:          app, // replays and invalid messages (appScore)
		AppSpecificWeight:         1,
		IPColocationFactorWeight:  0,
		BehaviourPenaltyWeight:    -10,
		BehaviourPenaltyThreshold: 6,
		BehaviourPenaltyDecay:     pubsub.ScoreParameterDecay(time.Hour),
		DecayInterval:             time.Second,
		DecayToZero:               0.01,
		RetainScore:               time.Hour,
	}
	thresholds := &pubsub.PeerScoreThresholds{
		GossipThreshold:             gossipThreshold,
		PublishThreshold:            publishThreshold,
		GraylistThreshold:           graylistThreshold,
		AcceptPXThreshold:           10,
		OpportunisticGraftThreshold: 2,
	}
	return []pubsub.Option{
		pubsub.WithPeerScore(params, thresholds),
		pubsub.WithPeerScoreInspect(s.set, time.Second),
	}
}

// appScore is the application-specific score GossipSub adds to p's (AppSpecificWeight 1):
// its recent replays beyond the allowance (replay.go) and its recent invalid messages, each
// quadratic. GossipSub calls it under its own lock; it takes only the counters'.
func (g *Gossip) appScore(p peer.ID) float64 {
	now := time.Now()
	n := g.invalid.count(p, now)
	return replayScore(g.replays.count(p, now)) + invalidWeight*n*n
}

// scores holds the latest peer scores GossipSub reported (every second).
type scores struct {
	mu sync.Mutex
	m  map[peer.ID]float64
}

func (s *scores) set(m map[peer.ID]float64) {
	s.mu.Lock()
	s.m = m
	s.mu.Unlock()
}

// PeerScore returns the peer's GossipSub score as of the last second (0 when unknown).
func (g *Gossip) PeerScore(p peer.ID) float64 {
	g.scores.mu.Lock()
	defer g.scores.mu.Unlock()
	return g.scores.m[p]
}

// Graylisted reports whether the peer's score is below the graylist threshold: its
// messages are ignored until the penalty decays.
func (g *Gossip) Graylisted(p peer.ID) bool { return g.PeerScore(p) < graylistThreshold }
