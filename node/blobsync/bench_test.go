package blobsync_test

import (
	"context"
	"math/rand"
	"slices"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/blobsync"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
)

// BenchmarkRecoverNode_n1000_64MiB: a node of a 4-node committee (n = 1000, 250 shards
// each) missed the write of a 64 MiB blob and recovers its 500 slivers from the other three
// nodes' recovery symbols over loopback libp2p (/walrus/recovery-symbol/2). Reported beside
// each other: the bytes it received; the bytes the decodes need over version 2 (per axis,
// the threshold of source slivers each sending its cells at all the axis's targets and one
// multiproof of them, with their framing); what the same symbols cost over version 1, each
// with its own proof; its share of the encoded blob (what it stores); and the blob (what
// one-dimensional Reed-Solomon repair would move).
func BenchmarkRecoverNode_n1000_64MiB(b *testing.B) { benchRecoverNode(b, 64<<20) }

// BenchmarkRecoverNode_n1000_1MiB: the same for a 1 MiB blob, whose symbols (6 bytes) are
// much smaller than a single-symbol proof (10 hashes).
func BenchmarkRecoverNode_n1000_1MiB(b *testing.B) { benchRecoverNode(b, 1<<20) }

func benchRecoverNode(b *testing.B, size int) {
	p := codec.MustParams(1000)
	com, keys := epochtest.Committee(1, []int{250, 250, 250, 250}, 11)
	rng := rand.New(rand.NewSource(5))
	data := make([]byte, size)
	rng.Read(data)
	enc, err := codec.Encode(p, data)
	if err != nil {
		b.Fatal(err)
	}
	hosts := memberHosts(b, com, rng)
	serve(b, p, com, keys, enc, hosts, 0)
	ctx := context.Background()
	var targets []blobsync.Target
	var prim, sec []int
	for _, sh := range com.Members[0].Shards {
		pair := p.PairIndexForShard(enc.BlobID, int(sh))
		targets = append(targets, blobsync.Target{Axis: codec.AxisPrimary, Index: pair},
			blobsync.Target{Axis: codec.AxisSecondary, Index: p.SecondaryIndexOfPair(pair)})
		prim, sec = append(prim, pair), append(sec, p.SecondaryIndexOfPair(pair))
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
	if last.Stats.V1 != 0 {
		b.Fatalf("%d members asked over version 1", last.Stats.V1)
	}
	s := int(enc.SymbolSize)
	needed := 0.0
	for _, axis := range []struct {
		k  int
		ts []int
	}{{p.RecoveryThreshold(codec.AxisPrimary), prim}, {p.RecoveryThreshold(codec.AxisSecondary), sec}} {
		slices.Sort(axis.ts)
		h, err := codec.MultiProofLen(p.N, axis.ts)
		if err != nil {
			b.Fatal(err)
		}
		needed += float64(axis.k * recovery.SourceAnswerLen2(s, len(axis.ts), h))
	}
	v1 := float64(last.Stats.Needed * recovery.SymbolAnswerLen(p.N, s))
	b.ReportMetric(float64(last.Stats.Bytes)/(1<<20), "received_MiB")
	b.ReportMetric(needed/(1<<20), "needed_MiB")
	b.ReportMetric(float64(last.Stats.Bytes)/needed, "received_vs_needed")
	b.ReportMetric(v1/(1<<20), "v1_needed_MiB")
	b.ReportMetric(float64(last.Stats.Bytes)/v1, "received_vs_v1_needed")
	b.ReportMetric(share/(1<<20), "node_share_MiB")
	b.ReportMetric(float64(len(data))/(1<<20), "blob_MiB")
	b.ReportMetric(float64(last.Stats.Bytes)/share, "received_vs_share")
}
