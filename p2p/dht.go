package p2p

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	routedhost "github.com/libp2p/go-libp2p/p2p/host/routed"
	mh "github.com/multiformats/go-multihash"
	"golang.org/x/crypto/blake2b"
)

// Discovery is the private Kademlia DHT of one network (docs/architecture.md §5 "Shard discovery"):
// shard owners provide a key derived from (network, epoch, shard), and clients and nodes
// find holders and resolve peer addresses through it. Claims found here are hints: callers
// cross-check them against the ledger's shard map, and the bytes are self-verifying.
type Discovery struct {
	dht     *dht.IpfsDHT
	host    host.Host
	network string
}

// DHTPrefix returns the DHT protocol prefix for network: /walrus/<network>, so the DHT
// speaks /walrus/<network>/kad/1.0.0 and never joins the public IPFS DHT or another
// walrus network.
func DHTPrefix(network string) protocol.ID {
	return protocol.ID("/walrus/" + network)
}

// NewDiscovery starts the DHT on h in server mode (every node answers queries: nodes are
// reachable servers, and on a private network auto mode would wait for reachability
// checks that nothing answers) with the given bootstrap peers. The value store is
// disabled: walrus only uses provider records and peer routing.
func NewDiscovery(h host.Host, network string, bootstrap []peer.AddrInfo) (*Discovery, error) {
	if network == "" || len(network) > maxNetworkName {
		return nil, errors.New("p2p: discovery needs a network name of 1..64 bytes")
	}
	d, err := dht.New(h,
		dht.ProtocolPrefix(DHTPrefix(network)),
		dht.Mode(dht.ModeServer),
		dht.BootstrapPeers(bootstrap...),
		dht.DisableValues(),
	)
	if err != nil {
		return nil, fmt.Errorf("p2p: dht: %w", err)
	}
	return &Discovery{dht: d, host: h, network: network}, nil
}

// Bootstrap connects to the bootstrap peers and refreshes the routing table, returning
// once a refresh succeeds with at least one peer in the table (or ctx ends). Peers join the
// table asynchronously, after identify, so an empty table is not an error here: Bootstrap
// waits for the next identified peer and tries again. A node calls it at start; it is safe
// to call again after a partition heals.
func (d *Discovery) Bootstrap(ctx context.Context) error {
	sub, err := d.host.EventBus().Subscribe([]any{
		new(event.EvtPeerIdentificationCompleted), new(event.EvtPeerProtocolsUpdated),
	})
	if err != nil {
		return err
	}
	defer sub.Close()
	if err := d.dht.Bootstrap(ctx); err != nil {
		return err
	}
	// The DHT adds an identified peer on its own event subscription, which may run after
	// ours; a slow tick re-checks the table so that ordering cannot strand us.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		if d.RoutingTableSize() > 0 {
			select {
			case last = <-d.dht.RefreshRoutingTable():
				if last == nil {
					return nil
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		select {
		case <-sub.Out():
		case <-tick.C:
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("%w (last refresh: %v)", ctx.Err(), last)
			}
			return ctx.Err()
		}
	}
}

// RoutingTableSize returns how many peers the routing table holds.
func (d *Discovery) RoutingTableSize() int { return d.dht.RoutingTable().Size() }

// maxNetworkName bounds network names (they are part of protocol IDs and keys).
const maxNetworkName = 64

// ShardKey returns the DHT key for (network, epoch, shard): a CIDv1 (raw codec) over the
// Blake2b-256 multihash of "walrus-shard" || uvarint(len(network)) || network ||
// epoch u32 BE || shard u16 BE.
// Binding the network and epoch means a stale provider record from another network or a
// past epoch never answers a current lookup.
func ShardKey(network string, epoch uint32, shard uint16) cid.Cid {
	h, _ := blake2b.New256(nil) // cannot fail without a key
	h.Write([]byte("walrus-shard"))
	h.Write(binary.AppendUvarint(nil, uint64(len(network)))) // length-prefixed: unambiguous
	h.Write([]byte(network))
	var buf [6]byte
	binary.BigEndian.PutUint32(buf[:4], epoch)
	binary.BigEndian.PutUint16(buf[4:], shard)
	h.Write(buf[:])
	digest, err := mh.Encode(h.Sum(nil), mh.BLAKE2B_MIN+31) // blake2b-256
	if err != nil {
		panic(err) // unreachable: the code and length are fixed and valid
	}
	return cid.NewCidV1(cid.Raw, digest)
}

// ProvideShard announces that this node holds shard in epoch.
func (d *Discovery) ProvideShard(ctx context.Context, epoch uint32, shard uint16) error {
	return d.dht.Provide(ctx, ShardKey(d.network, epoch, shard), true)
}

// FindShardHolders returns up to max peers that announced holding shard in epoch (0 means
// no limit beyond the DHT's own).
func (d *Discovery) FindShardHolders(ctx context.Context, epoch uint32, shard uint16, max int) ([]peer.AddrInfo, error) {
	key := ShardKey(d.network, epoch, shard)
	var out []peer.AddrInfo
	for ai := range d.dht.FindProvidersAsync(ctx, key, max) {
		out = append(out, ai)
	}
	if len(out) == 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FindPeer resolves a peer's addresses (for a committee member whose addresses on the
// ledger are stale, or a holder found without addresses).
func (d *Discovery) FindPeer(ctx context.Context, id peer.ID) (peer.AddrInfo, error) {
	return d.dht.FindPeer(ctx, id)
}

// Routed returns the discovery's host wrapped so that the DHT is the live source of peer
// addresses (docs/architecture.md §5 "Shard discovery"): a stream to a peer with no known
// address, or whose known addresses fail (a node that moved since it registered them), looks
// the peer up in the DHT and dials what it finds. Addresses from the ledger stay the first
// choice; everything dialled is still authenticated by the peer ID.
func (d *Discovery) Routed() host.Host { return routedhost.Wrap(d.host, d) }

// Close stops the DHT.
func (d *Discovery) Close() error { return d.dht.Close() }
