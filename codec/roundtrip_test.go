package codec_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// testShardCounts covers both rates of the primary axis: high-rate at n = 4, 7, 13 and
// low-rate at 10, 16, 31, 100 (docs/protocol.md §1), plus m <= K and m > K shapes.
var testShardCounts = []int{4, 5, 7, 10, 13, 16, 31, 100}

func randBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// blobSizes returns a spread of sizes: empty, tiny, sizes around the symbol-size steps and
// sizes whose symbols are not a multiple of 64 bytes (the chunk-layout tail).
func blobSizes(p codec.Params) []int {
	cells := p.R * p.C
	return []int{0, 1, 2, cells*2 - 1, cells * 2, cells*2 + 1, cells*64 + 3, cells*70 + 11}
}

func mustEncode(t testing.TB, p codec.Params, data []byte) *codec.EncodedBlob {
	t.Helper()
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatalf("Encode(n=%d, %d bytes): %v", p.N, len(data), err)
	}
	return enc
}

func TestEncodeMatchesComputeMetadata(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range testShardCounts {
		p := codec.MustParams(n)
		for _, size := range blobSizes(p) {
			data := randBytes(rng, size)
			enc := mustEncode(t, p, data)
			m, id, err := codec.ComputeMetadata(p, data)
			if err != nil {
				t.Fatal(err)
			}
			if id != enc.BlobID || !bytes.Equal(m.MarshalBCS(), enc.Metadata.MarshalBCS()) {
				t.Fatalf("n=%d size=%d: ComputeMetadata differs from Encode", n, size)
			}
			if err := codec.VerifyMetadata(p, id, &m); err != nil {
				t.Fatalf("n=%d size=%d: %v", n, size, err)
			}
			for i := range n {
				if enc.Primary[i].Index != uint16(i) || enc.Secondary[i].Index != uint16(i) {
					t.Fatalf("sliver index mismatch at %d", i)
				}
				for _, s := range []*codec.Sliver{&enc.Primary[i], &enc.Secondary[i]} {
					if err := codec.VerifySliver(p, &m, s); err != nil {
						t.Fatalf("n=%d size=%d %s %d: %v", n, size, s.Axis, s.Index, err)
					}
				}
			}
			// Primary sliver r and secondary sliver c share cell (r, c) for r < R, c < C.
			s := enc.SymbolSize
			for r := range p.R {
				for c := range p.C {
					a := enc.Primary[r].Data[c*s : (c+1)*s]
					b := enc.Secondary[c].Data[r*s : (r+1)*s]
					if !bytes.Equal(a, b) {
						t.Fatalf("cell (%d,%d) differs between axes", r, c)
					}
				}
			}
		}
	}
}

