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
	// SpreadRun, with Spread, keeps runs of this many consecutive pair indices together
	// (windows take whole runs, groups are ordered by run; at most a window's rows): a sink
	// that sends a member SpreadRun pairs per request then sends each request a
	// contiguous range of shards, whose tables a storage engine can keep apart. 0 or 1:
	// single pairs.
	SpreadRun int
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
	first := firstWindow(R, n, window, opts.Spread, opts.SpreadRun)
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

	for g, grp := range emissionGroups(R, n, first, window, opts.Spread, opts.SpreadRun, want) {
		if g > 0 {
			if err := e.recoveryRows(rows[:len(grp.rec)], grp.rec); err != nil {
				return Metadata{}, BlobID{}, err
			}
			clear(winRow)
			for i, r := range grp.rec {
				winRow[r] = rows[i]
			}
		} else {
			for i, r := range first {
				winRow[r] = rows[i]
			}
		}
		for _, pair := range grp.order {
			if err := emit(pair); err != nil {
				return Metadata{}, BlobID{}, err
			}
		}
	}
	return m, id, nil
}

// runLen is the run length of a spread emission: SpreadRun, at least 1 and at most a
// window.
func runLen(run, window int) int { return max(1, min(run, window)) }

// runs cuts rows lo..hi-1 into runs of k consecutive rows (the last one shorter).
func runs(lo, hi, k int) [][]int {
	var out [][]int
	for r0 := lo; r0 < hi; r0 += k {
		var run []int
		for r := r0; r < min(hi, r0+k); r++ {
			run = append(run, r)
		}
		out = append(out, run)
	}
	return out
}

// recoveryRuns cuts the recovery rows R..n-1 into runs of at most k consecutive rows that
// strides fit in the fewest windows of window rows the rows need: a multiple of that many
// runs of nearly equal length (the longer ones first), so that every stride holds its share
// of the rows, one more at most. (Runs of exactly k do not always fit: 24 runs of 27 rows
// and one of 18 need three strides of at most 333 rows, not two.)
func recoveryRuns(R, n, k, window int) [][]int {
	rows := n - R
	w := (rows + window - 1) / window
	m := min(rows, w*((rows+w*k-1)/(w*k)))
	q, extra := rows/m, rows%m
	out := make([][]int, 0, m)
	r0 := R
	for i := range m {
		size := q
		if i < extra {
			size++
		}
		run := make([]int, size)
		for j := range run {
			run[j] = r0 + j
		}
		out = append(out, run)
		r0 += size
	}
	return out
}

// firstWindow returns the recovery rows (R <= r < n) the metadata pass keeps, at most
// window of them: the first window rows in order; with spread, every W-th run of
// recoveryRuns, W being how many windows the rows need.
func firstWindow(R, n, window int, spread bool, run int) []int {
	if !spread {
		var out []int
		for r := R; r < min(n, R+window); r++ {
			out = append(out, r)
		}
		return out
	}
	all := recoveryRuns(R, n, runLen(run, window), window)
	w := (n - R + window - 1) / window
	var out []int
	for b := 0; b < len(all); b += w {
		out = append(out, all[b]...)
	}
	return out
}

// strideCount is the fewest windows c that hold the runs in strides (window j: runs j,
// j+c, j+2c, ...) with at most window rows each. Each run holds at most window rows, so
// len(runs) windows always do; the rows' count over window is where the search starts
// (runs that do not tile a window can need one more).
func strideCount(runs [][]int, window int) int {
	rows := 0
	for _, r := range runs {
		rows += len(r)
	}
	for c := max(1, (rows+window-1)/window); ; c++ {
		fits := true
		for j := 0; j < c && fits; j++ {
			sum := 0
			for i := j; i < len(runs); i += c {
				sum += len(runs[i])
			}
			fits = sum <= window
		}
		if fits || c >= len(runs) {
			return c
		}
	}
}

// group is one stretch of EncodeStream's output: the recovery rows it needs in the window
// (re-encoded first, except the first group's, kept from the metadata pass) and every
// pair it emits, in order.
type group struct {
	rec   []int
	order []int
}

// emissionGroups plans EncodeStream's output after the metadata pass, the wanted pairs
// only: first the source rows and the first window's rows, then the rest of the recovery
// rows in windows of at most window rows, each in pair order. With spread: the windows
// are strides of whole runs (see firstWindow), taken in bit-reversed order, the source
// rows' runs go evenly with every group, and each group emits its runs in bit-reversed
// order (spreadOrder).
func emissionGroups(R, n int, first []int, window int, spread bool, run int, want func(int) bool) []group {
	inFirst := make([]bool, n)
	for _, r := range first {
		inFirst[r] = true
	}
	wanted := func(rows []int) []int {
		var out []int
		for _, r := range rows {
			if want(r) {
				out = append(out, r)
			}
		}
		return out
	}
	if !spread {
		g0 := group{rec: wanted(first)}
		for pair := range R {
			if want(pair) {
				g0.order = append(g0.order, pair)
			}
		}
		g0.order = append(g0.order, g0.rec...)
		out := []group{g0}
		var rest []int
		for r := R; r < n; r++ {
			if !inFirst[r] && want(r) {
				rest = append(rest, r)
			}
		}
		for i := 0; i < len(rest); i += window {
			w := rest[i:min(len(rest), i+window)]
			out = append(out, group{rec: w, order: w})
		}
		return out
	}
	k := runLen(run, window)
	keep := func(all [][]int, in func(run []int) bool) [][]int {
		var out [][]int
		for _, r := range all {
			if in(r) {
				if w := wanted(r); len(w) > 0 {
					out = append(out, w)
				}
			}
		}
		return out
	}
	rec := recoveryRuns(R, n, k, window)
	firstRuns := keep(rec, func(r []int) bool { return inFirst[r[0]] })
	restRuns := keep(rec, func(r []int) bool { return !inFirst[r[0]] })
	srcRuns := spreadOrder(keep(runs(0, R, k), func([]int) bool { return true }))
	windows := [][][]int{firstRuns}
	if len(restRuns) > 0 {
		count := strideCount(restRuns, window)
		later := make([][][]int, count)
		for i, r := range restRuns {
			later[i%count] = append(later[i%count], r)
		}
		windows = append(windows, spreadOrder(later)...)
	}
	units := make([][][]int, len(windows)) // units[g]: group g's runs
	copy(units, windows)
	for i, r := range srcRuns { // evenly over the groups
		g := i * len(units) / len(srcRuns)
		units[g] = append(slices.Clip(units[g]), r)
	}
	out := make([]group, len(windows))
	for g, w := range windows {
		for _, r := range w {
			out[g].rec = append(out[g].rec, r...)
		}
		us := slices.Clone(units[g])
		slices.SortFunc(us, func(a, b []int) int { return a[0] - b[0] })
		for _, u := range spreadOrder(us) {
			out[g].order = append(out[g].order, u...)
		}
	}
	return out
}

// spreadOrder returns the items in bit-reversed order of their positions (a van der
// Corput sequence): every prefix of the result takes from each stretch of the input about
// its share, so members holding contiguous ranges of shards are fed side by side.
func spreadOrder[T any](items []T) []T {
	bits := 0
	for 1<<bits < len(items) {
		bits++
	}
	out := make([]T, 0, len(items))
	for k := range 1 << bits {
		if i := reverseBits(k, bits); i < len(items) {
			out = append(out, items[i])
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
