package store_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/store"
)

// listKeysFixture are keys around /shards/00001 that a prefix walk must tell apart: the
// prefix key itself, siblings sharing its leading bytes, keys below it, and keys next to a
// blob's subtree that are not in it.
func listKeysFixture() []string {
	id := codec.BlobID{0x5a, 0x01}
	next := codec.BlobID{0x5a, 0x02}
	blob := store.ShardBlob(1, id).String()
	return []string{
		"/shards/00001",
		"/shards/000010/x",
		"/shards/00001./x",
		"/shards/00000/p",
		"/shards/00002",
		"/shardstate/00001",
		blob,
		blob + "!",
		blob + ".",
		blob + "0/p",
		blob + "00/p",
		store.Sliver(1, id, store.Primary).String(),
		store.Sliver(1, id, store.Secondary).String(),
		store.Sliver(1, next, store.Primary).String(),
		store.Sliver(1, next, store.Secondary).String(),
		store.Sliver(1, codec.BlobID{0x01}, store.Primary).String(),
		store.Sliver(1, codec.BlobID{0xff}, store.Secondary).String(),
		"/shards/00001/zz",
	}
}

func openWithKeys(t *testing.T, keys []string) datastore.Batching {
	t.Helper()
	d, err := store.Open(t.TempDir(), store.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.(io.Closer).Close() })
	for _, k := range keys {
		if err := d.Put(context.Background(), datastore.NewKey(k), []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func listAll(t *testing.T, d datastore.Batching, lower, upper []byte) []string {
	t.Helper()
	var got []string
	err := d.(store.KeyLister).ListKeys(context.Background(), lower, upper, func(k []byte) bool {
		got = append(got, string(k))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestPrefixBoundsMatchQuery checks that ListKeys over PrefixBounds(p) returns exactly the
// keys, in the same order, that a go-datastore query over p returns, for both datastore
// types Open returns.
func TestPrefixBoundsMatchQuery(t *testing.T) {
	for _, synced := range []bool{true, false} {
		var opts []store.Option
		if !synced {
			opts = append(opts, store.WithoutSync())
		}
		d, err := store.Open(t.TempDir(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := d.(store.KeyLister); !ok {
			t.Fatalf("synced=%v: %T is not a KeyLister", synced, d)
		}
		for _, k := range listKeysFixture() {
			if err := d.Put(context.Background(), datastore.NewKey(k), nil); err != nil {
				t.Fatal(err)
			}
		}
		for _, p := range []string{"/shards/00001", "/shards/00001/", "/shards", "/shards/", "/", "/blobs/"} {
			want := queryKeys(t, d, p)
			lower, upper := store.PrefixBounds(p)
			if got := listAll(t, d, lower, upper); !slices.Equal(got, want) {
				t.Errorf("synced=%v prefix %q: ListKeys(%q, %q) = %q, query = %q", synced, p, lower, upper, got, want)
			}
		}
		if err := d.(io.Closer).Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAfterDescendants checks that a walk from AfterDescendants(k) starts at the first key
// past k's subtree: it skips k and every key below it, and keeps every later key.
func TestAfterDescendants(t *testing.T) {
	keys := listKeysFixture()
	d := openWithKeys(t, keys)
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	for _, k := range []datastore.Key{
		store.ShardBlob(1, codec.BlobID{0x5a, 0x01}),
		store.ShardBlob(1, codec.BlobID{0x5a, 0x02}),
		store.ShardBlob(1, codec.BlobID{0x5a, 0x01, 0x7f}), // not stored
		store.Shard(1),
	} {
		_, upper := store.PrefixBounds("/shards/00001")
		var want []string
		for _, s := range sorted {
			// After k's subtree: greater than every key k + "/" + ..., below the prefix's end.
			if s > k.String()+"/\xff" && !strings.HasPrefix(s, k.String()+"/") && s < string(upper) {
				want = append(want, s)
			}
		}
		if got := listAll(t, d, store.AfterDescendants(k), upper); !slices.Equal(got, want) {
			t.Errorf("after %s: got %q, want %q", k, got, want)
		}
	}
}

// TestListKeysStopsAndCancels checks that fn returning false ends the walk, that a nil
// upper bound walks to the end, that an empty range visits nothing, and that a done
// context is returned as the error.
func TestListKeysStopsAndCancels(t *testing.T) {
	keys := listKeysFixture()
	d := openWithKeys(t, keys)
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	kl := d.(store.KeyLister)

	if got := listAll(t, d, []byte("/shards/00002"), nil); !slices.Equal(got, []string{"/shards/00002", "/shardstate/00001"}) {
		t.Errorf("nil upper: got %q", got)
	}
	if got := listAll(t, d, []byte("/shards/00002"), []byte("/shards/00001")); len(got) != 0 {
		t.Errorf("lower above upper: got %q", got)
	}
	var got []string
	if err := kl.ListKeys(context.Background(), []byte("/"), nil, func(k []byte) bool {
		got = append(got, string(k))
		return len(got) < 3
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, sorted[:3]) {
		t.Errorf("stop after 3: got %q, want %q", got, sorted[:3])
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	err := kl.ListKeys(ctx, []byte("/"), nil, func([]byte) bool { calls++; return true })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("cancelled context: err %v after %d keys, want context.Canceled after 0", err, calls)
	}

	// Cancelled during a long walk: the walk ends with the context's error.
	many := openWithKeys(t, nil)
	b, err := many.Batch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		if err := b.Put(context.Background(), store.Sliver(3, codec.BlobID{byte(i >> 8), byte(i)}, store.Primary), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	calls = 0
	err = many.(store.KeyLister).ListKeys(ctx, []byte("/"), nil, func([]byte) bool {
		if calls++; calls == 10 {
			cancel()
		}
		return true
	})
	if !errors.Is(err, context.Canceled) || calls >= 5000 {
		t.Errorf("cancelled mid-walk: err %v after %d keys, want context.Canceled before the end", err, calls)
	}
}

// queryKeys returns the keys under prefix in order, through a go-datastore query.
func queryKeys(t *testing.T, d datastore.Datastore, prefix string) []string {
	t.Helper()
	res, err := d.Query(context.Background(), query.Query{Prefix: prefix, KeysOnly: true, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := res.Rest()
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(entries))
	for _, e := range entries {
		keys = append(keys, e.Key)
	}
	return keys
}

// TestClosedDatastoreErrs checks that ListKeys and Lend on a closed datastore (a background
// walk finishing while the node shuts down) return store.ErrClosed instead of crashing
// the process with pebble's panic, synced or not.
func TestClosedDatastoreErrs(t *testing.T) {
	for _, opts := range [][]store.Option{nil, {store.WithoutSync()}} {
		d, err := store.Open(t.TempDir(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		key := datastore.NewKey("/a")
		if err := d.Put(context.Background(), key, []byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := d.(io.Closer).Close(); err != nil {
			t.Fatal(err)
		}
		err = d.(store.KeyLister).ListKeys(context.Background(), []byte("/"), nil, func([]byte) bool { return true })
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("ListKeys after Close: %v, want store.ErrClosed", err)
		}
		if _, _, err := store.Lend(context.Background(), d, key); !errors.Is(err, store.ErrClosed) {
			t.Errorf("Lend after Close: %v, want store.ErrClosed", err)
		}
	}
}
