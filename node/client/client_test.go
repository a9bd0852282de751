package client_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/confirm"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestStoreAndRead stores and reads blobs of several sizes on 4 nodes holding 10 shards
// unevenly, checks the certificate, the progress reports, and that every node ends up
// with all its slivers once the background uploads are done.
func TestStoreAndRead(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	c := newCluster(t, []int{4, 3, 2, 1}, 1)
	for i, size := range []int{0, 1, 1 << 20} {
		data := randomBlob(size, uint64(i))
		enc, reg := c.encodeAndRegister(data)
		var last client.Progress
		calls := 0
		res, err := c.upload(ctx, enc, reg, func(p client.Progress) { last = p; calls++ })
		if err != nil {
			t.Fatalf("size %d: Upload: %v", size, err)
		}
		if err := c.com().VerifyCertificate(res.Message, res.Certificate, epoch.ThresholdQuorum); err != nil {
			t.Fatalf("size %d: certificate does not verify: %v", size, err)
		}
		<-res.Done()
		if calls == 0 || last.NodesConfirmed != 4 || last.ShardsConfirmed != 10 || !last.Quorum ||
			last.BytesSent != last.BytesTotal || last.NodesFailed != 0 {
			t.Fatalf("size %d: final progress %+v after %d calls", size, last, calls)
		}
		for j, nd := range c.nodes {
			st, err := c.client.Status(ctx, &c.com().Members[j], enc.BlobID)
			if err != nil {
				t.Fatalf("size %d: Status(node %d): %v", size, j, err)
			}
			if !st.HasMetadata || st.ShardsStored != st.ShardsHeld || int(st.ShardsHeld) != c.com().Members[j].Weight() {
				t.Fatalf("size %d: node %d status %+v", size, j, st)
			}
			_ = nd
		}
		got, err := c.client.Read(ctx, c.com(), enc.BlobID)
		if err != nil {
			t.Fatalf("size %d: Read: %v", size, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("size %d: Read returned %d different bytes", size, len(got))
		}
	}
}

// TestFaultyNodesDown: with nodes worth f shards crashed, store and read still succeed,
// at n = 10 (low-rate primary code) and n = 13 (high-rate, docs/protocol.md §1).
func TestFaultyNodesDown(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	for _, tc := range []struct {
		weights []int
		down    []int // weights of the members to stop, f shards in total
	}{
		{[]int{4, 3, 2, 1}, []int{2, 1}}, // n = 10, f = 3
		{[]int{5, 4, 3, 1}, []int{3, 1}}, // n = 13, f = 4
	} {
		c := newCluster(t, tc.weights, 2)
		for i, m := range c.com().Members {
			for _, w := range tc.down {
				if m.Weight() == w {
					c.nodes[i].stop()
				}
			}
		}
		data := randomBlob(200_000, 7)
		enc, reg := c.encodeAndRegister(data)
		res, err := c.upload(ctx, enc, reg, nil)
		if err != nil {
			t.Fatalf("n=%d: Upload with f shards down: %v", c.p.N, err)
		}
		if err := c.com().VerifyCertificate(res.Message, res.Certificate, epoch.ThresholdQuorum); err != nil {
			t.Fatal(err)
		}
		got, err := c.client.Read(ctx, c.com(), enc.BlobID)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("n=%d: Read with f shards down: %v", c.p.N, err)
		}
	}
}

// TestTooManyDown: beyond f shards down there is no quorum, and the error says so.
func TestTooManyDown(t *testing.T) {
	ctx := testCtx(t)
	c := newCluster(t, []int{4, 3, 2, 1}, 3)
	for i, m := range c.com().Members {
		if m.Weight() == 4 {
			c.nodes[i].stop()
		}
	}
	enc, reg := c.encodeAndRegister(randomBlob(1000, 8))
	if _, err := c.upload(ctx, enc, reg, nil); !errors.Is(err, client.ErrNoQuorum) {
		t.Fatalf("Upload with 4 of 10 shards down: %v, want ErrNoQuorum", err)
	}
}

