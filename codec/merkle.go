package codec

import (
	"fmt"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/codec/internal/blake2b8"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// Merkle trees as Walrus builds them (docs/protocol.md §3): Blake2b-256, leaf H(0x00 || data),
// inner node H(0x01 || left || right), an odd level padded with a 32-zero-byte node, and the
// empty tree's root is 32 zero bytes.

const (
	leafPrefix  = 0x00
	innerPrefix = 0x01
)

// HashLen is the length of every digest in the codec (Blake2b-256).
const HashLen = 32

// leafHash is H(0x00 || data). buf is scratch of at least 1+len(data) bytes (or nil).
func leafHash(buf, data []byte) [HashLen]byte {
	if cap(buf) < 1+len(data) {
		buf = make([]byte, 1+len(data))
	}
	buf = buf[:1+len(data)]
	buf[0] = leafPrefix
	copy(buf[1:], data)
	return blake2b.Sum256(buf)
}

// innerHash is H(0x01 || l || r).
func innerHash(l, r *[HashLen]byte) [HashLen]byte {
	var b [1 + 2*HashLen]byte
	b[0] = innerPrefix
	copy(b[1:], l[:])
	copy(b[1+HashLen:], r[:])
	return blake2b.Sum256(b[:])
}

// merkleRootInPlace returns the root over the given leaf hashes, using level as scratch
// (it is overwritten) and hs for the hashing. The zero value is the root of the empty tree.
func merkleRootInPlace(hs *blake2b8.Hasher, level [][HashLen]byte) [HashLen]byte {
	if len(level) == 0 {
		return [HashLen]byte{}
	}
	for len(level) > 1 {
		half := (len(level) + 1) / 2
		hs.SumPairs(level[:half], innerPrefix, level)
		level = level[:half]
	}
	return level[0]
}

// MerkleRoot returns the Walrus Merkle root over the given leaf hashes (leaves untouched).
func MerkleRoot(leaves [][HashLen]byte) [HashLen]byte {
	return merkleRootInPlace(new(blake2b8.Hasher), append([][HashLen]byte(nil), leaves...))
}

// leafBatch hashes Merkle leaves in batches, so that cells produced one at a time still
// reach the eight-lane hasher in groups. Cells added must stay unchanged until the next
// flush; cell() hands out scratch for cells the caller does not keep.
type leafBatch struct {
	hs    blake2b8.Hasher
	cells [][]byte
	dst   []*[HashLen]byte
	out   [][HashLen]byte
	buf   []byte
	used  int
	s     int
}

// leafBatchSize is the most cells a batch holds: a few vector calls' worth, small enough
// that the scratch cells stay in L1/L2 between being written and hashed.
const leafBatchSize = 64

// reset prepares the batch for cells of s bytes; nothing may be pending.
func (b *leafBatch) reset(s int) {
	if b.s != s || b.buf == nil {
		b.s = s
		b.buf = make([]byte, leafBatchSize*s)
		b.out = make([][HashLen]byte, leafBatchSize)
	}
	b.cells, b.dst, b.used = b.cells[:0], b.dst[:0], 0
}

// cell returns s bytes of scratch valid until the next flush.
func (b *leafBatch) cell() []byte {
	c := b.buf[b.used*b.s : (b.used+1)*b.s : (b.used+1)*b.s]
	b.used++
	return c
}

// add queues H(0x00 || cell) to be written to *dst.
func (b *leafBatch) add(cell []byte, dst *[HashLen]byte) {
	b.cells = append(b.cells, cell)
	b.dst = append(b.dst, dst)
	if len(b.cells) == leafBatchSize {
		b.flush()
	}
}

// flush hashes every queued cell.
func (b *leafBatch) flush() {
	out := b.out[:len(b.cells)]
	b.hs.Sum(out, leafPrefix, b.cells)
	for i, d := range b.dst {
		*d = out[i]
	}
	clear(b.cells) // pin nothing the caller owns
	b.cells, b.dst, b.used = b.cells[:0], b.dst[:0], 0
}

// proofDepth is the number of siblings on a leaf-to-root path in a tree of n leaves.
func proofDepth(n int) int {
	d := 0
	for n > 1 {
		n = (n + 1) / 2
		d++
	}
	return d
}

// MerkleProof authenticates one leaf: the sibling hashes from the leaf to the root, and the
// leaf's index. Walrus's BCS form is path as a vector of Node enums (0 = Empty, 1 = Digest)
// followed by leaf_index as u64; we write a padding (all-zero) sibling as Empty, as Walrus's
// tree does, and accept nothing else for it.
type MerkleProof struct {
	Path      [][HashLen]byte
	LeafIndex uint64
}

// rootFromLeaf recomputes the root from a leaf hash along the proof path.
func (p *MerkleProof) rootFromLeaf(leaf [HashLen]byte) [HashLen]byte {
	cur := leaf
	idx := p.LeafIndex
	for i := range p.Path {
		if idx%2 == 0 {
			cur = innerHash(&cur, &p.Path[i])
		} else {
			cur = innerHash(&p.Path[i], &cur)
		}
		idx /= 2
	}
	return cur
}

// Verify checks that data is leaf LeafIndex of a tree with nLeaves leaves and the given root.
// Besides the hash chain it checks the index and the path length, so a proof is only valid
// for the one position it names.
func (p *MerkleProof) Verify(root [HashLen]byte, nLeaves int, data []byte) error {
	if p.LeafIndex >= uint64(nLeaves) {
		return fmt.Errorf("%w: leaf index %d >= %d leaves", ErrBadProof, p.LeafIndex, nLeaves)
	}
	if len(p.Path) != proofDepth(nLeaves) {
		return fmt.Errorf("%w: path of %d nodes, want %d", ErrBadProof, len(p.Path), proofDepth(nLeaves))
	}
	if p.rootFromLeaf(leafHash(nil, data)) != root {
		return fmt.Errorf("%w: root mismatch at leaf %d", ErrBadProof, p.LeafIndex)
	}
	return nil
}

// MarshalBCS encodes the proof as Walrus's MerkleProof: uleb128(len(path)) || nodes ||
// u64 LE leaf_index, a node being 0x00 (Empty, for an all-zero sibling) or 0x01 || 32 bytes.
func (p *MerkleProof) MarshalBCS() []byte {
	return p.appendBCS(nil)
}

func (p *MerkleProof) appendBCS(b []byte) []byte {
	b = wire.AppendULEB128(b, uint64(len(p.Path)))
	for i := range p.Path {
		if p.Path[i] == ([HashLen]byte{}) {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = append(b, p.Path[i][:]...)
	}
	return appendU64(b, p.LeafIndex)
}

// UnmarshalMerkleProofBCS decodes a proof strictly (canonical, no trailing bytes).
func UnmarshalMerkleProofBCS(b []byte) (MerkleProof, error) {
	r := newBCSReader(b)
	p := readMerkleProof(&r)
	if err := r.End(); err != nil {
		return MerkleProof{}, err
	}
	return p, nil
}

// maxProofDepth bounds decoded proof paths: trees have at most 65535 leaves (u16 indices).
const maxProofDepth = 16

func readMerkleProof(r *wire.Reader) MerkleProof {
	count := r.Length(maxProofDepth)
	p := MerkleProof{Path: make([][HashLen]byte, count)}
	for i := range count {
		switch r.U8() {
		case 0:
			// Empty: the all-zero padding node.
		case 1:
			r.Fixed(p.Path[i][:])
			if p.Path[i] == ([HashLen]byte{}) {
				r.Failf("zero digest must be encoded as Empty")
			}
		default:
			r.Failf("bad Merkle node tag")
		}
	}
	p.LeafIndex = r.U64()
	return p
}

// merkleTree keeps every level of a Walrus Merkle tree so that proofs cost no hashing.
type merkleTree struct {
	levels [][][HashLen]byte // levels[0] = leaf hashes, last = [root]
}

func newMerkleTree(leaves [][HashLen]byte) *merkleTree {
	t := &merkleTree{levels: [][][HashLen]byte{leaves}}
	var hs blake2b8.Hasher
	for level := leaves; len(level) > 1; {
		next := make([][HashLen]byte, (len(level)+1)/2)
		hs.SumPairs(next, innerPrefix, level)
		t.levels = append(t.levels, next)
		level = next
	}
	return t
}

func (t *merkleTree) root() [HashLen]byte {
	top := t.levels[len(t.levels)-1]
	if len(top) == 0 {
		return [HashLen]byte{}
	}
	return top[0]
}

func (t *merkleTree) proof(idx int) MerkleProof {
	p := MerkleProof{LeafIndex: uint64(idx), Path: make([][HashLen]byte, 0, len(t.levels)-1)}
	for _, level := range t.levels[:len(t.levels)-1] {
		var sib [HashLen]byte
		if idx^1 < len(level) {
			sib = level[idx^1]
		}
		p.Path = append(p.Path, sib)
		idx /= 2
	}
	return p
}
