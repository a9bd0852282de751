package testnet_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/store"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestMissedWriteIsRecovered (issue 12): a node that is down while a blob is stored and
// certified recovers every sliver of its shards from the other nodes' recovery symbols once
// it is back. Proven by reading the blob with the other nodes stopped but one: the
// survivors hold the blob only together with what the restarted node recovered.
func TestMissedWriteIsRecovered(t *testing.T) { missedWrite(t, false) }

// TestWipedNodeRecovers (issue 12): a node whose data directory is wiped while it is down
// (keys and config kept) re-syncs the ledger from its peers and recovers every sliver of its
// shards by itself; the same read proves it.
func TestWipedNodeRecovers(t *testing.T) { missedWrite(t, true) }

func missedWrite(t *testing.T, wipe bool) {
	c := testnet.New(t, 4, testnet.WithGenerate(func(o *testnet.Options) {
		o.NodeConfig = func(_ int, nc *node.Config) {
			nc.BlobSync.Delay = 200 * time.Millisecond
			nc.BlobSync.Sweep = time.Hour // the start-up sweep and the events do it
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The lightest member is down during the store: the others hold n-f shards or more.
	down, member := -1, 0
	for i := range 4 {
		for m := range com.Members {
			if string(com.Members[m].PeerID) == string(c.Node(i).PeerID()) &&
				(down < 0 || com.Members[m].Weight() < com.Members[member].Weight()) {
				down, member = i, m
			}
		}
	}
	c.Crash(down)
	data := make([]byte, 300_000)
	rand.NewChaCha8([32]byte{1}).Read(data)
	sum, err := s.Store(ctx, data, client.StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	if wipe {
		if err := os.RemoveAll(c.Layout.Nodes[down].DataDir); err != nil {
			t.Fatal(err)
		}
	}
	c.Restart(down)
	// Reads keep working while it recovers (the others hold n-f shards).
	if got, err := s.Read(ctx, sum.BlobID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read while node %d recovers: %v", down, err)
	}

	// It ends with every sliver of its shards.
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := s.Client.Status(ctx, &com.Members[member], sum.BlobID)
		if err == nil && st.ShardsHeld > 0 && st.ShardsStored == st.ShardsHeld {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d did not recover its slivers: %+v, %v", down, st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Stop the others but one: the restarted node and that one hold R usable primary
	// slivers together, and the one alone fewer, so the read needs what was recovered.
	p := s.Client.Params()
	usable := func(m int) int {
		n := 0
		for _, sh := range com.Members[m].Shards {
			if p.PairIndexForShard(sum.BlobID, int(sh)) < p.UsablePrimarySlivers() {
				n++
			}
		}
		return n
	}
	keep := -1
	for i := range 4 {
		for m := range com.Members {
			if i != down && string(com.Members[m].PeerID) == string(c.Node(i).PeerID()) &&
				usable(m) < p.R && usable(m)+usable(member) >= p.R {
				keep = i
			}
		}
	}
	if keep < 0 {
		t.Fatal("no node pairs with the restarted one to hold exactly enough: change the blob")
	}
	for i := range 4 {
		if i != down && i != keep {
			c.Crash(i)
		}
	}
	got, err := s.Client.Read(ctx, com, sum.BlobID)
	if err != nil {
		t.Fatalf("read from the restarted node and one other: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("read back different bytes")
	}
}

// TestCorruptSliverIsRepaired (issue 12): a sliver damaged on a node's disk while it is down
// is found by the background scrub once it is back, dropped, and recovered from the other
// nodes, with no operator action: the node then serves the right bytes again.
func TestCorruptSliverIsRepaired(t *testing.T) {
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	data := make([]byte, 100_000)
	rand.NewChaCha8([32]byte{2}).Read(data)
	sum, err := s.Store(ctx, data, client.StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Client.Params()
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	// Node 1's first shard: its primary sliver is flipped on disk while the node is down.
	var member int
	for m := range com.Members {
		if string(com.Members[m].PeerID) == string(c.Node(1).PeerID()) {
			member = m
		}
	}
	shard := int(com.Members[member].Shards[0])
	pair := p.PairIndexForShard(sum.BlobID, shard)
	want, _ := enc.Pair(pair)
	c.Crash(1)
	ds, err := store.Open(filepath.Join(c.Layout.Nodes[1].DataDir, "datastore"))
	if err != nil {
		t.Fatal(err)
	}
	key := blobstore.SliverKey(shard, sum.BlobID, codec.AxisPrimary)
	raw, err := ds.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	raw[len(raw)/2] ^= 0xff
	if err := ds.Put(ctx, key, raw); err != nil {
		t.Fatal(err)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	c.Restart(1)

	// Node 1 serves the right sliver again.
	h := s.Host
	h.Peerstore().AddAddrs(c.Node(1).PeerID(), c.Node(1).Addrs(), time.Hour)
	req := sliver.EncodeGet(sum.BlobID, []sliver.Ref{{Axis: codec.AxisPrimary, Index: uint16(pair)}})
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := p2p.Call(ctx, h, c.Node(1).PeerID(), sliver.Spec(p), req)
		var got codec.Sliver
		if err == nil {
			var items []sliver.ItemResult
			if items, err = sliver.DecodeItemResults(resp, 1, true); err == nil {
				if items[0].Code != 0 {
					err = fmt.Errorf("code %v", items[0].Code)
				} else {
					got, err = codec.ParseSliverBCS(p, codec.AxisPrimary, items[0].Sliver)
				}
			}
		}
		if err == nil && bytes.Equal(got.Data, want.Data) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 1 still does not serve sliver %d right: %v", pair, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
