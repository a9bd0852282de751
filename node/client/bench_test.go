package client_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
)

// benchStoreRead measures Upload (to the last node's confirmation) and Read of size
// bytes on a loopback cluster with the given shard weights. Bytes/op is the blob size.
func benchStoreRead(b *testing.B, weights []int, size int) {
	c := newCluster(b, weights, 77)
	data := randomBlob(size, 5)
	ctx := context.Background()
	b.Run("Upload", func(b *testing.B) {
		b.SetBytes(int64(size))
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			d := append([]byte(nil), data...)
			d[0] = byte(i) // a fresh blob ID each round
			enc, err := codec.Encode(c.p, d)
			if err != nil {
				b.Fatal(err)
			}
			reg := c.register(enc.BlobID, false)
			b.StartTimer()
			res, err := c.client.Upload(ctx, c.com(), enc, reg, nil)
			if err != nil {
				b.Fatal(err)
			}
			res.Certified()
			<-res.Done()
		}
	})
	enc, reg := c.encodeAndRegister(data)
	res, err := c.client.Upload(ctx, c.com(), enc, reg, nil)
	if err != nil {
		b.Fatal(err)
	}
	res.Certified()
	<-res.Done()
	b.Run("Read", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for i := 0; i < b.N; i++ {
			if _, err := c.client.Read(ctx, c.com(), enc.BlobID); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkStoreRead_n10_1MiB(b *testing.B)  { benchStoreRead(b, []int{4, 3, 2, 1}, 1<<20) }
func BenchmarkStoreRead_n100_8MiB(b *testing.B) { benchStoreRead(b, []int{40, 30, 20, 10}, 8<<20) }

// benchReadPaths stores one blob of size bytes on a loopback cluster, measures Read of it,
// then each of the ways of reading it with ReadTo / ReadRange, and reports each as a
// multiple of Read's time (x-read), with what it fetches (fetched-MiB: metadata plus the
// primary slivers asked for; Read fetches R of them). Only the leaves report. The ratio
// is taken against Reads interleaved with the path's own reads (one each per iteration,
// the Read outside the timer), so that load from elsewhere on the machine, which comes and
// goes, weighs on both sides alike.
func benchReadPaths(b *testing.B, weights []int, size int, paths map[string]readPath) {
	c := newCluster(b, weights, 78)
	data := randomBlob(size, 6)
	ctx := context.Background()
	enc := c.storeAll(ctx, data)
	read := func(b *testing.B) {
		if _, err := c.client.Read(ctx, c.com(), enc.BlobID); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("Read", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(size))
		for i := 0; i < b.N; i++ {
			read(b)
		}
		b.ReportMetric(mib(int64(c.p.R)*int64(rowBytes(b, c.p, size))+int64(c.p.MetadataSize())), "fetched-MiB")
	})
	names := make([]string, 0, len(paths))
	for name := range paths {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var fetched int64
			var readTime time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				start := time.Now()
				read(b)
				readTime += time.Since(start)
				b.StartTimer()
				var err error
				if fetched, err = paths[name](b, ctx, c, enc.BlobID); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed())/float64(readTime), "x-read")
			b.ReportMetric(mib(fetched+int64(c.p.MetadataSize())), "fetched-MiB")
		})
	}
}

// readPath is one way of reading the blob id under benchmark b; it returns the bytes of
// slivers it fetches and may report metrics of its own.
type readPath func(b *testing.B, ctx context.Context, c *cluster, id codec.BlobID) (fetched int64, err error)

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// rangeFetched is what a range read fetches beside the metadata: the rows that hold it.
func rangeFetched(c *cluster, size, off, n int) int64 {
	sp, err := c.p.SpanOf(uint64(size), uint64(off), uint64(n))
	if err != nil {
		panic(err)
	}
	return int64(sp.Rows()) * int64(sp.RowBytes)
}

// firstByteWriter discards what it is given and notes when the first bytes came.
type firstByteWriter struct {
	start time.Time
	ttfb  time.Duration
}

func (w *firstByteWriter) Write(p []byte) (int, error) {
	if w.ttfb == 0 {
		w.ttfb = time.Since(w.start)
	}
	return len(p), nil
}

// benchReadTo: ReadTo of the whole blob to a writer that discards it, beside Read, with
// the default window and with an 8 MiB one. It also reports the mean time to the first
// byte written (ttfb-ms). B/op shows what a read allocates: Read the blob, ReadTo its
// window (and what the transport allocates per request, in both).
func benchReadTo(b *testing.B, weights []int, size int) {
	readTo := func(window int) readPath {
		var (
			last  *testing.B
			ttfb  time.Duration
			reads int
		)
		return func(b *testing.B, ctx context.Context, c *cluster, id codec.BlobID) (int64, error) {
			if b != last {
				last, ttfb, reads = b, 0, 0
			}
			w := &firstByteWriter{start: time.Now()}
			n, err := c.client.ReadToWith(ctx, c.com(), id, w, client.ReadOptions{WindowBytes: window})
			if err == nil && n != int64(size) {
				err = fmt.Errorf("ReadTo wrote %d of %d bytes", n, size)
			}
			ttfb += w.ttfb
			reads++
			b.ReportMetric(float64(ttfb.Microseconds())/1e3/float64(reads), "ttfb-ms")
			return rangeFetched(c, size, 0, size), err
		}
	}
	benchReadPaths(b, weights, size, map[string]readPath{
		"ReadTo":           readTo(0),
		"ReadToWindow8MiB": readTo(8 << 20),
	})
}

// benchReadRange: ReadRange of 1 MiB in the middle of the blob (crossing a row boundary
// where the rows are shorter than that), of one byte, and of the whole blob, beside Read.
func benchReadRange(b *testing.B, weights []int, size int) {
	rangeOf := func(off, n int) readPath {
		return func(_ *testing.B, ctx context.Context, c *cluster, id codec.BlobID) (int64, error) {
			got, err := c.client.ReadRange(ctx, c.com(), id, int64(off), int64(n))
			if err == nil && len(got) != n {
				err = fmt.Errorf("ReadRange gave %d of %d bytes", len(got), n)
			}
			return rangeFetched(c, size, off, n), err
		}
	}
	benchReadPaths(b, weights, size, map[string]readPath{
		"Range1MiB":  rangeOf(size/2-1<<19, 1<<20),
		"Range1Byte": rangeOf(size/2, 1),
		"RangeWhole": rangeOf(0, size),
	})
}

func BenchmarkReadTo_n100_8MiB(b *testing.B)     { benchReadTo(b, []int{40, 30, 20, 10}, 8<<20) }
func BenchmarkReadTo_n100_64MiB(b *testing.B)    { benchReadTo(b, []int{40, 30, 20, 10}, 64<<20) }
func BenchmarkReadRange_n100_8MiB(b *testing.B)  { benchReadRange(b, []int{40, 30, 20, 10}, 8<<20) }
func BenchmarkReadRange_n100_64MiB(b *testing.B) { benchReadRange(b, []int{40, 30, 20, 10}, 64<<20) }

// n = 1000 as on Walrus Mainnet and the default testnet: rows of 201 KB at 64 MiB.
func BenchmarkReadTo_n1000_64MiB(b *testing.B) { benchReadTo(b, []int{400, 300, 200, 100}, 64<<20) }
func BenchmarkReadRange_n1000_64MiB(b *testing.B) {
	benchReadRange(b, []int{400, 300, 200, 100}, 64<<20)
}
