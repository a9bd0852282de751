package codec

import (
	"fmt"
	"io"
	"sync/atomic"
	"unsafe"

	"github.com/walrus-go/walrus-go/internal/hugemem"
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

// Pair returns sliver pair p: primary sliver p and secondary sliver n-1-p (docs/protocol.md §2).
func (e *EncodedBlob) Pair(p int) (primary, secondary *Sliver) {
	return &e.Primary[p], &e.Secondary[e.Params.N-1-p]
}

// Encode encodes data with RedStuff (docs/protocol.md §1-3) and returns every sliver, the metadata
// and the blob ID. The slivers do not alias data. It uses up to GOMAXPROCS goroutines inside
// the call.
func Encode(p Params, data []byte) (*EncodedBlob, error) {
	e, err := newEncoder(p, data, modeAll)
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
	e, err := newEncoder(p, data, modeMetadata)
	if err != nil {
		return Metadata{}, BlobID{}, err
	}
	if err := e.run(); err != nil {
		return Metadata{}, BlobID{}, err
	}
	m := e.metadata()
	return m, m.BlobID(), nil
}

// PairSink receives sliver pair p (primary p, secondary n-1-p) during EncodeTo. The slivers
// are only valid during the call: their Data may alias the caller's blob or buffers that are
// reused afterwards, so a sink copies what it keeps.
type PairSink func(pair int, primary, secondary *Sliver) error

// encodeToWindows is how many windows EncodeTo splits the primary recovery slivers into
// (2× the blob in all at n = 1000): it holds one window at a time; the first is kept from the
// metadata pass, each later one costs a re-run of the primary encoding of the source columns
// (about a sixth of Encode's CPU time).
const encodeToWindows = 2

// EncodeTo encodes data and streams the sliver pairs to sink in pair order without ever
// holding all slivers. It first computes the metadata exactly as ComputeMetadata does
// (keeping only the secondary recovery cells of the source rows, 0.5× the blob, beyond it),
// hands it to onMetadata (optional), then emits the pairs: source-row pairs straight from the
// blob, recovery-row pairs in encodeToWindows windows, the first kept from the metadata pass
// and each later one re-encoded from the blob.
// Measured at n = 1000, 64 MiB on an idle 2-core machine (BenchmarkPeakMemory_n1000_64MiB,
// GOGC=10; Reed-Solomon work buffers included, the blob itself excluded): peak heap 2.6–2.7×
// the blob, against about 6× for Encode (whose output alone is 4.5×), for about the CPU time
// of Encode.
func EncodeTo(p Params, data []byte, onMetadata func(m *Metadata, id BlobID) error, sink PairSink) (Metadata, BlobID, error) {
	return EncodeStream(p, data, StreamOptions{Windows: encodeToWindows}, onMetadata, sink)
}

// secondarySliver builds secondary sliver c (R symbols) into out: column c of the padded
// blob for c < C, else unconverted recovery cells of the source rows.
func (e *encoder) secondarySliver(out []byte, c int) ([]byte, error) {
	R, C, f, s, cs := e.R, e.C, e.f, e.s, e.cs
	var chunk []byte
	for r := range R {
		if c < C {
			if err := e.blobAt(out[r*s:(r+1)*s], (r*C+c)*s); err != nil {
				return nil, err
			}
			continue
		}
		base := (r*f + c - C) * cs
		if e.spill == nil {
			fromChunk(out[r*s:(r+1)*s], e.p2conv[base:base+cs])
			continue
		}
		if chunk == nil {
			chunk = make([]byte, cs)
		}
		if _, err := e.spill.ReadAt(chunk, int64(base)); err != nil {
			return nil, fmt.Errorf("codec: reading the spill: %w", err)
		}
		fromChunk(out[r*s:(r+1)*s], chunk)
	}
	return out, nil
}

// blobAt fills dst with the padded blob's bytes from off: from the caller's slice, or read
// from the source (StreamOptions.Source), zeros past the blob's end.
func (e *encoder) blobAt(dst []byte, off int) error {
	n := 0
	if off < e.size {
		n = min(len(dst), e.size-off)
		if e.src == nil {
			copy(dst[:n], e.data[off:])
		} else if _, err := e.src.ReadAt(dst[:n], int64(off)); err != nil {
			return fmt.Errorf("codec: reading the blob: %w", err)
		}
	}
	clear(dst[n:])
	return nil
}

// encoder modes: what is kept besides the metadata.
const (
	modeMetadata = iota // nothing
	modeAll             // every sliver
)

// encoder computes the expanded n×n matrix of a blob band by band (docs/protocol.md §1):
//
//	A. each source row r < R: hash its cells, convert it to chunk layout, secondary-encode it
//	   (C -> n) and hash the f recovery cells;
//	B. each column stripe of the row-expanded R×n matrix: primary-encode it (R -> n) and hash
//	   the n-R new cells of every column;
//	C. one Merkle tree per row (primary hashes) and per column (secondary hashes) over the
//	   n×n leaf hashes.
//
// Source cells are converted to chunk layout on the fly from the caller's blob, per row in A
// and per stripe in B, so across steps only the R×f secondary recovery cells (chunk layout)
// and the n×n leaf hashes are kept, plus whatever slivers the mode keeps.
type encoder struct {
	p          Params
	data       []byte      // the blob, unless src is set (its length is size either way)
	src        io.ReaderAt // the blob's bytes when not read from data (StreamOptions.Source)
	size       int
	spill      SpillStore // the recovery cells when spilled (StreamOptions.Spill); p2conv then nil
	s, cs      int        // symbol size, its chunk-layout size
	n, f, R, C int
	prim, sec  *rsCode
	mode       int
	alloc      func(n int) (SpillStore, error) // the recovery cells' spill (EncodeStream), nil: hugemem
	progress   *atomic.Int64                   // blob bytes through the metadata pass, if not nil

	p2conv    []byte // R*f*cs secondary recovery cells of the source rows, chunk layout
	leaves    [][HashLen]byte
	primary   [][]byte // n primary slivers (modeAll only)
	secondary [][]byte // n secondary slivers (modeAll only)
	rowRoot   [][HashLen]byte
	colRoot   [][HashLen]byte

	winScratch []encScratch // recoveryRows' workers, reused across windows
}

func newEncoder(p Params, data []byte, mode int) (*encoder, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	s, err := p.SymbolSize(uint64(len(data)))
	if err != nil {
		return nil, err
	}
	e := &encoder{p: p, data: data, size: len(data), s: s, cs: chunkSize(s), n: p.N, f: p.F, R: p.R, C: p.C, mode: mode}
	if e.prim, err = codeFor(e.R, e.n); err != nil {
		return nil, err
	}
	if e.sec, err = codeFor(e.C, e.n); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *encoder) metadata() Metadata {
	m := Metadata{EncodingType: EncodingTypeRS2, UnencodedLength: uint64(e.size), Hashes: make([]SliverPairHashes, e.n)}
	for i := range e.n {
		m.Hashes[i] = SliverPairHashes{Primary: e.rowRoot[i], Secondary: e.colRoot[e.n-1-i]}
	}
	return m
}

func (e *encoder) run() error {
	n, R, C, f, s, cs := e.n, e.R, e.C, e.f, e.s, e.cs
	rowBytes := C * s
	if e.mode == modeAll {
		e.primary = make([][]byte, n)
		par := hugemem.Bytes((n - R) * rowBytes)
		for r := R; r < n; r++ {
			i := r - R
			e.primary[r] = par[i*rowBytes : (i+1)*rowBytes : (i+1)*rowBytes]
		}
		padded := hugemem.Bytes(R * rowBytes)
		copy(padded, e.data)
		for r := range R {
			e.primary[r] = padded[r*rowBytes : (r+1)*rowBytes : (r+1)*rowBytes]
		}
		colBytes := R * s
		sec := hugemem.Bytes(n * colBytes)
		e.secondary = make([][]byte, n)
		for c := range n {
			e.secondary[c] = sec[c*colBytes : (c+1)*colBytes : (c+1)*colBytes]
		}
	}
	if e.alloc != nil {
		sp, err := e.alloc(R * f * cs)
		if err != nil {
			return err
		}
		e.spill = sp
	} else {
		e.p2conv = hugemem.Bytes(R * f * cs)
	}
	e.leaves = hashes(n * n)

	scratch := make([]encScratch, numWorkers(max(R, n)))
	e.winScratch = scratch // recoveryRows goes on with it

	// A: source rows.
	if err := parallelFor(R, func(w, r int) error {
		if e.progress != nil {
			defer e.progress.Add(int64(rowBytes / 2))
		}
		return e.sourceRow(&scratch[w], r)
	}); err != nil {
		return err
	}
	// B: column stripes of the row-expanded matrix, primary encoding.
	stripes := append(e.stripes(0, C), e.stripes(C, n)...)
	if err := parallelFor(len(stripes), func(w, i int) error {
		if c0, c1 := stripes[i][0], stripes[i][1]; e.progress != nil && c0 < C {
			defer e.progress.Add(int64((c1 - c0) * s * R / 2))
		}
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
			e.rowRoot[t] = merkleRootInPlace(&sc.leaf.hs, level)
		} else {
			c := t - n
			for r := range n {
				level[r] = e.leaves[r*n+c]
			}
			e.colRoot[c] = merkleRootInPlace(&sc.leaf.hs, level)
		}
		return nil
	})
}

