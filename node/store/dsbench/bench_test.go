package dsbench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	ds "github.com/ipfs/go-datastore"
	flatfs "github.com/ipfs/go-ds-flatfs"
	leveldb "github.com/ipfs/go-ds-leveldb"

	"github.com/walrus-go/walrus-go/node/store"
)

type backend struct {
	name string
	open func(dir string) (ds.Batching, error)
}

// Every backend is configured for durable writes: pebble through store.Open (WAL fsync on
// every write), flatfs with sync=true (fsync file and directory), leveldb with its default
// syncWrites=true.
var backends = []backend{
	{"pebble", func(dir string) (ds.Batching, error) { return store.Open(dir) }},
	{"pebble-vsep", func(dir string) (ds.Batching, error) { return store.Open(dir, store.WithValueSeparation(4<<10)) }},
	{"flatfs", func(dir string) (ds.Batching, error) {
		return flatfs.CreateOrOpen(dir, flatfs.NextToLast(2), true)
	}},
	{"leveldb", func(dir string) (ds.Batching, error) { return leveldb.NewDatastore(dir, nil) }},
}

// key is valid for every backend (flatfs accepts only [0-9A-Z+-_=] in one segment).
func key(prefix string, i int) ds.Key { return ds.NewKey(fmt.Sprintf("/%s%016X", prefix, i)) }

func payload(size int) []byte {
	b := make([]byte, size)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(b) // incompressible, like slivers
	return b
}

func openB(b *testing.B, be backend) ds.Batching {
	b.Helper()
	d, err := be.open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = d.Close() })
	return d
}

var sizes = []struct {
	name string
	n    int
}{{"64KiB", 64 << 10}, {"256KiB", 256 << 10}, {"4MiB", 4 << 20}}

// BenchmarkSyncedPut: one durable Put per op, distinct keys (a node storing slivers).
func BenchmarkSyncedPut(b *testing.B) {
	ctx := context.Background()
	for _, be := range backends {
		for _, sz := range sizes {
			b.Run(be.name+"/"+sz.name, func(b *testing.B) {
				d := openB(b, be)
				v := payload(sz.n)
				b.SetBytes(int64(sz.n))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := d.Put(ctx, key("S", i), v); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkGet: random reads over 64 MiB of values written before the timer starts.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	for _, be := range backends {
		for _, sz := range sizes {
			b.Run(be.name+"/"+sz.name, func(b *testing.B) {
				d := openB(b, be)
				v := payload(sz.n)
				n := max(16, (64<<20)/sz.n)
				bt, err := d.Batch(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for i := 0; i < n; i++ {
					if err := bt.Put(ctx, key("G", i), v); err != nil {
						b.Fatal(err)
					}
				}
				if err := bt.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				rng := rand.New(rand.NewPCG(1, 2))
				b.SetBytes(int64(sz.n))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					got, err := d.Get(ctx, key("G", rng.IntN(n)))
					if err != nil || len(got) != sz.n {
						b.Fatalf("get: %v (%d bytes)", err, len(got))
					}
				}
			})
		}
	}
}

// BenchmarkSmallKeys: many small records (blob state, ledger entries). One op is a durable
// batch of 1000 keys of 128 bytes; keys/s is the metric that matters.
func BenchmarkSmallKeys(b *testing.B) {
	ctx := context.Background()
	const perBatch = 1000
	v := payload(128)
	for _, be := range backends {
		b.Run(be.name+"/batch1000", func(b *testing.B) {
			d := openB(b, be)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bt, err := d.Batch(ctx)
				if err != nil {
					b.Fatal(err)
				}
				for j := 0; j < perBatch; j++ {
					if err := bt.Put(ctx, key("K", i*perBatch+j), v); err != nil {
						b.Fatal(err)
					}
				}
				if err := bt.Commit(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*perBatch)/b.Elapsed().Seconds(), "keys/s")
		})
		b.Run(be.name+"/single", func(b *testing.B) {
			d := openB(b, be)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := d.Put(ctx, key("O", i), v); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
		})
	}
}

// BenchmarkSyncedPutParallel: 16 concurrent writers doing durable Puts, as when many
// clients push slivers at once. Engines with a shared WAL group-commit concurrent writes
// into one fsync; a file-per-value engine pays one (or more) fsync per value.
func BenchmarkSyncedPutParallel(b *testing.B) {
	ctx := context.Background()
	for _, be := range backends {
		for _, sz := range sizes {
			b.Run(be.name+"/"+sz.name, func(b *testing.B) {
				d := openB(b, be)
				v := payload(sz.n)
				var next atomic.Int64
				b.SetBytes(int64(sz.n))
				b.SetParallelism(8) // × GOMAXPROCS goroutines
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if err := d.Put(ctx, key("P", int(next.Add(1))), v); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
