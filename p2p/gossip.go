package p2p

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/blake2b"
)

// TopicName names one of the node's GossipSub topics. The wire topic is
// /walrus/<network>/<name>/1, so two networks on the same hosts never mix.
type TopicName string

// The node's topics (docs/architecture.md §4–5).
const (
	// TopicConsensus carries Tendermint proposals, prevotes and precommits.
	TopicConsensus TopicName = "consensus"
	// TopicCheckpoints carries committed checkpoints with their commit certificates, for
	// followers.
	TopicCheckpoints TopicName = "checkpoints"
	// TopicTxs carries account-signed transactions to the committee's mempools, each behind
	// an 8-byte sequence number that makes every publication distinct (replay.go).
	TopicTxs TopicName = "txs"
	// TopicCertificates carries blob certificates (Points of Availability) and
	// invalid-blob certificates, so nodes start blob sync before the ledger commits them.
	TopicCertificates TopicName = "certs"
)

// MaxGossipMessage caps any gossip message. A checkpoint proposal carries its
// transactions; 4 MiB holds thousands of transfers or certify-blob txs (each a few hundred
// bytes with its certificate), well above what a short block interval produces.
const MaxGossipMessage = 4 << 20

// topicCaps are per-topic caps, enforced before the node's validator runs.
var topicCaps = map[TopicName]int{
	TopicConsensus:    MaxGossipMessage,
	TopicCheckpoints:  MaxGossipMessage,
	TopicTxs:          256<<10 + seqPrefixSize, // one transaction; a certify tx with a bitmap for 65535 shards fits
	TopicCertificates: 64 << 10,
}

// Verdict is a validator's decision on a gossip message.
type Verdict int

// Verdicts map one-to-one onto GossipSub's validation results.
const (
	// Accept delivers the message locally and forwards it.
	Accept Verdict = 1 + iota
	// Reject drops the message and penalises the peer that sent it (it is invalid: bad
	// signature, wrong epoch, malformed).
	Reject
	// Ignore drops the message without penalty (valid but useless: stale, duplicate, or
	// not checkable yet).
	Ignore
)

// Message is a gossip message as validators and subscribers see it.
type Message struct {
	// From is the peer that published (and signed) the message.
	From peer.ID
	// ReceivedFrom is the neighbour that forwarded it to us (ourselves for local
	// publishes).
	ReceivedFrom peer.ID
	// Data is the payload. It is shared: do not modify it.
	Data []byte
}

// Validator checks a message before GossipSub delivers or forwards it. The node supplies
// it (signature and epoch checks against the ledger); it must be safe for concurrent use
// and should be quick: it runs on pubsub's validation workers with a timeout.
type Validator func(ctx context.Context, msg Message) Verdict

// validatorTimeout bounds one validation: BLS aggregate verification is ≈4.4 ms
// (docs/architecture.md §3); a second leaves room for a busy machine, and a timeout counts as Ignore.
const validatorTimeout = time.Second

// Gossip is the node's GossipSub instance for one network.
type Gossip struct {
	ps      *pubsub.PubSub
	network string
	cancel  context.CancelFunc
	logger  *slog.Logger

	self    peer.ID
	wire    map[string]TopicName // wire topic → name, for the replay tracer
	seen    map[TopicName]*seenCache
	replays *peerCounts // remote copies of contents a peer sent us just before (replay.go)
	invalid *peerCounts // messages a validator or signature check refused (score.go)

	mu     sync.Mutex
	topics map[TopicName]*Topic
	scores *scores
}

type gossipConfig struct {
	logger *slog.Logger
	tracer pubsub.RawTracer
}

// GossipOption configures [NewGossip].
type GossipOption func(*gossipConfig)

// WithGossipLogger sets the logger (default slog.Default()).
func WithGossipLogger(l *slog.Logger) GossipOption {
	return func(c *gossipConfig) { c.logger = l }
}

