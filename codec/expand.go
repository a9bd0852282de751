package codec

import (
	"fmt"
	"sync"

	"github.com/walrus-go/walrus-go/codec/internal/blake2b8"
)

// axisCode returns the code that expands a sliver of axis a along the other axis
// (docs/protocol.md §3): a primary sliver (C symbols, a row) is extended by the secondary encoding
// C -> n; a secondary sliver (R symbols, a column) by the primary encoding R -> n.
func axisCode(p Params, a Axis) (*rsCode, error) {
	if a == AxisPrimary {
		return codeFor(p.C, p.N)
	}
	return codeFor(p.R, p.N)
}

// recoveryCode is the code a sliver of axis a is recovered in: the same code that expands it,
// since recovery symbols are the cells of the target's own expansion.
func recoveryCode(p Params, a Axis) (*rsCode, error) { return axisCode(p, a) }

// expandScratch is reusable memory for expanding and hashing slivers (one per worker).
type expandScratch struct {
	conv   []byte
	rec    []byte
	cells  [][]byte
	in     [][]byte
	out    [][]byte
	leaves [][HashLen]byte
	hs     blake2b8.Hasher
	rs     rsScratch
}

// expandSymbols returns the n cells of the full expansion of sliver data (k symbols of s
// bytes) along the other axis: the k source symbols followed by the n-k recovery symbols.
// The first k cells alias data, the others sc (valid until sc is reused).
func expandSymbols(sc *expandScratch, code *rsCode, data []byte, s int) ([][]byte, error) {
	k, n, cs := code.k, code.n, chunkSize(s)
	if len(data) != k*s {
		return nil, fmt.Errorf("%w: %d bytes for %d symbols of %d", ErrBadSliver, len(data), k, s)
	}
	sc.conv = grow(sc.conv, n*cs)
	conv := sc.conv
	toChunks(conv[:k*cs], data, s)
	sc.in = sc.in[:0]
	for i := range k {
		sc.in = append(sc.in, conv[i*cs:(i+1)*cs])
	}
	sc.out = sc.out[:0]
	for i := range n - k {
		sc.out = append(sc.out, conv[(k+i)*cs:(k+i+1)*cs])
	}
	if err := code.encode(sc.in, sc.out, &sc.rs); err != nil {
		return nil, err
	}
	sc.cells = sc.cells[:0]
	for i := range k {
		sc.cells = append(sc.cells, data[i*s:(i+1)*s])
	}
	sc.rec = grow(sc.rec, (n-k)*s)
	fromChunks(sc.rec, conv[k*cs:], s)
	for i := range n - k {
		sc.cells = append(sc.cells, sc.rec[i*s:(i+1)*s])
	}
	return sc.cells, nil
}

// leafHashes hashes every cell as a Merkle leaf into sc.leaves.
func (sc *expandScratch) leafHashes(cells [][]byte) [][HashLen]byte {
	if cap(sc.leaves) < len(cells) {
		sc.leaves = make([][HashLen]byte, len(cells))
	}
	out := sc.leaves[:len(cells)]
	sc.hs.Sum(out, leafPrefix, cells)
	return out
}

// sliverHash is the Merkle root over the sliver's full expansion along the other axis.
func sliverHash(sc *expandScratch, p Params, a Axis, data []byte, s int) ([HashLen]byte, error) {
	code, err := axisCode(p, a)
	if err != nil {
		return [HashLen]byte{}, err
	}
	cells, err := expandSymbols(sc, code, data, s)
	if err != nil {
		return [HashLen]byte{}, err
	}
	root := merkleRootInPlace(&sc.hs, sc.leafHashes(cells))
	// The first cells alias the caller's data: drop them so a pooled scratch pins nothing.
	clear(sc.cells)
	return root, nil
}

// scratchPool recycles expandScratch between the one-shot entry points (VerifySliver,
// SliverHash, recovery and inconsistency checks). A node verifies two slivers per pair it
// receives (thousands per blob) and each expansion needs ~n symbols of buffers; without
// the pool every call allocated and zeroed them afresh (measured in make bench-e2e).
var scratchPool = sync.Pool{New: func() any { return new(expandScratch) }}

func getScratch() *expandScratch { return scratchPool.Get().(*expandScratch) }

func putScratch(sc *expandScratch) { scratchPool.Put(sc) }

// SliverHash computes the commitment of a sliver: the Merkle root over its full expansion
// along the other axis (docs/protocol.md §3).
func SliverHash(p Params, s *Sliver) ([HashLen]byte, error) {
	if err := checkSliverShape(p, s); err != nil {
		return [HashLen]byte{}, err
	}
	sc := getScratch()
	defer putScratch(sc)
	return sliverHash(sc, p, s.Axis, s.Data, int(s.SymbolSize))
}

// VerifySliver checks an untrusted sliver against verified metadata: shape, the symbol size
// the metadata implies, and its hash against the committed sliver hash.
func VerifySliver(p Params, m *Metadata, s *Sliver) error {
	sc := getScratch()
	defer putScratch(sc)
	return verifySliver(sc, p, m, s)
}

func verifySliver(sc *expandScratch, p Params, m *Metadata, s *Sliver) error {
	if err := checkMetadataShape(p, m); err != nil {
		return err
	}
	if err := checkSliverShape(p, s); err != nil {
		return err
	}
	ss, err := m.SymbolSize(p)
	if err != nil {
		return err
	}
	if int(s.SymbolSize) != ss {
		return fmt.Errorf("%w: symbol size %d, metadata implies %d", ErrBadSliver, s.SymbolSize, ss)
	}
	h, err := sliverHash(sc, p, s.Axis, s.Data, ss)
	if err != nil {
		return err
	}
	if h != m.sliverHash(s.Axis, int(s.Index)) {
		return fmt.Errorf("%w: %s sliver %d", ErrSliverHashMismatch, s.Axis, s.Index)
	}
	return nil
}
