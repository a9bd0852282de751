package codec_test

import (
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/reedsolomon"
	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/internal/blake2b8"
)

// Benchmarks are named by geometry: operation, shard count, blob size. `make bench` runs them.

// cpuTimer reports CPU seconds (user + system) per operation as "cpu-s/op": on a shared
// machine wall time mostly measures the neighbours, CPU time measures us.
type cpuTimer struct{ start float64 }

func cpuNow() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func startCPU(b *testing.B) *cpuTimer {
	b.ResetTimer()
	return &cpuTimer{start: cpuNow()}
}

func (c *cpuTimer) report(b *testing.B) {
	b.ReportMetric((cpuNow()-c.start)/float64(b.N), "cpu-s/op")
}

// warmUp builds the cached Reed-Solomon codes (and klauspost's one-time GF(2^16) tables) for
// n outside the timed region, as a long-running node would have them.
func warmUp(b *testing.B, p codec.Params) {
	if _, _, err := codec.ComputeMetadata(p, []byte{1}); err != nil {
		b.Fatal(err)
	}
}

// benchBlob returns size seeded pseudo-random bytes.
func benchBlob(size int) []byte {
	b := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, uint64(size)))
	for i := 0; i+8 <= len(b); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func benchComputeMetadata(b *testing.B, n, size int) {
	p := codec.MustParams(n)
	warmUp(b, p)
	data := benchBlob(size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	ct := startCPU(b)
	for b.Loop() {
		if _, _, err := codec.ComputeMetadata(p, data); err != nil {
			b.Fatal(err)
		}
	}
	ct.report(b)
}

func benchEncode(b *testing.B, n, size int) {
	p := codec.MustParams(n)
	warmUp(b, p)
	data := benchBlob(size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	ct := startCPU(b)
	for b.Loop() {
		if _, err := codec.Encode(p, data); err != nil {
			b.Fatal(err)
		}
	}
	ct.report(b)
}

func benchEncodeTo(b *testing.B, n, size int) {
	p := codec.MustParams(n)
	warmUp(b, p)
	data := benchBlob(size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	ct := startCPU(b)
	for b.Loop() {
		if _, _, err := codec.EncodeTo(p, data, nil, func(int, *codec.Sliver, *codec.Sliver) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
	ct.report(b)
}

func BenchmarkEncode_n1000_64MiB(b *testing.B)          { benchEncode(b, 1000, 64<<20) }
func BenchmarkEncodeTo_n1000_64MiB(b *testing.B)        { benchEncodeTo(b, 1000, 64<<20) }
func BenchmarkComputeMetadata_n1000_64MiB(b *testing.B) { benchComputeMetadata(b, 1000, 64<<20) }
func BenchmarkEncode_n100_8MiB(b *testing.B)            { benchEncode(b, 100, 8<<20) }
func BenchmarkComputeMetadata_n100_8MiB(b *testing.B)   { benchComputeMetadata(b, 100, 8<<20) }

// BenchmarkFloor_n1000_64MiB is the work no RedStuff encoder can avoid, done with the raw
// libraries: klauspost's Leopard GF16 encode of the source matrix along both axes (R -> n over
// the columns, C -> n over all n rows; one call each, shards already in chunk layout) plus
// Blake2b-256 over every cell of the n×n expanded matrix (leaf hashes only, no tree) with
// golang.org/x/crypto's one-message Sum256: the floor issue 2 defined.
func BenchmarkFloor_n1000_64MiB(b *testing.B) {
	benchFloor(b, func(n, s int) {
		cell := make([]byte, 1+s)
		for i := range n * n / 2 {
			cell[1] = byte(i)
			_ = blake2b.Sum256(cell)
		}
	})
}

// BenchmarkFloorLanes8_n1000_64MiB is the same floor with the many-lane Blake2b the codec
// itself uses (eight lanes on AVX-512, four on AVX2, x/crypto's Sum256 on neither), in
// batches of 64 cells as the encoder feeds it: the floor as fast as the codec's own
// primitives.
func BenchmarkFloorLanes8_n1000_64MiB(b *testing.B) {
	benchFloor(b, func(n, s int) {
		var hs blake2b8.Hasher
		buf := make([]byte, 64*s)
		cells := make([][]byte, 64)
		for i := range cells {
			cells[i] = buf[i*s : (i+1)*s]
		}
		out := make([][32]byte, 64)
		for i := 0; i < n*n/2; i += 64 {
			buf[0] = byte(i)
			hs.Sum(out, 0, cells)
		}
	})
}

// benchFloor runs both Reed-Solomon encodes and hashHalf (half of the n² leaf hashes) twice,
// on as many goroutines as there are jobs.
func benchFloor(b *testing.B, hashHalf func(n, s int)) {
	const n, size = 1000, 64 << 20
	p := codec.MustParams(n)
	s, _ := p.SymbolSize(size)
	cs := (s + 63) &^ 63
	data := benchBlob(size)
	prim, err := reedsolomon.New(p.R, n-p.R, reedsolomon.WithLeopardGF16(true))
	if err != nil {
		b.Fatal(err)
	}
	sec, err := reedsolomon.New(p.C, p.F, reedsolomon.WithLeopardGF16(true))
	if err != nil {
		b.Fatal(err)
	}
	primShards := prim.(reedsolomon.Extensions).AllocAligned(p.C * cs)
	for i := range p.R {
		copy(primShards[i], data[min(len(data), i*p.C*s):])
	}
	secShards := sec.(reedsolomon.Extensions).AllocAligned(n * cs)
	for i := range p.C {
		copy(secShards[i], data[min(len(data), i*n*cs):])
	}
	b.SetBytes(size)
	ct := startCPU(b)
	for b.Loop() {
		var wg sync.WaitGroup
		wg.Add(3)
		go func() { defer wg.Done(); _ = prim.Encode(primShards) }()
		go func() { defer wg.Done(); _ = sec.Encode(secShards) }()
		go func() { defer wg.Done(); hashHalf(n, s) }()
		hashHalf(n, s)
		wg.Wait()
	}
	ct.report(b)
}

// benchDecodePrimary decodes from the worst case under f faults: primary slivers 0..f-1 lost,
// so f source rows must be rebuilt.
func benchDecodePrimary(b *testing.B, n, size int) {
	p := codec.MustParams(n)
	data := benchBlob(size)
	enc, err := codec.Encode(p, data)
	if err != nil {
		b.Fatal(err)
	}
	slivers := enc.Primary[p.F : p.F+p.R]
	b.SetBytes(int64(size))
	b.ReportAllocs()
	ct := startCPU(b)
	for b.Loop() {
		if _, err := codec.DecodePrimary(p, &enc.Metadata, slivers); err != nil {
			b.Fatal(err)
		}
	}
	ct.report(b)
}

func BenchmarkDecodePrimary_n100_64MiB(b *testing.B)  { benchDecodePrimary(b, 100, 64<<20) }
func BenchmarkDecodePrimary_n1000_64MiB(b *testing.B) { benchDecodePrimary(b, 1000, 64<<20) }

// benchRecoverPair recovers sliver pair 0 (primary 0 from n-f symbols, secondary n-1 from
// n-2f) of a 64 MiB blob, symbols already fetched and in hand.
func benchRecoverPair(b *testing.B, n, size int) {
	p := codec.MustParams(n)
	enc, err := codec.Encode(p, benchBlob(size))
	if err != nil {
		b.Fatal(err)
	}
	var forPrim, forSec []codec.RecoverySymbol
	for i := p.F; i < n; i++ {
		x, err := codec.ExpandSliver(p, &enc.Secondary[i])
		if err != nil {
			b.Fatal(err)
		}
		sym, _ := x.RecoverySymbol(0)
		forPrim = append(forPrim, sym)
		x, err = codec.ExpandSliver(p, &enc.Primary[i])
		if err != nil {
			b.Fatal(err)
		}
		sym, _ = x.RecoverySymbol(n - 1)
		forSec = append(forSec, sym)
	}
	b.SetBytes(int64(len(enc.Primary[0].Data) + len(enc.Secondary[n-1].Data)))
	b.ReportAllocs()
	ct := startCPU(b)
	for b.Loop() {
		if _, _, err := codec.RecoverSliver(p, &enc.Metadata, codec.AxisPrimary, 0, forPrim); err != nil {
			b.Fatal(err)
		}
		if _, _, err := codec.RecoverSliver(p, &enc.Metadata, codec.AxisSecondary, n-1, forSec); err != nil {
			b.Fatal(err)
		}
	}
	ct.report(b)
}

func BenchmarkRecoverPair_n100_64MiB(b *testing.B)  { benchRecoverPair(b, 100, 64<<20) }
func BenchmarkRecoverPair_n1000_64MiB(b *testing.B) { benchRecoverPair(b, 1000, 64<<20) }

// BenchmarkVerifyPairs_n1000_64MiB verifies a quarter of a 64 MiB blob's sliver pairs
// (250 of 1000) against its metadata, one core: what one node of a 4-node committee does
// to every upload before it may confirm (each sliver expanded and Merkle-hashed). In make
// bench-e2e three such nodes run on the same two cores as the client, which is why the
// upload there is CPU-bound.
func BenchmarkVerifyPairs_n1000_64MiB(b *testing.B) {
	p := codec.MustParams(1000)
	enc, err := codec.Encode(p, benchBlob(64<<20))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(250 * (len(enc.Primary[0].Data) + len(enc.Secondary[0].Data))))
	ct := startCPU(b)
	for b.Loop() {
		for i := 0; i < 250; i++ {
			pr, se := enc.Pair(i)
			if err := codec.VerifySliver(p, &enc.Metadata, pr); err != nil {
				b.Fatal(err)
			}
			if err := codec.VerifySliver(p, &enc.Metadata, se); err != nil {
				b.Fatal(err)
			}
		}
	}
	ct.report(b)
}

// peakHeap runs fn while sampling the heap every millisecond and returns the peak growth over
// the heap in use before fn started. The collector runs at GOGC=10 meanwhile, so the heap
// tracks live memory closely instead of reflecting the collector's default 2× headroom.
func peakHeap(fn func()) uint64 {
	defer debug.SetGCPercent(debug.SetGCPercent(10))
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	base := sample[0].Value.Uint64()
	peak := base
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	return peak - base
}

// BenchmarkPeakMemory_n1000_64MiB reports the peak heap growth while encoding 64 MiB (the
// blob itself excluded), in multiples of the blob: Encode (all 2n slivers kept; the slivers alone are 4.5× the blob),
// EncodeTo (pairs streamed to a sink that keeps nothing) and ComputeMetadata.
func BenchmarkPeakMemory_n1000_64MiB(b *testing.B) {
	const n, size = 1000, 64 << 20
	p := codec.MustParams(n)
	data := benchBlob(size)
	warmUp(b, p)
	for _, mode := range []string{"Encode", "EncodeTo", "ComputeMetadata"} {
		b.Run(mode, func(b *testing.B) {
			var peak uint64
			for b.Loop() {
				peak = peakHeap(func() {
					var err error
					switch mode {
					case "Encode":
						var enc *codec.EncodedBlob
						enc, err = codec.Encode(p, data)
						runtime.KeepAlive(enc)
					case "EncodeTo":
						_, _, err = codec.EncodeTo(p, data, nil, func(int, *codec.Sliver, *codec.Sliver) error { return nil })
					default:
						_, _, err = codec.ComputeMetadata(p, data)
					}
					if err != nil {
						b.Fatal(err)
					}
				})
			}
			b.ReportMetric(float64(peak)/size, "peak-x-blob")
		})
	}
}
