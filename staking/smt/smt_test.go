package smt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/crypto/blake2b"
)

// refRoot is the root by definition, from the set of entries alone: empty → zero, one entry →
// its leaf hash, more → the internal hash over the two halves split at the depth-th bit.
func refRoot(entries map[Hash]Hash) Hash {
	var paths []Hash
	for p := range entries {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, func(a, b Hash) int { return bytes.Compare(a[:], b[:]) })
	var rec func(depth int, ps []Hash) Hash
	rec = func(depth int, ps []Hash) Hash {
		switch len(ps) {
		case 0:
			return Hash{}
		case 1:
			return LeafHash(ps[0], entries[ps[0]])
		}
		i := 0
		for i < len(ps) && bit(&ps[i], depth) == 0 {
			i++
		}
		return InternalHash(rec(depth+1, ps[:i]), rec(depth+1, ps[i:]))
	}
	return rec(0, paths)
}

func path(i uint64) Hash {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], i)
	return blake2b.Sum256(b[:])
}

func vh(v uint64) Hash { return ValueHash(binary.LittleEndian.AppendUint64(nil, v)) }

// TestUpdateMatchesDefinition drives random batches of inserts, overwrites and deletes
// (including paths that share long prefixes) and checks after every batch that the root is
// the one the definition gives, that Get sees every entry, that older trees are unchanged
// (persistence), and that every proof of inclusion and absence verifies and fails for any
// other value.
func TestUpdateMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var tr Tree[uint64]
	model := map[Hash]Hash{}
	vals := map[Hash]uint64{}
	type snap struct {
		t    Tree[uint64]
		root Hash
	}
	var old []snap
	for round := 0; round < 200; round++ {
		var ops []Op[uint64]
		for j := rng.IntN(20); j >= 0; j-- {
			p := path(rng.Uint64N(300))
			if rng.IntN(4) == 0 {
				// near-collisions: same first 30 bytes, different tail bits
				p = path(rng.Uint64N(3))
				p[31] ^= byte(rng.IntN(4))
			}
			if rng.IntN(3) == 0 {
				ops = append(ops, Op[uint64]{Path: p, Delete: true})
				continue
			}
			v := rng.Uint64()
			ops = append(ops, Op[uint64]{Path: p, ValueHash: vh(v), Val: v})
		}
		// the model applies in order, last wins
		for _, op := range ops {
			if op.Delete {
				delete(model, op.Path)
				delete(vals, op.Path)
			} else {
				model[op.Path], vals[op.Path] = op.ValueHash, op.Val
			}
		}
		tr = tr.Update(ops)
		if got, want := tr.Root(), refRoot(model); got != want {
			t.Fatalf("round %d: root %x, want %x", round, got[:4], want[:4])
		}
		old = append(old, snap{tr, tr.Root()})
		for p, h := range model {
			v, gh, ok := tr.Get(p)
			if !ok || gh != h || v != vals[p] {
				t.Fatalf("round %d: Get", round)
			}
		}
		// proofs
		for i := 0; i < 10; i++ {
			p := path(rng.Uint64N(400))
			if i%3 == 0 {
				p = path(rng.Uint64N(3))
				p[31] ^= byte(rng.IntN(4))
			}
			v, ok, pr := tr.Prove(p)
			h, in := model[p]
			if ok != in || (ok && v != vals[p]) {
				t.Fatalf("Prove presence %v, model %v", ok, in)
			}
			dec, err := DecodeProof(pr.Encode())
			if err != nil {
				t.Fatal(err)
			}
			var hp *Hash
			if in {
				hp = &h
			}
			if err := Verify(tr.Root(), p, hp, dec); err != nil {
				t.Fatalf("round %d: %v (terminal %d)", round, err, pr.Terminal)
			}
			other := vh(rng.Uint64())
			if Verify(tr.Root(), p, &other, dec) == nil {
				t.Fatal("proof verifies another value")
			}
			if in && Verify(tr.Root(), p, nil, dec) == nil {
				t.Fatal("inclusion proof verifies absence")
			}
		}
	}
	for _, s := range old {
		if s.t.Root() != s.root {
			t.Fatal("an older tree changed")
		}
	}
}

