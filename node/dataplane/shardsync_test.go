package dataplane_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/shardsync"
	"github.com/walrus-go/walrus-go/staking"
)

// TestShardSync: the node serves the pairs it stores on a shard, in blob-ID order and in
// pages, to the shard's owner of the current epoch only; anyone else, another epoch and a
// malformed request are refused, and a pair held in part is announced empty.
func TestShardSync(t *testing.T) {
	f := newFixture(t)
	p := f.enc.Params
	ctx := context.Background()
	com := f.ledger.CurrentCommittee()
	shard := com.Members[1].Shards[0] // the asking peer's shard, stored here as its previous owner
	spec := shardsync.Spec(p)
	ask := func(req shardsync.Request) (shardsync.Page, error) {
		out, err := f.call(spec, req.Encode())
		if err != nil {
			return shardsync.Page{}, err
		}
		return shardsync.DecodePage(p, out, req.After, int(req.Limit))
	}

	// Three blobs on the shard: two whole pairs, one with the primary sliver only.
	var encs []*codec.EncodedBlob
	for i := range 3 {
		enc, err := codec.Encode(p, bytes.Repeat([]byte{byte(i + 1)}, 500+i))
		if err != nil {
			t.Fatal(err)
		}
		f.ledger.Add(staking.Blob{ID: staking.ObjectID{byte(20 + i)}, BlobID: enc.BlobID, Storage: staking.Storage{Start: 3, End: 9}})
		if err := f.store.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
			t.Fatal(err)
		}
		pr, se := enc.Pair(p.PairIndexForShard(enc.BlobID, int(shard)))
		if i == 2 {
			se = nil
		}
		slivers := []*codec.Sliver{pr}
		if se != nil {
			slivers = append(slivers, se)
		}
		if err := f.store.PutSlivers(ctx, enc.BlobID, int(shard), slivers...); err != nil {
			t.Fatal(err)
		}
		encs = append(encs, enc)
	}

	// The peer does not own the shard yet: refused.
	_, err := ask(shardsync.Request{Epoch: 3, Shard: shard, Limit: 10})
	wantCode(t, "non-owner", err, p2p.CodeForbidden)
	// Now it does (the committee names its peer ID).
	com.Members[1].PeerID = string(f.peer.ID())
	_, err = ask(shardsync.Request{Epoch: 4, Shard: shard, Limit: 10})
	wantCode(t, "another epoch", err, p2p.CodeUnavailable)
	_, err = ask(shardsync.Request{Epoch: 3, Shard: com.Members[0].Shards[0], Limit: 10})
	wantCode(t, "a shard of the node's own", err, p2p.CodeForbidden)
	_, err = f.call(spec, []byte{1, 2, 3})
	wantCode(t, "malformed", err, p2p.CodeBadRequest)
	_, err = ask(shardsync.Request{Epoch: 3, Shard: shard, Limit: 0})
	wantCode(t, "limit 0", err, p2p.CodeBadRequest)

	// Page by page, one blob each, in blob-ID order.
	var after *codec.BlobID
	var got []shardsync.Item
	for range 5 {
		pg, err := ask(shardsync.Request{Epoch: 3, Shard: shard, After: after, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(pg.Items) != 1 {
			t.Fatalf("page of %d items", len(pg.Items))
		}
		got = append(got, pg.Items[0])
		after = &got[len(got)-1].BlobID
		if !pg.More {
			break
		}
	}
	if len(got) != 3 {
		t.Fatalf("%d blobs synced, want 3", len(got))
	}
	for _, it := range got {
		for i, enc := range encs {
			if enc.BlobID != it.BlobID {
				continue
			}
			pr, se := enc.Pair(p.PairIndexForShard(enc.BlobID, int(shard)))
			switch {
			case i == 2 && (len(it.Primary) != 0 || len(it.Secondary) != 0):
				t.Fatal("a partly held pair was sent")
			case i < 2 && (!bytes.Equal(it.Primary, pr.MarshalBCS()) || !bytes.Equal(it.Secondary, se.MarshalBCS())):
				t.Fatalf("blob %d: wrong pair", i)
			}
		}
	}
}

func TestShardSyncPageDecoding(t *testing.T) {
	p := codec.MustParams(10)
	a, b := codec.BlobID{1}, codec.BlobID{2}
	pg := shardsync.Page{Items: []shardsync.Item{{BlobID: a, Primary: []byte{1}, Secondary: []byte{2}}, {BlobID: b}}, More: true}
	raw := pg.Encode()
	got, err := shardsync.DecodePage(p, raw, nil, 2)
	if err != nil || len(got.Items) != 2 || !got.More {
		t.Fatalf("%+v %v", got, err)
	}
	// Out of order, at or before the cursor, over the limit, truncated, trailing: refused.
	bad := shardsync.Page{Items: []shardsync.Item{{BlobID: b}, {BlobID: a}}}
	if _, err := shardsync.DecodePage(p, bad.Encode(), nil, 2); err == nil {
		t.Error("out of order accepted")
	}
	if _, err := shardsync.DecodePage(p, raw, &a, 2); err == nil {
		t.Error("an item at the cursor accepted")
	}
	if _, err := shardsync.DecodePage(p, raw, nil, 1); err == nil {
		t.Error("more items than the limit accepted")
	}
	if _, err := shardsync.DecodePage(p, raw[:len(raw)-1], nil, 2); err == nil {
		t.Error("truncated page accepted")
	}
	if _, err := shardsync.DecodePage(p, append(bytes.Clone(raw), 0), nil, 2); err == nil {
		t.Error("trailing byte accepted")
	}
}
