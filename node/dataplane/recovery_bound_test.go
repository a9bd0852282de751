package dataplane_test

import (
	"bytes"
	"context"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/host"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/dataplane"
	"github.com/walrus-go/walrus-go/node/dataplane/dataplanetest"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
	"github.com/walrus-go/walrus-go/staking"
)

// gatedLedger holds every look-up of blob slow (each recovery request's first step, on a
// worker) until release is closed, and says on entered that one is held.
type gatedLedger struct {
	*dataplanetest.Ledger
	slow    codec.BlobID
	entered chan struct{}
	release chan struct{}
}

func (l *gatedLedger) BlobInfo(id codec.BlobID) (staking.BlobStatus, []staking.Blob) {
	if id == l.slow {
		l.entered <- struct{}{}
		<-l.release
	}
	return l.Ledger.BlobInfo(id)
}

// TestRecoveryBoundedPerPeer: a peer with RecoveryPerPeer recovery-symbol requests in
// flight (held on the workers) gets CodeUnavailable ("busy") for every further one, of
// either version, while another peer is still served from the free workers; once the held
// requests end, the first peer is served again. Without the bound the first peer's flood
// takes every worker and the other peer waits behind it.
func TestRecoveryBoundedPerPeer(t *testing.T) {
	p := codec.MustParams(10)
	com, keys := epochtest.Committee(3, []int{6, 4}, 42)
	rng := rand.New(rand.NewSource(7))
	node, flooder, other := p2ptest.Host(t, rng), p2ptest.Host(t, rng), p2ptest.Host(t, rng)
	flooder.Peerstore().AddAddrs(node.ID(), node.Addrs(), time.Hour)
	other.Peerstore().AddAddrs(node.ID(), node.Addrs(), time.Hour)

	mk := func(n int, seed byte) *codec.EncodedBlob {
		data := bytes.Repeat([]byte{seed}, n)
		for i := range data {
			data[i] ^= byte(i * 13)
		}
		enc, err := codec.Encode(p, data)
		if err != nil {
			t.Fatal(err)
		}
		return enc
	}
	slow, fast := mk(3000, 1), mk(2000, 2)
	base := dataplanetest.NewLedger(p, network, com)
	for i, enc := range []*codec.EncodedBlob{slow, fast} {
		base.Add(staking.Blob{ID: staking.ObjectID{byte(10 + i)}, BlobID: enc.BlobID, Storage: staking.Storage{Start: 3, End: 9}})
	}
	led := &gatedLedger{Ledger: base, slow: slow.BlobID, entered: make(chan struct{}, 64), release: make(chan struct{})}
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(led.release) }) }
	t.Cleanup(unblock)

	store := blobstore.New(dssync.MutexWrap(datastore.NewMapDatastore()), p)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The node stores the fast blob's pairs of its shards: the other peer's answer has
	// symbols.
	if err := store.PutMetadata(ctx, fast.BlobID, &fast.Metadata); err != nil {
		t.Fatal(err)
	}
	for _, sh := range com.Members[0].Shards {
		pr, se := fast.Pair(p.PairIndexForShard(fast.BlobID, int(sh)))
		if err := store.PutSlivers(ctx, fast.BlobID, int(sh), pr, se); err != nil {
			t.Fatal(err)
		}
	}
	sys, err := actors.New("node")
	if err != nil {
		t.Fatal(err)
	}
	const bound = 2
	svc, err := dataplane.New(dataplane.Config{Host: node, Store: store, Ledger: led, Key: keys[0], System: sys,
		Workers: 4, Queue: 32, RecoveryPerPeer: bound})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unblock(); svc.Close(); _ = sys.Stop() })

	slowReq2 := recovery.EncodeRequest2(p.N, []recovery.Item{{BlobID: slow.BlobID, Axis: codec.AxisPrimary, Targets: []int{0}}})
	slowReq1 := recovery.EncodeRequest([]recovery.Target{{BlobID: slow.BlobID, Axis: codec.AxisPrimary, Index: 0}})
	call := func(from host.Host, pr p2p.Protocol, body []byte) ([]byte, error) {
		cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
		defer ccancel()
		return p2p.Call(cctx, from, node.ID(), pr, body)
	}

	// The flooder's first `bound` requests are admitted and held on workers.
	held := make(chan error, bound)
	for range bound {
		go func() {
			_, err := call(flooder, recovery.Spec2(p), slowReq2)
			held <- err
		}()
	}
	for i := range bound {
		select {
		case <-led.entered:
		case <-ctx.Done():
			t.Fatalf("only %d of the flooder's first %d requests reached a worker", i, bound)
		}
	}

	// Every further request of the flooder, of either version, is refused as busy.
	const flood = 8
	refused := make(chan error, flood)
	for i := range flood {
		go func() {
			if i%2 == 0 {
				_, err := call(flooder, recovery.Spec2(p), slowReq2)
				refused <- err
			} else {
				_, err := call(flooder, recovery.Spec(p), slowReq1)
				refused <- err
			}
		}()
	}
	for range flood {
		wantCode(t, "a request beyond the flooder's bound", <-refused, p2p.CodeUnavailable)
	}

	// Another peer is served meanwhile, with symbols of the fast blob.
	target := p.PairIndexForShard(fast.BlobID, int(com.Members[1].Shards[0]))
	items := []recovery.Item{{BlobID: fast.BlobID, Axis: codec.AxisPrimary, Targets: []int{target}}}
	resp, err := call(other, recovery.Spec2(p), recovery.EncodeRequest2(p.N, items))
	if err != nil {
		t.Fatalf("another peer, while the flooder is at its bound: %v", err)
	}
	symbolSize, err := fast.Metadata.SymbolSize(p)
	if err != nil {
		t.Fatal(err)
	}
	codes, batches, err := recovery.ReadResponse2(p, bytes.NewReader(resp), len(resp), items, symbolSize)
	if err != nil || codes[0] != 0 || len(batches[0]) == 0 {
		t.Fatalf("another peer's answer: codes %v, %d batches, %v", codes, len(batches[0]), err)
	}
	for i := range batches[0] {
		if _, err := codec.VerifySymbolBatch(p, &fast.Metadata, &batches[0][i]); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}

	// The held requests end; the flooder's slots are given back.
	unblock()
	for range bound {
		if err := <-held; err != nil {
			t.Fatalf("a held request: %v", err)
		}
	}
	if _, err := call(flooder, recovery.Spec2(p), slowReq2); err != nil {
		t.Fatalf("the flooder after its requests ended: %v", err)
	}
}
