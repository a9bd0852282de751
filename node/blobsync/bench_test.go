package blobsync_test

import (
	"context"
	"math/rand"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/blobsync"
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
	hosts := memberHosts(b, com, rng)
	serve(b, p, com, keys, enc, hosts, 0)
	ctx := context.Background()
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
