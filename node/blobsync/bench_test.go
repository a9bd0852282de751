package blobsync_test

import (
	"context"
	"math/rand"
	"testing"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/host"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/blobsync"
	"github.com/walrus-go/walrus-go/node/dataplane"
	"github.com/walrus-go/walrus-go/node/dataplane/dataplanetest"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
)

// BenchmarkRecoverNode_n1000_64MiB: a node of a 4-node committee (n = 1000, 250 shards
// each) missed the write of a 64 MiB blob and recovers its 500 slivers from the other three
// nodes' recovery symbols over loopback libp2p. Reported beside each other: the bytes it
// received, the bytes of the symbols and proofs the decodes need (the threshold per target),
// its share of the encoded blob (what it stores), and the blob (what one-dimensional
// Reed-Solomon repair would move).
func BenchmarkRecoverNode_n1000_64MiB(b *testing.B) {
	p := codec.MustParams(1000)
	com, keys := epochtest.Committee(1, []int{250, 250, 250, 250}, 11)
	rng := rand.New(rand.NewSource(5))
	data := make([]byte, 64<<20)
	rng.Read(data)
	enc, err := codec.Encode(p, data)
	if err != nil {
		b.Fatal(err)
	}
	var hosts []host.Host
	for i := range com.Members {
		h := p2ptest.Host(b, rng)
		com.Members[i].PeerID = string(h.ID())
		for _, a := range h.Addrs() {
			com.Members[i].Addrs = append(com.Members[i].Addrs, a.String())
		}
		hosts = append(hosts, h)
	}
	led := dataplanetest.NewLedger(p, epoch.NetworkID{5}, com)
	led.Register(enc.BlobID, false)
	ctx := context.Background()
	for i := 1; i < len(com.Members); i++ {
		st := blobstore.New(dssync.MutexWrap(datastore.NewMapDatastore()), p)
		if err := st.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
			b.Fatal(err)
		}
		for _, sh := range com.Members[i].Shards {
			pr, se := enc.Pair(p.PairIndexForShard(enc.BlobID, int(sh)))
			if err := st.PutSlivers(ctx, enc.BlobID, int(sh), pr, se); err != nil {
				b.Fatal(err)
			}
		}
		sys, err := actors.New("node")
		if err != nil {
			b.Fatal(err)
		}
		svc, err := dataplane.New(dataplane.Config{Host: hosts[i], Store: st, Ledger: led, Key: keys[i], System: sys})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { svc.Close(); _ = sys.Stop() })
	}
	var targets []blobsync.Target
	for _, sh := range com.Members[0].Shards {
		pair := p.PairIndexForShard(enc.BlobID, int(sh))
		targets = append(targets, blobsync.Target{Axis: codec.AxisPrimary, Index: pair},
			blobsync.Target{Axis: codec.AxisSecondary, Index: p.SecondaryIndexOfPair(pair)})
	}
	f := &blobsync.Fetcher{Host: hosts[0], Params: p, Self: com.Members[0].Node}
	share := float64(len(com.Members[0].Shards) * (p.PrimarySliverSize(enc.SymbolSize) + p.SecondarySliverSize(enc.SymbolSize)))
	var last *blobsync.Result
	b.ResetTimer()
	for range b.N {
		res, err := f.Recover(ctx, com, enc.BlobID, &enc.Metadata, targets)
		if err != nil {
			b.Fatal(err)
		}
		last = res
	}
	b.StopTimer()
	needed := float64(last.Stats.Needed * recovery.SymbolAnswerLen(p.N, enc.SymbolSize))
	b.ReportMetric(float64(last.Stats.Bytes)/(1<<20), "received_MiB")
	b.ReportMetric(needed/(1<<20), "needed_MiB")
	b.ReportMetric(float64(last.Stats.Bytes)/needed, "received_vs_needed")
	b.ReportMetric(share/(1<<20), "node_share_MiB")
	b.ReportMetric(float64(len(data))/(1<<20), "blob_MiB")
	b.ReportMetric(float64(last.Stats.Bytes)/share, "received_vs_share")
}
