package codec

import (
	"fmt"
	"io"
	"runtime"
	"slices"
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
	// Spread emits the pairs in an order spread over the pair indices instead of pair
	// order: each window of recovery rows is a stride of them (window j: rows R+j, R+j+W,
	// R+j+2W, ... for W windows) rather than a run, and the pairs of each group (the
	// source rows with the first window, then each later window) come in bit-reversed
	// order of their indices, so any run of consecutive pair indices receives its share of
	// every stretch of the output. A sink that feeds members holding contiguous ranges of
	// shards (a committee's usual assignment) then feeds all of them at once, each in
	// proportion to its shards, instead of one member after another. With Want, the later
	// windows are formed from the wanted rows only.
	Spread bool
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

// EncodeStream encodes data and streams the sliver pairs to sink without ever holding all
// slivers, in working memory set by opts (see StreamOptions and PlanStream; EncodeTo is
// EncodeStream with two windows). It first computes the metadata exactly as
// ComputeMetadata does, hands it to onMetadata (optional; an error from it ends the call
// with that error before any pair is produced), then emits the pairs opts.Want accepts,
// each once: source-row pairs straight from the blob with the first window's, then the
// later windows' recovery-row pairs; in pair order, or spread (StreamOptions.Spread).
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
	first := firstWindow(R, n, windows, window, opts.Spread)
	winBuf := hugemem.Bytes(window * rowBytes)
	rows := make([][]byte, window)
	for i := range rows {
		rows[i] = winBuf[i*rowBytes : (i+1)*rowBytes : (i+1)*rowBytes]
	}
	e.primary = make([][]byte, n)
	for i, r := range first {
		e.primary[r] = rows[i]
	}
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
	// row is primary sliver pair: a source row from the blob, or a recovery row of the
	// window at hand (winRow[pair]).
	winRow := make(map[int][]byte, window)
	emit := func(pair int) error {
		primary, ok := winRow[pair]
		if !ok {
			if opts.Source == nil && (pair+1)*rowBytes <= len(data) {
				primary = data[pair*rowBytes : (pair+1)*rowBytes : (pair+1)*rowBytes]
			} else {
				if err := e.blobAt(pad, pair*rowBytes); err != nil {
					return err
				}
				primary = pad
			}
		}
		prim := Sliver{Axis: AxisPrimary, Index: uint16(pair), SymbolSize: uint16(s), Data: primary}
		c := n - 1 - pair
		var err error
		if secBuf, err = e.secondarySliver(secBuf, c); err != nil {
			return err
		}
		sec := Sliver{Axis: AxisSecondary, Index: uint16(c), SymbolSize: uint16(s), Data: secBuf}
		return sink(pair, &prim, &sec)
	}
	emitGroup := func(pairs []int) error {
		if opts.Spread {
			slices.Sort(pairs)
			pairs = spreadOrder(pairs)
		}
		for _, pair := range pairs {
			if err := emit(pair); err != nil {
				return err
			}
		}
		return nil
	}

	// The groups of pairs emitted one after another: the first window's recovery rows,
	// then each later window's, re-encoded when its turn comes; the source rows, which
	// come straight from the blob, go with the first group, or spread over all of them.
	inFirst := make([]bool, n)
	groups := [][]int{nil}
	for i, r := range first {
		inFirst[r] = true
		if want(r) {
			groups[0] = append(groups[0], r)
			winRow[r] = rows[i]
		}
	}
	var rest []int
	for r := R; r < n; r++ {
		if !inFirst[r] && want(r) {
			rest = append(rest, r)
		}
	}
	later := laterWindows(rest, window, opts.Spread)
	if opts.Spread {
		later = spreadOrder(later)
	}
	groups = append(groups, later...)
	var sources [][]int // sources[g]: the source rows emitted with group g
	if opts.Spread {
		sources = make([][]int, len(groups))
	} else {
		sources = make([][]int, 1)
	}
	var srcs []int
	for pair := range R {
		if want(pair) {
			srcs = append(srcs, pair)
		}
	}
	if opts.Spread {
		srcs = spreadOrder(srcs)
	}
	for i, pair := range srcs { // evenly over the groups
		g := i * len(sources) / len(srcs)
		sources[g] = append(sources[g], pair)
	}
	for g, idx := range groups {
		if g > 0 {
			if err := e.recoveryRows(rows[:len(idx)], idx); err != nil {
				return Metadata{}, BlobID{}, err
			}
			clear(winRow)
			for i, r := range idx {
				winRow[r] = rows[i]
			}
		}
		var pairs []int
		if g < len(sources) {
			pairs = append(pairs, sources[g]...)
		}
		pairs = append(pairs, idx...)
		if err := emitGroup(pairs); err != nil {
			return Metadata{}, BlobID{}, err
		}
	}
	return m, id, nil
}

// firstWindow returns the recovery rows (R <= r < n) the metadata pass keeps: the first
// window rows in order, or with spread every windows-th row from R.
func firstWindow(R, n, windows, window int, spread bool) []int {
	var out []int
	if spread {
		for r := R; r < n; r += windows {
			out = append(out, r)
		}
		return out
	}
	for r := R; r < min(n, R+window); r++ {
		out = append(out, r)
	}
	return out
}

// laterWindows splits the ascending rows into windows of at most window rows: runs of
// consecutive rows, or with spread strides through all of them (window j: rows[j],
// rows[j+k], ... for k windows), each window ascending.
func laterWindows(rows []int, window int, spread bool) [][]int {
	if len(rows) == 0 {
		return nil
	}
	k := (len(rows) + window - 1) / window
	out := make([][]int, k)
	for i, r := range rows {
		j := i / window
		if spread {
			j = i % k
		}
		out[j] = append(out[j], r)
	}
	return out
}

// spreadOrder returns the ascending pairs in bit-reversed order of their positions (a van
// der Corput sequence): every prefix of the result takes from each run of the input about
// its share, so members holding contiguous ranges of shards are fed side by side.
func spreadOrder[T any](pairs []T) []T {
	bits := 0
	for 1<<bits < len(pairs) {
		bits++
	}
	out := make([]T, 0, len(pairs))
	for k := range 1 << bits {
		if i := reverseBits(k, bits); i < len(pairs) {
			out = append(out, pairs[i])
		}
	}
	return out
}

// reverseBits reverses the low bits bits of k.
func reverseBits(k, bits int) int {
	r := 0
	for range bits {
		r = r<<1 | k&1
		k >>= 1
	}
	return r
}

// ErrStopped is what an onMetadata callback may return to end EncodeStream early on
// purpose (for example when nothing is left to upload); EncodeStream returns it as is.
var ErrStopped = fmt.Errorf("codec: encoding stopped by the caller")
