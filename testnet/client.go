package testnet

import (
	"context"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
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
	h := p2ptest.Host(c.t, nil)
	cl, err := client.New(client.Config{Host: h, Params: params, Network: g.NetworkID()})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// Session waits, within ctx, for the cluster's first committed height and opens a client
// session on its generated client.yaml (client.Open), closed at test cleanup. The test
// fails if either step does.
func (c *Cluster) Session(ctx context.Context) *client.Session {
	c.t.Helper()
	if err := c.WaitHeightContext(ctx, 1); err != nil {
		c.t.Fatal(err)
	}
	s, err := client.Open(ctx, c.Layout.ClientConfigFile)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { s.Close() })
	return s
}
