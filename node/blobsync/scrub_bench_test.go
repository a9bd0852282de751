package blobsync_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/blobsync"
	"github.com/walrus-go/walrus-go/node/store"
)

// BenchmarkScrubPass_n1000 measures the work of a scrub pass over one node of the default
// 4-node testnet (n = 1000, 250 shards), its slivers in a real pebble datastore: for one
// 64 MiB blob and for 64 blobs of 1 MiB (the same pass costs far more per byte for small
// blobs: every sliver is expanded to n symbols and hashed in a Merkle tree of n leaves).
// The pass runs unpaced; reported are its work (the wall-clock time of the reads and
// re-verifications, which the CPU share paces), the sliver bytes re-verified per second of
// work, and the time a pass over the same data takes on an idle node at the default share
// of a core (blobsync.DefaultScrubCPU), or at the default 8 MiB/s cap if that is longer.
func BenchmarkScrubPass_n1000(b *testing.B) {
	for _, bc := range []struct {
		name        string
		blobs, size int
	}{{"64MiB", 1, 64 << 20}, {"64x1MiB", 64, 1 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			p := codec.MustParams(1000)
			ds, err := store.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer ds.Close()
			st := blobstore.New(ds, p)
			ctx := context.Background()
			rng := rand.NewChaCha8([32]byte{3})
			for range bc.blobs {
				data := make([]byte, bc.size)
				rng.Read(data)
				enc, err := codec.Encode(p, data)
				if err != nil {
					b.Fatal(err)
				}
				if err := st.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
					b.Fatal(err)
				}
				pairs := make([]blobstore.PairWrite, 250)
				for sh := range 250 {
					pr, se := enc.Pair(p.PairIndexForShard(enc.BlobID, sh))
					pairs[sh] = blobstore.PairWrite{Shard: sh, Primary: pr, Secondary: se}
				}
				if errs, err := st.PutPairs(ctx, enc.BlobID, pairs); err != nil {
					b.Fatal(err)
				} else {
					for _, err := range errs {
						if err != nil {
							b.Fatal(err)
						}
					}
				}
			}
			s, err := blobsync.NewScrubber(blobsync.ScrubConfig{Store: st, Shards: heldShards(250), Repair: func(codec.BlobID) {},
				Rate: 1 << 40, CPU: 1})
			if err != nil {
				b.Fatal(err)
			}
			var work time.Duration
			var ps blobsync.PassStats
			for b.Loop() {
				if err := s.Pass(ctx); err != nil {
					b.Fatal(err)
				}
				ps = s.LastPassStats()
				work += ps.Work
			}
			w := work.Seconds() / float64(b.N)
			b.ReportMetric(w, "work_s/pass")
			b.ReportMetric(float64(ps.Bytes)/(1<<20), "sliver_MiB/pass")
			b.ReportMetric(float64(ps.Slivers), "slivers/pass")
			b.ReportMetric(float64(ps.Bytes)/(1<<20)/w, "sliver_MiB/work_s")
			b.ReportMetric(max(w/blobsync.DefaultScrubCPU, float64(ps.Bytes)/blobsync.DefaultScrubRate), "idle_pass_s_at_defaults")
		})
	}
}
