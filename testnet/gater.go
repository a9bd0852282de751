package testnet

import (
	"sync"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Gater is a libp2p connection gater that cuts a node off from a set of peers: it refuses
// dials to them and connections from them, and Block closes the connections already open.
// The harness installs one per node and drives them from Partition and Heal; it works the
// same for a partition that starts before or after connections exist, which closing
// connections alone would not (peers redial at once).
//
// The gater remembers the connections it let through (to close them on Block) and forgets
// closed ones as new connections arrive, so its memory follows the live connection count.
type Gater struct {
	mu      sync.Mutex
	blocked map[peer.ID]bool
	conns   map[network.Conn]struct{}
}

var _ connmgr.ConnectionGater = (*Gater)(nil)

// NewGater returns a gater that allows everything.
func NewGater() *Gater {
	return &Gater{blocked: map[peer.ID]bool{}, conns: map[network.Conn]struct{}{}}
}

// Block refuses all future connections with peers and closes the open ones. It replaces
// the previous blocked set.
func (g *Gater) Block(peers []peer.ID) {
	g.mu.Lock()
	g.blocked = make(map[peer.ID]bool, len(peers))
	for _, p := range peers {
		g.blocked[p] = true
	}
	var doomed []network.Conn
	for c := range g.conns {
		if g.blocked[c.RemotePeer()] || c.IsClosed() {
			doomed = append(doomed, c)
			delete(g.conns, c)
		}
	}
	g.mu.Unlock()
	// Close outside the lock: closing runs libp2p notifiers that may dial, which calls
	// back into the gater.
	for _, c := range doomed {
		c.Close()
	}
}

// Unblock allows every peer again. Connections are not re-established by the gater.
func (g *Gater) Unblock() { g.Block(nil) }

// Blocked reports whether p is currently cut off.
func (g *Gater) Blocked(p peer.ID) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.blocked[p]
}

// InterceptPeerDial refuses dials to blocked peers.
func (g *Gater) InterceptPeerDial(p peer.ID) bool { return !g.Blocked(p) }

// InterceptAddrDial refuses dials to blocked peers.
func (g *Gater) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.Blocked(p) }

// InterceptAccept allows every inbound connection: the peer is not known before the
// security handshake, InterceptSecured decides.
func (g *Gater) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured refuses connections with blocked peers once their identity is known.
func (g *Gater) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.Blocked(p)
}

// InterceptUpgraded records allowed connections so Block can close them later.
func (g *Gater) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.blocked[c.RemotePeer()] {
		return false, 0
	}
	for old := range g.conns {
		if old.IsClosed() {
			delete(g.conns, old)
		}
	}
	g.conns[c] = struct{}{}
	return true, 0
}
