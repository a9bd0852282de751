package testnet_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/store"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestCorruptMetadataIsRepaired (issue 12): a blob's metadata damaged on a node's disk while
// it is down (one that no longer decodes, and one that decodes but is another blob's) is found
// by the background scrub once the node is back; the scrub drops it with the blob's slivers
// here and hands the blob to blob sync, which fetches the metadata again from the other nodes
// (verified against the blob ID) and recovers the slivers; and the same pass goes on to the
// next blob, whose sliver damaged on the same disk is found and repaired too. No operator
// action: the node then serves the right metadata and slivers again.
func TestCorruptMetadataIsRepaired(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func(raw, other []byte) []byte
	}{
		{"undecodable", func(raw, _ []byte) []byte { return raw[:len(raw)-7] }},
		{"another blob's", func(_, other []byte) []byte { return other }},
	} {
		t.Run(tc.name, func(t *testing.T) { corruptMetadata(t, tc.corrupt) })
	}
}

func corruptMetadata(t *testing.T, corrupt func(raw, other []byte) []byte) {
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	p := s.Client.Params()
	// Two blobs, in blob-ID order: the scrub walks each shard's blobs in that order.
	var ids [2]codec.BlobID
	var encs [2]*codec.EncodedBlob
	for i := range ids {
		data := make([]byte, 100_000)
		rand.NewChaCha8([32]byte{byte(40 + i)}).Read(data)
		sum, err := s.Store(ctx, data, client.StoreOptions{Epochs: 5})
		if err != nil {
			t.Fatal(err)
		}
		if encs[i], err = codec.Encode(p, data); err != nil {
			t.Fatal(err)
		}
		ids[i] = sum.BlobID
	}
	if bytes.Compare(ids[0][:], ids[1][:]) > 0 {
		ids[0], ids[1], encs[0], encs[1] = ids[1], ids[0], encs[1], encs[0]
	}
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var member int
	for m := range com.Members {
		if string(com.Members[m].PeerID) == string(c.Node(1).PeerID()) {
			member = m
		}
	}
	// While node 1 is down: the first blob's metadata is damaged, and the second blob's
	// primary sliver on node 1's last shard (the pass's last) is flipped.
	shard := int(com.Members[member].Shards[len(com.Members[member].Shards)-1])
	pair := p.PairIndexForShard(ids[1], shard)
	want, _ := encs[1].Pair(pair)
	c.Crash(1)
	ds, err := store.Open(filepath.Join(c.Layout.Nodes[1].DataDir, "datastore"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ds.Get(ctx, blobstore.MetadataKey(ids[0]))
	if err != nil {
		t.Fatal(err)
	}
	other, err := ds.Get(ctx, blobstore.MetadataKey(ids[1]))
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Put(ctx, blobstore.MetadataKey(ids[0]), corrupt(raw, other)); err != nil {
		t.Fatal(err)
	}
	flipStoredByte(t, ctx, ds, blobstore.SliverKey(shard, ids[1], codec.AxisPrimary))
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	c.Restart(1)

	h := s.Host
	h.Peerstore().AddAddrs(c.Node(1).PeerID(), c.Node(1).Addrs(), time.Hour)
	wantMeta := encs[0].Metadata.MarshalBCS()
	pair0 := p.PairIndexForShard(ids[0], int(com.Members[member].Shards[0]))
	want0, _ := encs[0].Pair(pair0)
	// getSliver asks node 1 for one primary sliver.
	getSliver := func(id codec.BlobID, index int) ([]byte, error) {
		resp, err := p2p.Call(ctx, h, c.Node(1).PeerID(), sliver.Spec(p), sliver.EncodeGet(id, []sliver.Ref{{Axis: codec.AxisPrimary, Index: uint16(index)}}))
		if err != nil {
			return nil, err
		}
		items, err := sliver.DecodeItemResults(resp, 1, true)
		if err != nil {
			return nil, err
		}
		if items[0].Code != 0 {
			return nil, fmt.Errorf("code %v", items[0].Code)
		}
		got, err := codec.ParseSliverBCS(p, codec.AxisPrimary, items[0].Sliver)
		return got.Data, err
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var err error
		// The first blob: its right metadata and a sliver of node 1's shards, served again.
		req := metadata.Request{Op: metadata.OpGet, BlobID: ids[0]}
		got, err := p2p.Call(ctx, h, c.Node(1).PeerID(), metadata.Spec(p), req.Encode())
		if err == nil && !bytes.Equal(got, wantMeta) {
			err = fmt.Errorf("node 1 serves wrong metadata of %s", ids[0])
		}
		if err == nil {
			if got, err = getSliver(ids[0], pair0); err == nil && !bytes.Equal(got, want0.Data) {
				err = fmt.Errorf("wrong sliver %d of %s", pair0, ids[0])
			}
		}
		// The second blob: its damaged sliver, found by the same pass and recovered.
		if err == nil {
			if got, err = getSliver(ids[1], pair); err == nil && !bytes.Equal(got, want.Data) {
				err = fmt.Errorf("wrong sliver %d of %s", pair, ids[1])
			}
		}
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node 1 is not repaired: %v", err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
