package p2p

import (
	"github.com/libp2p/go-libp2p"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// Resource budget defaults. The node is a storage server: its peers are the committee
// (tens to ~100 nodes, long-lived connections) and clients that push or pull slivers in
// bursts of hundreds of concurrent streams. libp2p's defaults are sized for an IPFS peer
// talking to thousands of strangers with a few streams each; we want the opposite shape:
// fewer connections, many more streams per connection.
const (
	// DefaultMemoryBudget is what the resource manager lets libp2p buffers (yamux windows,
	// QUIC buffers) take in total. A yamux stream's receive window grows to 16 MiB under
	// load, but the windows of hundreds of parallel sliver streams do not all fill at once;
	// 2 GiB lets ~128 streams run at full window while the rest advance at the initial
	// 256 KiB window, which still saturates loopback and LAN links.
	DefaultMemoryBudget int64 = 2 << 30
	// DefaultFDBudget is the file descriptors libp2p may use (one per TCP connection; QUIC
	// shares a socket).
	DefaultFDBudget = 4096

	// systemConns: committee (≤ ~100 nodes, plus the previous and next committee during an
	// epoch change) plus hundreds of concurrent clients.
	systemConns         = 2048
	systemConnsInbound  = 1536
	systemConnsOutbound = 1024
	// systemStreams: a client storing one blob at n=1000 to a node holding 250 shards opens
	// up to 250 sliver streams (one per pair) at once; a few such uploads plus readers,
	// recovery (a recovering node asks every other node) and shard sync fit in 16k.
	systemStreams         = 16384
	systemStreamsInbound  = 12288
	systemStreamsOutbound = 8192
	// peerStreams: one peer (a client uploading several blobs, or a node recovering a
	// shard from us) may use up to 2048 streams, so a single busy client does not starve
	// on the per-peer limit while still being unable to take the whole system budget.
	peerStreams         = 2048
	peerStreamsInbound  = 1536
	peerStreamsOutbound = 1024
	peerConns           = 16 // a TCP and a QUIC connection, plus simultaneous-dial duplicates
	// peerMemoryFraction: one peer may hold at most a quarter of the memory budget. Every
	// yamux stream reserves its initial 256 KiB window from the peer's memory scope at
	// open, on both ends, so memory, not the stream count, is what binds first: a quarter
	// of the default 2 GiB is 512 MiB = 2048 streams of 256 KiB, matching peerStreams.
	// A smaller budget admits proportionally fewer concurrent streams per peer.
	peerMemoryFraction = 4
	// transient: connections before the handshake completes, and streams before their
	// protocol is negotiated. Connections stay few (that is where unauthenticated floods
	// sit). Streams only exist on authenticated connections and are also charged to their
	// peer's scope, and a client that opens hundreds of sliver streams at once has all of
	// them transient during negotiation, so the stream limit is as wide as one peer's
	// budget (and memory, for their initial windows, likewise).
	transientConns   = 256
	transientStreams = 2 * peerStreams
	// streamMemory is one stream's memory ceiling: its yamux window (at most 16 MiB) plus
	// a whole request or response frame when the frame reader reserves it up front (see
	// readStreamFrame; sliver batches are up to ~65 MiB at n = 1000 with the largest
	// symbols). libp2p's default, 16 MiB, would leave no room for the frame; the peer,
	// protocol and system limits above are what bound the sum over streams.
	streamMemory = 256 << 20
)

// ResourceLimits returns the resource-manager limits for a memory and file-descriptor
// budget (use DefaultMemoryBudget and DefaultFDBudget unless the operator says otherwise).
// Starting from libp2p's scaled defaults keeps sane values for everything not mentioned
// here (services such as identify and ping, per-connection limits).
func ResourceLimits(memory int64, fds int) rcmgr.ConcreteLimitConfig {
	scaling := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&scaling)
	base := scaling.Scale(memory, fds)

	peerMem := rcmgr.LimitVal64(memory / peerMemoryFraction)
	protoStreams := rcmgr.ResourceLimits{
		Streams:         systemStreams,
		StreamsInbound:  systemStreamsInbound,
		StreamsOutbound: systemStreamsOutbound,
		Memory:          rcmgr.LimitVal64(memory),
	}
	protoPeer := rcmgr.ResourceLimits{
		Streams:         peerStreams,
		StreamsInbound:  peerStreamsInbound,
		StreamsOutbound: peerStreamsOutbound,
		Memory:          peerMem,
	}
	partial := rcmgr.PartialLimitConfig{
		System: rcmgr.ResourceLimits{
			Conns: systemConns, ConnsInbound: systemConnsInbound, ConnsOutbound: systemConnsOutbound,
			Streams: systemStreams, StreamsInbound: systemStreamsInbound, StreamsOutbound: systemStreamsOutbound,
			Memory: rcmgr.LimitVal64(memory),
			FD:     rcmgr.LimitVal(fds),
		},
		Transient: rcmgr.ResourceLimits{
			Conns: transientConns, ConnsInbound: transientConns / 2, ConnsOutbound: transientConns / 2,
			Streams: transientStreams, StreamsInbound: transientStreams / 2, StreamsOutbound: transientStreams / 2,
			Memory: peerMem,
		},
		PeerDefault: rcmgr.ResourceLimits{
			Conns: peerConns, ConnsInbound: peerConns, ConnsOutbound: peerConns,
			Streams: peerStreams, StreamsInbound: peerStreamsInbound, StreamsOutbound: peerStreamsOutbound,
			Memory: peerMem,
		},
		Stream: rcmgr.ResourceLimits{Memory: streamMemory},
		// Every walrus protocol (and the DHT and GossipSub, which also carry our traffic) may
		// use the whole stream budget; the per-peer limit above is what stops one peer from
		// monopolising it. libp2p's own services keep their explicit default limits.
		ProtocolDefault:     protoStreams,
		ProtocolPeerDefault: protoPeer,
	}
	return partial.Build(base)
}
