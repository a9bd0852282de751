package testnet_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/nodestatus"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

func TestHealthReady(t *testing.T) {
	serve := func(status int, body string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/health" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	top1 := serve(200, `{"status":"ok","height":1}`)
	nested2 := serve(200, `{"ledger":{"height":2}}`)
	zero := serve(200, `{"status":"starting","height":0}`)
	for _, tc := range []struct {
		name  string
		addrs []string
		ready bool
	}{
		{"top-level height", []string{top1}, true},
		{"nested height", []string{nested2}, true},
		{"one node committed", []string{zero, top1}, true},
		{"nothing committed", []string{zero, zero}, false},
		{"no height field", []string{serve(200, `{"status":"ok"}`)}, false},
		{"garbage", []string{serve(200, `not json`)}, false},
		{"negative height", []string{serve(200, `{"height":-1}`)}, false},
		{"error status", []string{serve(503, `{"height":5}`)}, false},
		{"a node down", []string{top1, "127.0.0.1:1"}, false},
		{"no API", []string{""}, false},
	} {
		l := &testnet.Layout{}
		for _, a := range tc.addrs {
			l.Nodes = append(l.Nodes, testnet.NodeFiles{APIAddr: a})
		}
		ok, err := testnet.HealthReady(context.Background(), l)
		if ok != tc.ready {
			t.Errorf("%s: ready=%v (%v), want %v", tc.name, ok, err, tc.ready)
		}
		if !ok && err == nil {
			t.Errorf("%s: not ready without a reason", tc.name)
		}
	}
}

// TestHealthCountsStoreAndGC: a node's report on itself (/walrus/node-status/1, what `walrus
// health` shows) follows what it holds: a store raises every node's blobs and slivers held,
// the sliver bytes by exactly the slivers' lengths and the bytes stored by at least them;
// deleting the blob makes garbage collection take the blobs and slivers held back down. Node
// 0's /v1/health and /metrics say the same.
func TestHealthCountsStoreAndGC(t *testing.T) {
	c := testnet.New(t, 4, testnet.WithGenerate(func(o *testnet.Options) {
		o.DisableAPI = false
		o.NodeConfig = func(_ int, nc *node.Config) { nc.GC.CompactAfter = 1 } // compact after any removal
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	status := func(i int) nodestatus.Status {
		t.Helper()
		n := c.Node(i)
		s.Host.Peerstore().AddAddrs(n.PeerID(), n.Addrs(), time.Hour)
		resp, err := p2p.Call(ctx, s.Host, n.PeerID(), nodestatus.Spec, nodestatus.EncodeRequest())
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		st, err := nodestatus.Decode(resp)
		if err != nil || st.Version != nodestatus.Version {
			t.Fatalf("node %d: %+v, %v", i, st, err)
		}
		return st
	}
	// wait polls until every node's status satisfies ok (the counts are walks redone at
	// most every second).
	wait := func(what string, ok func(i int, st nodestatus.Status) bool) []nodestatus.Status {
		t.Helper()
		for {
			sts := make([]nodestatus.Status, c.N())
			all := true
			for i := range sts {
				sts[i] = status(i)
				all = all && ok(i, sts[i])
			}
			if all {
				return sts
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: still %+v", what, sts)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	before := wait("start", func(int, nodestatus.Status) bool { return true })
	for i, st := range before {
		if st.BlobsHeld != 0 || st.SliversHeld != 0 || st.SliverBytesHeld != 0 || st.BytesStored == 0 {
			t.Fatalf("node %d before any store: %+v", i, st)
		}
	}

	// Store a deletable blob the way Client.Store does, keeping its registration.
	data := make([]byte, 1_800_000) // each node's pairs arrive in batches over 1 MiB, ingested as table files
	rand.NewChaCha8([32]byte{7}).Read(data)
	p := s.Client.Params()
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	reg, _, err := s.Ledger.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 5, Deletable: true})
	if err != nil {
		t.Fatal(err)
	}
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Client.Upload(ctx, com, enc, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ledger.CertifyBlob(ctx, enc.BlobID, reg, res); err != nil {
		t.Fatal(err)
	}
	res.Certified()
	<-res.Done()

	// Every node holds its shards' pairs: 2 slivers and one pair's bytes per shard.
	pair := uint64(p.PrimarySliverSize(enc.SymbolSize) + p.SecondarySliverSize(enc.SymbolSize))
	after := wait("after the store", func(i int, st nodestatus.Status) bool {
		sh := uint64(st.ShardsHeld)
		return st.BlobsHeld == 1 && st.SliversHeld == 2*sh && st.SliverBytesHeld == sh*pair
	})
	var shards int
	for i, st := range after {
		shards += int(st.ShardsHeld)
		if st.BytesStored < before[i].BytesStored+st.SliverBytesHeld {
			t.Errorf("node %d: bytes stored %d -> %d, holding %d sliver bytes more", i, before[i].BytesStored, st.BytesStored, st.SliverBytesHeld)
		}
	}
	if shards != p.N {
		t.Fatalf("nodes hold %d shards, want %d", shards, p.N)
	}
	api := c.Layout.Nodes[0].APIAddr
	var h node.Health
	if err := json.Unmarshal(httpGet(t, "http://"+api+"/v1/health"), &h); err != nil ||
		h.SliversHeld != after[0].SliversHeld || h.SliverBytesHeld != after[0].SliverBytesHeld || h.BlobsHeld != 1 {
		t.Errorf("node 0's /v1/health %+v (%v), its status %+v", h, err, after[0])
	}
	metrics := string(httpGet(t, "http://"+api+"/metrics"))
	// The text format writes values as %g (1.414292e+06).
	for _, want := range []string{fmt.Sprintf("walrus_slivers_held %s\n", strconv.FormatFloat(float64(after[0].SliversHeld), 'g', -1, 64)),
		fmt.Sprintf("walrus_sliver_bytes_held %s\n", strconv.FormatFloat(float64(after[0].SliverBytesHeld), 'g', -1, 64)), "walrus_blobs_held 1\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("node 0's /metrics lack %q", want)
		}
	}

	// Deleted, the blob is garbage: every node's counts go back down, and so does what its
	// datastore takes on disk once garbage collection has compacted it.
	if _, err := s.Ledger.Submit(ctx, &staking.DeleteBlob{Blob: reg.Object}); err != nil {
		t.Fatal(err)
	}
	gone := wait("after the delete", func(i int, st nodestatus.Status) bool {
		return st.BlobsHeld == 0 && st.SliversHeld == 0 && st.SliverBytesHeld == 0 && st.GCBlobs == 1 &&
			st.BytesStored+after[i].SliverBytesHeld/2 < after[i].BytesStored
	})
	for i, st := range gone {
		if st.GCBytes < after[i].SliverBytesHeld {
			t.Errorf("node %d: GC removed %d bytes, it held %d sliver bytes", i, st.GCBytes, after[i].SliverBytesHeld)
		}
		t.Logf("node %d: bytes stored %d before, %d with the blob, %d after GC", i, before[i].BytesStored, after[i].BytesStored, st.BytesStored)
	}
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	return b
}
