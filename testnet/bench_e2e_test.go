package testnet_test

import (
	"bytes"
	"context"
	mrand "math/rand/v2"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/testnet"
)

// BenchmarkE2EStoreRead is `make bench-e2e`: on one in-process 4-node loopback testnet
// (1000 shards, the default network's geometry; WALRUS_BENCH_SHARDS overrides) it measures
//
//   - the baseline: raw throughput of one libp2p stream (TCP, Noise, yamux) between two
//     fresh hosts (median of three), in the same run so the ratios compare like with like;
//   - a 64 MiB store split into encode, register (reserve + register transactions),
//     upload (to the certificate: n-f shards confirmed), certify (transaction committed)
//     and the full upload to every node (background part included);
//   - a 64 MiB read (status, metadata, primary slivers, verify, decode), and the local
//     decode of the same blob as the read's floor.
//
// Targets (issue 4, the node): read >= 60 MiB/s of user data; store within 2× of
// encode + 4.5 × blob / stream throughput (store_vs_target <= 1).
//
// upload_page_faults and read_page_faults count the process's minor page faults in those
// phases. In a fresh process (-benchtime 1x) every page the heap grows into faults once,
// and on this kind of VM a fault costs microseconds: the first encode and upload pay for
// it, later ones (-benchtime 3x averages in two warm runs) mostly do not. Buffer pools do
// not remove that cost, they move it to whichever phase next grows the heap (measured).
func BenchmarkE2EStoreRead(b *testing.B) {
	const blobSize = 64 << 20
	shards := 1000
	if s, err := strconv.Atoi(os.Getenv("WALRUS_BENCH_SHARDS")); err == nil && s > 0 {
		shards = s
	}
	// The baseline is the median of three measurements: on a shared machine one
	// measurement swung 250-670 MiB/s between runs and dragged the store ratio with it;
	// the median is as likely to err high as low.
	var runs []float64
	for range 3 {
		runs = append(runs, streamBaseline(b))
	}
	slices.Sort(runs)
	streamMiBs := runs[1]

	c := testnet.New(b, 4, testnet.WithShards(shards), testnet.WithTimeout(2*time.Minute))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	params, err := codec.NewParams(shards)
	if err != nil {
		b.Fatal(err)
	}
	rng := mrand.New(mrand.NewPCG(1, 2))
	data := make([]byte, blobSize)

	var encT, regT, upT, fullT, certT, readT, decT, upCPU time.Duration
	var upFaults, readFaults int64
	b.SetBytes(blobSize)
	steal0 := stolenCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		b.StartTimer()

		t0 := time.Now()
		enc, err := codec.Encode(params, data)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		reg, certified, err := s.Ledger.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 1})
		if err != nil || certified {
			b.Fatalf("register: %v (already certified %v)", err, certified)
		}
		com, err := s.Ledger.Committee(ctx)
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		stopProfile := phaseProfile(b, "WALRUS_E2E_UPLOAD_PROFILE", i == b.N-1)
		cpu0, flt0 := processUsage()
		res, err := s.Client.Upload(ctx, com, enc, reg, nil)
		if err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		stopProfile()
		cpu1, flt1 := processUsage()
		upCPU += cpu1 - cpu0
		upFaults += flt1 - flt0
		if err := s.Ledger.CertifyBlob(ctx, enc.BlobID, reg, res); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		res.Certified() // as Client.Store does: now the remaining node gets its slivers
		<-res.Done()
		t5 := time.Now()
		_, flt2 := processUsage()
		stopProfile = phaseProfile(b, "WALRUS_E2E_READ_PROFILE", i == b.N-1)
		got, err := s.Read(ctx, enc.BlobID)
		stopProfile()
		_, flt3 := processUsage()
		readFaults += flt3 - flt2
		if err != nil {
			b.Fatal(err)
		}
		t6 := time.Now()
		if !bytes.Equal(got, data) {
			b.Fatal("read returned other bytes")
		}
		// The decode floor of a read: the systematic primaries decoded locally with the
		// consistency check (docs/protocol.md §4), no network.
		t7 := time.Now()
		if _, err := codec.DecodePrimary(params, &enc.Metadata, enc.Primary[:params.R]); err != nil {
			b.Fatal(err)
		}
		decT += time.Since(t7)
		encT += t1.Sub(t0)
		regT += t2.Sub(t1)
		upT += t3.Sub(t2)
		certT += t4.Sub(t3)
		fullT += t5.Sub(t2)
		readT += t6.Sub(t5)
		e2eRuns++ // the self-healing benchmarks after this one say they ran in a warm process
	}
	b.StopTimer()
	// CPU the hypervisor gave to others while this VM wanted it (Linux /proc/stat): a run
	// with more than a fraction of a second of it measured the host, not this code.
	steal := time.Duration(-1)
	if steal1 := stolenCPU(); steal0 >= 0 && steal1 >= 0 {
		steal = steal1 - steal0
	}
	n := float64(b.N)
	mib := float64(blobSize) / (1 << 20)
	ms := func(d time.Duration) float64 { return float64(d.Milliseconds()) / n }
	storeMs := ms(encT) + ms(regT) + ms(upT) + ms(certT)
	targetMs := 2 * (ms(encT) + 4.5*mib/streamMiBs*1000)
	readMiBs := mib / (ms(readT) / 1000)
	b.ReportMetric(streamMiBs, "stream_MiB/s")
	b.ReportMetric(ms(encT), "encode_ms")
	b.ReportMetric(ms(regT), "register_ms")
	b.ReportMetric(ms(upT), "upload_to_cert_ms")
	// CPU of the whole process (client and the four nodes) per second of upload: near 2
	// on this 2-core machine means the upload is CPU-bound, not waiting on the network.
	b.ReportMetric(upCPU.Seconds()/upT.Seconds(), "upload_cpu_cores")
	b.ReportMetric(float64(upFaults)/n, "upload_page_faults")
	b.ReportMetric(ms(certT), "certify_ms")
	b.ReportMetric(ms(fullT), "upload_all_nodes_ms")
	b.ReportMetric(storeMs, "store_ms")
	b.ReportMetric(mib/(storeMs/1000), "store_MiB/s")
	b.ReportMetric(storeMs/targetMs, "store_vs_target")
	b.ReportMetric(ms(readT), "read_ms")
	b.ReportMetric(readMiBs, "read_MiB/s")
	b.ReportMetric(float64(readFaults)/n, "read_page_faults")
	b.ReportMetric(ms(decT), "decode_local_ms")
	b.ReportMetric(readMiBs/60, "read_vs_target")
	b.ReportMetric(float64(shards), "shards")
	if steal >= 0 {
		b.ReportMetric(steal.Seconds(), "cpu_steal_s")
	}
}

