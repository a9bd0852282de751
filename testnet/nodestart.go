package testnet

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/staking"
)

// NodeInstance is the harness's view of a real node.Node (the default StartFunc's
// Instance). The embedded *node.Node gives tests everything else (Ledger, Consensus, Host).
type NodeInstance struct {
	*node.Node
}

var (
	_ Instance      = (*NodeInstance)(nil)
	_ Connector     = (*NodeInstance)(nil)
	_ BlobCertifier = (*NodeInstance)(nil)
	_ Epocher       = (*NodeInstance)(nil)
)

// Epoch is the node ledger's current epoch.
func (n *NodeInstance) Epoch() uint32 { return n.Ledger().CurrentEpoch() }

// Connect dials pi from the node's host. It first clears the swarm's dial backoff for pi:
// dials refused by the gater during a partition count as failures, and the backoff they
// leave would otherwise make the first dials after Heal fail for seconds.
func (n *NodeInstance) Connect(ctx context.Context, pi peer.AddrInfo) error {
	ClearDialBackoff(n.Host().Network(), pi.ID)
	return n.Host().Connect(ctx, pi)
}

// ClearDialBackoff forgets failed dials to p on a libp2p swarm, if net is one.
func ClearDialBackoff(net network.Network, p peer.ID) {
	if b, ok := net.(interface{ Backoff() *swarm.DialBackoff }); ok {
		b.Backoff().Clear(p)
	}
}

// Certified reports whether the node's ledger holds blob id as certified.
func (n *NodeInstance) Certified(id codec.BlobID) (bool, error) {
	return n.Ledger().BlobStatus(id).Kind == staking.StatusCertified, nil
}

// nodeLogger is the harness nodes' logger: discarded, since the logs of many nodes would
// bury a test's own output, unless WALRUS_TESTNET_LOG names a level (debug, info, warn,
// error), which sends every node's log to stderr tagged with its index.
func nodeLogger(i int) *slog.Logger {
	var lvl slog.Level
	v := os.Getenv("WALRUS_TESTNET_LOG")
	if v == "" || lvl.UnmarshalText([]byte(v)) != nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})).With("node", i)
}

// startNode is the default StartFunc: node.LoadConfig on the generated config.yaml,
// node.New with the harness's gater, Start.
func startNode(ctx context.Context, nf *NodeFiles, gater *Gater) (Instance, error) {
	cfg, err := node.LoadConfig(nf.ConfigFile)
	if err != nil {
		return nil, err
	}
	n, err := node.New(ctx, cfg, node.WithConnectionGater(gater), node.WithLogger(nodeLogger(nf.Index)))
	if err != nil {
		return nil, err
	}
	if err := n.Start(ctx); err != nil {
		return nil, errors.Join(err, n.Close())
	}
	return &NodeInstance{Node: n}, nil
}

// Unwrap returns node i as a *node.Node, or nil if it is crashed or was not started by the
// default StartFunc.
func (c *Cluster) Unwrap(i int) *node.Node {
	c.t.Helper()
	if ni, ok := c.Node(i).(*NodeInstance); ok {
		return ni.Node
	}
	return nil
}
