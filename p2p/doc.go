// Package p2p is walrus-go's libp2p layer (docs/architecture.md §5): host construction (TCP and QUIC,
// Noise, yamux, Ed25519 identity from a key file), resource and connection limits, the one
// table of protocol IDs, length-prefixed framing with per-protocol size caps, a small
// request/response helper on which the node's data-plane protocols sit, GossipSub topics
// with validator hooks, and a private Kademlia DHT for shard discovery.
//
// The package knows nothing about actors or the node: handlers are plain functions, and the
// node adapts them to its actors (docs/architecture.md §2: actors and p2p do not import each other).
//
// Stream discipline follows go-libp2p's own protocols: every stream gets a
// deadline, every read a size cap, errors Reset the stream and success Closes it, and
// failures come back as typed errors ([ErrFrameTooLarge], [ErrTimeout], [*StatusError]).
package p2p
