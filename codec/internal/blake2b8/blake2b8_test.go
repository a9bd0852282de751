package blake2b8

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/blake2b"
)

// paths runs f on every vector kernel this machine has (8 lanes on AVX-512, 4 on AVX2) and
// on the portable path (vecLanes 0).
func paths(t testing.TB, f func(t testing.TB)) {
	saved := vecLanes
	defer func() { vecLanes = saved }()
	for _, lanes := range append(append([]int(nil), kernels...), 0) {
		vecLanes = lanes
		f(t)
	}
}

func randomMsgs(rng *rand.Rand, count, length int) [][]byte {
	msgs := make([][]byte, count)
	for i := range msgs {
		msgs[i] = make([]byte, length)
		for j := range msgs[i] {
			msgs[i][j] = byte(rng.Uint32())
		}
	}
	return msgs
}

func ref(prefix byte, m []byte) [Size]byte {
	return blake2b.Sum256(append([]byte{prefix}, m...))
}

// TestSumMatchesXCrypto compares every message length from 0 to 600 bytes (one to five
// blocks, every block boundary), the codec's symbol length at the 1 GiB blob (4820 bytes)
// and batch sizes around both lane counts against x/crypto.
func TestSumMatchesXCrypto(t *testing.T) {
	t.Logf("vector kernels on this machine (lanes): %v; the portable path is tested too", kernels)
	rng := rand.New(rand.NewPCG(1, 2))
	paths(t, func(t testing.TB) {
		var hs Hasher // one hasher across lengths: layout changes must not leak old bytes
		check := func(length, count int) {
			msgs := randomMsgs(rng, count, length)
			prefix := byte(length)
			out := make([][Size]byte, count)
			hs.Sum(out, prefix, msgs)
			for i := range msgs {
				if want := ref(prefix, msgs[i]); out[i] != want {
					t.Fatalf("lanes=%d length %d message %d of %d: got %x want %x", vecLanes, length, i, count, out[i], want)
				}
			}
		}
		counts := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 17, 24}
		for length := 0; length <= 600; length++ {
			check(length, counts[length%len(counts)])
		}
		for _, count := range counts {
			check(4820, count)
		}
	})
}

// TestKernelSwitch hashes with one Hasher while the kernel width changes between calls: buf
// laid out for one width must be laid out again for the other.
func TestKernelSwitch(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	saved := vecLanes
	defer func() { vecLanes = saved }()
	widths := append(append([]int(nil), kernels...), 0)
	var hs Hasher
	for round, length := range []int{64, 64, 300, 64, 255, 255, 1000, 127} {
		vecLanes = widths[round%len(widths)]
		msgs := randomMsgs(rng, 9, length)
		out := make([][Size]byte, len(msgs))
		hs.Sum(out, 0, msgs)
		for i := range msgs {
			if out[i] != ref(0, msgs[i]) {
				t.Fatalf("lanes=%d length %d message %d: wrong digest", vecLanes, length, i)
			}
		}
	}
}

// TestLengthChangeClearsPadding shrinks the message length inside one block: bytes left by
// the longer messages must not be hashed as padding.
func TestLengthChangeClearsPadding(t *testing.T) {
	paths(t, func(t testing.TB) {
		var hs Hasher
		for _, length := range []int{100, 50, 126, 1, 127, 0} {
			msgs := make([][]byte, 8)
			for i := range msgs {
				msgs[i] = bytes.Repeat([]byte{0xff}, length)
			}
			out := make([][Size]byte, 8)
			hs.Sum(out, 0, msgs)
			for i := range msgs {
				if out[i] != ref(0, msgs[i]) {
					t.Fatalf("lanes=%d length %d: wrong digest", vecLanes, length)
				}
			}
		}
	})
}

func TestSumPairsMatchesXCrypto(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	paths(t, func(t testing.TB) {
		var hs Hasher
		for n := 0; n <= 70; n++ {
			in := make([][Size]byte, n)
			for i := range in {
				for j := range in[i] {
					in[i][j] = byte(rng.Uint32())
				}
			}
			want := make([][Size]byte, (n+1)/2)
			for i := range want {
				var r [Size]byte
				if 2*i+1 < n {
					r = in[2*i+1]
				}
				want[i] = ref(1, append(append([]byte(nil), in[2*i][:]...), r[:]...))
			}
			// Separate output, then in place (how a Merkle level is reduced).
			out := make([][Size]byte, len(want))
			hs.SumPairs(out, 1, in)
			hs.SumPairs(in, 1, in)
			for i := range want {
				if out[i] != want[i] || in[i] != want[i] {
					t.Fatalf("lanes=%d n %d pair %d: wrong digest", vecLanes, n, i)
				}
			}
		}
	})
}

