package client_test

import (
	"context"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
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
