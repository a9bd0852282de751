package codec

import (
	"fmt"

	"github.com/walrus-go/walrus-go/codec/internal/blake2b8"
)

// Multiproofs: one proof for several leaves of one Walrus Merkle tree (same hashing and
// padding as MerkleProof, so the roots are the sliver hashes of the metadata).
//
// For a strictly increasing set of leaf indices, the proof lists the sibling hashes a
// verifier can neither compute from the proven leaves nor knows to be padding, level by
// level from the leaves up and left to right within a level. Walking a level, a known node
// at position i pairs with node i^1: if that node is known too, both are hashed together;
// if it lies beyond the level (an odd level's last node has none) it is the zero padding
// node; otherwise it is the next proof hash. The parents, i/2, are the known nodes of the
// next level. The walk ends at the level of one node, the root. The number of proof hashes
// is a function of the tree size and the indices alone (MultiProofLen), so a proof with a
// hash more or less than the walk consumes is refused.
//
// A contiguous run of k leaves needs at most about 2·log2(n) hashes where k separate
// proofs need k·log2(n).

// maxTreeLeaves bounds the trees multiproofs are accepted for: u16 indices (maxProofDepth).
const maxTreeLeaves = 1 << maxProofDepth

// MultiProof authenticates several leaves of one tree (see above).
type MultiProof struct {
	Hashes [][HashLen]byte
}

// checkLeafIndices checks a tree size and a leaf index set: 1 ≤ nLeaves ≤ 2^16, at least
// one index, strictly increasing, each below nLeaves.
func checkLeafIndices(nLeaves int, indices []int) error {
	if nLeaves < 1 || nLeaves > maxTreeLeaves {
		return fmt.Errorf("%w: tree of %d leaves", ErrBadProof, nLeaves)
	}
	if len(indices) == 0 || len(indices) > nLeaves {
		return fmt.Errorf("%w: %d leaf indices for %d leaves", ErrBadProof, len(indices), nLeaves)
	}
	prev := -1
	for _, i := range indices {
		if i <= prev || i >= nLeaves {
			return fmt.Errorf("%w: leaf index %d after %d (want increasing, < %d)", ErrBadProof, i, prev, nLeaves)
		}
		prev = i
	}
	return nil
}

// MultiProofLen is the number of hashes a multiproof of the given leaves of a tree of
// nLeaves leaves has (checking the indices as Verify does). It costs no hashing.
func MultiProofLen(nLeaves int, indices []int) (int, error) {
	if err := checkLeafIndices(nLeaves, indices); err != nil {
		return 0, err
	}
	pos := append([]int(nil), indices...)
	count := 0
	for size := nLeaves; size > 1; size = (size + 1) / 2 {
		np := 0
		for i := 0; i < len(pos); {
			p := pos[i]
			switch {
			case p%2 == 1:
				count++ // left sibling
				i++
			case i+1 < len(pos) && pos[i+1] == p+1:
				i += 2
			case p+1 < size:
				count++ // right sibling
				i++
			default:
				i++ // padding
			}
			pos[np] = p / 2
			np++
		}
		pos = pos[:np]
	}
	return count, nil
}

// multiProof returns the multiproof of the given leaves (checked as by checkLeafIndices).
// It costs no hashing: every hash comes from the stored levels.
func (t *merkleTree) multiProof(indices []int) (MultiProof, error) {
	nLeaves := len(t.levels[0])
	if err := checkLeafIndices(nLeaves, indices); err != nil {
		return MultiProof{}, err
	}
	var out MultiProof
	pos := append([]int(nil), indices...)
	for d, size := 0, nLeaves; size > 1; d, size = d+1, (size+1)/2 {
		level := t.levels[d]
		np := 0
		for i := 0; i < len(pos); {
			p := pos[i]
			switch {
			case p%2 == 1:
				out.Hashes = append(out.Hashes, level[p-1])
				i++
			case i+1 < len(pos) && pos[i+1] == p+1:
				i += 2
			case p+1 < size:
				out.Hashes = append(out.Hashes, level[p+1])
				i++
			default:
				i++
			}
			pos[np] = p / 2
			np++
		}
		pos = pos[:np]
	}
	return out, nil
}

// NewMultiProof builds the multiproof of the given leaves of the tree over leafHashes.
func NewMultiProof(leafHashes [][HashLen]byte, indices []int) (MultiProof, error) {
	if len(leafHashes) == 0 {
		return MultiProof{}, fmt.Errorf("%w: empty tree", ErrBadProof)
	}
	return newMerkleTree(append([][HashLen]byte(nil), leafHashes...)).multiProof(indices)
}

