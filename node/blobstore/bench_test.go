package blobstore_test

import (
	"context"
	"io"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	nodestore "github.com/walrus-go/walrus-go/node/store"
)

// BenchmarkPutPairs measures verifying and durably storing (node/store's synced pebble)
// the pairs of `shards` shards of one blob per op, as one upload request does. Bytes/op
// counts sliver bytes stored.
func BenchmarkPutPairs(b *testing.B) {
	for _, bc := range []struct {
		name           string
		n, size, shard int
	}{
		{"n100_4MiB_25shards", 100, 4 << 20, 25},
		{"n1000_16MiB_250shards", 1000, 16 << 20, 250},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			enc := encode(b, bc.n, bc.size, 1)
			ds, err := nodestore.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer ds.(io.Closer).Close()
			st := blobstore.New(ds, codec.MustParams(bc.n))
			if err := st.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
				b.Fatal(err)
			}
			writes := make([]blobstore.PairWrite, bc.shard)
			var bytes int64
			for i := range writes {
				pr, se := pairFor(enc, i)
				writes[i] = blobstore.PairWrite{Shard: i, Primary: pr, Secondary: se}
				bytes += int64(len(pr.Data) + len(se.Data))
			}
			b.SetBytes(bytes)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				errs, err := st.PutPairs(ctx, enc.BlobID, writes)
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range errs {
					if e != nil {
						b.Fatal(e)
					}
				}
			}
		})
	}
}
