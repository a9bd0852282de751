package codec

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"golang.org/x/crypto/blake2b"
)

// A known-answer check of the tree shape (docs/protocol.md §3) computed by hand with blake2b, for
// 5 leaves: the odd levels are padded with zero nodes, and the proof of leaf 4 carries them
// as Walrus's Empty node.
func TestMerkleKnownAnswer(t *testing.T) {
	data := [][]byte{[]byte("a"), []byte("bb"), []byte("ccc"), []byte(""), []byte("walrus")}
	leaf := func(d []byte) [32]byte { return blake2b.Sum256(append([]byte{0}, d...)) }
	inner := func(l, r [32]byte) [32]byte { return blake2b.Sum256(append(append([]byte{1}, l[:]...), r[:]...)) }
	var zero [32]byte
	l := make([][32]byte, 5)
	for i, d := range data {
		l[i] = leaf(d)
	}
	a, b, c := inner(l[0], l[1]), inner(l[2], l[3]), inner(l[4], zero)
	d, e := inner(a, b), inner(c, zero)
	want := inner(d, e)
	if got := MerkleRoot(l); got != want {
		t.Fatalf("root %x, want %x", got, want)
	}
	tree := newMerkleTree(l)
	if tree.root() != want {
		t.Fatal("tree root differs")
	}
	for i := range data {
		pr := tree.proof(i)
		if err := pr.Verify(want, 5, data[i]); err != nil {
			t.Fatalf("leaf %d: %v", i, err)
		}
		if err := pr.Verify(want, 5, append(data[i], 0)); !errors.Is(err, ErrBadProof) {
			t.Fatalf("leaf %d with other data: %v", i, err)
		}
		if err := pr.Verify(want, 9, data[i]); !errors.Is(err, ErrBadProof) {
			t.Fatalf("leaf %d with a wrong tree size: %v", i, err)
		}
	}
	pr := tree.proof(4)
	enc := pr.MarshalBCS()
	// path: 3 nodes: Empty, Empty, Digest(d); then leaf index 4.
	wantEnc := append([]byte{3, 0, 0, 1}, d[:]...)
	wantEnc = append(wantEnc, 4, 0, 0, 0, 0, 0, 0, 0)
	if !bytes.Equal(enc, wantEnc) {
		t.Fatalf("proof BCS %x, want %x", enc, wantEnc)
	}
	back, err := UnmarshalMerkleProofBCS(enc)
	if err != nil || back.rootFromLeaf(l[4]) != want {
		t.Fatalf("round trip: %v", err)
	}
	// A zero digest spelled as Digest is not canonical.
	bad := append([]byte{1, 1}, make([]byte, 32)...)
	bad = append(bad, make([]byte, 8)...)
	if _, err := UnmarshalMerkleProofBCS(bad); !errors.Is(err, ErrMalformed) {
		t.Fatalf("non-canonical zero digest: %v", err)
	}
	if MerkleRoot(nil) != zero {
		t.Fatal("empty root must be zero")
	}
}

// The chunk layout of docs/protocol.md §1 for a 70-byte symbol: one whole chunk, then a 6-byte tail
// split 3 + 3 at offsets 0 and 32 of a zeroed chunk.
func TestChunkLayout(t *testing.T) {
	src := make([]byte, 70)
	for i := range src {
		src[i] = byte(i + 1)
	}
	dst := make([]byte, chunkSize(70))
	toChunk(dst, src)
	if !bytes.Equal(dst[:64], src[:64]) {
		t.Fatal("whole chunk not copied")
	}
	want := make([]byte, 64)
	copy(want[0:], src[64:67])
	copy(want[32:], src[67:70])
	if !bytes.Equal(dst[64:], want) {
		t.Fatalf("tail %v, want %v", dst[64:], want)
	}
	back := make([]byte, 70)
	fromChunk(back, dst)
	if !bytes.Equal(back, src) {
		t.Fatal("round trip")
	}
}

// The rate rule of docs/protocol.md §1 on the axes the protocol names.
func TestRateSelection(t *testing.T) {
	for _, tc := range []struct {
		n   int
		low bool
	}{{4, false}, {7, false}, {13, false}, {10, true}, {100, true}, {1000, true}} {
		p := MustParams(tc.n)
		if got := isLowRate(p.R, p.N-p.R); got != tc.low {
			t.Errorf("n=%d primary low-rate=%v, want %v", tc.n, got, tc.low)
		}
		c, err := codeFor(p.R, p.N)
		if err != nil {
			t.Fatal(err)
		}
		if p.UsablePrimarySlivers() != c.usable() {
			t.Errorf("n=%d UsablePrimarySlivers %d, code says %d", tc.n, p.UsablePrimarySlivers(), c.usable())
		}
		if isLowRate(p.C, p.N-p.C) {
			t.Errorf("n=%d secondary axis must be high-rate", tc.n)
		}
	}
}

func TestUsablePrimarySlivers(t *testing.T) {
	for n, want := range map[int]int{4: 4, 7: 7, 10: 8, 13: 13, 100: 98, 1000: 846} {
		if got := MustParams(n).UsablePrimarySlivers(); got != want {
			t.Errorf("n=%d: %d usable primary slivers, want %d", n, got, want)
		}
	}
}

// Every code shape the axis engine supports, including low-rate codes with m <= K that
// RedStuff's own geometry never produces: encode, erase down to k usable positions, decode.
func TestCodeShapesRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	for _, shape := range [][2]int{{7, 12}, {4, 10}, {34, 100}, {5, 8}, {2, 4}, {667, 1000}, {334, 1000}} {
		k, n := shape[0], shape[1]
		code, err := codeFor(k, n)
		if err != nil {
			t.Fatal(err)
		}
		const size = 128
		data := make([][]byte, k)
		for i := range data {
			data[i] = make([]byte, size)
			for j := range data[i] {
				data[i][j] = byte(rng.Uint32())
			}
		}
		parity := make([][]byte, n-k)
		for i := range parity {
			parity[i] = make([]byte, size)
		}
		var sc rsScratch
		if err := code.encode(data, parity, &sc); err != nil {
			t.Fatalf("%d of %d: %v", k, n, err)
		}
		all := append(append([][]byte(nil), data...), parity...)
		for trial := range 3 {
			shards := make([][]byte, code.usable())
			for _, i := range rng.Perm(code.usable())[:k] {
				shards[i] = bytes.Clone(all[i])
			}
			if err := code.reconstructData(shards); err != nil {
				t.Fatalf("%d of %d trial %d: %v", k, n, trial, err)
			}
			for i := range k {
				if !bytes.Equal(shards[i], data[i]) {
					t.Fatalf("%d of %d trial %d: source %d differs", k, n, trial, i)
				}
			}
		}
	}
}