func TestMismatchedLengthsPanic(t *testing.T) {
	paths(t, func(t testing.TB) {
		defer func() {
			if recover() == nil {
				t.Fatalf("lanes=%d: messages of different lengths were accepted", vecLanes)
			}
		}()
		var hs Hasher
		msgs := [][]byte{make([]byte, 10), make([]byte, 10), make([]byte, 11), make([]byte, 10)}
		hs.Sum(make([][Size]byte, 4), 0, msgs)
	})
}

func FuzzSum(f *testing.F) {
	f.Add([]byte("walrus"), uint8(9), byte(0))
	f.Fuzz(func(t *testing.T, seed []byte, count uint8, prefix byte) {
		n := int(count%20) + 1
		msgs := make([][]byte, n)
		for i := range msgs {
			msgs[i] = append([]byte{byte(i)}, seed...)
		}
		out := make([][Size]byte, n)
		paths(t, func(testing.TB) {
			var hs Hasher
			hs.Sum(out, prefix, msgs)
			for i := range msgs {
				if out[i] != ref(prefix, msgs[i]) {
					t.Fatalf("lanes=%d message %d: wrong digest", vecLanes, i)
				}
			}
		})
	})
}

// BenchmarkLeaves hashes 1024 symbol-sized leaves (the codec's leaf hashes at n = 1000 for
// 64 MiB, 1 MiB, 1 KiB and 1 GiB blobs); "xcrypto" is one Sum256 per message and "lanesN"
// the N-lane kernel, in the same run.
func BenchmarkLeaves(b *testing.B) {
	for _, length := range []int{301, 64, 1024, 4820} {
		msgs := make([][]byte, 1024)
		for i := range msgs {
			msgs[i] = bytes.Repeat([]byte{byte(i)}, length)
		}
		out := make([][Size]byte, len(msgs))
		b.Run(fmt.Sprintf("len=%d/xcrypto", length), func(b *testing.B) {
			b.SetBytes(int64(len(msgs) * length))
			buf := make([]byte, 1+length)
			for b.Loop() {
				for i, m := range msgs {
					buf[0] = 0
					copy(buf[1:], m)
					out[i] = blake2b.Sum256(buf)
				}
			}
		})
		for _, lanes := range kernels {
			b.Run(fmt.Sprintf("len=%d/lanes%d", length, lanes), func(b *testing.B) {
				defer func(saved int) { vecLanes = saved }(vecLanes)
				vecLanes = lanes
				b.SetBytes(int64(len(msgs) * length))
				var hs Hasher
				for b.Loop() {
					hs.Sum(out, 0, msgs)
				}
			})
		}
	}
}

// BenchmarkPairs reduces 1024 nodes to 512 (a Merkle level: 65-byte messages) on the
// portable path and on each kernel.
func BenchmarkPairs(b *testing.B) {
	in := make([][Size]byte, 1024)
	for i := range in {
		in[i][0] = byte(i)
	}
	out := make([][Size]byte, len(in)/2)
	for _, lanes := range append(append([]int(nil), kernels...), 0) {
		name := fmt.Sprintf("lanes%d", lanes)
		if lanes == 0 {
			name = "xcrypto"
		}
		b.Run(name, func(b *testing.B) {
			defer func(saved int) { vecLanes = saved }(vecLanes)
			vecLanes = lanes
			b.SetBytes(int64(len(out) * (1 + 2*Size)))
			var hs Hasher
			for b.Loop() {
				hs.SumPairs(out, 1, in)
			}
		})
	}
}

// BenchmarkTail measures a batch of k messages of 64 bytes, fewer than the lanes, on each
// path: minLanes is the smallest k where a kernel (always computing all its lanes) wins.
func BenchmarkTail(b *testing.B) {
	for _, lanes := range kernels {
		for k := 1; k <= lanes/2; k++ {
			msgs := make([][]byte, k)
			for i := range msgs {
				msgs[i] = make([]byte, 64)
			}
			out := make([][Size]byte, k)
			var hs Hasher
			b.Run(fmt.Sprintf("k=%d/xcrypto", k), func(b *testing.B) {
				for b.Loop() {
					for i := range msgs {
						out[i] = hs.sum1(1, msgs[i])
					}
				}
			})
			b.Run(fmt.Sprintf("k=%d/lanes%d", k, lanes), func(b *testing.B) {
				for b.Loop() {
					hs.layout(lanes, 65)
					for l := range k {
						copy(hs.buf[hs.idx[l]+1:], msgs[l])
					}
					hs.run(lanes, out, 65, 128)
				}
			})
		}
	}
}

// TestGeneratedAssemblyUpToDate regenerates the kernel and compares it with the checked-in
// file, so an edit to gen.go cannot land without the assembly it implies.
func TestGeneratedAssemblyUpToDate(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not found: %v", err)
	}
	out := filepath.Join(t.TempDir(), "gen.s")
	if b, err := exec.Command(goBin, "run", "gen.go", "-out", out).CombinedOutput(); err != nil {
		t.Fatalf("go run gen.go: %v\n%s", err, b)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("blake2b8_amd64.s")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("blake2b8_amd64.s is stale: run go generate ./codec/internal/blake2b8")
	}
}