// WithGossipTracer installs a pubsub raw tracer: the hook for metrics (deliveries,
// rejections, mesh changes) and for tests that await mesh formation as a signal.
func WithGossipTracer(t pubsub.RawTracer) GossipOption {
	return func(c *gossipConfig) { c.tracer = t }
}

// NewGossip starts GossipSub on h for network. Messages are signed by their publisher's
// peer key (strict signing), identified by the Blake2b-256 hash of their data so the same
// certificate published by many nodes is delivered once, and capped at MaxGossipMessage.
// Start it before connecting to peers, so identify announces the protocol on first contact.
func NewGossip(h host.Host, network string, opts ...GossipOption) (*Gossip, error) {
	if network == "" || len(network) > maxNetworkName {
		return nil, errors.New("p2p: gossip needs a network name of 1..64 bytes")
	}
	cfg := gossipConfig{logger: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	logger := cfg.logger
	psOpts := []pubsub.Option{
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		pubsub.WithMessageIdFn(func(m *pb.Message) string {
			sum := blake2b.Sum256(m.GetData())
			return string(sum[:])
		}),
		pubsub.WithMaxMessageSize(MaxGossipMessage + 4<<10), // + envelope (signature, key, topic)
		pubsub.WithPeerExchange(true),
		pubsub.WithFloodPublish(true),
	}
	g := &Gossip{network: network, logger: logger, self: h.ID(), wire: map[string]TopicName{},
		seen: map[TopicName]*seenCache{}, replays: &peerCounts{halfLife: replayHalfLife}, invalid: &peerCounts{halfLife: invalidHalfLife}, topics: map[TopicName]*Topic{}, scores: &scores{}}
	for name := range topicCaps { // fixed from here on: the tracer reads them unlocked
		g.wire[TopicString(network, name)] = name
		g.seen[name] = newSeenCache(seenPerTopic)
	}
	psOpts = append(psOpts, pubsub.WithRawTracer(replayTracer{g}))
	if cfg.tracer != nil {
		psOpts = append(psOpts, pubsub.WithRawTracer(cfg.tracer))
	}
	psOpts = append(psOpts, scoreOptions(network, g.scores, g.appScore)...)
	ctx, cancel := context.WithCancel(context.Background())
	ps, err := pubsub.NewGossipSub(ctx, h, psOpts...)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("p2p: gossipsub: %w", err)
	}
	g.ps, g.cancel = ps, cancel
	return g, nil
}

// TopicString returns the wire topic for name on network.
func TopicString(network string, name TopicName) string {
	return "/walrus/" + network + "/" + string(name) + "/1"
}

