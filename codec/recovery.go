package codec

import (
	"fmt"

	"github.com/walrus-go/walrus-go/internal/wire"
)

// RecoverySymbol is one cell of the expanded matrix, served by the holder of a source sliver
// to help recover a target sliver of the other axis (docs/protocol.md §4). The holder of primary
// sliver r serves, for target secondary sliver c, cell (r, c) = symbol c of r's expansion,
// with its Merkle proof at leaf c against primary_hash[r]; symmetrically for secondary
// slivers. Index is the source sliver's index (the symbol's position in the target's own
// expansion); Proof.LeafIndex is the target sliver's index.
//
// The BCS form is Walrus's RecoverySymbol<T, MerkleProof>: u16 LE index || uleb128(len) ||
// data || MerkleProof; the target axis is carried by context, as in Walrus's type parameter.
type RecoverySymbol struct {
	Target Axis // axis of the sliver this symbol helps recover
	Index  uint16
	Data   []byte
	Proof  MerkleProof
}

// TargetIndex is the index of the sliver the symbol helps recover.
func (r *RecoverySymbol) TargetIndex() uint64 { return r.Proof.LeafIndex }

// MarshalBCS encodes the symbol (see RecoverySymbol).
func (r *RecoverySymbol) MarshalBCS() []byte { return r.appendBCS(nil) }

func (r *RecoverySymbol) appendBCS(b []byte) []byte {
	b = appendU16(b, r.Index)
	b = wire.AppendULEB128(b, uint64(len(r.Data)))
	b = append(b, r.Data...)
	return r.Proof.appendBCS(b)
}

// UnmarshalRecoverySymbolBCS decodes an untrusted recovery symbol for a target of the given
// axis. Sizes are bounded (a symbol is at most MaxSymbolSize bytes, a path at most 16 nodes);
// whether it belongs to a blob is checked by VerifyRecoverySymbol.
func UnmarshalRecoverySymbolBCS(p Params, target Axis, b []byte) (RecoverySymbol, error) {
	r := newBCSReader(b)
	sym := readRecoverySymbol(&r, target)
	if err := r.End(); err != nil {
		return RecoverySymbol{}, err
	}
	if err := checkSymbolShape(p, &sym); err != nil {
		return RecoverySymbol{}, err
	}
	return sym, nil
}

func readRecoverySymbol(r *wire.Reader, target Axis) RecoverySymbol {
	idx := r.U16()
	data := readBytes(r, MaxSymbolSize)
	proof := readMerkleProof(r)
	return RecoverySymbol{Target: target, Index: idx, Data: data, Proof: proof}
}

func checkSymbolShape(p Params, sym *RecoverySymbol) error {
	if err := p.check(); err != nil {
		return err
	}
	switch {
	case !sym.Target.Valid():
		return fmt.Errorf("%w: bad target axis %d", ErrBadSymbol, sym.Target)
	case int(sym.Index) >= p.N:
		return fmt.Errorf("%w: source index %d >= n=%d", ErrBadSymbol, sym.Index, p.N)
	case sym.Proof.LeafIndex >= uint64(p.N):
		return fmt.Errorf("%w: target index %d >= n=%d", ErrBadSymbol, sym.Proof.LeafIndex, p.N)
	case len(sym.Data) == 0 || len(sym.Data)%2 != 0 || len(sym.Data) > MaxSymbolSize:
		return fmt.Errorf("%w: symbol of %d bytes", ErrBadSymbol, len(sym.Data))
	}
	return nil
}

// ExpandedSliver is a sliver with its full expansion along the other axis and the Merkle tree
// over it: what a node keeps (or rebuilds) to serve recovery symbols for many targets.
type ExpandedSliver struct {
	Sliver Sliver
	cells  [][]byte
	tree   *merkleTree
}

// ExpandSliver expands a sliver and builds its Merkle tree. Its root is the sliver's hash.
func ExpandSliver(p Params, s *Sliver) (*ExpandedSliver, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if err := checkSliverShape(p, s); err != nil {
		return nil, err
	}
	code, err := axisCode(p, s.Axis)
	if err != nil {
		return nil, err
	}
	var sc expandScratch
	cells, err := expandSymbols(&sc, code, s.Data, int(s.SymbolSize))
	if err != nil {
		return nil, err
	}
	leaves := append([][HashLen]byte(nil), sc.leafHashes(cells)...)
	return &ExpandedSliver{Sliver: *s, cells: cells, tree: newMerkleTree(leaves)}, nil
}

// Root is the Merkle root over the expansion, i.e. the sliver's hash.
func (x *ExpandedSliver) Root() [HashLen]byte { return x.tree.root() }

