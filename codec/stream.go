package codec

import (
	"fmt"
	"io"
	"runtime"
	"sync/atomic"

	"github.com/walrus-go/walrus-go/internal/hugemem"
)

// StreamOptions tune EncodeStream.
type StreamOptions struct {
	// Windows is how many windows the primary recovery slivers (n-R rows, about 2× the blob
	// at n = 1000) are produced in: one is held at a time, the first kept from the metadata
	// pass, each later one re-encoded from the blob (about a sixth of Encode's CPU time
	// each). 0 derives it from Budget (see PlanStream), or 2 without a budget.
	Windows int
	// Budget, if > 0 and Windows is 0, bounds the encoder's working memory in bytes (the
	// blob itself excluded: it is the caller's, typically a read-only mapping of a file).
	Budget int64
	// Spill, if not nil, gives the store for the source rows' secondary recovery cells
	// (n bytes: R·f symbols, about 0.5× the blob at n = 1000, written once a row at a time
	// and read twice a column at a time) when PlanStream says they do not fit the budget:
	// for example a temporary file, read and written with pread and pwrite. nil keeps
	// them on the heap.
	Spill func(n int) (SpillStore, error)
	// Source, if not nil, is where the encoder reads the blob's bytes (offsets 0 to
	// len(data)), data then only giving the length: for a blob mapped from a file, the
	// file itself. The encoder reads a stripe of columns of every row at a time; through a
	// mapping, each such read maps the whole page cache folio around it into the process
	// (up to MiBs on Linux 6.x for a file written in large writes: hundreds of MB resident
	// for one stripe at n = 1000), where a read copies just the bytes.
	Source io.ReaderAt
	// Want, if not nil, is asked once per pair after onMetadata: pairs it refuses are not
	// handed to the sink, and a window without a wanted pair is not re-encoded.
	Want func(pair int) bool
	// Encoded, if not nil, counts the blob bytes through the metadata pass (the bulk of
	// the encoding's CPU time) as they are done, for progress displays; it reaches the
	// padded blob size R·C·s (about).
	Encoded *atomic.Int64
}

// SpillStore holds the spilled recovery cells (StreamOptions.Spill).
type SpillStore interface {
	io.ReaderAt
	io.WriterAt
}

// StreamPlan is how EncodeStream lays out its memory for one blob.
type StreamPlan struct {
	// Windows is the number of windows of primary recovery slivers; WindowRows the rows of
	// one.
	Windows, WindowRows int
	// Spill reports that the secondary recovery cells go to StreamOptions.Spill.
	Spill bool
	// Memory estimates the peak working memory in bytes (heap plus spill when not
	// spilled; the blob excluded).
	Memory int64
	// RecoveryBytes is the size of the secondary recovery cells, the spillable part.
	RecoveryBytes int64
}

// streamWorkerBytes estimates one encoding worker's scratch memory: a stripe of ~2 KiB per
// shard for the n shards of the row-expanded matrix (input, output and the low-rate code's
// step-2 buffers) and one padded row, rounded up generously.
func streamWorkerBytes(p Params, rowBytes int) int64 {
	return int64(p.N)*(8<<10) + int64(rowBytes) + (1 << 20)
}

// PlanStream returns the memory layout EncodeStream uses for a blob of size bytes under
// budget (<= 0: no budget, two windows as EncodeTo). The fixed part is the n² leaf hashes,
// the workers' scratch and two sliver buffers; the secondary recovery cells are spilled
// when the fixed part plus them plus one window of one row would exceed the budget; the
// rest of the budget goes to the window of recovery rows (at least one row).
func PlanStream(p Params, size uint64, budget int64) (StreamPlan, error) {
	if err := p.check(); err != nil {
		return StreamPlan{}, err
	}
	s, err := p.SymbolSize(size)
	if err != nil {
		return StreamPlan{}, err
	}
	n, R, C, f := p.N, p.R, p.C, p.F
	rowBytes := C * s
	rec := int64(R) * int64(f) * int64(chunkSize(s))
	fixed := int64(n)*int64(n)*HashLen + int64(runtime.GOMAXPROCS(0))*streamWorkerBytes(p, rowBytes) + 2*int64(rowBytes)
	rows := n - R
	plan := StreamPlan{RecoveryBytes: rec}
	if budget <= 0 {
		plan.Windows = min(encodeToWindows, rows)
		plan.WindowRows = (rows + plan.Windows - 1) / plan.Windows
		plan.Memory = fixed + rec + int64(plan.WindowRows)*int64(rowBytes)
		return plan, nil
	}
	left := budget - fixed - rec
	if left < int64(rowBytes) {
		plan.Spill = true
		left = budget - fixed
	}
	win := int(min(int64(rows), max(1, left/int64(rowBytes))))
	plan.WindowRows = win
	plan.Windows = (rows + win - 1) / win
	plan.Memory = fixed + int64(win)*int64(rowBytes)
	if !plan.Spill {
		plan.Memory += rec
	}
	return plan, nil
}

