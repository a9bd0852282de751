package codec

import (
	"fmt"
)

// SymbolBatch is what one source sliver contributes to several target slivers of the other
// axis at once: the cells at the targets' indices of its expansion, in increasing target
// order, with one multiproof (multiproof.go) against the source sliver's committed hash,
// instead of one RecoverySymbol with its own proof per target.
type SymbolBatch struct {
	Target  Axis     // axis of the target slivers
	Index   uint16   // the source sliver's index (the symbols' position in each target's expansion)
	Targets []int    // target sliver indices, strictly increasing; may be shared between batches
	Data    [][]byte // Data[i] is the cell for Targets[i]
	Proof   MultiProof
}

// SymbolBatch returns the symbols this sliver contributes to recovering the given slivers
// of the other axis (indices strictly increasing, below n), with their multiproof. targets
// is kept, not copied; the cells are copies.
func (x *ExpandedSliver) SymbolBatch(targets []int) (SymbolBatch, error) {
	proof, err := x.tree.multiProof(targets)
	if err != nil {
		return SymbolBatch{}, err
	}
	s := int(x.Sliver.SymbolSize)
	buf := make([]byte, len(targets)*s)
	data := make([][]byte, len(targets))
	for i, t := range targets {
		data[i] = buf[i*s : (i+1)*s : (i+1)*s]
		copy(data[i], x.cells[t])
	}
	return SymbolBatch{Target: x.Sliver.Axis.Other(), Index: x.Sliver.Index, Targets: targets, Data: data, Proof: proof}, nil
}

// ProvenSymbol is a recovery symbol whose cell has been verified against a blob's
// metadata, alone (ProveSymbol) or as part of a batch (VerifySymbolBatch). It carries what
// its single-symbol Merkle proof is derived from, when one is needed (Symbol).
type ProvenSymbol struct {
	index       uint16
	target      Axis
	targetIndex uint16
	data        []byte
	src         *provenSource
	pos         int // in src.batch
}

// provenSource is what the symbols of one verification share.
type provenSource struct {
	root    [HashLen]byte
	nLeaves int
	batch   *SymbolBatch // a batch's symbols
	single  *MerkleProof // a lone symbol's own proof
}

// Index is the source sliver's index.
func (s *ProvenSymbol) Index() uint16 { return s.index }

// TargetIndex is the index of the sliver the symbol helps recover.
func (s *ProvenSymbol) TargetIndex() int { return int(s.targetIndex) }

// Data is the symbol's cell (shared with the batch or symbol it was verified in).
func (s *ProvenSymbol) Data() []byte { return s.data }

// Symbol returns the symbol as a RecoverySymbol with its own Merkle proof, which any node
// can verify against the metadata (inconsistency proofs carry these). A batch's symbol
// has its proof derived from the batch's multiproof, which is verified again on the way.
func (s *ProvenSymbol) Symbol() (RecoverySymbol, error) {
	if s.src == nil {
		return RecoverySymbol{}, fmt.Errorf("%w: zero ProvenSymbol", ErrBadSymbol)
	}
	sym := RecoverySymbol{Target: s.target, Index: s.index, Data: append([]byte(nil), s.data...)}
	if s.src.single != nil {
		sym.Proof = MerkleProof{Path: append([][HashLen]byte(nil), s.src.single.Path...), LeafIndex: s.src.single.LeafIndex}
		return sym, nil
	}
	b := s.src.batch
	proof, err := b.Proof.LeafProof(s.src.root, s.src.nLeaves, b.Targets, b.Data, s.pos)
	if err != nil {
		return RecoverySymbol{}, err
	}
	sym.Proof = proof
	return sym, nil
}

// ProveSymbol verifies an untrusted symbol meant to help recover sliver (target,
// targetIndex) against verified metadata, as VerifyRecoverySymbol does, and returns it
// proven.
func ProveSymbol(p Params, m *Metadata, target Axis, targetIndex int, sym *RecoverySymbol) (ProvenSymbol, error) {
	if err := VerifyRecoverySymbol(p, m, target, targetIndex, sym); err != nil {
		return ProvenSymbol{}, err
	}
	proof := sym.Proof
	src := &provenSource{root: m.sliverHash(target.Other(), int(sym.Index)), nLeaves: p.N, single: &proof}
	return ProvenSymbol{index: sym.Index, target: target, targetIndex: uint16(targetIndex), data: sym.Data, src: src}, nil
}

