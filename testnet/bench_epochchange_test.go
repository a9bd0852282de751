package testnet_test

import (
	"bytes"
	"context"
	mrand "math/rand/v2"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// epochChangeBytes is the data stored before the change: 1 GiB, or WALRUS_BENCH_EPOCH_BYTES.
func epochChangeBytes(b *testing.B) int64 {
	if v := os.Getenv("WALRUS_BENCH_EPOCH_BYTES"); v != "" {
		n, err := parseSize(v)
		if err != nil {
			b.Fatalf("WALRUS_BENCH_EPOCH_BYTES: %v", err)
		}
		return n
	}
	return 1 << 30
}

// BenchmarkE2EEpochChange (issue 13): on the 4-node testnet (n = 1000), blobs of 64 MiB
// adding up to 1 GiB (WALRUS_BENCH_EPOCH_BYTES) are stored while stake delegated to node 0
// makes the next committee give it about a third of the shards; at the epoch change node 0
// pulls those shards' pairs from their previous owners. Reported side by side: the time from
// the change until node 0 holds every gained shard, the shard-sync bytes it received beside
// the moved slivers (the gained shards' pairs of every blob stored before the change: the
// minimum any migration moves), and the read throughput of a 64 MiB blob during the
// migration beside the same reads before the change, in the same run. The epoch lasts
// WALRUS_BENCH_EPOCH (default 3m): long enough for the stores to end before the change.
func BenchmarkE2EEpochChange(b *testing.B) {
	const blobSize = 64 << 20
	total := epochChangeBytes(b)
	d := 3 * time.Minute
	if v, err := time.ParseDuration(os.Getenv("WALRUS_BENCH_EPOCH")); err == nil && v > 0 {
		d = v
	}
	shards := benchShards()
	c := testnet.New(b, 4, testnet.WithShards(shards), testnet.WithEpochDuration(d), testnet.WithTimeout(5*time.Minute),
		testnet.WithGenerate(func(o *testnet.Options) { o.WalletBalance = 1_000_000 * staking.FrostPerWAL }),
		healConfig(func(nc *node.Config) { nc.BlobSync.Delay = time.Minute }))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	p := s.Client.Params()
	led := c.Unwrap(0).Ledger()
	state := processState()
	steal0 := stolenCPU()
	b.StopTimer()

	// Stake first, so the selection at mid-epoch counts it: node 0 then holds about
	// (100k + 320k) / (400k + 320k) of the shards, 583 of 1000.
	target := c.Unwrap(0).DataPlane().NodeID()
	if _, err := s.Ledger.Submit(ctx, &staking.StakeOp{Node: target, Amount: 320_000 * staking.FrostPerWAL}); err != nil {
		b.Fatalf("stake: %v", err)
	}
	start := led.View().Epoch()
	rng := mrand.New(mrand.NewPCG(5, 6))
	var ids []codec.BlobID
	var pairBytes int64 // one pair of every blob stored before the change
	data := make([]byte, blobSize)
	var first []byte
	for stored := int64(0); stored < total; stored += blobSize {
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		sum, err := s.Store(ctx, data, client.StoreOptions{Epochs: 5})
		if err != nil {
			b.Fatal(err)
		}
		if sum.CertifiedEpoch != start {
			b.Fatalf("a store ended in epoch %d, after the change: make WALRUS_BENCH_EPOCH longer", sum.CertifiedEpoch)
		}
		if first == nil {
			first = bytes.Clone(data)
		}
		sym, err := p.SymbolSize(uint64(blobSize))
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, sum.BlobID)
		pairBytes += int64(p.PrimarySliverSize(sym) + p.SecondarySliverSize(sym))
	}
	read := func() float64 {
		t0 := time.Now()
		got, err := s.Read(ctx, ids[0])
		if err != nil || !bytes.Equal(got, first) {
			b.Fatalf("read: %v", err)
		}
		return float64(blobSize) / time.Since(t0).Seconds() / (1 << 20)
	}
	var before []float64
	for range 3 {
		before = append(before, read())
	}
	// The change.
	for led.View().Epoch() == start {
		if ctx.Err() != nil {
			b.Fatal("no epoch change")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t0 := time.Now()
	b.StartTimer()
	prev, _ := led.View().Committee(start)
	com := led.View().SigningCommittee()
	plan, err := epoch.Plan(prev, com)
	if err != nil {
		b.Fatal(err)
	}
	gained := len(plan.Node(target).Gained)
	var during []float64
	for {
		st := c.Unwrap(0).EpochChange()
		if st.Syncing == 0 && st.Done >= int64(gained) {
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("node 0 did not complete its %d gained shards: %+v", gained, st)
		}
		during = append(during, read())
	}
	took := time.Since(t0)
	b.StopTimer()
	st := c.Unwrap(0).EpochChange()
	moved := float64(int64(gained) * pairBytes)
	steal := stealSince(steal0)
	med := func(x []float64) float64 {
		if len(x) == 0 {
			return 0
		}
		y := append([]float64(nil), x...)
		sort.Float64s(y)
		return y[len(y)/2]
	}
	mib := float64(1 << 20)
	b.ReportMetric(took.Seconds(), "change_s")
	b.ReportMetric(float64(st.ReceivedBytes)/mib, "received_MiB")
	b.ReportMetric(moved/mib, "moved_slivers_MiB")
	b.ReportMetric(float64(st.ReceivedBytes)/moved, "received_vs_moved")
	b.ReportMetric(float64(gained), "gained_shards")
	b.ReportMetric(med(before), "read_before_MiB/s")
	if len(during) > 0 {
		b.ReportMetric(med(during), "read_during_MiB/s")
		b.ReportMetric(med(during)/med(before), "read_during_vs_before")
	}
	if steal >= 0 {
		b.ReportMetric(steal.Seconds(), "cpu_steal_s")
	}
	e2eRuns++
	b.Logf("epoch change moving %d of %d shards to node 0 with %d MiB in %d blobs stored, one run in a %s: "+
		"node 0 complete %.1f s after the change; it received %.1f MiB = %.3f× the %.1f MiB of moved slivers "+
		"(recovered shards %d); reads of 64 MiB before the change %.1f MiB/s (median of %d), during it %.1f MiB/s "+
		"(median of %d, %.2f×); CPU steal %.2f s",
		gained, shards, total>>20, len(ids), state, took.Seconds(), float64(st.ReceivedBytes)/mib,
		float64(st.ReceivedBytes)/moved, moved/mib, st.Recovered, med(before), len(before), med(during), len(during),
		med(during)/max(med(before), 1e-9), steal.Seconds())
}
