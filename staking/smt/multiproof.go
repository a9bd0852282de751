package smt

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
)

// Multiproofs: one proof of every entry whose path lies in any of a set of closed intervals
// [Lo, Hi] — a range of a listing and any number of single paths (an interval with Lo = Hi)
// at once, sharing the nodes above them. It is the tree pruned to what the intervals touch,
// in pre-order (left before right, so leaves come in ascending path order):
//
//	0x00                   an empty subtree
//	0x01 hash[32]          a non-empty subtree that intersects no interval (opaque)
//	0x02 path[32] vh[32]   a leaf (an entry, lifted to where it sits)
//	0x03 left right        an internal node, then its two children
//
// Why it proves completeness: a root hash has one preimage (domain bytes keep leaves and
// internal nodes apart; collisions aside), so the verifier rebuilds exactly the real nodes
// along the proof, and it accepts an opaque hash only for a subtree whose whole path range
// misses every interval. Every subtree that meets an interval is therefore opened down to
// its leaves or to an empty subtree: no entry of an interval can be left out, and none can
// be added. A leaf must agree with the bits of the position it is found at.

// Multiproof tags.
const (
	mpEmpty byte = iota
	mpHash
	mpLeaf
	mpNode
)

// Interval is the closed range of paths [Lo, Hi].
type Interval struct{ Lo, Hi Hash }

// Point is the interval holding path alone.
func Point(path Hash) Interval { return Interval{path, path} }

// Leaf is an entry a multiproof shows: its path and value hash.
type Leaf struct{ Path, ValueHash Hash }

// normalize sorts intervals and merges the overlapping and adjacent ones; an interval with
// Lo > Hi is dropped (it holds no path). Prover and verifier normalize alike.
func normalize(ivs []Interval) []Interval {
	out := make([]Interval, 0, len(ivs))
	for _, iv := range ivs {
		if bytes.Compare(iv.Lo[:], iv.Hi[:]) <= 0 {
			out = append(out, iv)
		}
	}
	slices.SortFunc(out, func(a, b Interval) int { return bytes.Compare(a.Lo[:], b.Lo[:]) })
	w := 0
	for i := range out {
		if w > 0 && bytes.Compare(out[i].Lo[:], out[w-1].Hi[:]) <= 0 {
			if bytes.Compare(out[i].Hi[:], out[w-1].Hi[:]) > 0 {
				out[w-1].Hi = out[i].Hi
			}
			continue
		}
		out[w] = out[i]
		w++
	}
	return out[:w]
}

// intervals is a normalized interval set.
type intervals []Interval

// meets reports whether the subtree at depth whose paths start with prefix's first depth
// bits intersects an interval.
func (s intervals) meets(prefix *Hash, depth int) bool {
	lo, hi := span(prefix, depth)
	i := sort.Search(len(s), func(i int) bool { return bytes.Compare(s[i].Hi[:], lo[:]) >= 0 })
	return i < len(s) && bytes.Compare(s[i].Lo[:], hi[:]) <= 0
}

// holds reports whether path lies in an interval.
func (s intervals) holds(path *Hash) bool {
	i := sort.Search(len(s), func(i int) bool { return bytes.Compare(s[i].Hi[:], path[:]) >= 0 })
	return i < len(s) && bytes.Compare(s[i].Lo[:], path[:]) <= 0
}

// span is the first and last path under the first depth bits of prefix.
func span(prefix *Hash, depth int) (lo, hi Hash) {
	lo, hi = *prefix, *prefix
	for i := depth; i < MaxDepth; {
		if i%8 == 0 {
			lo[i/8], hi[i/8] = 0, 0xff
			i += 8
			continue
		}
		m := byte(1) << (7 - uint(i%8))
		lo[i/8] &^= m
		hi[i/8] |= m
		i++
	}
	return lo, hi
}

func setBit(p *Hash, i int) { p[i>>3] |= 1 << (7 - uint(i&7)) }