// RecoverySymbol returns the symbol this sliver contributes to recovering sliver target of
// the other axis: cell target of the expansion, with its proof.
func (x *ExpandedSliver) RecoverySymbol(target int) (RecoverySymbol, error) {
	if target < 0 || target >= len(x.cells) {
		return RecoverySymbol{}, fmt.Errorf("%w: target %d out of range", ErrBadSymbol, target)
	}
	return RecoverySymbol{
		Target: x.Sliver.Axis.Other(),
		Index:  x.Sliver.Index,
		Data:   append([]byte(nil), x.cells[target]...),
		Proof:  x.tree.proof(target),
	}, nil
}

// VerifyRecoverySymbol checks an untrusted symbol meant to help recover sliver (target,
// targetIndex) against verified metadata: target axis and index, symbol size, and the Merkle
// proof against the source sliver's committed hash.
func VerifyRecoverySymbol(p Params, m *Metadata, target Axis, targetIndex int, sym *RecoverySymbol) error {
	if err := checkMetadataShape(p, m); err != nil {
		return err
	}
	if err := checkSymbolShape(p, sym); err != nil {
		return err
	}
	if sym.Target != target || sym.Proof.LeafIndex != uint64(targetIndex) {
		return fmt.Errorf("%w: symbol for %s %d, want %s %d", ErrBadSymbol, sym.Target, sym.Proof.LeafIndex, target, targetIndex)
	}
	s, err := m.SymbolSize(p)
	if err != nil {
		return err
	}
	if len(sym.Data) != s {
		return fmt.Errorf("%w: symbol of %d bytes, want %d", ErrBadSymbol, len(sym.Data), s)
	}
	root := m.sliverHash(target.Other(), int(sym.Index))
	return sym.Proof.Verify(root, p.N, sym.Data)
}

// RecoverSliver recovers sliver (target, index) from recovery symbols (docs/protocol.md §4): a
// primary sliver from n-f symbols, a secondary one from n-2f. Symbols that fail verification
// or repeat a source index are skipped. For a secondary target only sources 0..R+K-1 can be
// used (the low-rate step-1 code, see DecodePrimary); under f faults enough always remain.
//
// If the decoded sliver does not hash to its committed value the blob is inconsistently
// encoded: RecoverSliver then returns an InconsistencyProof built from exactly the symbols it
// used, and an error wrapping ErrInconsistentBlob.
func RecoverSliver(p Params, m *Metadata, target Axis, index int, symbols []RecoverySymbol) (*Sliver, *InconsistencyProof, error) {
	if err := p.check(); err != nil {
		return nil, nil, err
	}
	if !target.Valid() || index < 0 || index >= p.N {
		return nil, nil, fmt.Errorf("%w: target %s %d", ErrBadSymbol, target, index)
	}
	code, err := recoveryCode(p, target)
	if err != nil {
		return nil, nil, err
	}
	usable := code.usable()
	used := make([]*RecoverySymbol, 0, code.k)
	seen := make([]bool, p.N)
	for i := range symbols {
		sym := &symbols[i]
		if len(used) == code.k {
			break
		}
		if int(sym.Index) < p.N && seen[sym.Index] {
			continue
		}
		if VerifyRecoverySymbol(p, m, target, index, sym) != nil || int(sym.Index) >= usable {
			continue
		}
		seen[sym.Index] = true
		used = append(used, sym)
	}
	if len(used) < code.k {
		return nil, nil, fmt.Errorf("%w: %d usable symbols for %s sliver %d, need %d", ErrNotEnoughSymbols, len(used), target, index, code.k)
	}
	sl, err := decodeSymbols(p, code, target, index, used)
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
			proof.Symbols[i] = *u
		}
		return nil, proof, fmt.Errorf("%w: recovered %s sliver %d does not match its hash", ErrInconsistentBlob, target, index)
	}
	return sl, nil, nil
}

// decodeSymbols decodes the target sliver from exactly code.k verified symbols with distinct
// usable source indices.
func decodeSymbols(p Params, code *rsCode, target Axis, index int, used []*RecoverySymbol) (*Sliver, error) {
	s := len(used[0].Data)
	cs := chunkSize(s)
	shards := make([][]byte, code.usable())
	buf := make([]byte, (code.k+len(used))*cs)
	for i, u := range used {
		b := buf[i*cs : (i+1)*cs]
		toChunk(b, u.Data)
		shards[u.Index] = b
	}
	spare := buf[len(used)*cs:]
	for i := range code.k {
		if shards[i] == nil {
			shards[i] = spare[i*cs : i*cs : (i+1)*cs]
		}
	}
	if err := code.reconstructData(shards); err != nil {
		return nil, err
	}
	data := make([]byte, code.k*s)
	for i := range code.k {
		fromChunk(data[i*s:(i+1)*s], shards[i])
	}
	return &Sliver{Axis: target, Index: uint16(index), SymbolSize: uint16(s), Data: data}, nil
}
