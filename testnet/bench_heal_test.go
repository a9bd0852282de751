package testnet_test

import (
	"context"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
	"github.com/walrus-go/walrus-go/testnet"
)

// The self-healing benchmarks of `make bench-e2e` (issue 12, Performance): what a node that
// missed a 64 MiB write receives to recover its slivers, how long a wiped node takes to
// recover a quarter of 1 GiB of mixed blobs beside the time to store them, and what
// scrubbing and garbage collection cost reads. Each prints, besides its metrics, one line
// naming the runs, whether the process was cold (no end-to-end run before in it) or warm,
// and the CPU the hypervisor stole meanwhile.

// e2eRuns counts the end-to-end iterations this process has run so far (benchmarks run one
// at a time): 0 means the next one runs in a cold process.
var e2eRuns int

// processState says whether the next run is the first of the process.
func processState() string {
	if e2eRuns == 0 {
		return "cold process"
	}
	return fmt.Sprintf("warm process (%d end-to-end runs before it)", e2eRuns)
}

// benchShards is the shard count of the end-to-end benchmarks: 1000, or WALRUS_BENCH_SHARDS.
func benchShards() int {
	if s, err := strconv.Atoi(os.Getenv("WALRUS_BENCH_SHARDS")); err == nil && s > 0 {
		return s
	}
	return 1000
}

// stealSince is the CPU stolen since s0 (a stolenCPU reading), -1 when unknown.
func stealSince(s0 time.Duration) time.Duration {
	if s1 := stolenCPU(); s0 >= 0 && s1 >= 0 {
		return s1 - s0
	}
	return -1
}

// healConfig chains f after the harness's node configuration (its fast consensus timings).
func healConfig(f func(*node.Config)) testnet.Option {
	return testnet.WithGenerate(func(o *testnet.Options) {
		prev := o.NodeConfig
		o.NodeConfig = func(i int, nc *node.Config) {
			if prev != nil {
				prev(i, nc)
			}
			f(nc)
		}
	})
}

// memberOf is node i's index in committee com.
func memberOf(b *testing.B, c *testnet.Cluster, com *epoch.Committee, i int) int {
	b.Helper()
	id := c.Layout.Nodes[i].PeerID
	for m := range com.Members {
		if string(com.Members[m].PeerID) == string(id) {
			return m
		}
	}
	b.Fatalf("node %d is not in the committee", i)
	return -1
}

// storeBlob stores data as Client.Store does and returns once every node has been sent its
// slivers (the background uploads after the certificate included; a crashed node's fail).
func storeBlob(ctx context.Context, s *client.Session, data []byte) (*codec.EncodedBlob, error) {
	enc, err := codec.Encode(s.Client.Params(), data)
	if err != nil {
		return nil, err
	}
	reg, certified, err := s.Ledger.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 5})
	if err != nil || certified {
		return nil, fmt.Errorf("register: %v (already certified %v)", err, certified)
	}
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		return nil, err
	}
	res, err := s.Client.Upload(ctx, com, enc, reg, nil)
	if err != nil {
		return nil, err
	}
	if err := s.Ledger.CertifyBlob(ctx, enc.BlobID, reg, res); err != nil {
		return nil, err
	}
	res.Certified()
	<-res.Done()
	return enc, nil
}