// ProveIntervals returns the multiproof of every entry in the intervals, and those entries
// (in ascending path order) with their payloads.
func (t Tree[V]) ProveIntervals(ivs []Interval) (proof []byte, leaves []Leaf, vals []V) {
	s := intervals(normalize(ivs))
	var rec func(n *node[V], prefix Hash, depth int)
	rec = func(n *node[V], prefix Hash, depth int) {
		switch {
		case n == nil:
			proof = append(proof, mpEmpty)
		case !s.meets(&prefix, depth):
			proof = append(proof, mpHash)
			proof = append(proof, n.hash[:]...)
		case n.lf != nil:
			proof = append(proof, mpLeaf)
			proof = append(proof, n.lf.path[:]...)
			proof = append(proof, n.lf.vhash[:]...)
			if s.holds(&n.lf.path) {
				leaves = append(leaves, Leaf{n.lf.path, n.lf.vhash})
				vals = append(vals, n.lf.val)
			}
		default:
			proof = append(proof, mpNode)
			rec(n.left, prefix, depth+1)
			setBit(&prefix, depth)
			rec(n.right, prefix, depth+1)
		}
	}
	rec(t.root, Hash{}, 0)
	return proof, leaves, vals
}

// VerifyIntervals checks a multiproof against root for the intervals and returns every
// entry in them, in ascending path order. It returns an error wrapping ErrProof when the
// proof does not parse (strictly: no trailing byte, no zero opaque hash, no node below
// depth 256) or does not verify. Its work is linear in len(proof).
func VerifyIntervals(root Hash, ivs []Interval, proof []byte) ([]Leaf, error) {
	v := mpVerifier{s: normalize(ivs), b: proof}
	h := v.node(Hash{}, 0)
	switch {
	case v.err != nil:
		return nil, v.err
	case v.off != len(v.b):
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrProof, len(v.b)-v.off)
	case h != root:
		return nil, fmt.Errorf("%w: root mismatch", ErrProof)
	}
	return v.leaves, nil
}

type mpVerifier struct {
	s      intervals
	b      []byte
	off    int
	err    error
	leaves []Leaf
}

func (v *mpVerifier) fail(format string, args ...any) Hash {
	if v.err == nil {
		v.err = fmt.Errorf("%w: "+format, append([]any{ErrProof}, args...)...)
	}
	return Hash{}
}

func (v *mpVerifier) take(n int) []byte {
	if len(v.b)-v.off < n {
		v.fail("short at byte %d", v.off)
		return nil
	}
	b := v.b[v.off : v.off+n]
	v.off += n
	return b
}

// node parses and hashes the subtree at depth under prefix.
func (v *mpVerifier) node(prefix Hash, depth int) Hash {
	tag := v.take(1)
	if tag == nil {
		return Hash{}
	}
	switch tag[0] {
	case mpEmpty:
		return Hash{}
	case mpHash:
		b := v.take(32)
		if b == nil {
			return Hash{}
		}
		h := Hash(b)
		if h == (Hash{}) {
			return v.fail("zero opaque hash")
		}
		if v.s.meets(&prefix, depth) {
			return v.fail("opaque subtree at depth %d meets an interval", depth)
		}
		return h
	case mpLeaf:
		b := v.take(64)
		if b == nil {
			return Hash{}
		}
		l := Leaf{Path: Hash(b[:32]), ValueHash: Hash(b[32:])}
		if !samePrefix(&l.Path, &prefix, depth) {
			return v.fail("leaf off its position at depth %d", depth)
		}
		if v.s.holds(&l.Path) {
			v.leaves = append(v.leaves, l)
		}
		return LeafHash(l.Path, l.ValueHash)
	case mpNode:
		if depth >= MaxDepth {
			return v.fail("internal node at depth %d", depth)
		}
		l := v.node(prefix, depth+1)
		setBit(&prefix, depth)
		r := v.node(prefix, depth+1)
		if v.err != nil {
			return Hash{}
		}
		return InternalHash(l, r)
	}
	return v.fail("tag %d", tag[0])
}

// WalkRange calls fn for every entry whose path is in [lo, hi], in ascending path order,
// until fn returns false. It visits only the subtrees that meet the range.
func (t Tree[V]) WalkRange(lo, hi Hash, fn func(path Hash, vhash Hash, val V) bool) {
	s := intervals(normalize([]Interval{{lo, hi}}))
	var rec func(n *node[V], prefix Hash, depth int) bool
	rec = func(n *node[V], prefix Hash, depth int) bool {
		switch {
		case n == nil || !s.meets(&prefix, depth):
			return true
		case n.lf != nil:
			if s.holds(&n.lf.path) {
				return fn(n.lf.path, n.lf.vhash, n.lf.val)
			}
			return true
		}
		if !rec(n.left, prefix, depth+1) {
			return false
		}
		setBit(&prefix, depth)
		return rec(n.right, prefix, depth+1)
	}
	rec(t.root, Hash{}, 0)
}
