package blobsync_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/blobsync"
	"github.com/walrus-go/walrus-go/node/dataplane"
	"github.com/walrus-go/walrus-go/node/dataplane/dataplanetest"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
)

// network is a committee of real data-plane services on loopback hosts (n = 10, f = 3;
// weights 1, 2, 4 and 3), each holding the pairs of its shards of one blob, and a fetcher
// acting as the member of weight 1, which has lost everything. Members are ordered by node
// ID, so byWeight finds them.
type network struct {
	p      codec.Params
	com    *epoch.Committee
	enc    *codec.EncodedBlob
	hosts  []host.Host
	stores []*blobstore.Store
	keys   []*bls.SecretKey
	self   int
}

// byWeight is the index of the member holding w shards.
func byWeight(com *epoch.Committee, w int) int {
	for i := range com.Members {
		if com.Members[i].Weight() == w {
			return i
		}
	}
	panic("no member of that weight")
}

func newNetwork(t *testing.T, size int) *network {
	t.Helper()
	p := codec.MustParams(10)
	com, keys := epochtest.Committee(1, []int{1, 2, 4, 3}, 7)
	rng := rand.New(rand.NewSource(3))
	data := make([]byte, size)
	rng.Read(data)
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	nw := &network{p: p, com: com, enc: enc, keys: keys, self: byWeight(com, 1)}
	nw.hosts = memberHosts(t, com, rng)
	nw.stores = serve(t, p, com, keys, enc, nw.hosts, nw.self)
	return nw
}

// memberHosts starts a loopback host per member and writes its peer ID and addresses into
// the committee.
func memberHosts(tb testing.TB, com *epoch.Committee, rng *rand.Rand) []host.Host {
	var hosts []host.Host
	for i := range com.Members {
		h := p2ptest.Host(tb, rng)
		com.Members[i].PeerID = string(h.ID())
		for _, a := range h.Addrs() {
			com.Members[i].Addrs = append(com.Members[i].Addrs, a.String())
		}
		hosts = append(hosts, h)
	}
	return hosts
}

// serve gives every member but skip a store holding the pairs of its shards of enc and a
// data-plane service on its host; skip gets an empty store and no service.
func serve(tb testing.TB, p codec.Params, com *epoch.Committee, keys []*bls.SecretKey, enc *codec.EncodedBlob,
	hosts []host.Host, skip int) []*blobstore.Store {
	led := dataplanetest.NewLedger(p, epoch.NetworkID{9}, com)
	led.Register(enc.BlobID, false)
	ctx := context.Background()
	var stores []*blobstore.Store
	for i := range com.Members {
		st := blobstore.New(dssync.MutexWrap(datastore.NewMapDatastore()), p)
		stores = append(stores, st)
		if i == skip {
			continue // it lost everything
		}
		if err := st.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
			tb.Fatal(err)
		}
		for _, sh := range com.Members[i].Shards {
			pr, se := enc.Pair(p.PairIndexForShard(enc.BlobID, int(sh)))
			if err := st.PutSlivers(ctx, enc.BlobID, int(sh), pr, se); err != nil {
				tb.Fatal(err)
			}
		}
		sys, err := actors.New("node")
		if err != nil {
			tb.Fatal(err)
		}
		svc, err := dataplane.New(dataplane.Config{Host: hosts[i], Store: st, Ledger: led, Key: keys[i], System: sys, Workers: 1, Queue: 8})
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { svc.Close(); _ = sys.Stop() })
	}
	return stores
}

// lost is every sliver of the fetching member's shards.
func (nw *network) lost() []blobsync.Target {
	var out []blobsync.Target
	for _, sh := range nw.com.Members[nw.self].Shards {
		pair := nw.p.PairIndexForShard(nw.enc.BlobID, int(sh))
		out = append(out, blobsync.Target{Axis: codec.AxisPrimary, Index: pair},
			blobsync.Target{Axis: codec.AxisSecondary, Index: nw.p.SecondaryIndexOfPair(pair)})
	}
	return out
}

func (nw *network) fetcher() *blobsync.Fetcher {
	return &blobsync.Fetcher{Host: nw.hosts[nw.self], Params: nw.p, Self: nw.com.Members[nw.self].Node}
}

