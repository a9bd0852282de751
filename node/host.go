package node

import (
	"fmt"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/host"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	libp2pconnmgr "github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"

	"github.com/walrus-go/walrus-go/p2p"
)

// newHost builds the libp2p host. Without a gater it is exactly p2p.NewHost; with one (the
// testnet harness cuts partitions with a gater) it builds the same host plus the gater.
// TODO(p2p): a HostConfig.Gater field would let this file go.
func newHost(cfg p2p.HostConfig, gater connmgr.ConnectionGater) (host.Host, error) {
	if gater == nil {
		return p2p.NewHost(cfg)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(p2p.ResourceLimits(cfg.MemoryBudget, cfg.FDBudget)))
	if err != nil {
		return nil, fmt.Errorf("node: resource manager: %w", err)
	}
	cm, err := libp2pconnmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, libp2pconnmgr.WithGracePeriod(cfg.ConnGrace))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("node: connection manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Identity),
		libp2p.ListenAddrStrings(cfg.ListenAddrs...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionManager(cm),
		libp2p.DisableRelay(),
		libp2p.ConnectionGater(gater),
	}
	if !cfg.DisableQUIC {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("node: new host: %w", err)
	}
	return h, nil
}
