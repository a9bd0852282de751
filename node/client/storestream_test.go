package client_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
)

// missingPairs asks every node (the nodes' own count, /walrus/status/1 with FlagMissing)
// how many of its shards lack the blob's pair.
func (c *cluster) missingPairs(t *testing.T, ctx context.Context, id codec.BlobID) int {
	t.Helper()
	com := c.com()
	total := 0
	for i := range com.Members {
		st, err := c.client.Status(ctx, &com.Members[i], id)
		if err != nil {
			t.Fatal(err)
		}
		total += int(st.ShardsHeld - st.ShardsStored)
	}
	return total
}

// TestStoreStreamSmallBudget stores a blob several times larger than the memory budget
// (the encoding spills and re-encodes its recovery rows in many windows) and reads it
// back byte-identical.
func TestStoreStreamSmallBudget(t *testing.T) {
	ctx := testCtx(t)
	c := newCluster(t, []int{4, 3, 2, 1}, 21)
	hooks := &fakeHooks{c: c, certified: map[codec.BlobID]bool{}}
	data := randomBlob(300_000, 22)
	plan, err := codec.PlanStream(c.p, uint64(len(data)), 64<<10)
	if err != nil || !plan.Spill || plan.Windows < 3 {
		t.Fatalf("the budget does not force a spill and windows: %+v %v", plan, err)
	}
	var mu sync.Mutex
	var last client.Progress
	res, err := c.client.StoreStream(ctx, data, hooks, client.StoreOptions{Epochs: 2, MemoryBudget: 64 << 10, SpillDir: t.TempDir(),
		Progress: func(p client.Progress) { mu.Lock(); last = p; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	<-res.Upload.Done()
	mu.Lock()
	defer mu.Unlock()
	if !hooks.certified[res.BlobID] || last.BytesSent != last.BytesTotal || last.NodesConfirmed != 4 ||
		last.BytesEncoded < int64(len(data)) || last.BytesEncoded > last.EncodeTotal {
		t.Fatalf("progress %+v", last)
	}
	enc, _ := codec.Encode(c.p, data)
	if res.BlobID != enc.BlobID {
		t.Fatal("blob ID differs from Encode's")
	}
	got, err := c.client.Read(ctx, c.com(), res.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	if n := c.missingPairs(t, ctx, res.BlobID); n != 0 {
		t.Fatalf("%d pairs missing after the store", n)
	}

	// The same from a mapped file (MapFile): the encoder reads the file, not the mapping.
	data = randomBlob(300_000, 25)
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mapped, unmap, err := client.MapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer unmap()
	spill := t.TempDir()
	res, err = c.client.StoreStream(ctx, mapped, hooks, client.StoreOptions{Epochs: 2, MemoryBudget: 64 << 10, SpillDir: spill})
	if err != nil {
		t.Fatal(err)
	}
	<-res.Upload.Done()
	if enc, _ := codec.Encode(c.p, data); res.BlobID != enc.BlobID {
		t.Fatal("mapped: blob ID differs from Encode's")
	}
	if got, err := c.client.Read(ctx, c.com(), res.BlobID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("mapped: read back: %v", err)
	}
	if ents, _ := os.ReadDir(spill); len(ents) != 0 {
		t.Fatalf("spill files left: %v", ents)
	}
}

// failOnceCertify fails the first certification, as a store killed after collecting its
// confirmations would never certify.
type failOnceCertify struct {
	*fakeHooks
	failed bool
}

var errKilled = errors.New("killed before the certificate")

func (h *failOnceCertify) CertifyBlob(ctx context.Context, id codec.BlobID, reg client.Registration, res *client.UploadResult) error {
	if !h.failed {
		h.failed = true
		return errKilled
	}
	return h.fakeHooks.CertifyBlob(ctx, id, reg, res)
}

// TestStoreStreamResume interrupts a store mid-upload, runs it again and checks that the
// second run sends exactly the pairs the nodes said were missing; then interrupts one
// after its confirmations and checks that the second run reuses them and sends no more
// than the nodes miss.
func TestStoreStreamResume(t *testing.T) {
	ctx := testCtx(t)
	c := newCluster(t, []int{4, 3, 2, 1}, 23, func(cfg *client.Config) { cfg.UploadBatchBytes = 16 << 10; cfg.UploadDepth = 1 })
	hooks := &fakeHooks{c: c, certified: map[codec.BlobID]bool{}}
	pending := t.TempDir()
	data := randomBlob(400_000, 24)
	enc, _ := codec.Encode(c.p, data)

	// 1. Cancelled once a third is sent.
	cctx, cancel := context.WithCancel(ctx)
	_, err := c.client.StoreStream(cctx, data, hooks, client.StoreOptions{Epochs: 2, PendingDir: pending,
		Progress: func(p client.Progress) {
			if p.BytesTotal > 0 && p.BytesSent > p.BytesTotal/3 {
				cancel()
			}
		}})
	cancel()
	if err == nil {
		t.Fatal("the interrupted store succeeded")
	}
	// The nodes finish the requests that were complete when the client gave up: count
	// once the answer is the same twice.
	missing := c.missingPairs(t, ctx, enc.BlobID)
	for range 20 {
		time.Sleep(200 * time.Millisecond)
		again := c.missingPairs(t, ctx, enc.BlobID)
		if again == missing {
			break
		}
		missing = again
	}
	if missing == 0 || missing == c.p.N {
		t.Fatalf("%d of %d pairs missing: the interruption did not land mid-upload", missing, c.p.N)
	}
	var mu sync.Mutex
	var last client.Progress
	res, err := c.client.StoreStream(ctx, data, hooks, client.StoreOptions{Epochs: 2, PendingDir: pending,
		Progress: func(p client.Progress) { mu.Lock(); last = p; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	<-res.Upload.Done()
	pairSize := int64(c.p.PrimarySliverSize(int(enc.SymbolSize)) + c.p.SecondarySliverSize(int(enc.SymbolSize)))
	if got := int64(c.p.N) - res.Resumed.PairsSkipped; got != int64(missing) {
		t.Fatalf("re-run sent %d pairs, the nodes missed %d (%+v)", got, missing, res.Resumed)
	}
	mu.Lock()
	sentNow := last.BytesSent - last.BytesSkipped
	mu.Unlock()
	if max := int64(missing)*pairSize + 4*int64(len(enc.Metadata.MarshalBCS())); sentNow > max {
		t.Fatalf("re-run sent %d bytes, at most %d were missing", sentNow, max)
	}
	if got, err := c.client.Read(ctx, c.com(), res.BlobID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	if _, err := os.Stat(filepath.Join(pending, res.BlobID.String()+".json")); !os.IsNotExist(err) {
		t.Fatalf("pending file left after the certificate: %v", err)
	}

	// 2. Interrupted after the confirmations, before the certificate.
	data2 := randomBlob(200_000, 25)
	h2 := &failOnceCertify{fakeHooks: hooks}
	res2, err := c.client.StoreStream(ctx, data2, h2, client.StoreOptions{Epochs: 2, PendingDir: pending})
	if !errors.Is(err, errKilled) {
		t.Fatalf("first run: %v", err)
	}
	// The failed run released its reserve (as Store does after any certify attempt), whose
	// pass may still be running: the re-run sends at most what the nodes miss now.
	enc2, _ := codec.Encode(c.p, data2)
	missing2 := c.missingPairs(t, ctx, enc2.BlobID)
	var sent2 int64
	res2, err = c.client.StoreStream(ctx, data2, h2, client.StoreOptions{Epochs: 2, PendingDir: pending,
		Progress: func(p client.Progress) { mu.Lock(); sent2 = p.BytesSent - p.BytesSkipped; mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	<-res2.Upload.Done()
	mu.Lock()
	defer mu.Unlock()
	if res2.Resumed.Confirmations == 0 {
		t.Fatalf("second run reused no confirmation: %+v", res2.Resumed)
	}
	if sentPairs := int64(c.p.N) - res2.Resumed.PairsSkipped; sentPairs > int64(missing2) ||
		sent2 > int64(missing2)*pairSize+4*int64(len(enc2.Metadata.MarshalBCS())) {
		t.Fatalf("second run sent %d pairs, %d bytes; the nodes missed %d pairs", sentPairs, sent2, missing2)
	}
	if got, err := c.client.Read(ctx, c.com(), res2.BlobID); err != nil || !bytes.Equal(got, data2) {
		t.Fatalf("read back: %v", err)
	}
}
