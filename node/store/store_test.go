package store_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/store"
)

func TestOpenPutGetQuery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Slivers of three blobs in shard 5, written out of order.
	ids := []codec.BlobID{{0xc0}, {0x0a}, {0x55}}
	for _, id := range ids {
		for _, kind := range []store.SliverKind{store.Secondary, store.Primary} {
			if err := d.Put(ctx, store.Sliver(5, id, kind), value(int(id[0])+int(kind), 1000)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := d.Put(ctx, store.Sliver(6, codec.BlobID{0x01}, store.Primary), []byte("other shard")); err != nil {
		t.Fatal(err)
	}
	// Batches commit atomically and durably too.
	b, err := d.Batch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for h := uint64(0); h < 3; h++ {
		if err := b.Put(ctx, store.Checkpoint(h), []byte{byte(h)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	d, err = store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := d.Get(ctx, store.Sliver(5, ids[1], store.Primary))
	if err != nil || !bytes.Equal(got, value(0x0a+1, 1000)) {
		t.Fatalf("get after reopen: %v", err)
	}
	if _, err := d.Get(ctx, store.BlobMeta(ids[0])); !errors.Is(err, datastore.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	var walk []string
	for _, k := range queryKeys(t, d, store.Shard(5).String()) {
		_, id, kind, err := store.ParseSliver(datastore.NewKey(k))
		if err != nil {
			t.Fatal(err)
		}
		walk = append(walk, fmt.Sprintf("%02x%s", id[0], kind))
	}
	if want := "0ap 0as 55p 55s c0p c0s"; strings.Join(walk, " ") != want {
		t.Fatalf("shard walk = %v, want blob-ID order %s", walk, want)
	}
}

func TestOpenOptions(t *testing.T) {
	if _, err := store.Open(""); err == nil {
		t.Fatal("empty dir accepted")
	}
	if _, err := store.Open(t.TempDir(), store.WithCacheSize(10)); err == nil {
		t.Fatal("tiny cache accepted")
	}
	if _, err := store.Open(t.TempDir(), store.WithValueSeparation(0)); err == nil {
		t.Fatal("zero value-separation threshold accepted")
	}
	d, err := store.Open(t.TempDir(), store.WithoutSync(), store.WithMemTableSize(8<<20), store.WithCacheSize(8<<20))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	// Value separation: large values round-trip across a reopen.
	ctx := context.Background()
	dir := t.TempDir()
	d, err = store.Open(dir, store.WithValueSeparation(1024))
	if err != nil {
		t.Fatal(err)
	}
	big := value(1, 300<<10)
	if err := d.Put(ctx, store.Sliver(1, codec.BlobID{1}, store.Primary), big); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d, err = store.Open(dir, store.WithValueSeparation(1024))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := d.Get(ctx, store.Sliver(1, codec.BlobID{1}, store.Primary))
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("value-separated read: %v", err)
	}
}

// value returns size deterministic bytes for seed i (what the crash child writes and
// the parent expects back).
func value(i, size int) []byte {
	var seed [32]byte
	seed[0], seed[1], seed[2] = byte(i), byte(i>>8), byte(i>>16)
	b := make([]byte, size)
	_, _ = rand.NewChaCha8(seed).Read(b)
	return b
}

func crashKey(round, i int) datastore.Key {
	return datastore.NewKey(fmt.Sprintf("/crash/%d/%08d", round, i))
}

// crashValueSize cycles through sliver-like sizes, so kills land inside small and large
// WAL records alike.
func crashValueSize(i int) int {
	if i%5 == 2 {
		return 2 * store.MinIngestBytes // written by ingestion
	}
	return []int{64 << 10, 256 << 10, 1 << 20, 100}[i%4]
}

const crashEnv = "WALRUS_STORE_CRASH_CHILD"

// TestCrashChild is the child half of TestCrashSafety: it does nothing unless run by it.
// It writes keys (single Puts; every 5th write a 2-key batch; every 5th from the 3rd an
// ingested value then its "twin" marker, by store.PutDurably), printing "ack <i>" after each
// durable write returns, until it is killed.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		return // not the child: nothing to do (the parent test checks the real behaviour)
	}
	dir, roundStr, _ := strings.Cut(spec, "|")
	round, _ := strconv.Atoi(roundStr)
	d, err := store.Open(dir)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	ctx := context.Background()
	for i := 0; i < 1_000_000; i++ {
		if i%5 == 4 {
			b, err := d.Batch(ctx)
			if err == nil {
				err = b.Put(ctx, crashKey(round, i), value(round<<20|i, crashValueSize(i)))
			}
			if err == nil {
				err = b.Put(ctx, datastore.NewKey(fmt.Sprintf("/crash/%d/%08d/twin", round, i)), []byte("twin"))
			}
			if err == nil {
				err = b.Commit(ctx)
			}
			if err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
		} else if i%5 == 2 {
			bulk := []store.KV{{Key: crashKey(round, i), Value: value(round<<20|i, crashValueSize(i))}}
			marks := []store.KV{{Key: datastore.NewKey(fmt.Sprintf("/crash/%d/%08d/twin", round, i)), Value: []byte("twin")}}
			if err := store.PutDurably(ctx, d, bulk, marks); err != nil {
				fmt.Println("error", err)
				os.Exit(2)
			}
		} else if err := d.Put(ctx, crashKey(round, i), value(round<<20|i, crashValueSize(i))); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		if _, err := fmt.Fprintf(os.Stdout, "ack %d\n", i); err != nil {
			os.Exit(3) // parent gone
		}
	}
	os.Exit(4) // the parent should have killed us long before
}

// TestCrashSafety runs a child process that writes with sync and SIGKILLs it at a seeded
// point mid-stream, twice, reopening the store each time: every write acknowledged before
// the kill must be there with the right bytes, batches must be all-or-nothing, and
// whatever unacknowledged write survived must be intact (no torn values).
//
// An ingested value and its marker may be cut apart (value without marker, never the
// reverse). SIGKILL tests pebble's recovery from a process dying at an arbitrary instruction
// (a half-written WAL record, a half-built table file); the kernel's page cache survives it, so power-loss durability
// rests on the fsync that store.Open configures for every write.
func TestCrashSafety(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 11))
	for round := 0; round < 2; round++ {
		killAfter := 60 + rng.IntN(60)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", crashEnv, dir, round))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := -1
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if n, ok := strings.CutPrefix(line, "ack "); ok {
				acked, _ = strconv.Atoi(n)
				if acked+1 >= killAfter {
					break
				}
			} else if strings.HasPrefix(line, "error") {
				t.Fatalf("child: %s", line)
			}
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if acked+1 < killAfter {
			t.Fatalf("round %d: child acknowledged only %d writes", round, acked+1)
		}

		d, err := store.Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		for r := 0; r <= round; r++ {
			res, err := d.Query(context.Background(), query.Query{Prefix: fmt.Sprintf("/crash/%d", r)})
			if err != nil {
				t.Fatal(err)
			}
			entries, err := res.Rest()
			if err != nil {
				t.Fatal(err)
			}
			present := map[string][]byte{}
			for _, e := range entries {
				present[e.Key] = e.Value
			}
			for k, v := range present {
				if base, ok := strings.CutSuffix(k, "/twin"); ok {
					if string(v) != "twin" || present[base] == nil {
						t.Fatalf("round %d: batch half-applied at %s", r, base)
					}
					continue
				}
				i, _ := strconv.Atoi(k[strings.LastIndexByte(k, '/')+1:])
				if !bytes.Equal(v, value(r<<20|i, crashValueSize(i))) {
					t.Fatalf("round %d: key %s holds a torn or wrong value (%d bytes)", r, k, len(v))
				}
				if i%5 == 4 && present[k+"/twin"] == nil { // a batch; i%5 == 2 may lack it
					t.Fatalf("round %d: batch half-applied at %s", r, k)
				}
			}
			if r == round {
				for i := 0; i <= acked; i++ {
					if present[crashKey(r, i).String()] == nil {
						t.Fatalf("round %d: acknowledged write %d lost after kill", r, i)
					}
				}
			}
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBatchSized: a pre-sized batch (synced and unsynced stores) commits atomically,
// survives a reopen, refuses reuse after Commit, and works whether the size guess was
// right, too small or zero.
func TestBatchSized(t *testing.T) {
	ctx := context.Background()
	for _, opts := range [][]store.Option{nil, {store.WithoutSync()}} {
		dir := t.TempDir()
		d, err := store.Open(dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		sb, ok := d.(store.SizedBatching)
		if !ok {
			t.Fatalf("store.Open(%d options) is not SizedBatching", len(opts))
		}
		for i, size := range []int{0, 10, 3 * 70000} {
			b, err := store.NewBatch(ctx, d, size)
			if err != nil {
				t.Fatal(err)
			}
			for j := 0; j < 3; j++ {
				k := store.Sliver(uint16(i), codec.BlobID{byte(j)}, store.Primary)
				if err := b.Put(ctx, k, value(i*10+j, 70000)); err != nil {
					t.Fatal(err)
				}
			}
			if err := b.Delete(ctx, store.Checkpoint(1)); err != nil {
				t.Fatal(err)
			}
			if has, _ := d.Has(ctx, store.Sliver(uint16(i), codec.BlobID{0}, store.Primary)); has {
				t.Fatalf("size %d: batch visible before Commit", size)
			}
			if err := b.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			if err := b.Commit(ctx); err == nil {
				t.Errorf("size %d: a second Commit succeeded", size)
			}
			if err := b.Put(ctx, store.Checkpoint(2), nil); err == nil {
				t.Errorf("size %d: Put after Commit succeeded", size)
			}
		}
		if _, err := sb.BatchSized(ctx, -1); err != nil {
			t.Errorf("negative size: %v", err)
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		d, err = store.Open(dir, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			for j := 0; j < 3; j++ {
				got, err := d.Get(ctx, store.Sliver(uint16(i), codec.BlobID{byte(j)}, store.Primary))
				if err != nil || !bytes.Equal(got, value(i*10+j, 70000)) {
					t.Fatalf("after reopen: sliver %d/%d: %d bytes, %v", i, j, len(got), err)
				}
			}
		}
		_ = d.Close()
	}
}

// TestLend: Lend hands out stored values without a copy, reports a missing key as
// ErrNotFound, and falls back to Get for a datastore that cannot lend.
func TestLend(t *testing.T) {
	ctx := context.Background()
	d, err := store.Open(t.TempDir(), store.WithoutSync())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, ok := d.(store.Lender); !ok {
		t.Fatal("store.Open is not a Lender")
	}
	k := store.Sliver(1, codec.BlobID{7}, store.Secondary)
	want := value(3, 1<<20)
	if err := d.Put(ctx, k, want); err != nil {
		t.Fatal(err)
	}
	mem := datastore.NewMapDatastore()
	if err := mem.Put(ctx, k, want); err != nil {
		t.Fatal(err)
	}
	for name, ds := range map[string]datastore.Read{"pebble": d, "map": mem} {
		missing := store.Sliver(2, codec.BlobID{7}, store.Secondary)
		lent, release, err := store.Lend(ctx, ds, k)
		if err != nil || !bytes.Equal(lent, want) {
			t.Fatalf("%s: Lend: %d bytes, %v", name, len(lent), err)
		}
		release()
		if v, r, err := store.Lend(ctx, ds, missing); !errors.Is(err, datastore.ErrNotFound) || v != nil || r != nil {
			t.Fatalf("%s: Lend of a missing key: %d bytes, %v; want ErrNotFound and nothing to release", name, len(v), err)
		}
	}
}

// TestIngest: PutDurably ingests a large bulk (then batches the marks), which reads back
// and survives a reopen; refuses duplicate keys leaving nothing visible; and below
// MinIngestBytes writes one batch.
func TestIngest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.(store.Ingester); !ok {
		t.Fatal("store.Open is not an Ingester")
	}
	var bulk []store.KV
	for i := 5; i >= 0; i-- { // unsorted on purpose
		bulk = append(bulk, store.KV{Key: store.Sliver(uint16(i), codec.BlobID{1}, store.Primary), Value: value(i, 300<<10)})
	}
	marks := []store.KV{{Key: store.BlobPair(codec.BlobID{1}, 0)}}
	if err := store.PutDurably(ctx, d, bulk, marks); err != nil {
		t.Fatal(err)
	}
	small := []store.KV{{Key: store.Sliver(9, codec.BlobID{2}, store.Primary), Value: value(9, 100)}}
	if err := store.PutDurably(ctx, d, small, nil); err != nil {
		t.Fatal(err)
	}
	dup := []store.KV{
		{Key: store.Sliver(7, codec.BlobID{3}, store.Primary), Value: value(7, 2<<20)},
		{Key: store.Sliver(7, codec.BlobID{3}, store.Primary), Value: value(8, 2<<20)},
	}
	if err := store.PutDurably(ctx, d, dup, nil); err == nil {
		t.Fatal("duplicate keys ingested")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if d, err = store.Open(dir); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, kv := range append(bulk, small...) {
		got, err := d.Get(ctx, kv.Key)
		if err != nil || !bytes.Equal(got, kv.Value) {
			t.Fatalf("%s after reopen: %d bytes, %v", kv.Key, len(got), err)
		}
	}
	if has, _ := d.Has(ctx, marks[0].Key); !has {
		t.Fatal("marker lost")
	}
	if has, _ := d.Has(ctx, dup[0].Key); has {
		t.Fatal("a refused ingestion left a key behind")
	}
	left, err := os.ReadDir(filepath.Join(dir, "ingest-tmp"))
	if err != nil || len(left) != 0 {
		t.Fatalf("ingest-tmp holds %d files (%v): table files are not cleaned up", len(left), err)
	}
}