// encScratch is one worker's reusable memory.
type encScratch struct {
	rs     rsScratch
	row    []byte // one padded source row
	conv   []byte // chunk-layout input (a row in A, a stripe in B)
	leaf   leafBatch
	in     [][]byte
	out    [][]byte
	outBuf []byte
	spill  []byte // one source row's recovery cells on their way to the spill
	level  [][HashLen]byte
}

// hashes returns n zero digests in memory from hugemem (an encoding's n² leaf hashes are
// 32 MB at n = 1000, written once each).
func hashes(n int) [][HashLen]byte {
	if n == 0 {
		return nil
	}
	b := hugemem.Bytes(n * HashLen)
	return unsafe.Slice((*[HashLen]byte)(unsafe.Pointer(unsafe.SliceData(b))), n)
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

// sourceCells returns cells [c0, c1) of source row r, unconverted: a slice of the blob when
// it is in memory and holds them all, else a zero-padded copy in buf.
func (e *encoder) sourceCells(buf []byte, r, c0, c1 int) ([]byte, error) {
	lo, hi := (r*e.C+c0)*e.s, (r*e.C+c1)*e.s
	if e.src == nil && hi <= len(e.data) {
		return e.data[lo:hi], nil
	}
	buf = buf[:hi-lo]
	return buf, e.blobAt(buf, lo)
}

// sourceRow handles source row r (step A).
func (e *encoder) sourceRow(sc *encScratch, r int) error {
	n, C, f, s, cs := e.n, e.C, e.f, e.s, e.cs
	sc.leaf.reset(s)
	sc.row = grow(sc.row, C*s)
	row, err := e.sourceCells(sc.row, r, 0, C)
	if err != nil {
		return err
	}
	leaves := e.leaves[r*n : (r+1)*n]
	for c := range C {
		cell := row[c*s : (c+1)*s]
		sc.leaf.add(cell, &leaves[c])
		if e.mode == modeAll {
			copy(e.secondary[c][r*s:], cell)
		}
	}
	sc.conv = grow(sc.conv, C*cs)
	toChunks(sc.conv, row, s)
	sc.in = sc.in[:0]
	for c := range C {
		sc.in = append(sc.in, sc.conv[c*cs:(c+1)*cs])
	}
	var prow []byte
	if e.spill == nil {
		prow = e.p2conv[r*f*cs : (r+1)*f*cs]
	} else {
		sc.spill = grow(sc.spill, f*cs)
		prow = sc.spill
	}
	sc.out = sc.out[:0]
	for j := range f {
		sc.out = append(sc.out, prow[j*cs:(j+1)*cs])
	}
	if err := e.sec.encode(sc.in, sc.out, &sc.rs); err != nil {
		return err
	}
	if e.spill != nil {
		if _, err := e.spill.WriteAt(prow, int64(r*f*cs)); err != nil {
			return fmt.Errorf("codec: writing the spill: %w", err)
		}
	}
	for j := range f {
		var cell []byte
		if e.mode == modeAll {
			cell = e.secondary[C+j][r*s : (r+1)*s]
		} else {
			cell = sc.leaf.cell()
		}
		fromChunk(cell, sc.out[j])
		sc.leaf.add(cell, &leaves[C+j])
	}
	sc.leaf.flush()
	return nil
}

// primaryStripe primary-encodes columns [c0, c1) of the row-expanded matrix into sc.out
// (n-R shards, chunk layout, one per recovery row); a stripe lies entirely within the source
// columns (< C) or the recovery columns (>= C).
func (e *encoder) primaryStripe(sc *encScratch, c0, c1 int) error {
	n, R, C, f, s, cs := e.n, e.R, e.C, e.f, e.s, e.cs
	w := c1 - c0
	size := w * cs
	sc.in = sc.in[:0]
	if c0 < C {
		sc.conv = grow(sc.conv, R*size)
		sc.row = grow(sc.row, w*s)
		for r := range R {
			dst := sc.conv[r*size : (r+1)*size]
			cells, err := e.sourceCells(sc.row, r, c0, c1)
			if err != nil {
				return err
			}
			toChunks(dst, cells, s)
			sc.in = append(sc.in, dst)
		}
	} else if e.spill == nil {
		for r := range R {
			base := r * f * cs
			sc.in = append(sc.in, e.p2conv[base+(c0-C)*cs:base+(c1-C)*cs])
		}
	} else {
		sc.conv = grow(sc.conv, R*size)
		for r := range R {
			dst := sc.conv[r*size : (r+1)*size]
			if _, err := e.spill.ReadAt(dst, int64(r*f*cs+(c0-C)*cs)); err != nil {
				return fmt.Errorf("codec: reading the spill: %w", err)
			}
			sc.in = append(sc.in, dst)
		}
	}
	sc.outBuf = grow(sc.outBuf, (n-R)*size)
	sc.out = sc.out[:0]
	for i := range n - R {
		sc.out = append(sc.out, sc.outBuf[i*size:(i+1)*size])
	}
	return e.prim.encode(sc.in, sc.out, &sc.rs)
}

// stripe handles columns [c0, c1) in step B: primary-encode them, then hash the n-R new cells
// of every column and keep those that belong to primary slivers, if the mode keeps them.
func (e *encoder) stripe(sc *encScratch, c0, c1 int) error {
	n, R, C, s, cs := e.n, e.R, e.C, e.s, e.cs
	if err := e.primaryStripe(sc, c0, c1); err != nil {
		return err
	}
	sc.leaf.reset(s)
	for i := range n - R {
		r := R + i
		for c := c0; c < c1; c++ {
			var cell []byte
			if c < C && e.primary != nil && e.primary[r] != nil {
				cell = e.primary[r][c*s : (c+1)*s]
			} else {
				cell = sc.leaf.cell() // the corner (r >= R, c >= C) belongs to no sliver
			}
			fromChunk(cell, sc.out[i][(c-c0)*cs:(c-c0+1)*cs])
			sc.leaf.add(cell, &e.leaves[r*n+c])
		}
	}
	sc.leaf.flush()
	return nil
}

// stripes splits columns [lo, hi) into stripes of about 2 KiB of chunk-layout data per shard:
// small enough that one stripe's Reed-Solomon working set (up to 4K shards for the low-rate
// step 2 at n = 1000) stays in L2 and a few MiB per worker, large enough to amortise the
// per-call cost. Measured at n = 1000, 64 MiB against 8 KiB: Encode 10% faster, EncodeTo's
// peak heap 2.7× the blob instead of 3.8×; 1 KiB is slower again.
func (e *encoder) stripes(lo, hi int) [][2]int {
	width := max(1, (2<<10)/e.cs)
	var out [][2]int
	for c0 := lo; c0 < hi; c0 += width {
		out = append(out, [2]int{c0, min(hi, c0+width)})
	}
	return out
}

// recoveryRows recomputes primary slivers idx[i] (R <= idx[i] < n) into rows[i] (each C*s
// bytes) by primary-encoding every source column again, keeping only those rows.
// EncodeStream uses it to produce the recovery slivers in windows instead of holding all
// n-R of them.
func (e *encoder) recoveryRows(rows [][]byte, idx []int) error {
	R, C, s, cs := e.R, e.C, e.s, e.cs
	stripes := e.stripes(0, C)
	// The workers' scratch is kept for the next window: a fresh one per window left
	// megabytes of garbage each time, which the Go heap's growth (GOGC) lets pile up far
	// past the budget before a collection.
	if len(e.winScratch) < numWorkers(len(stripes)) {
		e.winScratch = make([]encScratch, numWorkers(len(stripes)))
	}
	scratch := e.winScratch
	return parallelFor(len(stripes), func(w, j int) error {
		sc := &scratch[w]
		c0, c1 := stripes[j][0], stripes[j][1]
		if err := e.primaryStripe(sc, c0, c1); err != nil {
			return err
		}
		for i, r := range idx {
			fromChunks(rows[i][c0*s:c1*s], sc.out[r-R][:(c1-c0)*cs], s)
		}
		return nil
	})
}