// BenchmarkE2ERecovery: on the 4-node testnet (n = 1000), a node is stopped before a 64 MiB
// store and restarted after the certificate (and after the writer gave up on it); blob sync
// recovers its slivers from the other nodes' recovery symbols. Reported side by side, from
// the node's own counters (/v1/health's recovery_received_bytes, recovered_bytes,
// recovery_symbols_needed): the bytes it received, the symbols and proofs its decodes need,
// its share of the encoded blob, and the blob (what one-dimensional Reed-Solomon repair
// would move); and the time from restart until it held every sliver, with blob sync's delay
// after a certification at 200 ms instead of 10 s. Each iteration stops the next node.
func BenchmarkE2ERecovery(b *testing.B) {
	const blobSize = 64 << 20
	shards := benchShards()
	c := testnet.New(b, 4, testnet.WithShards(shards), testnet.WithTimeout(2*time.Minute),
		healConfig(func(nc *node.Config) { nc.BlobSync.Delay = 200 * time.Millisecond }))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	p := s.Client.Params()
	rng := mrand.New(mrand.NewPCG(3, 4))
	data := make([]byte, blobSize)
	var received, needed, v1Needed, share, recT float64
	state := processState()
	steal0 := stolenCPU()
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		down := i % c.N()
		c.Crash(down)
		enc, err := storeBlob(ctx, s, data)
		if err != nil {
			b.Fatal(err)
		}
		com, err := s.Ledger.Committee(ctx)
		if err != nil {
			b.Fatal(err)
		}
		member := &com.Members[memberOf(b, c, com, down)]
		b.StartTimer()
		t0 := time.Now()
		c.Restart(down)
		for {
			st, err := s.Client.Status(ctx, member, enc.BlobID)
			if err == nil && st.ShardsHeld > 0 && st.ShardsStored == st.ShardsHeld {
				break
			}
			if ctx.Err() != nil {
				b.Fatalf("node %d did not recover its slivers: %+v, %v", down, st, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		recT += time.Since(t0).Seconds()
		b.StopTimer()
		// The node's counters start at its restart: they count this blob's recovery only.
		h := c.Unwrap(down).Health()
		if want := uint64(2 * member.Weight()); h.RecoveredSlivers != want {
			b.Fatalf("node %d recovered %d slivers, want %d", down, h.RecoveredSlivers, want)
		}
		received += float64(h.RecoveryReceivedBytes)
		needed += recoveryNeeded(b, p, enc.BlobID, member.Shards, enc.SymbolSize)
		v1Needed += float64(h.RecoverySymbolsNeeded) * float64(recovery.SymbolAnswerLen(p.N, enc.SymbolSize))
		share += float64(h.RecoveredBytes)
		e2eRuns++
		b.StartTimer()
	}
	b.StopTimer()
	steal := stealSince(steal0)
	n, mib := float64(b.N), float64(1<<20)
	b.ReportMetric(received/n/mib, "received_MiB")
	b.ReportMetric(needed/n/mib, "needed_MiB")
	b.ReportMetric(received/needed, "received_vs_needed")
	b.ReportMetric(v1Needed/n/mib, "v1_needed_MiB")
	b.ReportMetric(share/n/mib, "node_share_MiB")
	b.ReportMetric(blobSize/mib, "blob_MiB")
	b.ReportMetric(received/n/blobSize, "received_vs_blob")
	b.ReportMetric(recT/n, "recovery_s")
	b.ReportMetric(float64(shards), "shards")
	if steal >= 0 {
		b.ReportMetric(steal.Seconds(), "cpu_steal_s")
	}
	b.Logf("recovery of one node's slivers of a %d MiB blob, n = %d: %d run(s), the first in a %s; "+
		"received %.1f MiB = %.3f× the %.1f MiB of symbols and multiproofs needed (%.1f MiB with a proof per symbol); its share %.1f MiB, the blob %d MiB; "+
		"restart to recovered %.2f s; CPU steal %.2f s",
		blobSize>>20, shards, b.N, state, received/n/mib, received/needed, needed/n/mib, v1Needed/n/mib, share/n/mib, blobSize>>20, recT/n, steal.Seconds())
}

// recoveryNeeded is what recovering every pair of the given shards of a blob needs over
// /walrus/recovery-symbol/2: per target axis, the threshold number of source slivers, each
// answering its cells at every target of that axis with one multiproof.
func recoveryNeeded(b *testing.B, p codec.Params, id codec.BlobID, shards []uint16, symbol int) float64 {
	var prim, sec []int
	for _, sh := range shards {
		pair := p.PairIndexForShard(id, int(sh))
		prim, sec = append(prim, pair), append(sec, p.SecondaryIndexOfPair(pair))
	}
	var needed float64
	for _, axis := range []struct {
		k  int
		ts []int
	}{{p.RecoveryThreshold(codec.AxisPrimary), prim}, {p.RecoveryThreshold(codec.AxisSecondary), sec}} {
		slices.Sort(axis.ts)
		h, err := codec.MultiProofLen(p.N, axis.ts)
		if err != nil {
			b.Fatal(err)
		}
		needed += float64(axis.k * recovery.SourceAnswerLen2(symbol, len(axis.ts), h))
	}
	return needed
}

// healBytes is the total size of BenchmarkE2EWipedNode's blobs: 1 GiB, or
// WALRUS_BENCH_HEAL_BYTES (parseSize).
func healBytes(b *testing.B) int64 {
	v := os.Getenv("WALRUS_BENCH_HEAL_BYTES")
	if strings.TrimSpace(v) == "" {
		return 1 << 30
	}
	n, err := parseSize(v)
	if err != nil {
		b.Fatalf("WALRUS_BENCH_HEAL_BYTES: %v", err)
	}
	return n
}

// parseSize reads a positive size in bytes, or with a K, M or G suffix (KiB, MiB, GiB; "MiB"
// and "m" are read alike).
func parseSize(v string) (int64, error) {
	s := strings.TrimSuffix(strings.ToUpper(strings.TrimSpace(v)), "IB")
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q: want a positive size such as 1073741824, 256M or 1GiB", v)
	}
	return n * mult, nil
}

// healSizes draws blob sizes log-uniformly between 1 KiB and 64 MiB (at most the largest
// blob p allows) until they add up to total; the last is cut to fit.
func healSizes(total int64, maxBlob uint64) []int {
	rng := mrand.New(mrand.NewPCG(5, 6))
	lo, hi := math.Log(1<<10), math.Log(float64(min(64<<20, maxBlob)))
	var sizes []int
	for sum := int64(0); sum < total; {
		n := int64(math.Exp(lo + rng.Float64()*(hi-lo)))
		n = min(n, total-sum)
		sizes = append(sizes, int(n))
		sum += n
	}
	return sizes
}

// BenchmarkE2EWipedNode: the 4-node testnet (n = 1000) stores blobs of mixed sizes (1 KiB to
// 64 MiB, log-uniform) adding up to 1 GiB (WALRUS_BENCH_HEAL_BYTES), two stores at a time,
// each until every node has its slivers; then one node, which holds a quarter of the shards,
// is stopped, its data directory wiped (keys and configuration kept) and restarted: it
// re-syncs the ledger and recovers every sliver of its shards. Reported side by side: the
// time to store everything and the time from restart until the node held all of it again
// (its status: every blob, and two slivers per shard of each), their ratio, and the bytes
// the node received beside its share. The store runs once; -benchtime N wipes and recovers
// N times.
func BenchmarkE2EWipedNode(b *testing.B) {
	shards := benchShards()
	total := healBytes(b)
	c := testnet.New(b, 4, testnet.WithShards(shards), testnet.WithTimeout(2*time.Minute),
		healConfig(func(nc *node.Config) { nc.BlobSync.Delay = 200 * time.Millisecond }))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	sizes := healSizes(total, s.Client.Params().MaxBlobSize())

	storeState := processState()
	steal0 := stolenCPU()
	t0 := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(sizes) || ctx.Err() != nil {
					return
				}
				data := make([]byte, sizes[i])
				var seed [32]byte
				seed[0], seed[1] = byte(i), byte(i>>8)
				mrand.NewChaCha8(seed).Read(data)
				if _, err := storeBlob(ctx, s, data); err != nil {
					errs[w] = fmt.Errorf("blob %d (%d bytes): %w", i, sizes[i], err)
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	storeT := time.Since(t0)
	storeSteal := stealSince(steal0)
	e2eRuns++

	const wiped = 1
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		b.Fatal(err)
	}
	weight := com.Members[memberOf(b, c, com, wiped)].Weight()
	wantSlivers := uint64(2 * weight * len(sizes))
	held := c.Unwrap(wiped).Health()
	for deadline := time.Now().Add(30 * time.Second); held.BlobsHeld != uint64(len(sizes)) || held.SliversHeld != wantSlivers; {
		if time.Now().After(deadline) {
			b.Fatalf("before the wipe node %d holds %d blobs, %d slivers; want %d, %d",
				wiped, held.BlobsHeld, held.SliversHeld, len(sizes), wantSlivers)
		}
		time.Sleep(250 * time.Millisecond)
		held = c.Unwrap(wiped).Health()
	}
	recState := processState()
	var recT time.Duration
	var received float64
	steal0 = stolenCPU()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c.Crash(wiped)
		if err := os.RemoveAll(c.Layout.Nodes[wiped].DataDir); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		t1 := time.Now()
		lastLog := t1
		c.Restart(wiped)
		for {
			h := c.Unwrap(wiped).Health()
			if h.BlobsHeld == uint64(len(sizes)) && h.SliversHeld == wantSlivers && h.SyncBacklog == 0 {
				received += float64(h.RecoveryReceivedBytes)
				break
			}
			if ctx.Err() != nil {
				b.Fatalf("node %d did not recover: holds %d of %d blobs, %d of %d slivers", wiped, h.BlobsHeld, len(sizes), h.SliversHeld, wantSlivers)
			}
			if time.Since(lastLog) >= 30*time.Second {
				lastLog = time.Now()
				b.Logf("%.0f s after the restart: node %d holds %d of %d blobs, %d of %d slivers, backlog %d, received %.0f MiB",
					time.Since(t1).Seconds(), wiped, h.BlobsHeld, len(sizes), h.SliversHeld, wantSlivers, h.SyncBacklog, float64(h.RecoveryReceivedBytes)/(1<<20))
			}
			time.Sleep(250 * time.Millisecond)
		}
		recT += time.Since(t1)
		e2eRuns++
	}
	b.StopTimer()
	recSteal := stealSince(steal0)
	n, mib := float64(b.N), float64(1<<20)
	rec := recT.Seconds() / n
	share := float64(held.SliverBytesHeld)
	b.ReportMetric(float64(len(sizes)), "blobs")
	b.ReportMetric(float64(total)/mib, "total_MiB")
	b.ReportMetric(share/mib, "node_share_MiB")
	b.ReportMetric(storeT.Seconds(), "store_s")
	b.ReportMetric(rec, "recover_s")
	b.ReportMetric(rec/storeT.Seconds(), "recover_vs_store")
	b.ReportMetric(received/n/mib, "received_MiB")
	b.ReportMetric(received/n/share, "received_vs_share")
	b.ReportMetric(float64(shards), "shards")
	if recSteal >= 0 && storeSteal >= 0 {
		b.ReportMetric(storeSteal.Seconds(), "store_cpu_steal_s")
		b.ReportMetric(recSteal.Seconds(), "recover_cpu_steal_s")
	}
	slices.Sort(sizes)
	b.Logf("wiped node, n = %d: %d blobs of %d B to %d B (median %d B), %.0f MiB in all, %.0f MiB of slivers on the wiped node; "+
		"store (two at a time, until every node had its slivers) 1 run in a %s: %.1f s, CPU steal %.2f s; "+
		"wipe and recover %d run(s), the first in a %s: %.1f s, CPU steal %.2f s; recover/store %.2f; received %.0f MiB (%.2f× its share)",
		shards, len(sizes), sizes[0], sizes[len(sizes)-1], sizes[len(sizes)/2], float64(total)/mib, share/mib,
		storeState, storeT.Seconds(), storeSteal.Seconds(), b.N, recState, rec, recSteal.Seconds(), rec/storeT.Seconds(),
		received/n/mib, received/n/share)
}