func TestOrderIndependent(t *testing.T) {
	var ops []Op[int]
	for i := 0; i < 1000; i++ {
		ops = append(ops, Op[int]{Path: path(uint64(i)), ValueHash: vh(uint64(i)), Val: i})
	}
	a := Tree[int]{}.Update(slices.Clone(ops))
	var b Tree[int]
	for i := len(ops) - 1; i >= 0; i -= 7 {
		b = b.Update([]Op[int]{ops[i]})
	}
	for i := range ops {
		b = b.Update([]Op[int]{ops[i]})
	}
	// insert then delete extras
	b = b.Update([]Op[int]{{Path: path(5000), ValueHash: vh(1)}})
	b = b.Update([]Op[int]{{Path: path(5000), Delete: true}, {Path: path(5001), Delete: true}})
	if a.Root() != b.Root() {
		t.Fatal("root depends on the order of updates")
	}
	var n int
	var prev Hash
	a.Walk(nil, func(p, _ Hash, _ int) bool {
		if n > 0 && bytes.Compare(prev[:], p[:]) >= 0 {
			t.Fatal("walk not ascending")
		}
		prev = p
		n++
		return true
	})
	if n != 1000 {
		t.Fatalf("walked %d", n)
	}
	// prefix walk
	n = 0
	a.Walk([]byte{0x80}, func(p, _ Hash, _ int) bool {
		if p[0] != 0x80 {
			t.Fatal("walk outside prefix")
		}
		n++
		return true
	})
	want := 0
	for i := range ops {
		if ops[i].Path[0] == 0x80 {
			want++
		}
	}
	if n != want {
		t.Fatalf("prefix walk %d, want %d", n, want)
	}
	// deleting everything empties the tree
	var del []Op[int]
	for i := range ops {
		del = append(del, Op[int]{Path: ops[i].Path, Delete: true})
	}
	if e := a.Update(del); !e.Empty() || e.Root() != (Hash{}) {
		t.Fatal("not empty")
	}
}

// TestProofTamper: every single-byte change of an encoded proof, and every single-bit change
// of the root, the path or the value, makes verification fail (or decoding).
func TestProofTamper(t *testing.T) {
	var ops []Op[int]
	for i := 0; i < 500; i++ {
		ops = append(ops, Op[int]{Path: path(uint64(i)), ValueHash: vh(uint64(i))})
	}
	tr := Tree[int]{}.Update(ops)
	root := tr.Root()
	for _, c := range []struct {
		p  Hash
		vh *Hash
	}{{path(7), ptr(vh(7))}, {path(10_000), nil}, {path(10_001), nil}} {
		_, _, pr := tr.Prove(c.p)
		enc := pr.Encode()
		for i := range enc {
			for _, x := range []byte{1, 0x80} {
				b := slices.Clone(enc)
				b[i] ^= x
				if dp, err := DecodeProof(b); err == nil && Verify(root, c.p, c.vh, dp) == nil {
					t.Fatalf("byte %d ^ %x still verifies", i, x)
				}
			}
		}
		dp, _ := DecodeProof(enc)
		for i := 0; i < 256; i++ {
			r, p := root, c.p
			r[i/8] ^= 1 << (i % 8)
			p[i/8] ^= 0x80 >> (i % 8) // bit i in tree order
			if Verify(r, c.p, c.vh, dp) == nil {
				t.Fatal("verifies another root")
			}
			// An absent path ends where its first len(Siblings) bits lead; a path that
			// differs only below that point is absent by the same proof.
			if (c.vh != nil || i < len(dp.Siblings)) && Verify(root, p, c.vh, dp) == nil {
				t.Fatalf("verifies another path (bit %d, terminal %d)", i, dp.Terminal)
			}
			if c.vh != nil {
				v := *c.vh
				v[i/8] ^= 1 << (i % 8)
				if Verify(root, c.p, &v, dp) == nil {
					t.Fatal("verifies another value")
				}
			}
		}
		if len(enc) > 3 && !errors.Is(Verify(root, c.p, c.vh, &Proof{Siblings: dp.Siblings[1:], Terminal: dp.Terminal, OtherPath: dp.OtherPath, OtherValueHash: dp.OtherValueHash}), ErrProof) {
			t.Fatal("a shortened proof verifies")
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestEmptyTreeProof(t *testing.T) {
	var tr Tree[int]
	_, ok, p := tr.Prove(path(1))
	if ok || p.Terminal != TermEmpty || len(p.Siblings) != 0 {
		t.Fatal("empty tree proof")
	}
	if err := Verify(Hash{}, path(1), nil, &p); err != nil {
		t.Fatal(err)
	}
	one := tr.Update([]Op[int]{{Path: path(1), ValueHash: vh(1)}})
	if one.Root() != LeafHash(path(1), vh(1)) {
		t.Fatal("single leaf is not lifted to the root")
	}
	_, _, p = one.Prove(path(2))
	if p.Terminal != TermOther || Verify(one.Root(), path(2), nil, &p) != nil {
		t.Fatal("absence next to a single leaf")
	}
}

// FuzzDecodeProof: any input either fails to decode or re-encodes to itself (one encoding
// per proof), and verifying it never panics.
func FuzzDecodeProof(f *testing.F) {
	var ops []Op[int]
	for i := 0; i < 100; i++ {
		ops = append(ops, Op[int]{Path: path(uint64(i)), ValueHash: vh(uint64(i))})
	}
	tr := Tree[int]{}.Update(ops)
	for _, i := range []uint64{3, 1000, 1001} {
		_, _, p := tr.Prove(path(i))
		f.Add(p.Encode())
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodeProof(b)
		if err != nil {
			if !errors.Is(err, ErrProof) {
				t.Fatalf("error %v does not wrap ErrProof", err)
			}
			return
		}
		if !bytes.Equal(p.Encode(), b) {
			t.Fatal("not canonical")
		}
		h := vh(3)
		_ = Verify(tr.Root(), path(3), &h, p)
		_ = Verify(tr.Root(), path(1000), nil, p)
	})
}
