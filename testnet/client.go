package testnet

import (
	"crypto/rand"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
)

// Client returns a data-plane client (node/client) for the cluster: its own libp2p host on
// 127.0.0.1 (closed at test cleanup), the genesis's encoding parameters and network ID.
// Committees come from a node's ledger (c.Unwrap(i).Ledger().Committee(epoch)); the
// wallet's key is c.Layout.WalletKeyFile (keyfile.ReadAccountKey).
func (c *Cluster) Client() *client.Client {
	c.t.Helper()
	g := c.Layout.Genesis
	params, err := codec.NewParams(g.NShards)
	if err != nil {
		c.t.Fatal(err)
	}
	id, err := p2p.GenerateIdentity(rand.Reader)
	if err != nil {
		c.t.Fatal(err)
	}
	h, err := p2p.NewHost(p2p.HostConfig{Identity: id, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DisableQUIC: true})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { h.Close() })
	cl, err := client.New(client.Config{Host: h, Params: params, Network: g.NetworkID()})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}
