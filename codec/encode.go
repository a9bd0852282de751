package codec

import (
	"fmt"
)

// EncodedBlob is a fully encoded blob: its metadata, blob ID and all 2n slivers.
// Primary[i] and Secondary[i] have Index i; sliver pair p is (Primary[p], Secondary[n-1-p]).
type EncodedBlob struct {
	Params     Params
	SymbolSize int
	Metadata   Metadata
	BlobID     BlobID
	Primary    []Sliver // Primary[i].Index == i, len n
	Secondary  []Sliver // Secondary[i].Index == i, len n
}

// Pair returns sliver pair p: primary sliver p and secondary sliver n-1-p (PROTOCOL.md §2).
func (e *EncodedBlob) Pair(p int) (primary, secondary *Sliver) {
	return &e.Primary[p], &e.Secondary[e.Params.N-1-p]
}

// Encode encodes data with RedStuff (PROTOCOL.md §1-3) and returns every sliver, the metadata
// and the blob ID. The slivers do not alias data. It uses up to GOMAXPROCS goroutines inside
// the call.
func Encode(p Params, data []byte) (*EncodedBlob, error) {
	e, err := newEncoder(p, data, true)
	if err != nil {
		return nil, err
	}
	if err := e.run(); err != nil {
		return nil, err
	}
	out := &EncodedBlob{
		Params: p, SymbolSize: e.s, Metadata: e.metadata(), Primary: make([]Sliver, p.N), Secondary: make([]Sliver, p.N),
	}
	out.BlobID = out.Metadata.BlobID()
	for i := range p.N {
		out.Primary[i] = Sliver{Axis: AxisPrimary, Index: uint16(i), SymbolSize: uint16(e.s), Data: e.primary[i]}
		out.Secondary[i] = Sliver{Axis: AxisSecondary, Index: uint16(i), SymbolSize: uint16(e.s), Data: e.secondary[i]}
	}
	return out, nil
}

// ComputeMetadata computes the metadata and blob ID of data without keeping any sliver.
func ComputeMetadata(p Params, data []byte) (Metadata, BlobID, error) {
	e, err := newEncoder(p, data, false)
	if err != nil {
		return Metadata{}, BlobID{}, err
	}
	if err := e.run(); err != nil {
		return Metadata{}, BlobID{}, err
	}
	m := e.metadata()
	return m, m.BlobID(), nil
}

// encoder computes the expanded n×n matrix of a blob one band at a time (PROTOCOL.md §1):
//
//	A. each source row r < R: hash its cells, convert it to chunk layout, secondary-encode it
//	   (C -> n) and hash the f recovery cells;
//	B. each column stripe of the row-expanded R×n matrix: primary-encode it (R -> n) and hash
//	   the n-R new cells of every column;
//	C. one Merkle tree per row (primary hashes) and per column (secondary hashes) over the
//	   n×n leaf hashes.
//
// Only the source rows (converted), the R×f secondary recovery cells and the leaf hashes are
// kept across steps, plus the slivers when the caller wants them.
type encoder struct {
	p          Params
	data       []byte
	s, cs      int // symbol size, its chunk-layout size
	n, f, R, C int
	prim, sec  *rsCode
	keep       bool

	padded    []byte // R*C*s source matrix, zero padded (keep only)
	xconv     []byte // R*C*cs source matrix in chunk layout
	p2conv    []byte // R*f*cs secondary recovery cells of the source rows, chunk layout
	leaves    [][HashLen]byte
	primary   [][]byte // n primary slivers (keep only)
	secondary [][]byte // n secondary slivers (keep only)
	rowRoot   [][HashLen]byte
	colRoot   [][HashLen]byte
}

