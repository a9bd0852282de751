package client

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/blobstatus"
	"github.com/walrus-go/walrus-go/p2p/protocol/confirm"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

// Errors of the data path. Remote failures keep their *p2p.StatusError in the chain.
var (
	// ErrNoQuorum: confirmations worth n-f shards could not be collected (docs/protocol.md §5).
	ErrNoQuorum = errors.New("client: no quorum of storage confirmations")
	// ErrNotFound: no node could serve verified metadata for the blob.
	ErrNotFound = errors.New("client: blob not found")
	// ErrNotEnoughSlivers: too few verified primary slivers could be fetched to decode.
	ErrNotEnoughSlivers = errors.New("client: not enough verified slivers")
	// ErrInvalidBlob: the blob is inconsistently encoded; every reader reports the same
	// (docs/protocol.md §4).
	ErrInvalidBlob = errors.New("client: blob is invalid (inconsistent encoding)")
	// ErrBadPeer: a committee member's peer ID or addresses cannot be used.
	ErrBadPeer = errors.New("client: unusable committee member address")
)

// Config configures a Client.
type Config struct {
	// Host is the client's libp2p host. Required.
	Host host.Host
	// Params is the network's encoding geometry. Required (N > 0).
	Params codec.Params
	// Network is the network ID every signed message binds (docs/architecture.md §3). Required.
	Network epoch.NetworkID
	// Concurrency bounds how many nodes are talked to at once (default 8).
	Concurrency int
	// BackgroundTimeout bounds how long uploads to the remaining nodes continue after a
	// certificate was returned (default 2 minutes): every background goroutine ends.
	BackgroundTimeout time.Duration
	// Retries is how often a node's "not yet" answer (unregistered, confirmation not
	// ready, busy) is retried before the node counts as failed (default 3).
	Retries int
	// RetryDelay is the first retry delay; it doubles per retry (default 200 ms).
	RetryDelay time.Duration
	// UploadBatchBytes is the target size of one sliver put request (default 8 MiB; at
	// most the protocol cap, at least one pair) and UploadDepth how many of them are in
	// flight to one node at once (default 4): while a node verifies and writes one batch
	// the next ones are already on the wire, so a link with real round trips does not idle
	// between batches. A big blob's batch is one pair, and the streaming store sends the
	// pairs in pair order, which is one member's shards after the other's: most of the
	// time one node takes the upload alone, and with 2 in flight it idled while it synced
	// a batch (make bench-big, 1 GiB on one loopback machine: the upload window used
	// 1.46 of 2 cores at depth 2, 1.58 at 4; upload 27.9 -> 26.0 s).
	// (make bench-e2e, 64 MiB, 2026-11-22: no measurable difference between 1 and 2.)
	UploadBatchBytes, UploadDepth int
	// ReserveHold is how long, once members worth n-f shards have confirmed, the others
	// wait for UploadResult.Certified before their upload starts (default 5 s): the
	// certificate's commit comes first (a failure among the first members releases them
	// at once).
	ReserveHold time.Duration
	// ReadRequestBytes is the target size of one sliver get request of a read (default
	// 4 MiB, at least one sliver) and ReadDepth how many of them are in flight to one node
	// at once (default 4). 4 MiB keeps per-request overhead small next to the transfer and
	// gives a 64 MiB blob 16 requests to spread over streams and cores; a node queues a few
	// requests per core and answers more with "busy" (dataplane.Config.Queue), and the
	// first R primaries belong to one or two nodes, so all of a read's requests at once
	// had some refused (make bench-e2e: 4 of 17), which made the read fetch, and decode
	// from, other slivers.
	ReadRequestBytes, ReadDepth int
	// HedgeDelay is how long a node may leave a read's sliver requests unanswered before
	// the read asks other nodes for everything it was asked (default 2 s), so one slow or
	// stalled node does not stall a read; its late answers still count.
	HedgeDelay time.Duration
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
}

// Validate checks c and fills defaults.
func (c *Config) Validate() error {
	if c.Host == nil {
		return errors.New("client: Config.Host is required")
	}
	if c.Params.N == 0 {
		return errors.New("client: Config.Params is required")
	}
	if c.Network == (epoch.NetworkID{}) {
		return errors.New("client: Config.Network is required")
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.BackgroundTimeout <= 0 {
		c.BackgroundTimeout = 2 * time.Minute
	}
	if c.Retries <= 0 {
		c.Retries = 3
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = 200 * time.Millisecond
	}
	if c.HedgeDelay <= 0 {
		c.HedgeDelay = 2 * time.Second
	}
	if c.ReserveHold <= 0 {
		c.ReserveHold = 5 * time.Second
	}
	if c.UploadBatchBytes <= 0 {
		c.UploadBatchBytes = 8 << 20
	}
	if c.UploadDepth <= 0 {
		c.UploadDepth = 4
	}
	if c.ReadRequestBytes <= 0 {
		c.ReadRequestBytes = 4 << 20
	}
	if c.ReadDepth <= 0 {
		c.ReadDepth = 4
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Client stores and reads blobs over the data plane. It is safe for concurrent use.
type Client struct {
	cfg                                  Config
	metaProto, sliverProto, confirmProto p2p.Protocol
	statusProto                          p2p.Protocol
}

// New returns a client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg}
	c.metaProto, c.sliverProto, c.confirmProto, c.statusProto = metadata.Spec(cfg.Params), sliver.Spec(cfg.Params), confirm.Spec, blobstatus.Spec
	return c, nil
}

// Params is the encoding geometry the client was configured with.
func (c *Client) Params() codec.Params { return c.cfg.Params }

// memberPeer resolves a committee member to a peer ID and records its addresses in the
// host's peerstore so streams can be opened (p2p.MemberPeer).
func (c *Client) memberPeer(m *epoch.Member) (peer.ID, error) {
	id, err := p2p.MemberPeer(c.cfg.Host, m)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadPeer, err)
	}
	return id, nil
}
