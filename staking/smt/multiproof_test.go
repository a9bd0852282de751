package smt

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// modelIn is the sorted paths of model that lie in an interval.
func modelIn(model map[Hash]Hash, ivs []Interval) []Leaf {
	var out []Leaf
	for p, h := range model {
		for _, iv := range ivs {
			if bytes.Compare(iv.Lo[:], p[:]) <= 0 && bytes.Compare(p[:], iv.Hi[:]) <= 0 {
				out = append(out, Leaf{p, h})
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b Leaf) int { return bytes.Compare(a.Path[:], b.Path[:]) })
	return out
}

func randIntervals(rng *rand.Rand, model map[Hash]Hash) []Interval {
	var ivs []Interval
	var keys []Hash
	for p := range model {
		keys = append(keys, p)
	}
	slices.SortFunc(keys, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
	for j := rng.IntN(4); j >= 0; j-- {
		switch rng.IntN(4) {
		case 0: // a point, present or not
			p := path(rng.Uint64N(600))
			ivs = append(ivs, Point(p))
		case 1: // a range between two entries
			if len(keys) > 0 {
				a, b := keys[rng.IntN(len(keys))], keys[rng.IntN(len(keys))]
				if bytes.Compare(a[:], b[:]) > 0 {
					a, b = b, a
				}
				ivs = append(ivs, Interval{a, b})
			}
		case 2: // a prefix range
			var lo Hash
			lo[0] = byte(rng.IntN(256))
			hi := lo
			for i := 1; i < 32; i++ {
				hi[i] = 0xff
			}
			ivs = append(ivs, Interval{lo, hi})
		default: // a random range
			a, b := path(rng.Uint64()), path(rng.Uint64())
			ivs = append(ivs, Interval{a, b}) // possibly empty (Lo > Hi)
		}
	}
	return ivs
}

// TestMultiproof: for random trees and interval sets (points, ranges, empty ones,
// overlapping ones) the prover's entries are the model's, the proof verifies and gives the
// same entries, and a proof of another tree or other intervals does not verify.
func TestMultiproof(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var tr Tree[uint64]
	model := map[Hash]Hash{}
	for round := 0; round < 150; round++ {
		var ops []Op[uint64]
		for j := rng.IntN(30); j >= 0; j-- {
			p := path(rng.Uint64N(500))
			if rng.IntN(5) == 0 {
				p = path(rng.Uint64N(3))
				p[31] ^= byte(rng.IntN(4))
			}
			if rng.IntN(4) == 0 {
				ops = append(ops, Op[uint64]{Path: p, Delete: true})
				delete(model, p)
				continue
			}
			v := rng.Uint64()
			ops = append(ops, Op[uint64]{Path: p, ValueHash: vh(v), Val: v})
			model[p] = vh(v)
		}
		tr = tr.Update(ops)
		for k := 0; k < 5; k++ {
			ivs := randIntervals(rng, model)
			want := modelIn(model, ivs)
			proof, leaves, vals := tr.ProveIntervals(ivs)
			if !slices.Equal(leaves, want) || len(vals) != len(leaves) {
				t.Fatalf("round %d: prover gave %d entries, model %d", round, len(leaves), len(want))
			}
			got, err := VerifyIntervals(tr.Root(), ivs, proof)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("round %d: verifier gave %d entries, model %d", round, len(got), len(want))
			}
			var walked []Leaf
			for _, iv := range normalize(ivs) {
				tr.WalkRange(iv.Lo, iv.Hi, func(p, h Hash, _ uint64) bool { walked = append(walked, Leaf{p, h}); return true })
			}
			if !slices.Equal(walked, want) {
				t.Fatalf("round %d: WalkRange gave %d entries, model %d", round, len(walked), len(want))
			}
			// A proof for narrower intervals never verifies wider ones that meet opaque
			// subtrees (or, if it does, gives exactly the same entries: nothing was hidden).
			wider := append(slices.Clone(ivs), Interval{path(rng.Uint64()), path(rng.Uint64())})
			if got2, err := VerifyIntervals(tr.Root(), wider, proof); err == nil && !slices.Equal(got2, modelIn(model, wider)) {
				t.Fatalf("round %d: a proof hid entries of a wider interval set", round)
			}
		}
	}
}

// TestMultiproofByteFlips: every one-byte change of a proof fails (or, for a change inside
// a leaf that lies outside every interval, still fails on the root), and never panics.
func TestMultiproofByteFlips(t *testing.T) {
	var ops []Op[int]
	for i := 0; i < 64; i++ {
		ops = append(ops, Op[int]{Path: path(uint64(i)), ValueHash: vh(uint64(i))})
	}
	tr := Tree[int]{}.Update(ops)
	lo, hi := path(5), path(9)
	if bytes.Compare(lo[:], hi[:]) > 0 {
		lo, hi = hi, lo
	}
	ivs := []Interval{{lo, hi}, Point(path(1)), Point(path(1000))}
	proof, want, _ := tr.ProveIntervals(ivs)
	if got, err := VerifyIntervals(tr.Root(), ivs, proof); err != nil || !slices.Equal(got, want) {
		t.Fatal(err)
	}
	for i := range proof {
		for _, x := range []byte{1, 0x80} {
			b := slices.Clone(proof)
			b[i] ^= x
			if _, err := VerifyIntervals(tr.Root(), ivs, b); err == nil {
				t.Fatalf("byte %d ^ %#x verifies", i, x)
			} else if !errors.Is(err, ErrProof) {
				t.Fatalf("error %v does not wrap ErrProof", err)
			}
		}
	}
	if _, err := VerifyIntervals(tr.Root(), ivs, append(slices.Clone(proof), 0)); err == nil {
		t.Fatal("a trailing byte verifies")
	}
	if _, err := VerifyIntervals(tr.Root(), ivs, proof[:len(proof)-1]); err == nil {
		t.Fatal("a short proof verifies")
	}
	root := tr.Root()
	root[0] ^= 1
	if _, err := VerifyIntervals(root, ivs, proof); err == nil {
		t.Fatal("verifies under another root")
	}
	// Empty tree: one empty tag.
	p, l, _ := Tree[int]{}.ProveIntervals(ivs)
	if got, err := VerifyIntervals(Hash{}, ivs, p); err != nil || len(got) != 0 || len(l) != 0 {
		t.Fatal("empty tree", err)
	}
}

// FuzzMultiproof: any input either fails with ErrProof or verifies to entries that are the
// tree's entries in the intervals (nothing forged, nothing hidden); never a panic.
func FuzzMultiproof(f *testing.F) {
	var ops []Op[int]
	model := map[Hash]Hash{}
	for i := 0; i < 40; i++ {
		ops = append(ops, Op[int]{Path: path(uint64(i)), ValueHash: vh(uint64(i))})
		model[path(uint64(i))] = vh(uint64(i))
	}
	tr := Tree[int]{}.Update(ops)
	var hi Hash
	for i := range hi {
		hi[i] = 0xff
	}
	ivs := []Interval{{Hash{0x40}, Hash{0x80}}, Point(path(3)), Point(path(100))}
	p, _, _ := tr.ProveIntervals(ivs)
	f.Add(p)
	p2, _, _ := tr.ProveIntervals([]Interval{{Hash{}, hi}})
	f.Add(p2)
	f.Add([]byte{mpEmpty})
	f.Add([]byte{mpNode, mpNode, mpEmpty})
	want := modelIn(model, ivs)
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := VerifyIntervals(tr.Root(), ivs, b)
		if err != nil {
			if !errors.Is(err, ErrProof) {
				t.Fatalf("error %v does not wrap ErrProof", err)
			}
			return
		}
		if !slices.Equal(got, want) {
			t.Fatal("a proof verified to other entries")
		}
	})
}