func (nw *network) check(t *testing.T, res *blobsync.Result) {
	t.Helper()
	for _, tg := range nw.lost() {
		got := res.Slivers[tg]
		pair := tg.Index
		if tg.Axis == codec.AxisSecondary {
			pair = nw.p.SecondaryIndexOfPair(tg.Index)
		}
		pr, se := nw.enc.Pair(pair)
		want := pr
		if tg.Axis == codec.AxisSecondary {
			want = se
		}
		if got == nil || !bytes.Equal(got.Data, want.Data) || got.Index != want.Index {
			t.Fatalf("%s sliver %d not recovered right", tg.Axis, tg.Index)
		}
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestRecoverLostNode: a member that lost all its slivers gets them back from the others'
// symbols, moving little more than the threshold needs.
func TestRecoverLostNode(t *testing.T) {
	for _, size := range []int{1, 5000, 200_000} {
		nw := newNetwork(t, size)
		res, err := nw.fetcher().Recover(ctx(t), nw.com, nw.enc.BlobID, &nw.enc.Metadata, nw.lost())
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		nw.check(t, res)
		// Each target asks the threshold plus one (margin at n = 10): never the whole blob.
		if max := res.Stats.Needed + len(nw.lost()); res.Stats.Symbols > max || res.Stats.Failed != 0 {
			t.Fatalf("size %d: %d symbols for %d needed (max %d), %d failed", size, res.Stats.Symbols, res.Stats.Needed, max, res.Stats.Failed)
		}
	}
}

// TestRecoverAroundLiarAndSilent: a member that answers with well-formed symbols that do
// not verify is routed around; with a member that holds nothing as well, more than f shards
// are faulty and recovery fails cleanly. The liar lies over version 2 (a flipped cell, or
// a changed multiproof hash), or serves version 1 only, and lies there (the fetcher falls
// back to it).
func TestRecoverAroundLiarAndSilent(t *testing.T) {
	for _, how := range []string{"v1", "v2 cell", "v2 proof"} {
		t.Run(how, func(t *testing.T) { testLiarAndSilent(t, how) })
	}
}

// lie makes the member of weight 2 a liar that answers with its real symbols' shape but
// flipped data: over version 1 only (how "v1"), or over version 2 with a flipped cell or
// proof hash.
func (nw *network) lie(t *testing.T, how string) int {
	li := byWeight(nw.com, 2)
	liar := nw.hosts[li]
	liar.RemoveStreamHandler(recovery.ID)
	liar.RemoveStreamHandler(recovery.ID2)
	honest := nw.stores[li]
	source := func(ctx context.Context, id codec.BlobID, target codec.Axis, sh uint16) (*codec.ExpandedSliver, bool) {
		pair := nw.p.PairIndexForShard(id, int(sh))
		src, idx := codec.AxisPrimary, pair
		if target == codec.AxisPrimary {
			src, idx = codec.AxisSecondary, nw.p.SecondaryIndexOfPair(pair)
		}
		sl, err := honest.Sliver(ctx, id, int(sh), src)
		if err != nil || int(sl.Index) != idx {
			return nil, false
		}
		x, err := codec.ExpandSliver(nw.p, &sl)
		return x, err == nil
	}
	if how == "v1" {
		if err := p2p.Handle(liar, recovery.Spec(nw.p), func(ctx context.Context, _ peer.ID, body []byte) ([]byte, error) {
			targets, err := recovery.DecodeRequest(nw.p, body)
			if err != nil {
				return nil, err
			}
			results := make([]recovery.Result, len(targets))
			for i, tg := range targets {
				for _, sh := range nw.com.Members[li].Shards {
					x, ok := source(ctx, tg.BlobID, tg.Axis, sh)
					if !ok {
						continue
					}
					sym, _ := x.RecoverySymbol(int(tg.Index))
					sym.Data[0] ^= 1
					results[i].Symbols = append(results[i].Symbols, sym.MarshalBCS())
				}
			}
			return recovery.EncodeResponse(results), nil
		}, nil); err != nil {
			t.Fatal(err)
		}
		return li
	}
	if err := p2p.Handle(liar, recovery.Spec2(nw.p), func(ctx context.Context, _ peer.ID, body []byte) ([]byte, error) {
		items, err := recovery.DecodeRequest2(nw.p, body)
		if err != nil {
			return nil, err
		}
		results := make([]recovery.ItemResult, len(items))
		for i, it := range items {
			for _, sh := range nw.com.Members[li].Shards {
				x, ok := source(ctx, it.BlobID, it.Axis, sh)
				if !ok {
					continue
				}
				b, _ := x.SymbolBatch(it.Targets)
				if how == "v2 proof" && len(b.Proof.Hashes) > 0 {
					b.Proof.Hashes[len(b.Proof.Hashes)-1][0] ^= 1
				} else {
					b.Data[len(b.Data)-1][0] ^= 1
				}
				results[i].SymbolSize = int(x.Sliver.SymbolSize)
				results[i].Batches = append(results[i].Batches, b)
			}
		}
		return recovery.EncodeResponse2(results), nil
	}, nil); err != nil {
		t.Fatal(err)
	}
	return li
}

func testLiarAndSilent(t *testing.T, how string) {
	nw := newNetwork(t, 50_000)
	nw.lie(t, how)
	si := byWeight(nw.com, 4)
	// The member of weight 4 holds nothing any more.
	for _, sh := range nw.com.Members[si].Shards {
		if err := nw.stores[si].DeleteBlob(context.Background(), nw.enc.BlobID, []uint16{sh}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := nw.fetcher().Recover(ctx(t), nw.com, nw.enc.BlobID, &nw.enc.Metadata, nw.lost())
	if err == nil {
		// The liar and the empty member failed; the member of weight 3 alone cannot cover
		// the thresholds.
		t.Fatalf("recovered with two of three sources down: %+v", res.Stats)
	}
	if !errors.Is(err, blobsync.ErrNotEnough) || res.Stats.Failed < 1 {
		t.Fatalf("err %v, stats %+v: want ErrNotEnough after a failed member", err, res.Stats)
	}
	// With the silent member's slivers back, the liar alone is routed around.
	ctx := context.Background()
	if err := nw.stores[si].PutMetadata(ctx, nw.enc.BlobID, &nw.enc.Metadata); err != nil {
		t.Fatal(err)
	}
	for _, sh := range nw.com.Members[si].Shards {
		pr, se := nw.enc.Pair(nw.p.PairIndexForShard(nw.enc.BlobID, int(sh)))
		if err := nw.stores[si].PutSlivers(ctx, nw.enc.BlobID, int(sh), pr, se); err != nil {
			t.Fatal(err)
		}
	}
	res, err = nw.fetcher().Recover(ctx, nw.com, nw.enc.BlobID, &nw.enc.Metadata, nw.lost())
	if err != nil {
		t.Fatalf("with one liar: %v (%+v)", err, res.Stats)
	}
	nw.check(t, res)
	if res.Stats.Failed != 1 {
		t.Fatalf("stats %+v: want exactly the liar failed", res.Stats)
	}
	if v1 := how == "v1"; v1 != (res.Stats.V1 == 1) {
		t.Fatalf("stats %+v: want the liar alone asked over version 1: %v", res.Stats, v1)
	}
}

// TestServeV2: a member answers a version-2 request with at most limit sources per item,
// every batch verifying, all its usable sources without a limit, and refuses an item of an
// unknown blob; a repeated request gets the same answer.
func TestServeV2(t *testing.T) {
	nw := newNetwork(t, 20_000)
	m := byWeight(nw.com, 4)
	pid, err := p2p.MemberPeer(nw.hosts[nw.self], &nw.com.Members[m])
	if err != nil {
		t.Fatal(err)
	}
	all := make([]int, nw.p.N)
	for i := range all {
		all[i] = i
	}
	items := []recovery.Item{
		{BlobID: nw.enc.BlobID, Axis: codec.AxisSecondary, Targets: all, Limit: 2},
		{BlobID: codec.BlobID{1}, Axis: codec.AxisPrimary, Targets: []int{3}},
		{BlobID: nw.enc.BlobID, Axis: codec.AxisPrimary, Targets: []int{0, 8, 9}},
	}
	s := int(nw.enc.SymbolSize)
	var codes []p2p.Code
	var got [][]codec.SymbolBatch
	err = p2p.CallStream(ctx(t), nw.hosts[nw.self], pid, recovery.Spec2(nw.p), [][]byte{recovery.EncodeRequest2(nw.p.N, items)},
		func(body io.Reader, n int) (err error) {
			codes, got, err = recovery.ReadResponse2(nw.p, body, n, items, s)
			return err
		})
	if err != nil {
		t.Fatal(err)
	}
	if codes[0] != 0 || codes[1] != p2p.CodeForbidden || codes[2] != 0 {
		t.Fatalf("codes %v", codes)
	}
	if len(got[0]) != 2 || len(got[2]) != nw.com.Members[m].Weight() {
		t.Fatalf("%d and %d sources, want 2 and %d", len(got[0]), len(got[2]), nw.com.Members[m].Weight())
	}
	for _, i := range []int{0, 2} {
		for j := range got[i] {
			if _, err := codec.VerifySymbolBatch(nw.p, &nw.enc.Metadata, &got[i][j]); err != nil {
				t.Fatalf("item %d source %d: %v", i, got[i][j].Index, err)
			}
		}
	}
}
