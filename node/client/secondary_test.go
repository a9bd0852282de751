package client_test

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/client"
)

// TestReadSecondarySlivers reads secondary slivers by index, each from its holder and
// verified against the metadata: given or fetched, repeated indices once, a corrupt
// holder's slivers refused while the others arrive, and indices out of range refused.
func TestReadSecondarySlivers(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	c := newCluster(t, []int{4, 3, 2, 1}, 31, func(cfg *client.Config) { cfg.HedgeDelay = time.Minute })
	data := randomBlob(120_001, 31)
	enc := c.storeAll(ctx, data)
	meta := enc.Metadata

	want := []int{0, 3, 3, 5, c.p.N - 1}
	got, err := c.client.ReadSecondarySlivers(ctx, c.com(), enc.BlobID, &meta, want)
	if err != nil {
		t.Fatal(err)
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []int{0, 3, 5, c.p.N - 1}) {
		t.Fatalf("got slivers %v", keys)
	}
	for i, d := range got {
		if !bytes.Equal(d, enc.Secondary[i].Data) {
			t.Fatalf("secondary sliver %d differs from the encoder's", i)
		}
	}
	// Metadata fetched when not given.
	if got, err := c.client.ReadSecondarySlivers(ctx, c.com(), enc.BlobID, nil, []int{1}); err != nil || !bytes.Equal(got[1], enc.Secondary[1].Data) {
		t.Fatalf("without metadata: %v", err)
	}
	// Metadata of another blob is refused before anything is fetched.
	other := c.storeAll(ctx, randomBlob(5000, 32))
	if _, err := c.client.ReadSecondarySlivers(ctx, c.com(), enc.BlobID, &other.Metadata, []int{1}); err == nil {
		t.Fatal("another blob's metadata was accepted")
	}
	if _, err := c.client.ReadSecondarySlivers(ctx, c.com(), enc.BlobID, &meta, []int{c.p.N}); err == nil {
		t.Fatal("an index past n was accepted")
	}

	// A member whose stored secondary slivers are corrupt: its slivers fail to verify,
	// the others' still come.
	var bad int
	for i, m := range c.com().Members {
		if m.Weight() == 3 {
			bad = i
		}
	}
	nd := c.nodes[bad]
	corrupt := map[int]bool{}
	for _, sh := range c.com().Members[bad].Shards {
		sl, err := nd.store.Sliver(ctx, enc.BlobID, int(sh), codec.AxisSecondary)
		if err != nil {
			t.Fatal(err)
		}
		corrupt[int(sl.Index)] = true
		sl.Data[len(sl.Data)/2] ^= 0xFF
		if err := nd.raw.Put(ctx, blobstore.SliverKey(int(sh), enc.BlobID, codec.AxisSecondary), sl.MarshalBCS()); err != nil {
			t.Fatal(err)
		}
	}
	all := make([]int, c.p.N)
	for i := range all {
		all[i] = i
	}
	got, err = c.client.ReadSecondarySlivers(ctx, c.com(), enc.BlobID, &meta, all)
	if err == nil || !errors.Is(err, codec.ErrBadSliver) && !bytes.Contains([]byte(err.Error()), []byte("secondary sliver")) {
		t.Fatalf("a corrupt member went unnoticed: %v", err)
	}
	for i := range all {
		d, ok := got[i]
		switch {
		case corrupt[i] && ok:
			t.Fatalf("corrupt secondary sliver %d returned", i)
		case !corrupt[i] && (!ok || !bytes.Equal(d, enc.Secondary[i].Data)):
			t.Fatalf("secondary sliver %d of an honest member missing or wrong", i)
		}
	}
}
