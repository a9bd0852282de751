package codec_test

import (
	"math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

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
	data := benchBlob(size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := codec.ComputeMetadata(p, data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchEncode(b *testing.B, n, size int) {
	p := codec.MustParams(n)
	data := benchBlob(size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := codec.Encode(p, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComputeMetadata_n1000_64MiB(b *testing.B) { benchComputeMetadata(b, 1000, 64<<20) }
func BenchmarkEncode_n1000_64MiB(b *testing.B)          { benchEncode(b, 1000, 64<<20) }
func BenchmarkComputeMetadata_n100_4MiB(b *testing.B)   { benchComputeMetadata(b, 100, 4<<20) }
func BenchmarkEncode_n100_4MiB(b *testing.B)            { benchEncode(b, 100, 4<<20) }
