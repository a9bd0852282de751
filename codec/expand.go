package codec

import "fmt"

// axisCode returns the code that expands a sliver of axis a along the other axis
// (PROTOCOL.md §3): a primary sliver (C symbols, a row) is extended by the secondary encoding
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

// expandSymbols returns the n cells of the full expansion of sliver data (k symbols of s
// bytes) along the other axis: the k source symbols followed by the n-k recovery symbols.
// The first k cells alias data.
func expandSymbols(code *rsCode, data []byte, s int) ([][]byte, error) {
	k, n, cs := code.k, code.n, chunkSize(s)
	if len(data) != k*s {
		return nil, fmt.Errorf("%w: %d bytes for %d symbols of %d", ErrBadSliver, len(data), k, s)
	}
	conv := make([]byte, n*cs)
	toChunks(conv[:k*cs], data, s)
	in := make([][]byte, k)
	for i := range in {
		in[i] = conv[i*cs : (i+1)*cs]
	}
	out := make([][]byte, n-k)
	for i := range out {
		out[i] = conv[(k+i)*cs : (k+i+1)*cs]
	}
	var sc rsScratch
	if err := code.encode(in, out, &sc); err != nil {
		return nil, err
	}
	cells := make([][]byte, n)
	for i := range k {
		cells[i] = data[i*s : (i+1)*s]
	}
	rec := make([]byte, (n-k)*s)
	fromChunks(rec, conv[k*cs:], s)
	for i := range n - k {
		cells[k+i] = rec[i*s : (i+1)*s]
	}
	return cells, nil
}

// leafHashes hashes every cell as a Merkle leaf.
func leafHashes(cells [][]byte) [][HashLen]byte {
	out := make([][HashLen]byte, len(cells))
	var buf []byte
	for i, c := range cells {
		if cap(buf) < 1+len(c) {
			buf = make([]byte, 1+len(c))
		}
		out[i] = leafHash(buf, c)
	}
	return out
}

// sliverHash is the Merkle root over the sliver's full expansion along the other axis.
func sliverHash(p Params, a Axis, data []byte, s int) ([HashLen]byte, error) {
	code, err := axisCode(p, a)
	if err != nil {
		return [HashLen]byte{}, err
	}
	cells, err := expandSymbols(code, data, s)
	if err != nil {
		return [HashLen]byte{}, err
	}
	return merkleRootInPlace(leafHashes(cells)), nil
}

// SliverHash computes the commitment of a sliver: the Merkle root over its full expansion
// along the other axis (PROTOCOL.md §3).
func SliverHash(p Params, s *Sliver) ([HashLen]byte, error) {
	if err := checkSliverShape(p, s); err != nil {
		return [HashLen]byte{}, err
	}
	return sliverHash(p, s.Axis, s.Data, int(s.SymbolSize))
}

// VerifySliver checks an untrusted sliver against verified metadata: shape, the symbol size
// the metadata implies, and its hash against the committed sliver hash.
func VerifySliver(p Params, m *Metadata, s *Sliver) error {
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
	h, err := sliverHash(p, s.Axis, s.Data, ss)
	if err != nil {
		return err
	}
	if h != m.sliverHash(s.Axis, int(s.Index)) {
		return fmt.Errorf("%w: %s sliver %d", ErrSliverHashMismatch, s.Axis, s.Index)
	}
	return nil
}
