package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// mpTree is a tree over random leaf data of n leaves of varying length.
func mpTree(rng *rand.Rand, n int) ([][]byte, *merkleTree) {
	data := make([][]byte, n)
	leaves := make([][HashLen]byte, n)
	for i := range data {
		data[i] = make([]byte, 1+rng.IntN(9))
		for j := range data[i] {
			data[i][j] = byte(rng.Uint32())
		}
		leaves[i] = leafHash(nil, data[i])
	}
	return data, newMerkleTree(leaves)
}

// mpIndexSets draws index sets for a tree of n leaves: single leaves, the ends, random
// subsets, contiguous runs and contiguous runs that wrap around n (sorted), everything.
func mpIndexSets(rng *rand.Rand, n int) [][]int {
	sets := [][]int{{0}, {n - 1}}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	sets = append(sets, all)
	for range 6 {
		var s []int
		for i := range n {
			if rng.IntN(4) == 0 {
				s = append(s, i)
			}
		}
		if len(s) > 0 {
			sets = append(sets, s)
		}
		k, start := 1+rng.IntN(n), rng.IntN(n)
		var run []int
		for j := range k {
			run = append(run, (start+j)%n)
		}
		slices.Sort(run)
		sets = append(sets, run)
	}
	return sets
}

func mpLeaves(data [][]byte, idx []int) [][]byte {
	out := make([][]byte, len(idx))
	for i, x := range idx {
		out[i] = data[x]
	}
	return out
}