// stolenCPU is the machine's total steal time so far (the 8th field of /proc/stat's cpu
// line, in USER_HZ = 1/100 s), or -1 where it cannot be read.
func stolenCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	v, err := strconv.ParseInt(f[8], 10, 64)
	if err != nil {
		return -1
	}
	return time.Duration(v) * 10 * time.Millisecond
}

// processUsage is the user+system CPU time the process has used and the minor page faults
// it has taken (first touches of memory the kernel had not mapped yet, which cost
// microseconds each in a VM).
func processUsage() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Minflt
}

// streamBaseline measures one libp2p stream's throughput (MiB/s) between two fresh
// loopback hosts, as p2p's BenchmarkStreamThroughput does: 256 MiB in 1 MiB writes. The
// hosts are closed before it returns, so they do not idle through the benchmark.
func streamBaseline(b *testing.B) float64 {
	b.Helper()
	from, to := p2ptest.Host(b, nil), p2ptest.Host(b, nil)
	defer from.Close()
	defer to.Close()
	return p2ptest.StreamThroughput(b, from, to, 256<<20) / (1 << 20)
}

// phaseProfile starts a CPU profile of one phase of the last run when the environment
// variable env names a file, and returns what stops it: WALRUS_E2E_UPLOAD_PROFILE profiles
// the upload (Upload to certificate, the phase the store target is about),
// WALRUS_E2E_READ_PROFILE the read, each without the encode and set-up around it. Not with
// go test -cpuprofile (one CPU profile at a time).
func phaseProfile(b *testing.B, env string, last bool) (stop func()) {
	path := os.Getenv(env)
	if path == "" || !last {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}