// Join registers v as the topic's validator and joins it. Every message, local or remote,
// passes the size cap and then v before it is delivered or forwarded; a nil v accepts
// everything under the cap (for followers that validate later). Between the two, a remote
// message whose content the topic already accepted is Ignored (a replay, replay.go). Join
// fails for an unknown topic name or a topic already joined.
func (g *Gossip) Join(name TopicName, v Validator) (*Topic, error) {
	limit, ok := topicCaps[name]
	if !ok {
		return nil, fmt.Errorf("p2p: unknown topic %q", name)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, dup := g.topics[name]; dup {
		return nil, fmt.Errorf("p2p: topic %q already joined", name)
	}
	wire := TopicString(g.network, name)
	seen := g.seen[name]
	val := func(ctx context.Context, from peer.ID, m *pubsub.Message) (res pubsub.ValidationResult) {
		if len(m.GetData()) > limit {
			return pubsub.ValidationReject
		}
		key := contentOf(name, m.GetData())
		if from != g.self {
			if ok, replay := seen.copyOf(key, from, time.Now()); ok {
				if replay {
					g.replays.add(from, time.Now())
				}
				return pubsub.ValidationIgnore
			}
		}
		accept := func() pubsub.ValidationResult {
			seen.add(key, from, time.Now())
			return pubsub.ValidationAccept
		}
		if v == nil {
			return accept()
		}
		defer func() {
			// A validator bug must not take the gossip engine down; nor may it let the
			// message through.
			if p := recover(); p != nil {
				g.logger.Error("gossip validator panicked", "topic", wire, "peer_id", from, "panic", p)
				res = pubsub.ValidationIgnore
			}
		}()
		switch v(ctx, Message{From: m.GetFrom(), ReceivedFrom: from, Data: m.GetData()}) {
		case Accept:
			return accept()
		case Reject:
			return pubsub.ValidationReject
		default:
			return pubsub.ValidationIgnore
		}
	}
	if err := g.ps.RegisterTopicValidator(wire, pubsub.ValidatorEx(val), pubsub.WithValidatorTimeout(validatorTimeout)); err != nil {
		return nil, fmt.Errorf("p2p: register validator for %s: %w", wire, err)
	}
	t, err := g.ps.Join(wire)
	if err != nil {
		_ = g.ps.UnregisterTopicValidator(wire)
		return nil, fmt.Errorf("p2p: join %s: %w", wire, err)
	}
	topic := &Topic{name: name, t: t, seen: seen}
	g.topics[name] = topic
	return topic, nil
}

// Close stops GossipSub. Topics and subscriptions end with it.
func (g *Gossip) Close() error {
	g.cancel()
	return nil
}

// Topic is a joined gossip topic.
type Topic struct {
	name TopicName
	t    *pubsub.Topic
	seen *seenCache
}

// Name returns the topic's name.
func (t *Topic) Name() TopicName { return t.name }

// Forget drops data's content from the topic's replay cache: a subscriber that could not
// use a delivered message (a full mailbox) calls it, so that the next copy of the same
// content (a sender's re-broadcast) is validated and delivered instead of Ignored as a
// replay.
func (t *Topic) Forget(data []byte) { t.seen.forget(contentOf(t.name, data)) }

// Publish validates data locally (a Reject or Ignore returns an error and sends nothing)
// and publishes it.
func (t *Topic) Publish(ctx context.Context, data []byte) error {
	return t.t.Publish(ctx, data)
}

// Peers returns the peers currently known to be subscribed to the topic.
func (t *Topic) Peers() []peer.ID { return t.t.ListPeers() }

// AwaitPeers waits until at least n peers are subscribed to the topic (or ctx ends),
// driven by pubsub's join events rather than polling.
func (t *Topic) AwaitPeers(ctx context.Context, n int) error {
	ev, err := t.t.EventHandler()
	if err != nil {
		return err
	}
	defer ev.Cancel()
	seen := map[peer.ID]bool{}
	for _, p := range t.t.ListPeers() {
		seen[p] = true
	}
	for len(seen) < n {
		e, err := ev.NextPeerEvent(ctx)
		if err != nil {
			return err
		}
		switch e.Type {
		case pubsub.PeerJoin:
			seen[e.Peer] = true
		case pubsub.PeerLeave:
			delete(seen, e.Peer)
		}
	}
	return nil
}

// Subscribe starts receiving the topic's validated messages.
func (t *Topic) Subscribe() (*Subscription, error) {
	s, err := t.t.Subscribe()
	if err != nil {
		return nil, err
	}
	return &Subscription{s: s}, nil
}

// Subscription yields a topic's validated messages. A subscriber that falls behind loses
// messages (pubsub drops them rather than stall); ledger catch-up repairs that.
type Subscription struct {
	s *pubsub.Subscription
}

// Next returns the next message, or an error once ctx ends or the subscription is
// cancelled.
func (s *Subscription) Next(ctx context.Context) (Message, error) {
	m, err := s.s.Next(ctx)
	if err != nil {
		return Message{}, err
	}
	return Message{From: m.GetFrom(), ReceivedFrom: m.ReceivedFrom, Data: m.GetData()}, nil
}

// Cancel ends the subscription.
func (s *Subscription) Cancel() { s.s.Cancel() }
