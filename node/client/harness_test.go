package client_test

import (
	"context"
	"math/rand"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/host"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/dataplane"
	"github.com/walrus-go/walrus-go/node/dataplane/dataplanetest"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
)

// testNode is one storage node of the cluster.
type testNode struct {
	host  host.Host
	sys   *actors.System
	raw   datastore.Batching
	store *blobstore.Store
	svc   *dataplane.Service
	key   *bls.SecretKey
	down  bool
}

// stop takes the node off the network (its host closes) as a crash would.
func (n *testNode) stop() {
	if n.down {
		return
	}
	n.down = true
	n.svc.Close()
	_ = n.sys.Stop()
	_ = n.host.Close()
}

// cluster is a committee of real libp2p nodes on loopback and a client.
type cluster struct {
	t      testing.TB
	p      codec.Params
	ledger *dataplanetest.Ledger
	nodes  []*testNode // nodes[i] is committee member i
	chost  host.Host
	client *client.Client
}

var testNetwork = epoch.NetworkID{'w', 'a', 'l', 'r', 'u', 's', '-', 't', 'e', 's', 't'}

// newCluster starts len(weights) nodes holding weights[i] shards each (n = sum).
func newCluster(t testing.TB, weights []int, seed uint64, opts ...func(*client.Config)) *cluster {
	t.Helper()
	n := 0
	for _, w := range weights {
		n += w
	}
	p := codec.MustParams(n)
	com, keys := epochtest.Committee(1, weights, seed)
	rng := rand.New(rand.NewSource(int64(seed)))
	c := &cluster{t: t, p: p, ledger: dataplanetest.NewLedger(p, testNetwork, com)}
	for i := range com.Members {
		h := p2ptest.Host(t, rng)
		com.Members[i].PeerID = string(h.ID())
		for _, a := range h.Addrs() {
			com.Members[i].Addrs = append(com.Members[i].Addrs, string(a.Bytes()))
		}
		sys, err := actors.New("node")
		if err != nil {
			t.Fatal(err)
		}
		raw := dssync.MutexWrap(datastore.NewMapDatastore())
		st := blobstore.New(raw, p)
		svc, err := dataplane.New(dataplane.Config{Host: h, Store: st, Ledger: c.ledger, Key: keys[i], System: sys, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		c.nodes = append(c.nodes, &testNode{host: h, sys: sys, raw: raw, store: st, svc: svc, key: keys[i]})
	}
	c.chost = p2ptest.Host(t, rng)
	cfg := client.Config{Host: c.chost, Params: p, Network: testNetwork, RetryDelay: 20 * time.Millisecond,
		HedgeDelay: 500 * time.Millisecond}
	for _, o := range opts {
		o(&cfg)
	}
	cl, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.client = cl
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.stop()
		}
		_ = c.chost.Close()
	})
	return c
}

func (c *cluster) com() *epoch.Committee { return c.ledger.CurrentCommittee() }

// register records a live registration of id on the fake ledger and returns it.
func (c *cluster) register(id codec.BlobID, deletable bool) client.Registration {
	b := c.ledger.Register(id, deletable)
	return client.Registration{Deletable: b.Deletable, Object: b.ID}
}

func randomBlob(size int, seed uint64) []byte {
	b := make([]byte, size)
	rng := mrand.New(mrand.NewPCG(seed, 99))
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// encode encodes data and registers it on the fake ledger.
func (c *cluster) encodeAndRegister(data []byte) (*codec.EncodedBlob, client.Registration) {
	c.t.Helper()
	enc, err := codec.Encode(c.p, data)
	if err != nil {
		c.t.Fatal(err)
	}
	return enc, c.register(enc.BlobID, false)
}

// upload runs Upload and waits for the background uploads too.
func (c *cluster) upload(ctx context.Context, enc *codec.EncodedBlob, reg client.Registration, progress func(client.Progress)) (*client.UploadResult, error) {
	res, err := c.client.Upload(ctx, c.com(), enc, reg, progress)
	if err == nil {
		res.Certified() // no ledger here: the remaining members need not wait
		c.t.Cleanup(func() { <-res.Done() })
	}
	return res, err
}

// signers returns the member indices in a certificate.
func signers(t testing.TB, com *epoch.Committee, cert *epoch.Certificate) map[int]bool {
	t.Helper()
	idx, err := cert.SignerIndices(len(com.Members))
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]bool{}
	for _, i := range idx {
		out[i] = true
	}
	return out
}