// Multiproofs verify against the same root as single proofs, have the length MultiProofLen
// says, and every leaf's derived proof is exactly the tree's own.
func TestMultiProofMatchesMerkleProof(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 2, 3, 4, 5, 6, 7, 9, 10, 13, 31, 33, 100, 257, 333, 667, 1000, 1024, 1025} {
		data, tree := mpTree(rng, n)
		root := tree.root()
		for _, idx := range mpIndexSets(rng, n) {
			mp, err := tree.multiProof(idx)
			if err != nil {
				t.Fatalf("n=%d: %v", n, err)
			}
			want, err := MultiProofLen(n, idx)
			if err != nil || want != len(mp.Hashes) {
				t.Fatalf("n=%d %v: %d hashes, MultiProofLen %d (%v)", n, idx, len(mp.Hashes), want, err)
			}
			if len(mp.Hashes) > len(idx)*proofDepth(n) {
				t.Fatalf("n=%d: %d hashes for %d leaves", n, len(mp.Hashes), len(idx))
			}
			leaves := mpLeaves(data, idx)
			if err := mp.Verify(root, n, idx, leaves); err != nil {
				t.Fatalf("n=%d %v: %v", n, idx, err)
			}
			for i, x := range idx {
				got, err := mp.LeafProof(root, n, idx, leaves, i)
				if err != nil {
					t.Fatal(err)
				}
				if want := tree.proof(x); !reflect.DeepEqual(got, want) {
					t.Fatalf("n=%d leaf %d: derived proof %v, want %v", n, x, got, want)
				}
				if err := got.Verify(root, n, data[x]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// A contiguous run of leaves, wrapped around n or not, costs at most about 2·log2(n) hashes.
func TestMultiProofContiguousSize(t *testing.T) {
	for _, n := range []int{10, 100, 1000} {
		depth := proofDepth(n)
		for start := 0; start < n; start += 1 + n/17 {
			for _, k := range []int{1, 2, 3, n / 4, n / 3, n - 1} {
				var run []int
				for j := range k {
					run = append(run, (start+j)%n)
				}
				slices.Sort(run)
				h, err := MultiProofLen(n, run)
				if err != nil {
					t.Fatal(err)
				}
				// Two runs at most (a wrapped one), each with a left and a right edge.
				if h > 4*depth {
					t.Fatalf("n=%d run of %d from %d: %d hashes (depth %d)", n, k, start, h, depth)
				}
			}
		}
	}
}

// Any one-byte change of a hash or a leaf, a hash more or less, a changed index set, tree
// size or root, and malformed index sets fail.
func TestMultiProofRejects(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	for _, n := range []int{4, 5, 10, 100, 1000} {
		data, tree := mpTree(rng, n)
		root := tree.root()
		for _, idx := range mpIndexSets(rng, n)[3:] {
			mp, err := tree.multiProof(idx)
			if err != nil {
				t.Fatal(err)
			}
			leaves := mpLeaves(data, idx)
			bad := func(what string, mp MultiProof, root [HashLen]byte, n int, idx []int, leaves [][]byte) {
				t.Helper()
				if err := mp.Verify(root, n, idx, leaves); !errors.Is(err, ErrBadProof) {
					t.Fatalf("n=%d: %s accepted (%v)", n, what, err)
				}
				if _, err := mp.LeafProof(root, n, idx, leaves, 0); !errors.Is(err, ErrBadProof) {
					t.Fatalf("n=%d: %s: leaf proof derived (%v)", n, what, err)
				}
			}
			for i := range mp.Hashes {
				c := MultiProof{Hashes: slices.Clone(mp.Hashes)}
				c.Hashes[i][rng.IntN(HashLen)] ^= byte(1 + rng.IntN(255))
				bad("changed hash", c, root, n, idx, leaves)
			}
			for i := range leaves {
				c := slices.Clone(leaves)
				c[i] = bytes.Clone(c[i])
				c[i][rng.IntN(len(c[i]))] ^= 1
				bad("changed leaf", mp, root, n, idx, c)
			}
			bad("surplus hash", MultiProof{Hashes: append(slices.Clone(mp.Hashes), [HashLen]byte{})}, root, n, idx, leaves)
			if len(mp.Hashes) > 0 {
				bad("missing hash", MultiProof{Hashes: mp.Hashes[1:]}, root, n, idx, leaves)
				bad("missing last hash", MultiProof{Hashes: mp.Hashes[:len(mp.Hashes)-1]}, root, n, idx, leaves)
			}
			r := root
			r[0] ^= 1
			bad("other root", mp, r, n, idx, leaves)
			// (The tree size is not bound by the hashes, as with single proofs: trees of 5
			// and 6 leaves have the same shape above leaf 4. It comes from the context, n.)
			bad("fewer leaves", mp, root, n, idx, leaves[1:])
			if len(idx) > 1 {
				sw := slices.Clone(idx)
				sw[0], sw[1] = sw[1], sw[0]
				bad("unsorted", mp, root, n, sw, leaves)
				dup := slices.Clone(idx)
				dup[1] = dup[0]
				bad("duplicate", mp, root, n, dup, leaves)
			}
			if idx[len(idx)-1] < n-1 {
				sh := slices.Clone(idx)
				sh[len(sh)-1]++
				bad("shifted index", mp, root, n, sh, leaves)
			}
			out := slices.Clone(idx)
			out[len(out)-1] = n
			bad("index out of range", mp, root, n, out, leaves)
			bad("no index", mp, root, n, nil, nil)
		}
	}
	if _, err := MultiProofLen(0, []int{0}); !errors.Is(err, ErrBadProof) {
		t.Fatal("empty tree accepted")
	}
	if _, err := MultiProofLen(maxTreeLeaves+1, []int{0}); !errors.Is(err, ErrBadProof) {
		t.Fatal("oversized tree accepted")
	}
	if _, err := MultiProofLen(4, []int{-1}); !errors.Is(err, ErrBadProof) {
		t.Fatal("negative index accepted")
	}
}

// Batches of recovery symbols: every symbol verifies, recovers the same sliver as single
// symbols do, and a batch with one byte changed fails.
func TestSymbolBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	for _, n := range []int{4, 10, 100} {
		p := MustParams(n)
		data := make([]byte, p.R*p.C*6+3)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		enc, err := Encode(p, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range []Axis{AxisPrimary, AxisSecondary} {
			k, start := 1+rng.IntN(n), rng.IntN(n)
			var targets []int
			for j := range k {
				targets = append(targets, (start+j)%n)
			}
			slices.Sort(targets)
			proven := make([][]ProvenSymbol, len(targets))
			single := make([][]RecoverySymbol, len(targets))
			for src := range n {
				sl := &enc.Primary[src]
				if target == AxisPrimary {
					sl = &enc.Secondary[src]
				}
				x, err := ExpandSliver(p, sl)
				if err != nil {
					t.Fatal(err)
				}
				b, err := x.SymbolBatch(targets)
				if err != nil {
					t.Fatal(err)
				}
				syms, err := VerifySymbolBatch(p, &enc.Metadata, &b)
				if err != nil {
					t.Fatalf("n=%d %s source %d: %v", n, target, src, err)
				}
				for i := range targets {
					one, err := x.RecoverySymbol(targets[i])
					if err != nil {
						t.Fatal(err)
					}
					single[i] = append(single[i], one)
					proven[i] = append(proven[i], syms[i])
					derived, err := syms[i].Symbol()
					if err != nil || !reflect.DeepEqual(derived, one) {
						t.Fatalf("derived symbol %+v (%v), want %+v", derived, err, one)
					}
				}
				// One byte changed anywhere fails the batch.
				c := b
				c.Data = slices.Clone(b.Data)
				j := rng.IntN(len(c.Data))
				c.Data[j] = bytes.Clone(c.Data[j])
				c.Data[j][rng.IntN(len(c.Data[j]))] ^= 0x10
				if _, err := VerifySymbolBatch(p, &enc.Metadata, &c); err == nil {
					t.Fatal("changed cell accepted")
				}
				if len(b.Proof.Hashes) > 0 {
					c = b
					c.Proof.Hashes = slices.Clone(b.Proof.Hashes)
					c.Proof.Hashes[rng.IntN(len(c.Proof.Hashes))][rng.IntN(HashLen)] ^= 4
					if _, err := VerifySymbolBatch(p, &enc.Metadata, &c); err == nil {
						t.Fatal("changed proof accepted")
					}
				}
				c = b
				c.Index = uint16((src + 1) % n)
				for enc.Metadata.sliverHash(target.Other(), int(c.Index)) == enc.Metadata.sliverHash(target.Other(), src) {
					c.Index = uint16((int(c.Index) + 1) % n) // padding rows are alike
				}
				if _, err := VerifySymbolBatch(p, &enc.Metadata, &c); err == nil {
					t.Fatalf("n=%d %s: source %d as %d accepted, targets %v", n, target, src, c.Index, targets)
				}
			}
			for i, ti := range targets {
				want, _, err := RecoverSliver(p, &enc.Metadata, target, ti, single[i])
				if err != nil {
					t.Fatal(err)
				}
				got, _, err := RecoverSliverProven(p, &enc.Metadata, target, ti, proven[i])
				if err != nil || !reflect.DeepEqual(got, want) {
					t.Fatalf("n=%d %s %d: proven recovery %v", n, target, ti, err)
				}
				// Symbols proven for another target are not used for this one.
				if len(targets) > 1 {
					other := proven[(i+1)%len(targets)]
					if _, _, err := RecoverSliverProven(p, &enc.Metadata, target, ti, other); !errors.Is(err, ErrNotEnoughSymbols) {
						t.Fatalf("symbols of another target used: %v", err)
					}
				}
			}
		}
	}
}

// An inconsistently encoded blob recovered from batches yields an inconsistency proof, with
// per-symbol proofs derived from the multiproofs, that verifies.
func TestSymbolBatchInconsistencyProof(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	for _, n := range []int{4, 10, 100} {
		p := MustParams(n)
		data := make([]byte, p.R*p.C*2+7)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		enc, err := Encode(p, data)
		if err != nil {
			t.Fatal(err)
		}
		for _, target := range []Axis{AxisPrimary, AxisSecondary} {
			victim := rng.IntN(n)
			bad := Metadata{EncodingType: enc.Metadata.EncodingType, UnencodedLength: enc.Metadata.UnencodedLength,
				Hashes: slices.Clone(enc.Metadata.Hashes)}
			tampered := enc.Primary[victim]
			if target == AxisSecondary {
				tampered = enc.Secondary[victim]
			}
			tampered.Data = bytes.Clone(tampered.Data)
			tampered.Data[0] ^= 0x80
			h, err := SliverHash(p, &tampered)
			if err != nil {
				t.Fatal(err)
			}
			if target == AxisPrimary {
				bad.Hashes[victim].Primary = h
			} else {
				bad.Hashes[n-1-victim].Secondary = h
			}
			targets := []int{victim}
			if victim+1 < n {
				targets = append(targets, victim+1)
			}
			var syms []ProvenSymbol
			for src := range n {
				sl := &enc.Primary[src]
				if target == AxisPrimary {
					sl = &enc.Secondary[src]
				}
				x, err := ExpandSliver(p, sl)
				if err != nil {
					t.Fatal(err)
				}
				b, err := x.SymbolBatch(targets)
				if err != nil {
					t.Fatal(err)
				}
				ps, err := VerifySymbolBatch(p, &bad, &b)
				if err != nil {
					t.Fatal(err)
				}
				syms = append(syms, ps[0])
			}
			_, proof, err := RecoverSliverProven(p, &bad, target, victim, syms)
			if !errors.Is(err, ErrInconsistentBlob) || proof == nil {
				t.Fatalf("n=%d: want an inconsistency, got %v", n, err)
			}
			if err := VerifyInconsistencyProof(p, &bad, proof); err != nil {
				t.Fatalf("n=%d: derived proof rejected: %v", n, err)
			}
		}
	}
}

// FuzzVerifyMultiProof: whatever indices, leaves and hashes come in, Verify does not panic,
// and accepts only the true leaves at their indices (whose derived proofs are the tree's).
func FuzzVerifyMultiProof(f *testing.F) {
	rng := rand.New(rand.NewPCG(29, 30))
	trees := map[int]*merkleTree{}
	datas := map[int][][]byte{}
	for _, n := range []int{1, 2, 5, 10, 33, 100} {
		datas[n], trees[n] = mpTree(rng, n)
		for _, idx := range mpIndexSets(rng, n)[:5] {
			mp, _ := trees[n].multiProof(idx)
			f.Add(mpEncodeFuzz(n, idx, mpLeaves(datas[n], idx), mp))
		}
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, idx, leaves, mp, ok := mpDecodeFuzz(b)
		if !ok {
			return
		}
		tree, known := trees[n]
		if !known {
			// Arbitrary sizes: only that it does not panic.
			_ = mp.Verify([HashLen]byte{}, n, idx, leaves)
			return
		}
		root := tree.root()
		if err := mp.Verify(root, n, idx, leaves); err != nil {
			return
		}
		for i, x := range idx {
			if !bytes.Equal(leaves[i], datas[n][x]) {
				t.Fatalf("n=%d: leaf %d accepted with other data", n, x)
			}
			got, err := mp.LeafProof(root, n, idx, leaves, i)
			if err != nil || !reflect.DeepEqual(got, tree.proof(x)) {
				t.Fatalf("n=%d: derived proof of leaf %d: %v", n, x, err)
			}
		}
	})
}

// mpEncodeFuzz: n u16 | k u8 | k × (index u16 | len u8 | data) | hashes.
func mpEncodeFuzz(n int, idx []int, leaves [][]byte, mp MultiProof) []byte {
	b := binary.LittleEndian.AppendUint16(nil, uint16(n))
	b = append(b, byte(len(idx)))
	for i, x := range idx {
		b = binary.LittleEndian.AppendUint16(b, uint16(x))
		b = append(b, byte(len(leaves[i])))
		b = append(b, leaves[i]...)
	}
	for _, h := range mp.Hashes {
		b = append(b, h[:]...)
	}
	return b
}

func mpDecodeFuzz(b []byte) (int, []int, [][]byte, MultiProof, bool) {
	if len(b) < 3 {
		return 0, nil, nil, MultiProof{}, false
	}
	n, k := int(binary.LittleEndian.Uint16(b)), int(b[2])
	b = b[3:]
	var idx []int
	var leaves [][]byte
	for range k {
		if len(b) < 3 || len(b) < 3+int(b[2]) {
			return 0, nil, nil, MultiProof{}, false
		}
		idx = append(idx, int(binary.LittleEndian.Uint16(b)))
		leaves = append(leaves, b[3:3+int(b[2])])
		b = b[3+int(b[2]):]
	}
	var mp MultiProof
	for len(b) >= HashLen {
		mp.Hashes = append(mp.Hashes, [HashLen]byte(b[:HashLen]))
		b = b[HashLen:]
	}
	return n, idx, leaves, mp, true
}