// VerifySymbolBatch checks an untrusted batch against verified metadata, cheapest first:
// the target axis, the source index, one cell per target, every cell of the blob's symbol
// size, the target indices (strictly increasing, below n) and the proof's hash count, then
// the multiproof against the source sliver's hash. It returns the batch's symbols in
// target order, which keep b (do not change it afterwards).
func VerifySymbolBatch(p Params, m *Metadata, b *SymbolBatch) ([]ProvenSymbol, error) {
	if err := checkMetadataShape(p, m); err != nil {
		return nil, err
	}
	if !b.Target.Valid() {
		return nil, fmt.Errorf("%w: bad target axis %d", ErrBadSymbol, b.Target)
	}
	if int(b.Index) >= p.N {
		return nil, fmt.Errorf("%w: source index %d >= n=%d", ErrBadSymbol, b.Index, p.N)
	}
	if len(b.Data) != len(b.Targets) {
		return nil, fmt.Errorf("%w: %d cells for %d targets", ErrBadSymbol, len(b.Data), len(b.Targets))
	}
	s, err := m.SymbolSize(p)
	if err != nil {
		return nil, err
	}
	for _, d := range b.Data {
		if len(d) != s {
			return nil, fmt.Errorf("%w: symbol of %d bytes, want %d", ErrBadSymbol, len(d), s)
		}
	}
	root := m.sliverHash(b.Target.Other(), int(b.Index))
	if err := b.Proof.Verify(root, p.N, b.Targets, b.Data); err != nil {
		return nil, fmt.Errorf("source %s sliver %d: %w", b.Target.Other(), b.Index, err)
	}
	src := &provenSource{root: root, nLeaves: p.N, batch: b}
	out := make([]ProvenSymbol, len(b.Targets))
	for i, t := range b.Targets {
		out[i] = ProvenSymbol{index: b.Index, target: b.Target, targetIndex: uint16(t), data: b.Data[i], src: src, pos: i}
	}
	return out, nil
}

// RecoverSliverProven is RecoverSliver for symbols already verified against m (ProveSymbol,
// VerifySymbolBatch): no proof is checked again. Symbols for another target, proven against
// another commitment than m's, of the wrong size, repeating a source index or from an
// unusable source are skipped. On an inconsistency the proof's symbols get their own Merkle
// proofs (ProvenSymbol.Symbol), so any node can check it.
func RecoverSliverProven(p Params, m *Metadata, target Axis, index int, symbols []ProvenSymbol) (*Sliver, *InconsistencyProof, error) {
	if err := checkMetadataShape(p, m); err != nil {
		return nil, nil, err
	}
	if !target.Valid() || index < 0 || index >= p.N {
		return nil, nil, fmt.Errorf("%w: target %s %d", ErrBadSymbol, target, index)
	}
	code, err := recoveryCode(p, target)
	if err != nil {
		return nil, nil, err
	}
	s, err := m.SymbolSize(p)
	if err != nil {
		return nil, nil, err
	}
	usable := code.usable()
	used := make([]*ProvenSymbol, 0, code.k)
	plain := make([]RecoverySymbol, 0, code.k)
	seen := make([]bool, p.N)
	for i := range symbols {
		if len(used) == code.k {
			break
		}
		sym := &symbols[i]
		switch {
		case sym.src == nil, sym.target != target, int(sym.targetIndex) != index,
			int(sym.index) >= usable, seen[sym.index], len(sym.data) != s,
			sym.src.root != m.sliverHash(target.Other(), int(sym.index)):
			continue
		}
		seen[sym.index] = true
		used = append(used, sym)
		plain = append(plain, RecoverySymbol{Target: target, Index: sym.index, Data: sym.data})
	}
	if len(used) < code.k {
		return nil, nil, fmt.Errorf("%w: %d usable symbols for %s sliver %d, need %d", ErrNotEnoughSymbols, len(used), target, index, code.k)
	}
	ptrs := make([]*RecoverySymbol, len(plain))
	for i := range plain {
		ptrs[i] = &plain[i]
	}
	sl, err := decodeSymbols(p, code, target, index, ptrs)
	if err != nil {
		return nil, nil, err
	}
	h, err := sliverHash(new(expandScratch), p, target, sl.Data, int(sl.SymbolSize))
	if err != nil {
		return nil, nil, err
	}
	if h != m.sliverHash(target, index) {
		proof := &InconsistencyProof{Target: target, TargetIndex: uint16(index), Symbols: make([]RecoverySymbol, len(used))}
		for i, u := range used {
			if proof.Symbols[i], err = u.Symbol(); err != nil {
				return nil, nil, err
			}
		}
		return nil, proof, fmt.Errorf("%w: recovered %s sliver %d does not match its hash", ErrInconsistentBlob, target, index)
	}
	return sl, nil, nil
}
