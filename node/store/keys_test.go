package store_test

import (
	"bytes"
	"errors"
	"sort"
	"testing"

	"github.com/ipfs/go-datastore"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/store"
)

func TestSliverKeyRoundTrip(t *testing.T) {
	var id codec.BlobID
	for i := range id {
		id[i] = byte(255 - i)
	}
	for _, shard := range []uint16{0, 7, 999, 65535} {
		for _, kind := range []store.SliverKind{store.Primary, store.Secondary} {
			k := store.Sliver(shard, id, kind)
			s, gotID, gotKind, err := store.ParseSliver(k)
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			if s != shard || gotID != id || gotKind != kind {
				t.Fatalf("%s parsed as %d %x %v", k, s, gotID, gotKind)
			}
			if !store.Shard(shard).IsAncestorOf(k) || !store.ShardBlob(shard, id).IsAncestorOf(k) {
				t.Fatalf("%s not under its prefixes", k)
			}
		}
	}
	for _, bad := range []string{
		"/shards/7/00/p", "/shards/00007/" + string(bytes.Repeat([]byte("zz"), 32)) + "/p",
		"/shards/00007/" + string(bytes.Repeat([]byte("AB"), 32)) + "/p",
		"/shards/00007/" + string(bytes.Repeat([]byte("ab"), 32)) + "/x",
		"/shards/99999/" + string(bytes.Repeat([]byte("ab"), 32)) + "/p",
		"/blobs/00/meta",
	} {
		if _, _, _, err := store.ParseSliver(datastore.NewKey(bad)); !errors.Is(err, store.ErrBadKey) {
			t.Fatalf("%s: err = %v, want ErrBadKey", bad, err)
		}
	}
}

// Lexicographic key order must be numeric order for heights and shards and byte order
// for blob IDs: shard sync and ledger replay depend on it.
func TestKeyOrder(t *testing.T) {
	heights := []uint64{0, 1, 9, 10, 255, 256, 1 << 40}
	var cps []string
	for _, h := range heights {
		cps = append(cps, store.Checkpoint(h).String())
	}
	if !sort.StringsAreSorted(cps) {
		t.Fatalf("checkpoint keys out of order: %v", cps)
	}
	ids := []codec.BlobID{{0x00, 0xff}, {0x01}, {0x0a}, {0x10}, {0xa0}, {0xff}}
	var sl []string
	for _, id := range ids {
		sl = append(sl, store.Sliver(3, id, store.Primary).String())
	}
	if !sort.StringsAreSorted(sl) {
		t.Fatalf("sliver keys not in blob-ID order: %v", sl)
	}
	var sh []string
	for _, s := range []uint16{0, 2, 10, 100, 65535} {
		sh = append(sh, store.Shard(s).String())
	}
	if !sort.StringsAreSorted(sh) {
		t.Fatalf("shard keys out of order: %v", sh)
	}
	if got := store.ShardSyncProgress(3, 12).String(); got != "/epochs/0000000003/sync/00012" {
		t.Fatalf("ShardSyncProgress = %s", got)
	}
	var id codec.BlobID
	if !store.Blob(id).IsAncestorOf(store.BlobMeta(id)) || !store.Blob(id).IsAncestorOf(store.BlobInvalid(id)) {
		t.Fatal("blob keys not under Blob(id)")
	}
}

func TestBlobPairKeyRoundTrip(t *testing.T) {
	id := codec.BlobID{0xab, 0x01}
	other := codec.BlobID{0xab, 0x02}
	for _, shard := range []uint16{0, 7, 999, 65535} {
		k := store.BlobPair(id, shard)
		got, err := store.ParseBlobPair(id, k)
		if err != nil || got != shard {
			t.Fatalf("%s parsed as %d, %v", k, got, err)
		}
		if !store.BlobPairsPrefix(id).IsAncestorOf(k) || !store.Blob(id).IsAncestorOf(k) {
			t.Fatalf("%s not under its prefixes", k)
		}
		if _, err := store.ParseBlobPair(other, k); !errors.Is(err, store.ErrBadKey) {
			t.Fatalf("%s parsed for another blob: %v", k, err)
		}
	}
	for _, bad := range []datastore.Key{
		store.BlobPairsPrefix(id).ChildString("7"), store.BlobPairsPrefix(id).ChildString("99999"),
		store.BlobPairsPrefix(id).ChildString("0000x"), store.BlobMeta(id),
	} {
		if _, err := store.ParseBlobPair(id, bad); !errors.Is(err, store.ErrBadKey) {
			t.Fatalf("%s: err = %v, want ErrBadKey", bad, err)
		}
	}
}

// The shard-state key keeps the form earlier releases wrote, and sits outside /shards/.
func TestShardStateKey(t *testing.T) {
	k := store.ShardState(7)
	if k.String() != "/shardstate/00007" || !store.ShardStatesPrefix.IsAncestorOf(k) || store.ShardsPrefix.IsAncestorOf(k) {
		t.Fatalf("shard state key %s", k)
	}
}