// EncodeStream encodes data and streams the sliver pairs to sink in pair order without
// ever holding all slivers, in working memory set by opts (see StreamOptions and
// PlanStream; EncodeTo is EncodeStream with two windows). It first computes the metadata
// exactly as ComputeMetadata does, hands it to onMetadata (optional; an error from it ends
// the call with that error before any pair is produced), then emits the pairs opts.Want
// accepts: source-row pairs straight from the blob, recovery-row pairs window by window.
// The output is the one Encode gives, pair for pair.
func EncodeStream(p Params, data []byte, opts StreamOptions, onMetadata func(m *Metadata, id BlobID) error, sink PairSink) (Metadata, BlobID, error) {
	plan, err := PlanStream(p, uint64(len(data)), opts.Budget)
	if err != nil {
		return Metadata{}, BlobID{}, err
	}
	e, err := newEncoder(p, data, modeMetadata)
	if err != nil {
		return Metadata{}, BlobID{}, err
	}
	n, R, C, s := e.n, e.R, e.C, e.s
	rowBytes := C * s
	windows := plan.Windows
	if opts.Windows > 0 {
		windows = min(opts.Windows, n-R)
	}
	window := (n - R + windows - 1) / windows
	if plan.Spill && opts.Spill != nil && opts.Windows == 0 {
		e.alloc = opts.Spill
	}
	e.progress = opts.Encoded
	e.src = opts.Source
	// The metadata pass computes every recovery row anyway: keep the first window's, in
	// the buffer later windows reuse.
	winBuf := hugemem.Bytes(window * rowBytes)
	rows := make([][]byte, window)
	for i := range rows {
		rows[i] = winBuf[i*rowBytes : (i+1)*rowBytes : (i+1)*rowBytes]
	}
	e.primary = make([][]byte, n)
	copy(e.primary[R:], rows)
	if err := e.run(); err != nil {
		return Metadata{}, BlobID{}, err
	}
	m := e.metadata()
	id := m.BlobID()
	e.leaves, e.rowRoot, e.colRoot, e.primary = nil, nil, nil, nil // only needed for the metadata
	if onMetadata != nil {
		if err := onMetadata(&m, id); err != nil {
			return Metadata{}, BlobID{}, err
		}
	}
	want := func(pair int) bool { return opts.Want == nil || opts.Want(pair) }
	pad := make([]byte, rowBytes)
	secBuf := make([]byte, R*s)
	emit := func(pair int, primary []byte) error {
		prim := Sliver{Axis: AxisPrimary, Index: uint16(pair), SymbolSize: uint16(s), Data: primary}
		c := n - 1 - pair
		var err error
		if secBuf, err = e.secondarySliver(secBuf, c); err != nil {
			return err
		}
		sec := Sliver{Axis: AxisSecondary, Index: uint16(c), SymbolSize: uint16(s), Data: secBuf}
		return sink(pair, &prim, &sec)
	}
	for pair := range R {
		if !want(pair) {
			continue
		}
		var row []byte
		if opts.Source == nil && (pair+1)*rowBytes <= len(data) {
			row = data[pair*rowBytes : (pair+1)*rowBytes : (pair+1)*rowBytes]
		} else {
			if err := e.blobAt(pad, pair*rowBytes); err != nil {
				return Metadata{}, BlobID{}, err
			}
			row = pad
		}
		if err := emit(pair, row); err != nil {
			return Metadata{}, BlobID{}, err
		}
	}
	for r0 := R; r0 < n; r0 += window {
		r1 := min(n, r0+window)
		any := false
		for r := r0; r < r1; r++ {
			any = any || want(r)
		}
		if !any {
			continue
		}
		if r0 > R {
			if err := e.recoveryRows(rows[:r1-r0], r0); err != nil {
				return Metadata{}, BlobID{}, err
			}
		}
		for i := range r1 - r0 {
			if !want(r0 + i) {
				continue
			}
			if err := emit(r0+i, rows[i]); err != nil {
				return Metadata{}, BlobID{}, err
			}
		}
	}
	return m, id, nil
}

// ErrStopped is what an onMetadata callback may return to end EncodeStream early on
// purpose (for example when nothing is left to upload); EncodeStream returns it as is.
var ErrStopped = fmt.Errorf("codec: encoding stopped by the caller")