// The wiped-node benchmark's workload: sizes parse, and the drawn blobs are of mixed sizes
// within 1 KiB..64 MiB (or the network's largest blob) and add up to the total exactly.
func TestHealWorkload(t *testing.T) {
	for in, want := range map[string]int64{"1073741824": 1 << 30, "256M": 256 << 20, "1GiB": 1 << 30, " 64k ": 64 << 10, "3MiB": 3 << 20} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "1T", "G", "99999999999G", "1.5G"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d, want an error", in, got)
		}
	}
	for _, c := range []struct {
		total   int64
		maxBlob uint64
	}{{1 << 30, 1 << 40}, {32 << 20, 1 << 40}, {5 << 20, 1 << 20}, {1000, 1 << 40}} {
		sizes := healSizes(c.total, c.maxBlob)
		var sum int64
		small, big := 0, 0
		for i, n := range sizes {
			sum += int64(n)
			if n <= 0 || uint64(n) > min(64<<20, c.maxBlob) || (n < 1<<10 && i != len(sizes)-1) {
				t.Fatalf("total %d: blob %d of %d bytes", c.total, i, n)
			}
			if n < 1<<20 {
				small++
			} else {
				big++
			}
		}
		if sum != c.total {
			t.Errorf("total %d: sizes add up to %d", c.total, sum)
		}
		if c.total == 1<<30 && (small < 10 || big < 10) {
			t.Errorf("1 GiB: %d blobs under 1 MiB and %d over: not mixed", small, big)
		}
	}
}
