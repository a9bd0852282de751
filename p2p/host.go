package p2p

import (
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	basicconnmgr "github.com/libp2p/go-libp2p/p2p/net/connmgr"
	"github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// Connection-manager defaults: trim to ConnLow when above ConnHigh, never touching
// connections younger than ConnGrace. The node protects committee peers
// (host.ConnManager().Protect) so trimming only ever drops idle clients.
const (
	DefaultConnLow   = 256
	DefaultConnHigh  = 512
	DefaultConnGrace = time.Minute
)

// HostConfig configures [NewHost]. Validate fills defaults.
type HostConfig struct {
	// Identity is the node's Ed25519 key ([LoadOrCreateIdentity]). Required.
	Identity crypto.PrivKey
	// ListenAddrs are multiaddrs to listen on. Default: TCP and QUIC on all IPv4
	// interfaces, ports chosen by the OS.
	ListenAddrs []string
	// DisableQUIC listens and dials on TCP only.
	DisableQUIC bool
	// MemoryBudget and FDBudget size the resource manager (see [ResourceLimits]).
	MemoryBudget int64
	FDBudget     int
	// ConnLow, ConnHigh and ConnGrace configure the connection manager.
	ConnLow, ConnHigh int
	ConnGrace         time.Duration
	// Gater, if set, is consulted on every dial and accept (the testnet harness cuts
	// partitions with one; a node could use one for a peer blocklist).
	Gater connmgr.ConnectionGater
}

// Validate checks c and fills defaults.
func (c *HostConfig) Validate() error {
	if c.Identity == nil {
		return errors.New("p2p: HostConfig.Identity is required")
	}
	if c.Identity.Type() != crypto.Ed25519 {
		return fmt.Errorf("p2p: identity must be Ed25519, got %v", c.Identity.Type())
	}
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []string{"/ip4/0.0.0.0/tcp/0"}
		if !c.DisableQUIC {
			c.ListenAddrs = append(c.ListenAddrs, "/ip4/0.0.0.0/udp/0/quic-v1")
		}
	}
	if c.MemoryBudget == 0 {
		c.MemoryBudget = DefaultMemoryBudget
	}
	if c.FDBudget == 0 {
		c.FDBudget = DefaultFDBudget
	}
	if c.MemoryBudget < 64<<20 || c.FDBudget < 64 {
		return fmt.Errorf("p2p: resource budget too small (memory %d, fds %d)", c.MemoryBudget, c.FDBudget)
	}
	if c.ConnLow == 0 && c.ConnHigh == 0 {
		c.ConnLow, c.ConnHigh = DefaultConnLow, DefaultConnHigh
	}
	if c.ConnLow <= 0 || c.ConnHigh < c.ConnLow {
		return fmt.Errorf("p2p: bad connection-manager watermarks %d/%d", c.ConnLow, c.ConnHigh)
	}
	if c.ConnGrace == 0 {
		c.ConnGrace = DefaultConnGrace
	}
	return nil
}

// NewHost builds a libp2p host: TCP (and QUIC unless disabled), Noise security, yamux
// multiplexing, our resource limits and connection manager, and no relay (walrus nodes are
// directly reachable servers; relaying sliver traffic would only hide misconfiguration).
func NewHost(cfg HostConfig) (host.Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(ResourceLimits(cfg.MemoryBudget, cfg.FDBudget)))
	if err != nil {
		return nil, fmt.Errorf("p2p: resource manager: %w", err)
	}
	cm, err := basicconnmgr.NewConnManager(cfg.ConnLow, cfg.ConnHigh, basicconnmgr.WithGracePeriod(cfg.ConnGrace))
	if err != nil {
		rm.Close()
		return nil, fmt.Errorf("p2p: connection manager: %w", err)
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
	}
	if !cfg.DisableQUIC {
		opts = append(opts, libp2p.Transport(quic.NewTransport))
	}
	if cfg.Gater != nil {
		opts = append(opts, libp2p.ConnectionGater(cfg.Gater))
	}
	// From here libp2p owns rm and cm: it closes them on failure and on host.Close.
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("p2p: new host: %w", err)
	}
	return h, nil
}