func TestDecodeRandomSubsets(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range testShardCounts {
		p := codec.MustParams(n)
		for _, size := range blobSizes(p) {
			data := randBytes(rng, size)
			enc := mustEncode(t, p, data)
			for trial := range 4 {
				// Primary: any R of the usable range; f faults never leave fewer.
				usable := p.UsablePrimarySlivers()
				perm := rng.Perm(usable)[:p.R]
				var sl []codec.Sliver
				for _, i := range perm {
					sl = append(sl, enc.Primary[i])
				}
				if trial == 0 {
					// Worst case under f faults: the first f slivers missing, all others given.
					sl = append([]codec.Sliver(nil), enc.Primary[p.F:]...)
				}
				got, err := codec.DecodePrimary(p, &enc.Metadata, sl)
				if err != nil {
					t.Fatalf("n=%d size=%d DecodePrimary: %v", n, size, err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("n=%d size=%d DecodePrimary: wrong data", n, size)
				}
				// Secondary: any C of n.
				perm = rng.Perm(n)[:p.C]
				sl = sl[:0]
				for _, i := range perm {
					sl = append(sl, enc.Secondary[i])
				}
				got, err = codec.DecodeSecondary(p, &enc.Metadata, sl)
				if err != nil {
					t.Fatalf("n=%d size=%d DecodeSecondary: %v", n, size, err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("n=%d size=%d DecodeSecondary: wrong data", n, size)
				}
			}
			// Too few slivers.
			if _, err := codec.DecodePrimary(p, &enc.Metadata, enc.Primary[:p.R-1]); !errors.Is(err, codec.ErrNotEnoughSlivers) {
				t.Fatalf("n=%d: decode from R-1 slivers: %v", n, err)
			}
		}
	}
}

func TestRecoverSliverFromRandomSymbols(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range testShardCounts {
		p := codec.MustParams(n)
		data := randBytes(rng, p.R*p.C*6+5)
		enc := mustEncode(t, p, data)
		expP := make([]*codec.ExpandedSliver, n)
		expS := make([]*codec.ExpandedSliver, n)
		for i := range n {
			var err error
			if expP[i], err = codec.ExpandSliver(p, &enc.Primary[i]); err != nil {
				t.Fatal(err)
			}
			if expS[i], err = codec.ExpandSliver(p, &enc.Secondary[i]); err != nil {
				t.Fatal(err)
			}
		}
		for _, target := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
			for trial := range 3 {
				idx := rng.IntN(n)
				// Sources: the other axis's slivers; take a random subset of n-f holders
				// (f faulty), shuffled, with one duplicate and one corrupt symbol mixed in.
				src := expS
				if target == codec.AxisSecondary {
					src = expP
				}
				holders := rng.Perm(n)[:p.N-p.F]
				var syms []codec.RecoverySymbol
				for _, h := range holders {
					sym, err := src[h].RecoverySymbol(idx)
					if err != nil {
						t.Fatal(err)
					}
					if err := codec.VerifyRecoverySymbol(p, &enc.Metadata, target, idx, &sym); err != nil {
						t.Fatalf("n=%d %s %d from %d: %v", n, target, idx, h, err)
					}
					syms = append(syms, sym)
				}
				bad := syms[0]
				bad.Data = append([]byte(nil), bad.Data...)
				bad.Data[0] ^= 1
				syms = append([]codec.RecoverySymbol{bad, syms[1]}, syms...)
				got, proof, err := codec.RecoverSliver(p, &enc.Metadata, target, idx, syms)
				if err != nil || proof != nil {
					t.Fatalf("n=%d trial %d: recover %s %d: %v", n, trial, target, idx, err)
				}
				want := &enc.Primary[idx]
				if target == codec.AxisSecondary {
					want = &enc.Secondary[idx]
				}
				if !bytes.Equal(got.Data, want.Data) || got.Index != want.Index || got.Axis != want.Axis {
					t.Fatalf("n=%d: recovered %s %d differs", n, target, idx)
				}
			}
		}
	}
}

func TestEncodeToStreamsTheSamePairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, n := range []int{4, 10, 100} {
		p := codec.MustParams(n)
		for _, size := range []int{0, p.R*p.C*2 - 1, p.R*p.C*70 + 11} {
			data := randBytes(rng, size)
			enc := mustEncode(t, p, data)
			next := 0
			var gotID codec.BlobID
			m, id, err := codec.EncodeTo(p, data, func(m *codec.Metadata, id codec.BlobID) error {
				gotID = id
				if next != 0 {
					t.Fatal("metadata after the first pair")
				}
				return nil
			}, func(pair int, prim, sec *codec.Sliver) error {
				if pair != next {
					t.Fatalf("pair %d, want %d", pair, next)
				}
				next++
				wp, ws := enc.Pair(pair)
				if !bytes.Equal(prim.MarshalBCS(), wp.MarshalBCS()) || !bytes.Equal(sec.MarshalBCS(), ws.MarshalBCS()) {
					t.Fatalf("n=%d size=%d pair %d differs from Encode", n, size, pair)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if next != n || id != enc.BlobID || gotID != id || m.BlobID() != id {
				t.Fatalf("n=%d: %d pairs, id %s want %s", n, next, id, enc.BlobID)
			}
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	p := codec.MustParams(4)
	// n=4: R·C·65534 = 393204 bytes at most.
	if _, err := codec.Encode(p, make([]byte, p.MaxBlobSize()+1)); !errors.Is(err, codec.ErrBlobTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	if _, _, err := codec.ComputeMetadata(codec.Params{N: 4}, []byte{1}); !errors.Is(err, codec.ErrBadShardCount) {
		t.Fatalf("inconsistent params: %v", err)
	}
	stop := errors.New("stop")
	calls := 0
	_, _, err := codec.EncodeTo(p, []byte("abc"), nil, func(int, *codec.Sliver, *codec.Sliver) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("sink error: %v after %d calls", err, calls)
	}
	if _, _, err := codec.EncodeTo(p, []byte("abc"), func(*codec.Metadata, codec.BlobID) error { return stop }, nil); !errors.Is(err, stop) {
		t.Fatalf("metadata callback error: %v", err)
	}
}

// Mixed-up inputs to the decoders are rejected with the right class of error.
func TestDecodeRejectsWrongInputs(t *testing.T) {
	p := codec.MustParams(7)
	rng := rand.New(rand.NewPCG(19, 20))
	enc := mustEncode(t, p, randBytes(rng, 1000))
	if _, err := codec.DecodePrimary(p, &enc.Metadata, enc.Secondary); !errors.Is(err, codec.ErrBadSliver) {
		t.Fatalf("secondary slivers to DecodePrimary: %v", err)
	}
	bad := enc.Primary[0]
	bad.Data = bytes.Clone(bad.Data)
	bad.Data[3] ^= 1
	if _, err := codec.DecodePrimary(p, &enc.Metadata, append([]codec.Sliver{bad}, enc.Primary[1:]...)); !errors.Is(err, codec.ErrSliverHashMismatch) {
		t.Fatalf("corrupt sliver: %v", err)
	}
	// Duplicates do not count twice.
	dup := []codec.Sliver{enc.Primary[0], enc.Primary[0], enc.Primary[0]}
	if _, err := codec.DecodePrimary(p, &enc.Metadata, dup); !errors.Is(err, codec.ErrNotEnoughSlivers) {
		t.Fatalf("duplicates: %v", err)
	}
	short := enc.Metadata
	short.Hashes = short.Hashes[1:]
	if _, err := codec.DecodeSecondary(p, &short, enc.Secondary); !errors.Is(err, codec.ErrBadMetadata) {
		t.Fatalf("short metadata: %v", err)
	}
	if err := codec.VerifyMetadata(p, codec.BlobID{}, &enc.Metadata); !errors.Is(err, codec.ErrBlobIDMismatch) {
		t.Fatalf("wrong blob ID: %v", err)
	}
	// Not enough symbols.
	x, err := codec.ExpandSliver(p, &enc.Secondary[0])
	if err != nil {
		t.Fatal(err)
	}
	sym, _ := x.RecoverySymbol(1)
	if _, _, err := codec.RecoverSliver(p, &enc.Metadata, codec.AxisPrimary, 1, []codec.RecoverySymbol{sym}); !errors.Is(err, codec.ErrNotEnoughSymbols) {
		t.Fatalf("one symbol: %v", err)
	}
}

// Hand-built Params that NewParams would never return are rejected, not trusted.
func TestInconsistentParamsRejected(t *testing.T) {
	good := codec.MustParams(10)
	enc := mustEncode(t, good, []byte("params"))
	bad := good
	bad.R++ // would make sliver sizes and code shapes disagree
	if _, err := codec.UnmarshalSliverBCS(bad, codec.AxisPrimary, enc.Primary[0].MarshalBCS()); !errors.Is(err, codec.ErrBadShardCount) {
		t.Fatalf("UnmarshalSliverBCS: %v", err)
	}
	if err := codec.VerifySliver(bad, &enc.Metadata, &enc.Primary[0]); !errors.Is(err, codec.ErrBadShardCount) {
		t.Fatalf("VerifySliver: %v", err)
	}
	if _, err := codec.DecodePrimary(bad, &enc.Metadata, enc.Primary); !errors.Is(err, codec.ErrBadShardCount) {
		t.Fatalf("DecodePrimary: %v", err)
	}
	if _, _, err := codec.RecoverSliver(bad, &enc.Metadata, codec.AxisPrimary, 0, nil); !errors.Is(err, codec.ErrBadShardCount) {
		t.Fatalf("RecoverSliver: %v", err)
	}
}

// The production geometry, n = 1000: decode from the worst case under f faults and recover a
// sliver pair. A few seconds of CPU, so skipped under -short.
func TestMainnetGeometry(t *testing.T) {
	if testing.Short() {
		t.Skip("n=1000 round trip skipped under -short")
	}
	p := codec.MustParams(1000)
	rng := rand.New(rand.NewPCG(23, 24))
	data := randBytes(rng, p.R*p.C*2+999)
	enc := mustEncode(t, p, data)
	got, err := codec.DecodePrimary(p, &enc.Metadata, enc.Primary[p.F:])
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("DecodePrimary: %v", err)
	}
	// Secondary sliver 0 from the primary holders that survive losing the first f.
	var syms []codec.RecoverySymbol
	for i := p.F; i < p.N; i++ {
		x, err := codec.ExpandSliver(p, &enc.Primary[i])
		if err != nil {
			t.Fatal(err)
		}
		sym, _ := x.RecoverySymbol(0)
		syms = append(syms, sym)
	}
	sl, _, err := codec.RecoverSliver(p, &enc.Metadata, codec.AxisSecondary, 0, syms)
	if err != nil || !bytes.Equal(sl.Data, enc.Secondary[0].Data) {
		t.Fatalf("RecoverSliver: %v", err)
	}
}
