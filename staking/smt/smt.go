// Package smt is the authenticated tree that commits the ledger state (docs/architecture.md §4):
// a persistent sparse Merkle tree over 256-bit paths with compressed empty subtrees.
//
// # Shape and hashes
//
// Conceptually the tree has 2^256 leaf positions, one per path, read from the most significant
// bit of path[0] (0 = left). It is stored compressed, and the compression is canonical: a
// subtree holding no entry is empty (hash: 32 zero bytes), a subtree holding exactly one entry
// is that entry's leaf, lifted to the subtree's root (no chain of single-child nodes above a
// leaf), and a subtree holding two or more entries is an internal node. So the shape, and the
// root, depend only on the set of entries, never on the order of updates.
//
//	leaf hash     = Blake2b-256(0x00 || path || value hash)
//	internal hash = Blake2b-256(0x01 || left hash || right hash)   (an empty child hashes as 32 zero bytes)
//	value hash    = Blake2b-256(value)                              (computed by the caller: Op.ValueHash)
//
// A leaf hash binds the full path, so a leaf means the same at any depth. The domain bytes keep
// leaves (65-byte preimages) and internal nodes (65-byte preimages) apart.
//
// # Persistence
//
// Nodes are immutable once built and carry their hash, so a Tree is a value: copying it is
// O(1), Update returns a new tree sharing every untouched subtree with the old one, and any
// number of goroutines may read one tree while another builds its successor. An update of k
// entries in a tree of n costs O(k·log n) hashes and allocations, never O(n).
//
// # Proofs
//
// Prove gives the siblings along a path down to where the path ends (its leaf, an empty
// subtree, or another entry's leaf) — inclusion or absence — and Verify checks one against a
// root. The encoding (Proof.Encode, DecodeProof) is canonical and bounded; see proof.go.
// Multiproofs (multiproof.go) prove every entry in a set of path ranges, so a listing is
// proven complete.
//
// # Why not a library
//
// The root must be a function of the entries alone (every node computes it bit for bit), a
// copy must be O(1) (the ledger publishes an immutable state per height and builds proposals
// on copies), the hash is Blake2b like the rest of the protocol, proofs are decoded from
// untrusted bytes by the light client, and listings need range proofs. IAVL's root depends on
// its insertion history, Jellyfish Merkle trees are Rust, and the Go sparse Merkle tree
// libraries update one tree in place in a node store without range proofs; this package is
// about 700 lines and adds no dependency. The comparison and the measured costs are in
// docs/architecture.md §4 ("Checkpoints") and the README ("Authenticated state").
package smt

import (
	"bytes"
	"slices"
	"sort"

	"golang.org/x/crypto/blake2b"
)

// Hash is a 32-byte Blake2b-256 digest; the zero Hash is the empty subtree.
type Hash = [32]byte

// Domain bytes of the two kinds of tree node.
const (
	leafDomain     = 0x00
	internalDomain = 0x01
)

// LeafHash is Blake2b-256(0x00 || path || valueHash).
func LeafHash(path, valueHash Hash) Hash {
	var b [65]byte
	b[0] = leafDomain
	copy(b[1:], path[:])
	copy(b[33:], valueHash[:])
	return blake2b.Sum256(b[:])
}

// InternalHash is Blake2b-256(0x01 || left || right).
func InternalHash(left, right Hash) Hash {
	var b [65]byte
	b[0] = internalDomain
	copy(b[1:], left[:])
	copy(b[33:], right[:])
	return blake2b.Sum256(b[:])
}

// ValueHash is Blake2b-256(value), the value hash a leaf commits to.
func ValueHash(value []byte) Hash { return blake2b.Sum256(value) }

// bit is the i-th bit of path, most significant bit of path[0] first.
func bit(path *Hash, i int) byte { return (path[i>>3] >> (7 - uint(i&7))) & 1 }

// node is a leaf (lf != nil) or an internal node with at least two entries below it.
type node[V any] struct {
	hash        Hash
	left, right *node[V]
	lf          *leaf[V]
}

type leaf[V any] struct {
	path, vhash Hash
	val         V
}

func hashOf[V any](n *node[V]) Hash {
	if n == nil {
		return Hash{}
	}
	return n.hash
}

// Tree is an immutable sparse Merkle tree whose leaves carry a payload of type V next to their
// value hash (the ledger keeps its decoded entries there). The zero Tree is empty.
type Tree[V any] struct{ root *node[V] }

// Root is the root hash (zero for the empty tree).
func (t Tree[V]) Root() Hash { return hashOf(t.root) }

// Empty reports whether the tree holds no entry.
func (t Tree[V]) Empty() bool { return t.root == nil }

