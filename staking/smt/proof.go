package smt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Terminal says where a proof's path ends.
type Terminal uint8

// Terminals.
const (
	// TermLeaf: the path ends at its own leaf (inclusion).
	TermLeaf Terminal = iota
	// TermEmpty: the path ends in an empty subtree (absence).
	TermEmpty
	// TermOther: the path ends at another entry's leaf, the only entry under the path's
	// first len(Siblings) bits (absence).
	TermOther
	termEnd
)

// MaxDepth is the deepest a path can end: 256 bits.
const MaxDepth = 256

// MaxProofSize bounds an encoded proof: header, bitmap, 256 siblings and another leaf.
const MaxProofSize = 1 + 2 + MaxDepth/8 + MaxDepth*32 + 64

// ErrProof is wrapped by every proof that does not decode or does not verify.
var ErrProof = errors.New("smt: invalid proof")

// Proof proves that a path holds a value (TermLeaf) or holds nothing (TermEmpty, TermOther)
// in the tree of one root.
type Proof struct {
	// Siblings are the hashes beside the path, from the root down: Siblings[i] is the
	// subtree at depth i+1 on the other side of bit i. A zero hash is an empty subtree.
	Siblings []Hash
	Terminal Terminal
	// OtherPath and OtherValueHash are the leaf met instead, for TermOther.
	OtherPath, OtherValueHash Hash
}

// Prove returns the payload at path (ok reports whether there is one) and the proof of
// inclusion or absence against t.Root().
func (t Tree[V]) Prove(path Hash) (val V, ok bool, p Proof) {
	n := t.root
	for d := 0; n != nil && n.lf == nil; d++ {
		if bit(&path, d) == 0 {
			p.Siblings = append(p.Siblings, hashOf(n.right))
			n = n.left
		} else {
			p.Siblings = append(p.Siblings, hashOf(n.left))
			n = n.right
		}
	}
	switch {
	case n == nil:
		p.Terminal = TermEmpty
	case n.lf.path == path:
		p.Terminal = TermLeaf
		return n.lf.val, true, p
	default:
		p.Terminal = TermOther
		p.OtherPath, p.OtherValueHash = n.lf.path, n.lf.vhash
	}
	return val, false, p
}

// Verify checks p against root for path: inclusion of the value whose hash is *valueHash, or
// absence when valueHash is nil. It returns nil or an error wrapping ErrProof.
func Verify(root, path Hash, valueHash *Hash, p *Proof) error {
	d := len(p.Siblings)
	if d > MaxDepth {
		return fmt.Errorf("%w: depth %d", ErrProof, d)
	}
	var h Hash
	switch p.Terminal {
	case TermLeaf:
		if valueHash == nil {
			return fmt.Errorf("%w: an inclusion proof for an absent value", ErrProof)
		}
		h = LeafHash(path, *valueHash)
	case TermEmpty:
		if valueHash != nil {
			return fmt.Errorf("%w: an absence proof for a present value", ErrProof)
		}
	case TermOther:
		if valueHash != nil {
			return fmt.Errorf("%w: an absence proof for a present value", ErrProof)
		}
		if p.OtherPath == path || !samePrefix(&p.OtherPath, &path, d) {
			return fmt.Errorf("%w: the other leaf is not on the path", ErrProof)
		}
		h = LeafHash(p.OtherPath, p.OtherValueHash)
	default:
		return fmt.Errorf("%w: terminal %d", ErrProof, p.Terminal)
	}
	// In the canonical shape the subtree beside the end of a path is never empty: a leaf
	// with an empty sibling would have been lifted, and an empty subtree has a non-empty one.
	if d > 0 && p.Siblings[d-1] == (Hash{}) {
		return fmt.Errorf("%w: empty last sibling", ErrProof)
	}
	for i := d - 1; i >= 0; i-- {
		if bit(&path, i) == 0 {
			h = InternalHash(h, p.Siblings[i])
		} else {
			h = InternalHash(p.Siblings[i], h)
		}
	}
	if h != root {
		return fmt.Errorf("%w: root mismatch", ErrProof)
	}
	return nil
}

// samePrefix reports whether a and b agree on their first n bits.
func samePrefix(a, b *Hash, n int) bool {
	for i := 0; i < n; i++ {
		if bit(a, i) != bit(b, i) {
			return false
		}
	}
	return true
}

// Encode returns the canonical encoding:
//
//	u8     terminal (0 leaf, 1 empty, 2 other leaf)
//	u16 LE depth d (0..256)
//	⌈d/8⌉  bitmap, bit i (LSB first in byte i/8) set when Siblings[i] is not empty; padding 0
//	32·k   the k non-empty siblings, from the root down (none all zero)
//	32+32  other path and value hash, for terminal 2 only
func (p *Proof) Encode() []byte {
	d := len(p.Siblings)
	bm := make([]byte, (d+7)/8)
	var sib []byte
	for i, s := range p.Siblings {
		if s != (Hash{}) {
			bm[i/8] |= 1 << (i % 8)
			sib = append(sib, s[:]...)
		}
	}
	out := make([]byte, 0, 3+len(bm)+len(sib)+64)
	out = append(out, byte(p.Terminal))
	out = binary.LittleEndian.AppendUint16(out, uint16(d))
	out = append(out, bm...)
	out = append(out, sib...)
	if p.Terminal == TermOther {
		out = append(out, p.OtherPath[:]...)
		out = append(out, p.OtherValueHash[:]...)
	}
	return out
}

// DecodeProof parses an encoded proof strictly (untrusted input): every length is checked
// before anything is allocated, the encoding must be canonical (no set padding bit, no
// all-zero sibling, no trailing byte), and the input may be at most MaxProofSize bytes.
func DecodeProof(b []byte) (*Proof, error) {
	if len(b) > MaxProofSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrProof, len(b))
	}
	if len(b) < 3 {
		return nil, fmt.Errorf("%w: short", ErrProof)
	}
	p := &Proof{Terminal: Terminal(b[0])}
	if p.Terminal >= termEnd {
		return nil, fmt.Errorf("%w: terminal %d", ErrProof, b[0])
	}
	d := int(binary.LittleEndian.Uint16(b[1:3]))
	if d > MaxDepth {
		return nil, fmt.Errorf("%w: depth %d", ErrProof, d)
	}
	b = b[3:]
	nbm := (d + 7) / 8
	if len(b) < nbm {
		return nil, fmt.Errorf("%w: short bitmap", ErrProof)
	}
	bm := b[:nbm]
	b = b[nbm:]
	if d%8 != 0 && bm[nbm-1]>>(d%8) != 0 {
		return nil, fmt.Errorf("%w: bitmap padding", ErrProof)
	}
	k := 0
	for _, x := range bm {
		k += bits.OnesCount8(x)
	}
	tail := 0
	if p.Terminal == TermOther {
		tail = 64
	}
	if len(b) != 32*k+tail {
		return nil, fmt.Errorf("%w: %d bytes for %d siblings", ErrProof, len(b), k)
	}
	if d > 0 {
		p.Siblings = make([]Hash, d)
	}
	for i := 0; i < d; i++ {
		if bm[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		copy(p.Siblings[i][:], b[:32])
		b = b[32:]
		if p.Siblings[i] == (Hash{}) {
			return nil, fmt.Errorf("%w: zero sibling", ErrProof)
		}
	}
	if p.Terminal == TermOther {
		copy(p.OtherPath[:], b[:32])
		copy(p.OtherValueHash[:], b[32:64])
	}
	return p, nil
}