// TestLyingNodes: one node (2 shards) serves corrupt slivers, another (1 shard) forges
// confirmations; together f = 3 shards. The certificate excludes the forger and reads
// still return the right bytes.
func TestLyingNodes(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	c := newCluster(t, []int{4, 3, 2, 1}, 4)
	var corrupt, forger int
	for i, m := range c.com().Members {
		switch m.Weight() {
		case 2:
			corrupt = i
		case 1:
			forger = i
		}
	}
	// The forger answers confirmations with a signature by a key that is not its own.
	fp := confirm.Spec
	wrongKey := c.nodes[corrupt].key
	if err := p2p.Handle(c.nodes[forger].host, fp, func(ctx context.Context, _ peer.ID, body []byte) ([]byte, error) {
		req, err := confirm.DecodeRequest(body)
		if err != nil {
			return nil, err
		}
		conf := confirm.Confirmation{Epoch: req.Epoch, Signature: wrongKey.Sign(req.Message(testNetwork))}
		return conf.Encode(), nil
	}, nil); err != nil {
		t.Fatal(err)
	}

	data := randomBlob(300_000, 9)
	enc, reg := c.encodeAndRegister(data)
	res, err := c.upload(ctx, enc, reg, nil)
	if err != nil {
		t.Fatalf("Upload with a forger: %v", err)
	}
	if err := c.com().VerifyCertificate(res.Message, res.Certificate, epoch.ThresholdQuorum); err != nil {
		t.Fatal(err)
	}
	<-res.Done()
	if s := signers(t, c.com(), res.Certificate); s[forger] {
		t.Fatal("forged confirmation counted in the certificate")
	}

	// Corrupt every stored sliver of the corrupt node, bypassing verification, as a
	// lying node or a rotten disk would.
	nd := c.nodes[corrupt]
	for _, sh := range c.com().Members[corrupt].Shards {
		for _, axis := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
			sl, err := nd.store.Sliver(ctx, enc.BlobID, int(sh), axis)
			if err != nil {
				t.Fatal(err)
			}
			sl.Data[len(sl.Data)/2] ^= 0xFF
			if err := nd.raw.Put(ctx, blobstore.SliverKey(int(sh), enc.BlobID, axis), sl.MarshalBCS()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 0; i < 3; i++ {
		got, err := c.client.Read(ctx, c.com(), enc.BlobID)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Read %d with a corrupt node: %v", i, err)
		}
	}

	// The heaviest member, asked first for metadata, now answers with another blob's
	// (well-formed) metadata: the client drops it and asks the next member.
	other, err := codec.Encode(c.p, randomBlob(300_000, 10))
	if err != nil {
		t.Fatal(err)
	}
	mp := metadata.Spec(c.p)
	for i, m := range c.com().Members {
		if m.Weight() == 4 {
			if err := p2p.Handle(c.nodes[i].host, mp, func(context.Context, peer.ID, []byte) ([]byte, error) {
				return other.Metadata.MarshalBCS(), nil
			}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := c.client.Read(ctx, c.com(), enc.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Read with a member lying about metadata: %v", err)
	}
}

// TestConfirmationRefused: nodes refuse slivers and confirmations for an unregistered
// blob, and stop confirming once the blob turns invalid.
func TestConfirmationRefused(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	c := newCluster(t, []int{4, 3, 2, 1}, 5, func(cfg *client.Config) { cfg.Retries = 1 })
	enc, err := codec.Encode(c.p, randomBlob(5000, 10))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.upload(ctx, enc, client.Registration{}, nil)
	var se *p2p.StatusError
	if !errors.Is(err, client.ErrNoQuorum) || !errors.As(err, &se) || se.Code != p2p.CodeForbidden {
		t.Fatalf("Upload of an unregistered blob: %v, want ErrNoQuorum with a forbidden answer", err)
	}
	for i, nd := range c.nodes {
		if ok, _ := nd.store.HasMetadata(ctx, enc.BlobID); ok {
			t.Fatalf("node %d stored metadata of an unregistered blob", i)
		}
	}

	// Registered, stored, confirmed; then invalidated: no more confirmations.
	reg := c.register(enc.BlobID, true)
	res, err := c.upload(ctx, enc, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-res.Done()
	c.ledger.SetInvalid(enc.BlobID)
	cp := confirm.Spec
	req := confirm.Request{BlobID: enc.BlobID, Epoch: c.com().Epoch, Deletable: true, Object: reg.Object}
	_, err = p2p.Call(ctx, c.chost, c.nodes[0].host.ID(), cp, req.Encode())
	if !errors.As(err, &se) || se.Code != p2p.CodeForbidden {
		t.Fatalf("confirmation of an invalid blob: %v, want forbidden", err)
	}
	// A confirmation for the wrong persistence (permanent, while only a deletable object
	// exists) is refused too, so a signature never covers a registration that is not there.
	c2 := newCluster(t, []int{4, 3, 2, 1}, 6)
	enc2, _ := c2.encodeAndRegister(randomBlob(100, 11)) // permanent registration
	_, err = c2.upload(ctx, enc2, client.Registration{Deletable: true, Object: [32]byte{9}}, nil)
	if !errors.Is(err, client.ErrNoQuorum) {
		t.Fatalf("Upload naming a wrong persistence: %v, want ErrNoQuorum", err)
	}
}

// TestLargeBlob stores and reads 20 MiB at n = 100 (WALRUS_LONG=1 or not -short).
func TestLargeBlob(t *testing.T) {
	if testing.Short() && os.Getenv("WALRUS_LONG") == "" {
		t.Skip("20 MiB at n=100 runs without -short or with WALRUS_LONG=1")
	}
	ctx := testCtx(t)
	c := newCluster(t, []int{40, 30, 20, 10}, 7)
	data := randomBlob(20<<20, 12)
	enc, reg := c.encodeAndRegister(data)
	start := time.Now()
	res, err := c.upload(ctx, enc, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("upload to quorum: %v", time.Since(start))
	<-res.Done()
	t.Logf("upload complete: %v", time.Since(start))
	start = time.Now()
	got, err := c.client.Read(ctx, c.com(), enc.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Read: %v", err)
	}
	t.Logf("read: %v", time.Since(start))
}

// slowHandler never answers until released (or its deadline passes): a node that accepts
// streams and then stalls.
func slowHandler(release <-chan struct{}) p2p.Handler {
	return func(ctx context.Context, _ peer.ID, _ []byte) ([]byte, error) {
		select {
		case <-ctx.Done():
		case <-release:
		}
		return nil, p2p.Errorf(p2p.CodeUnavailable, "slow")
	}
}

// TestSlowNodes: a stalled node does not stall a store (it is left to the background) nor
// a read (the client hedges to other members after HedgeDelay, far below the protocol
// timeouts of 30 s and 2 min).
func TestSlowNodes(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	release := make(chan struct{})
	defer close(release) // before the cleanups that wait for background uploads
	stall := func(c *cluster, i int) {
		mp, sp := metadata.Spec(c.p), sliver.Spec(c.p)
		for _, pr := range []p2p.Protocol{mp, sp} {
			if err := p2p.Handle(c.nodes[i].host, pr, slowHandler(release), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	// n = 10, f = 3; member 0 is the first of the heaviest, asked first for metadata.
	c := newCluster(t, []int{3, 3, 3, 1}, 8)
	first := 0
	for i, m := range c.com().Members {
		if m.Weight() == 3 {
			first = i
			break
		}
	}

	// Store: a 3-shard node stalls; 7 shards still make the quorum.
	stall(c, first)
	data := randomBlob(400_000, 13)
	enc, reg := c.encodeAndRegister(data)
	start := time.Now()
	res, err := c.upload(ctx, enc, reg, nil)
	if err != nil {
		t.Fatalf("Upload with a stalled node: %v", err)
	}
	if s := signers(t, c.com(), res.Certificate); s[first] || len(s) != 3 {
		t.Fatalf("certificate signers %v", s)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Upload took %v with a stalled node", d)
	}

	// Read from a second cluster whose first-asked node stalls after a complete upload.
	c2 := newCluster(t, []int{3, 3, 3, 1}, 9)
	enc2, reg2 := c2.encodeAndRegister(data)
	res2, err := c2.upload(ctx, enc2, reg2, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-res2.Done()
	stall(c2, first)
	start = time.Now()
	got, err := c2.client.Read(ctx, c2.com(), enc2.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Read with a stalled node: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Read took %v with a stalled node", d)
	}
}

// fakeHooks implements client.LedgerHooks over the fake ledger: registration is
// immediate, certification checks the certificate as staking's certify-blob does.
type fakeHooks struct {
	c         *cluster
	certified map[codec.BlobID]bool
}

func (h *fakeHooks) Committee(context.Context) (*epoch.Committee, error) { return h.c.com(), nil }

func (h *fakeHooks) RegisterBlob(_ context.Context, enc *codec.EncodedBlob, opts client.StoreOptions) (client.Registration, bool, error) {
	if h.certified[enc.BlobID] {
		return client.Registration{}, true, nil
	}
	return h.c.register(enc.BlobID, opts.Deletable), false, nil
}

func (h *fakeHooks) CertifyBlob(_ context.Context, id codec.BlobID, reg client.Registration, res *client.UploadResult) error {
	msg := confirm.Request{BlobID: id, Epoch: h.c.com().Epoch, Deletable: reg.Deletable, Object: reg.Object}
	if err := h.c.com().VerifyCertificate(msg.Message(testNetwork), res.Certificate, epoch.ThresholdQuorum); err != nil {
		return err
	}
	h.certified[id] = true
	return nil
}

// TestStoreFlow runs the whole store through the ledger hooks, then stores the same bytes
// again, which reuses the certified blob instead of uploading.
func TestStoreFlow(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	c := newCluster(t, []int{4, 3, 2, 1}, 10)
	hooks := &fakeHooks{c: c, certified: map[codec.BlobID]bool{}}
	data := randomBlob(70_000, 14)
	var last client.Progress
	res, err := c.client.Store(ctx, data, hooks, client.StoreOptions{Epochs: 3, Deletable: true,
		Progress: func(p client.Progress) { last = p }})
	if err != nil {
		t.Fatalf("Store: %v", err)
	}
	<-res.Upload.Done()
	if res.AlreadyCertified || !hooks.certified[res.BlobID] || !last.Quorum {
		t.Fatalf("Store result %+v, progress %+v", res, last)
	}
	again, err := c.client.Store(ctx, data, hooks, client.StoreOptions{Epochs: 3})
	if err != nil || !again.AlreadyCertified || again.BlobID != res.BlobID || again.Upload != nil {
		t.Fatalf("second Store: %+v, %v", again, err)
	}
	got, err := c.client.Read(ctx, c.com(), res.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Read: %v", err)
	}
}

// TestUploadCancelled: when the caller gives up before the quorum, Upload returns the
// context's error promptly and stops every upload goroutine (the leak check sees none).
func TestUploadCancelled(t *testing.T) {
	actorstest.CheckLeaks(t)
	c := newCluster(t, []int{4, 3, 2, 1}, 11)
	release := make(chan struct{})
	defer close(release)
	mp := metadata.Spec(c.p)
	for _, nd := range c.nodes {
		if err := p2p.Handle(nd.host, mp, slowHandler(release), nil); err != nil {
			t.Fatal(err)
		}
	}
	enc, reg := c.encodeAndRegister(randomBlob(1000, 15))
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.client.Upload(ctx, c.com(), enc, reg, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Upload to stalled nodes: %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Upload returned after %v", d)
	}
}

// TestReserveWaitsForCertificate: once members worth n-f shards have confirmed, the
// others get nothing until the caller reports the certificate committed (Certified), or
// until ReserveHold passes; then they get all their slivers.
func TestReserveWaitsForCertificate(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	for _, certify := range []bool{true, false} {
		c := newCluster(t, []int{4, 3, 2, 1}, 1, func(cfg *client.Config) { cfg.ReserveHold = 2 * time.Second })
		enc, reg := c.encodeAndRegister(randomBlob(1<<20, 31))
		var mu sync.Mutex
		var last client.Progress
		start := time.Now()
		res, err := c.client.Upload(ctx, c.com(), enc, reg, func(p client.Progress) { mu.Lock(); last = p; mu.Unlock() })
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		mu.Lock()
		held := last
		mu.Unlock()
		// Weights 4+3 = 7 of 10 reach n-f (f = 3), so the members of 2 and 1 shards wait.
		if held.NodesConfirmed != 2 || held.BytesSent >= held.BytesTotal {
			t.Fatalf("before Certified: progress %+v, want only the first two members done", held)
		}
		if certify {
			res.Certified()
		}
		<-res.Done()
		waited := time.Since(start)
		if last.NodesConfirmed != 4 || last.BytesSent != last.BytesTotal {
			t.Fatalf("certify=%v: final progress %+v", certify, last)
		}
		if certify && waited >= 2*time.Second || !certify && waited < 2*time.Second {
			t.Fatalf("certify=%v: the remaining members were released after %v (hold 2 s)", certify, waited)
		}
	}
}

// TestHostileSliverStreams: the member owning the first systematic sliver answers gets
// with responses broken in the ways a stream parser can be fooled (a sliver's length
// prefix, swapped slivers, an item length that runs into the next item, too few items,
// trailing bytes, a stream ending inside the body it announced). Reads parse responses as
// they arrive, writing slivers into the blob: each time the read still returns the right
// bytes, and the hostile handler was really asked.
func TestHostileSliverStreams(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	var logs lockedBuffer
	c := newCluster(t, []int{4, 3, 2, 1}, 5, func(cfg *client.Config) {
		cfg.Logger = debugLogger(&logs)
	})
	data := randomBlob(1<<20, 11)
	enc := c.storeAll(ctx, data)
	hostile := c.com().Owner(c.p.ShardForPair(enc.BlobID, 0))
	nd := c.nodes[hostile]
	sp := sliver.Spec(c.p)
	honest := func(body []byte) ([]sliver.ItemResult, error) { return honestGet(ctx, c, nd, body) }
	// Each mode, and what the client's log says about the hostile member.
	modes := map[string]func([]sliver.ItemResult) []byte{
		"length prefix": func(items []sliver.ItemResult) []byte {
			items[0].Sliver = append([]byte{0x02}, items[0].Sliver[3:]...) // claims 2 bytes
			return sliver.EncodeItemResults(items)
		},
		"swapped": func(items []sliver.ItemResult) []byte {
			if len(items) > 1 {
				items[0], items[1] = items[1], items[0]
			} else {
				items[0].Sliver[len(items[0].Sliver)-1] ^= 1 // another index
			}
			return sliver.EncodeItemResults(items)
		},
		"item length": func(items []sliver.ItemResult) []byte {
			b := sliver.EncodeItemResults(items)
			b[3] += 100 // the first item's u32 length, low byte: runs into the next item
			return b
		},
		"too few items": func(items []sliver.ItemResult) []byte {
			b := sliver.EncodeItemResults(items[:len(items)-1])
			binary.LittleEndian.PutUint16(b, uint16(len(items)))
			return b
		},
		"trailing bytes": func(items []sliver.ItemResult) []byte {
			return append(sliver.EncodeItemResults(items), "junk"...)
		},
	}
	detected := map[string]string{
		"length prefix": "length prefix", "swapped": "asked for sliver", "item length": "malformed",
		"too few items": "malformed", "trailing bytes": "not understood",
	}
	var calls atomic.Int64
	for name, mode := range modes {
		if err := p2p.Handle(nd.host, sp, func(_ context.Context, _ peer.ID, body []byte) ([]byte, error) {
			calls.Add(1)
			items, err := honest(body)
			if err != nil {
				return nil, err
			}
			return mode(items), nil
		}, nil); err != nil {
			t.Fatal(err)
		}
		calls.Store(0)
		logs.Reset()
		got, err := c.client.Read(ctx, c.com(), enc.BlobID)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s: read: %v", name, err)
		}
		if calls.Load() == 0 {
			t.Fatalf("%s: the hostile member was not asked", name)
		}
		if l := logs.String(); !strings.Contains(l, "read from node failed") || !strings.Contains(l, detected[name]) {
			t.Fatalf("%s: not reported as %q:\n%s", name, detected[name], l)
		}
	}
	// A stream that ends inside the body it announced.
	nd.host.SetStreamHandler(sp.ID, func(s network.Stream) {
		defer s.Close()
		calls.Add(1)
		req, err := p2p.ReadFrame(s, sp.MaxRequest)
		if err != nil {
			return
		}
		items, err := honest(req)
		if err != nil {
			return
		}
		body := append([]byte{0}, sliver.EncodeItemResults(items)...)
		frame := binary.AppendUvarint(nil, uint64(len(body)))
		_, _ = s.Write(append(frame, body[:len(body)/2]...))
	})
	calls.Store(0)
	logs.Reset()
	got, err := c.client.Read(ctx, c.com(), enc.BlobID)
	if err != nil || !bytes.Equal(got, data) || calls.Load() == 0 {
		t.Fatalf("truncated stream: read: %v (asked %d times)", err, calls.Load())
	}
	if l := logs.String(); !strings.Contains(l, "truncated") {
		t.Fatalf("truncated stream not reported:\n%s", l)
	}
}

// lockedBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// honestGet builds the items an honest member nd would send for the get request body.
func honestGet(ctx context.Context, c *cluster, nd *testNode, body []byte) ([]sliver.ItemResult, error) {
	req, err := sliver.DecodeRequest(c.p, body)
	if err != nil {
		return nil, err
	}
	items := make([]sliver.ItemResult, len(req.Refs))
	for i, ref := range req.Refs {
		sl, err := nd.store.Sliver(ctx, req.BlobID, c.p.ShardForPair(req.BlobID, int(ref.Index)), ref.Axis)
		if err != nil {
			return nil, err
		}
		items[i].Sliver = sl.MarshalBCS()
	}
	return items, nil
}

// TestBusyMemberRead: a read keeps at most ReadDepth requests in flight to one member,
// and a member that answers "busy" while other requests are in flight is asked again
// after a backoff, not replaced: the read asks for exactly the R systematic slivers (no
// others, so nothing to decode) and the busy member serves its share after refusing all
// four requests it had in flight (one burst, one backoff: not four strikes of Retries).
func TestBusyMemberRead(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	// n = 100 (R = 34, a replacement margin of 4) and one sliver per request, so a
	// refusal leaves dozens of requests in flight.
	// No hedge: the requests are slow on purpose.
	c := newCluster(t, []int{40, 30, 20, 10}, 6, func(cfg *client.Config) {
		// A backoff far longer than the burst of refusals takes to arrive.
		cfg.ReadRequestBytes, cfg.HedgeDelay, cfg.RetryDelay = 1, time.Minute, 300*time.Millisecond
	})
	data := randomBlob(1<<20, 14)
	enc := c.storeAll(ctx, data)
	busyMember := c.com().Owner(c.p.ShardForPair(enc.BlobID, 0))
	sp := sliver.Spec(c.p)
	var mu sync.Mutex
	requested := map[int]bool{} // primary indices asked for, refused or not
	served := map[int]int{}     // primary index -> times served
	var refusals []time.Time
	inflight := make([]int, len(c.nodes))
	most := make([]int, len(c.nodes))
	for i, nd := range c.nodes {
		if err := p2p.Handle(nd.host, sp, func(_ context.Context, _ peer.ID, body []byte) ([]byte, error) {
			req, err := sliver.DecodeRequest(c.p, body)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			for _, ref := range req.Refs {
				requested[int(ref.Index)] = true
			}
			if i == busyMember && len(refusals) < 4 {
				refusals = append(refusals, time.Now())
				mu.Unlock()
				return nil, p2p.Errorf(p2p.CodeUnavailable, "node busy")
			}
			for _, ref := range req.Refs {
				served[int(ref.Index)]++
			}
			inflight[i]++
			most[i] = max(most[i], inflight[i])
			mu.Unlock()
			defer func() {
				mu.Lock()
				inflight[i]--
				mu.Unlock()
			}()
			time.Sleep(100 * time.Millisecond) // in flight long enough to overlap
			return honestResponse(ctx, c, nd, body)
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.client.Read(ctx, c.com(), enc.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(refusals) != 4 {
		t.Fatalf("busy member refused %d times, want 4", len(refusals))
	}
	for i := range c.p.R {
		if served[i] != 1 {
			t.Fatalf("systematic sliver %d served %d times, want once: %v", i, served[i], served)
		}
	}
	if len(requested) != c.p.R {
		t.Fatalf("%d slivers asked for, want the R = %d systematic ones: %v", len(requested), c.p.R, requested)
	}
	for i, m := range most {
		if m > 4 {
			t.Fatalf("member %d had %d requests in flight, ReadDepth is 4", i, m)
		}
	}
}

// TestStalledMemberReplacedAtOnce: when a member holding many of the systematic slivers
// stops answering, the first hedge asks others for all it was asked and all that waited
// for it (ReadDepth lanes in flight, the rest queued), so one hedge round finishes the
// read: had the replacement fallen short, no later hedge would fire (nothing else turns
// slow) and the read would wait for the stalled requests' two-minute timeout, beyond this
// test's deadline.
func TestStalledMemberReplacedAtOnce(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	var logs lockedBuffer
	// Two slivers per request, so the stalled member's four lanes hold more slivers than
	// one margin (R/8 = 4 at n = 100) would replace.
	data := randomBlob(2<<20, 16)
	probe, err := codec.Encode(codec.MustParams(100), data)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := probe.Metadata.SymbolSize(codec.MustParams(100))
	if err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, []int{40, 30, 20, 10}, 15, func(cfg *client.Config) {
		cfg.ReadRequestBytes, cfg.HedgeDelay = 2*codec.MustParams(100).PrimarySliverSize(ss), 300*time.Millisecond
		cfg.Logger = debugLogger(&logs)
	})
	enc := c.storeAll(ctx, data)
	stalled := c.com().Owner(c.p.ShardForPair(enc.BlobID, 0))
	held := 0
	for i := range c.p.R {
		if c.com().Owner(c.p.ShardForPair(enc.BlobID, i)) == stalled {
			held++
		}
	}
	if held <= 2*4+c.p.R/8 {
		t.Fatalf("fixture: the stalled member holds %d systematic slivers, want more than its lanes and a margin", held)
	}
	release := make(chan struct{})
	defer close(release)
	sp := sliver.Spec(c.p)
	if err := p2p.Handle(c.nodes[stalled].host, sp, slowHandler(release), nil); err != nil {
		t.Fatal(err)
	}
	got, err := c.client.Read(ctx, c.com(), enc.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with a stalled member: %v", err)
	}
	if n := strings.Count(logs.String(), "node slow"); n != 1 {
		t.Fatalf("%d members reported slow, want 1:\n%s", n, logs.String())
	}
}

// storeAll uploads data to every member and waits until all of them hold their slivers.
func (c *cluster) storeAll(ctx context.Context, data []byte) *codec.EncodedBlob {
	c.t.Helper()
	enc, reg := c.encodeAndRegister(data)
	res, err := c.upload(ctx, enc, reg, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	<-res.Done()
	return enc
}

// debugLogger logs everything, as text, to w.
func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestAllMembersSlow: every request takes longer than HedgeDelay, so at the first hedge
// every member with requests out counts as slow and nobody is left to replace them; each
// member that then answers is asked for the rest again and the read completes.
func TestAllMembersSlow(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	c := newCluster(t, []int{40, 30, 20, 10}, 17, func(cfg *client.Config) {
		cfg.ReadRequestBytes, cfg.HedgeDelay = 1, 100*time.Millisecond
	})
	data := randomBlob(1<<20, 18)
	enc := c.storeAll(ctx, data)
	sp := sliver.Spec(c.p)
	for _, nd := range c.nodes {
		if err := p2p.Handle(nd.host, sp, func(_ context.Context, _ peer.ID, body []byte) ([]byte, error) {
			time.Sleep(250 * time.Millisecond)
			return honestResponse(ctx, c, nd, body)
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.client.Read(ctx, c.com(), enc.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read with every member slower than the hedge: %v", err)
	}
}

// honestResponse is honestGet's items as a response body.
func honestResponse(ctx context.Context, c *cluster, nd *testNode, body []byte) ([]byte, error) {
	items, err := honestGet(ctx, c, nd, body)
	if err != nil {
		return nil, err
	}
	return sliver.EncodeItemResults(items), nil
}