func newEncoder(p Params, data []byte, keep bool) (*encoder, error) {
	if _, err := NewParams(p.N); err != nil || p != MustParams(p.N) {
		return nil, fmt.Errorf("%w: inconsistent params %+v", ErrBadShardCount, p)
	}
	s, err := p.SymbolSize(uint64(len(data)))
	if err != nil {
		return nil, err
	}
	e := &encoder{p: p, data: data, s: s, cs: chunkSize(s), n: p.N, f: p.F, R: p.R, C: p.C, keep: keep}
	if e.prim, err = codeFor(e.R, e.n); err != nil {
		return nil, err
	}
	if e.sec, err = codeFor(e.C, e.n); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *encoder) metadata() Metadata {
	m := Metadata{EncodingType: EncodingTypeRS2, UnencodedLength: uint64(len(e.data)), Hashes: make([]SliverPairHashes, e.n)}
	for i := range e.n {
		m.Hashes[i] = SliverPairHashes{Primary: e.rowRoot[i], Secondary: e.colRoot[e.n-1-i]}
	}
	return m
}

func (e *encoder) run() error {
	n, R, C, f, s, cs := e.n, e.R, e.C, e.f, e.s, e.cs
	rowBytes := C * s
	if e.keep {
		e.padded = make([]byte, R*rowBytes)
		copy(e.padded, e.data)
		e.primary = make([][]byte, n)
		for r := range R {
			e.primary[r] = e.padded[r*rowBytes : (r+1)*rowBytes : (r+1)*rowBytes]
		}
		par := make([]byte, (n-R)*rowBytes)
		for r := R; r < n; r++ {
			i := r - R
			e.primary[r] = par[i*rowBytes : (i+1)*rowBytes : (i+1)*rowBytes]
		}
		colBytes := R * s
		sec := make([]byte, n*colBytes)
		e.secondary = make([][]byte, n)
		for c := range n {
			e.secondary[c] = sec[c*colBytes : (c+1)*colBytes : (c+1)*colBytes]
		}
	}
	if cs == s && e.keep {
		e.xconv = e.padded // already in chunk layout: whole 64-byte chunks
	} else {
		e.xconv = make([]byte, R*C*cs)
	}
	e.p2conv = make([]byte, R*f*cs)
	e.leaves = make([][HashLen]byte, n*n)

	workers := numWorkers(max(R, n))
	scratch := make([]encScratch, workers)

	// A: source rows.
	if err := parallelFor(R, func(w, r int) error { return e.sourceRow(&scratch[w], r) }); err != nil {
		return err
	}
	// B: column stripes of the row-expanded matrix, primary encoding.
	width := max(1, (16<<10)/cs)
	var stripes [][2]int
	for c0 := 0; c0 < C; c0 += width {
		stripes = append(stripes, [2]int{c0, min(C, c0+width)})
	}
	for c0 := C; c0 < n; c0 += width {
		stripes = append(stripes, [2]int{c0, min(n, c0+width)})
	}
	if err := parallelFor(len(stripes), func(w, i int) error {
		return e.stripe(&scratch[w], stripes[i][0], stripes[i][1])
	}); err != nil {
		return err
	}
	// C: Merkle trees over rows and columns.
	e.rowRoot = make([][HashLen]byte, n)
	e.colRoot = make([][HashLen]byte, n)
	return parallelFor(2*n, func(w, t int) error {
		sc := &scratch[w]
		if cap(sc.level) < n {
			sc.level = make([][HashLen]byte, n)
		}
		level := sc.level[:n]
		if t < n {
			copy(level, e.leaves[t*n:(t+1)*n])
			e.rowRoot[t] = merkleRootInPlace(level)
		} else {
			c := t - n
			for r := range n {
				level[r] = e.leaves[r*n+c]
			}
			e.colRoot[c] = merkleRootInPlace(level)
		}
		return nil
	})
}

// encScratch is one worker's reusable memory.
type encScratch struct {
	rs     rsScratch
	row    []byte // one padded source row (metadata-only mode)
	cell   []byte // one symbol
	hbuf   []byte // leaf hash input
	in     [][]byte
	out    [][]byte
	outBuf []byte
	level  [][HashLen]byte
}