// Get returns the payload and value hash stored at path.
func (t Tree[V]) Get(path Hash) (val V, vhash Hash, ok bool) {
	n := t.root
	for d := 0; n != nil; d++ {
		if n.lf != nil {
			if n.lf.path == path {
				return n.lf.val, n.lf.vhash, true
			}
			break
		}
		if bit(&path, d) == 0 {
			n = n.left
		} else {
			n = n.right
		}
	}
	var zero V
	return zero, Hash{}, false
}

// Op is one change: set Path to (ValueHash, Val), or delete Path when Delete is true.
type Op[V any] struct {
	Path      Hash
	Delete    bool
	ValueHash Hash
	Val       V
}

// Update applies ops and returns the new tree; t is unchanged. ops is sorted in place; when a
// path appears more than once, its last op in the given order wins. Deleting an absent path
// does nothing.
func (t Tree[V]) Update(ops []Op[V]) Tree[V] {
	if len(ops) == 0 {
		return t
	}
	slices.SortStableFunc(ops, func(a, b Op[V]) int { return bytes.Compare(a.Path[:], b.Path[:]) })
	w := 0
	for i := range ops {
		if i+1 < len(ops) && ops[i+1].Path == ops[i].Path {
			continue
		}
		ops[w] = ops[i]
		w++
	}
	return Tree[V]{update(t.root, 0, ops[:w])}
}

// update applies sorted, unique ops (all sharing the first depth bits) to the subtree n.
func update[V any](n *node[V], depth int, ops []Op[V]) *node[V] {
	if len(ops) == 0 {
		return n
	}
	if n == nil || n.lf != nil {
		// At most one entry here: rebuild the subtree from it and the ops.
		leaves := make([]*node[V], 0, len(ops)+1)
		kept := n
		for i := range ops {
			if kept != nil && ops[i].Path == kept.lf.path {
				kept = nil // replaced or deleted
			}
		}
		for i := range ops {
			if kept != nil && bytes.Compare(kept.lf.path[:], ops[i].Path[:]) < 0 {
				leaves = append(leaves, kept)
				kept = nil
			}
			if !ops[i].Delete {
				leaves = append(leaves, newLeaf(&ops[i]))
			}
		}
		if kept != nil {
			leaves = append(leaves, kept)
		}
		if len(leaves) == 1 && leaves[0] == n {
			return n
		}
		return build(depth, leaves)
	}
	split := sort.Search(len(ops), func(i int) bool { return bit(&ops[i].Path, depth) == 1 })
	l := update(n.left, depth+1, ops[:split])
	r := update(n.right, depth+1, ops[split:])
	if l == n.left && r == n.right {
		return n
	}
	return join(l, r)
}

func newLeaf[V any](op *Op[V]) *node[V] {
	return &node[V]{hash: LeafHash(op.Path, op.ValueHash), lf: &leaf[V]{path: op.Path, vhash: op.ValueHash, val: op.Val}}
}

// join makes the canonical node over two subtrees: empty, a lifted leaf, or an internal node.
func join[V any](l, r *node[V]) *node[V] {
	switch {
	case l == nil && r == nil:
		return nil
	case l == nil && r.lf != nil:
		return r
	case r == nil && l.lf != nil:
		return l
	}
	return &node[V]{hash: InternalHash(hashOf(l), hashOf(r)), left: l, right: r}
}

// build makes the canonical subtree at depth over leaves sorted by path (distinct paths that
// share their first depth bits).
func build[V any](depth int, leaves []*node[V]) *node[V] {
	switch len(leaves) {
	case 0:
		return nil
	case 1:
		return leaves[0]
	}
	split := sort.Search(len(leaves), func(i int) bool { return bit(&leaves[i].lf.path, depth) == 1 })
	l, r := build(depth+1, leaves[:split]), build(depth+1, leaves[split:])
	return &node[V]{hash: InternalHash(hashOf(l), hashOf(r)), left: l, right: r}
}

// Walk calls fn for every entry whose path starts with prefix (whole bytes), in ascending path
// order, until fn returns false.
func (t Tree[V]) Walk(prefix []byte, fn func(path Hash, vhash Hash, val V) bool) {
	n := t.root
	for d := 0; d < 8*len(prefix) && n != nil && n.lf == nil; d++ {
		if (prefix[d>>3]>>(7-uint(d&7)))&1 == 0 {
			n = n.left
		} else {
			n = n.right
		}
	}
	walk(n, prefix, fn)
}

func walk[V any](n *node[V], prefix []byte, fn func(Hash, Hash, V) bool) bool {
	if n == nil {
		return true
	}
	if n.lf != nil {
		if !bytes.HasPrefix(n.lf.path[:], prefix) {
			return true
		}
		return fn(n.lf.path, n.lf.vhash, n.lf.val)
	}
	return walk(n.left, prefix, fn) && walk(n.right, prefix, fn)
}
