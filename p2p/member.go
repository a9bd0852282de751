package p2p

import (
	"errors"
	"fmt"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/walrus-go/walrus-go/epoch"
)

// ErrBadMember is wrapped when a committee member's peer ID cannot be used.
var ErrBadMember = errors.New("p2p: unusable committee member peer ID")

// MemberPeer resolves a committee member to its peer ID and records the addresses it
// announced in h's peerstore, so streams to it can be opened. The peer ID may be in its
// binary form (as the ledger keeps it) or printed (configs written by hand); addresses that
// do not parse are skipped, one bad address does not make the others useless.
func MemberPeer(h host.Host, m *epoch.Member) (peer.ID, error) {
	id, err := peer.IDFromBytes([]byte(m.PeerID))
	if err != nil {
		if id2, err2 := peer.Decode(m.PeerID); err2 == nil {
			id, err = id2, nil
		}
	}
	if err != nil {
		return "", fmt.Errorf("%w: node %x: %v", ErrBadMember, m.Node[:4], err)
	}
	var addrs []ma.Multiaddr
	for _, a := range m.Addrs {
		addr, err := ma.NewMultiaddrBytes([]byte(a))
		if err != nil {
			if addr, err = ma.NewMultiaddr(a); err != nil {
				continue
			}
		}
		addrs = append(addrs, addr)
	}
	if len(addrs) > 0 {
		h.Peerstore().AddAddrs(id, addrs, peerstore.AddressTTL)
	}
	return id, nil
}