func (sc *encScratch) bufs(s int) {
	if len(sc.cell) != s {
		sc.cell = make([]byte, s)
		sc.hbuf = make([]byte, 1+s)
	}
}

// sourceRow handles source row r (step A).
func (e *encoder) sourceRow(sc *encScratch, r int) error {
	n, C, f, s, cs := e.n, e.C, e.f, e.s, e.cs
	sc.bufs(s)
	rowBytes := C * s
	var row []byte
	switch {
	case e.keep:
		row = e.padded[r*rowBytes : (r+1)*rowBytes]
	case (r+1)*rowBytes <= len(e.data):
		row = e.data[r*rowBytes : (r+1)*rowBytes]
	default:
		if len(sc.row) != rowBytes {
			sc.row = make([]byte, rowBytes)
		}
		row = sc.row
		clear(row)
		if r*rowBytes < len(e.data) {
			copy(row, e.data[r*rowBytes:])
		}
	}
	leaves := e.leaves[r*n : (r+1)*n]
	for c := range C {
		cell := row[c*s : (c+1)*s]
		leaves[c] = leafHash(sc.hbuf, cell)
		if e.keep {
			copy(e.secondary[c][r*s:], cell)
		}
	}
	xrow := e.xconv[r*C*cs : (r+1)*C*cs]
	if &xrow[0] != &row[0] {
		toChunks(xrow, row, s)
	}
	sc.in = sc.in[:0]
	for c := range C {
		sc.in = append(sc.in, xrow[c*cs:(c+1)*cs])
	}
	prow := e.p2conv[r*f*cs : (r+1)*f*cs]
	sc.out = sc.out[:0]
	for j := range f {
		sc.out = append(sc.out, prow[j*cs:(j+1)*cs])
	}
	if err := e.sec.encode(sc.in, sc.out, &sc.rs); err != nil {
		return err
	}
	for j := range f {
		cell := sc.cell
		if e.keep {
			cell = e.secondary[C+j][r*s : (r+1)*s]
		}
		fromChunk(cell, sc.out[j])
		leaves[C+j] = leafHash(sc.hbuf, cell)
	}
	return nil
}

// stripe primary-encodes columns [c0, c1) of the row-expanded matrix (step B); a stripe lies
// entirely within the source columns (< C) or the recovery columns (>= C).
func (e *encoder) stripe(sc *encScratch, c0, c1 int) error {
	n, R, C, f, s, cs := e.n, e.R, e.C, e.f, e.s, e.cs
	sc.bufs(s)
	w := c1 - c0
	sc.in = sc.in[:0]
	for r := range R {
		if c0 < C {
			base := r * C * cs
			sc.in = append(sc.in, e.xconv[base+c0*cs:base+c1*cs])
		} else {
			base := r * f * cs
			sc.in = append(sc.in, e.p2conv[base+(c0-C)*cs:base+(c1-C)*cs])
		}
	}
	size := w * cs
	if len(sc.outBuf) < (n-R)*size {
		sc.outBuf = make([]byte, (n-R)*size)
	}
	sc.out = sc.out[:0]
	for i := range n - R {
		sc.out = append(sc.out, sc.outBuf[i*size:(i+1)*size])
	}
	if err := e.prim.encode(sc.in, sc.out, &sc.rs); err != nil {
		return err
	}
	for i := range n - R {
		r := R + i
		for c := c0; c < c1; c++ {
			cell := sc.cell // the corner (r >= R, c >= C) belongs to no sliver
			if e.keep && c < C {
				cell = e.primary[r][c*s : (c+1)*s]
			}
			fromChunk(cell, sc.out[i][(c-c0)*cs:(c-c0+1)*cs])
			e.leaves[r*n+c] = leafHash(sc.hbuf, cell)
		}
	}
	return nil
}
