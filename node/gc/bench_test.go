package gc_test

import (
	"context"
	"io"
	mrand "math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	nodestore "github.com/walrus-go/walrus-go/node/store"
)

// BenchmarkRemoveBlob measures one garbage-collection removal (blobstore.RemoveBlob: the
// blob sized from its metadata, its metadata, slivers and pair markers deleted and a
// removal marker written in one synced batch, on node/store's pebble) of a 4 MiB blob at
// n = 1000 with the 250 shards a node of the 4-node testnet holds, the work the GC's CPU
// share (gc.DefaultCPU) paces. Bytes/op counts the bytes removed.
func BenchmarkRemoveBlob(b *testing.B) {
	const n, size, shards = 1000, 4 << 20, 250
	ctx := context.Background()
	p := codec.MustParams(n)
	data := make([]byte, size)
	mrand.NewChaCha8([32]byte{3}).Read(data)
	enc, err := codec.Encode(p, data)
	if err != nil {
		b.Fatal(err)
	}
	ds, err := nodestore.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer ds.(io.Closer).Close()
	st := blobstore.New(ds, p)
	held := make([]uint16, shards)
	writes := make([]blobstore.PairWrite, shards)
	for i := range writes {
		pr, se := enc.Pair(p.PairIndexForShard(enc.BlobID, i))
		writes[i] = blobstore.PairWrite{Shard: i, Primary: pr, Secondary: se}
		held[i] = uint16(i)
	}
	var freed int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := st.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
			b.Fatal(err)
		}
		if _, err := st.PutPairs(ctx, enc.BlobID, writes); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		ok, n, err := st.RemoveBlob(ctx, enc.BlobID, held, func() (blobstore.Removal, bool) {
			return blobstore.Removal{Reason: blobstore.RemovedDeleted}, false
		})
		if err != nil || !ok {
			b.Fatalf("removed %v: %v", ok, err)
		}
		freed = n
	}
	b.SetBytes(freed)
}