// Verify checks that leaves[i] is leaf indices[i] of a tree of nLeaves leaves with the given
// root. Besides the hash chain it checks every bound: the tree size, the indices (at least
// one, strictly increasing, below nLeaves), one leaf per index, and exactly as many proof
// hashes as the walk consumes (MultiProofLen, checked before any hashing).
func (mp *MultiProof) Verify(root [HashLen]byte, nLeaves int, indices []int, leaves [][]byte) error {
	_, err := mp.walk(root, nLeaves, indices, leaves, -1)
	return err
}

// LeafProof verifies the multiproof as Verify does and returns the single-leaf MerkleProof
// of leaf indices[i], as the tree's owner would have built it (padding siblings zero), for
// whoever needs per-leaf proofs (an inconsistency proof does).
func (mp *MultiProof) LeafProof(root [HashLen]byte, nLeaves int, indices []int, leaves [][]byte, i int) (MerkleProof, error) {
	if i < 0 || i >= len(indices) {
		return MerkleProof{}, fmt.Errorf("%w: leaf %d of %d proven", ErrBadProof, i, len(indices))
	}
	return mp.walk(root, nLeaves, indices, leaves, i)
}

// walk recomputes the root from the leaves and the proof hashes (see the top of the file)
// and compares it with root; with track ≥ 0 it also records the path of leaf indices[track].
func (mp *MultiProof) walk(root [HashLen]byte, nLeaves int, indices []int, leaves [][]byte, track int) (MerkleProof, error) {
	want, err := MultiProofLen(nLeaves, indices)
	if err != nil {
		return MerkleProof{}, err
	}
	if len(leaves) != len(indices) {
		return MerkleProof{}, fmt.Errorf("%w: %d leaves for %d indices", ErrBadProof, len(leaves), len(indices))
	}
	if len(mp.Hashes) != want {
		return MerkleProof{}, fmt.Errorf("%w: %d proof hashes, want %d", ErrBadProof, len(mp.Hashes), want)
	}
	var hs blake2b8.Hasher
	cur := make([][HashLen]byte, len(leaves))
	sameLen := true
	for _, l := range leaves {
		sameLen = sameLen && len(l) == len(leaves[0])
	}
	if sameLen {
		hs.Sum(cur, leafPrefix, leaves)
	} else {
		for i, l := range leaves {
			cur[i] = leafHash(nil, l)
		}
	}
	var proof MerkleProof
	tracked := -1
	if track >= 0 {
		tracked = indices[track]
		proof = MerkleProof{LeafIndex: uint64(tracked), Path: make([][HashLen]byte, 0, proofDepth(nLeaves))}
	}
	pos := append([]int(nil), indices...)
	in := make([][HashLen]byte, 0, 2*len(pos))
	var zero [HashLen]byte
	h := 0
	for size := nLeaves; size > 1; size = (size + 1) / 2 {
		in = in[:0]
		np := 0
		for i := 0; i < len(pos); {
			p := pos[i]
			switch {
			case p%2 == 1:
				in = append(in, mp.Hashes[h], cur[i])
				h++
				i++
			case i+1 < len(pos) && pos[i+1] == p+1:
				in = append(in, cur[i], cur[i+1])
				i += 2
			case p+1 < size:
				in = append(in, cur[i], mp.Hashes[h])
				h++
				i++
			default:
				in = append(in, cur[i], zero)
				i++
			}
			if tracked >= 0 && tracked/2 == p/2 {
				proof.Path = append(proof.Path, in[len(in)-2+(1-tracked%2)])
			}
			pos[np] = p / 2
			np++
		}
		pos, cur = pos[:np], cur[:np]
		hs.SumPairs(cur, innerPrefix, in)
		if tracked >= 0 {
			tracked /= 2
		}
	}
	if h != len(mp.Hashes) {
		// Cannot happen: MultiProofLen walks the same way.
		return MerkleProof{}, fmt.Errorf("%w: %d of %d proof hashes used", ErrBadProof, h, len(mp.Hashes))
	}
	if cur[0] != root {
		return MerkleProof{}, fmt.Errorf("%w: multiproof root mismatch", ErrBadProof)
	}
	return proof, nil
}

// ProofDepth is the number of siblings on a leaf-to-root path in a tree of nLeaves leaves:
// a single proof's length, and the most hashes one more leaf adds to a multiproof.
func ProofDepth(nLeaves int) int { return proofDepth(nLeaves) }
