package codec_test

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// TestEncodeStreamBudgets checks that EncodeStream gives Encode's pairs, byte for byte, for
// every window count a budget can choose (one row per window up to two windows), with the
// recovery cells spilled or not, and with a Want filter that skips pairs and whole windows.
func TestEncodeStreamBudgets(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	for _, n := range []int{4, 10, 100} {
		p := codec.MustParams(n)
		size := p.R*p.C*70 + 11
		data := randBytes(rng, size)
		enc := mustEncode(t, p, data)
		full, err := codec.PlanStream(p, uint64(size), 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, budget := range []int64{0, 1, full.Memory / 2, full.Memory - full.RecoveryBytes, full.Memory * 4} {
			plan, err := codec.PlanStream(p, uint64(size), budget)
			if err != nil {
				t.Fatal(err)
			}
			for _, mode := range []int{0, 1, 2, 3, 6, 7} {
				filter, spread, run := mode&1 == 1, mode&2 == 2, 1
				if mode&4 == 4 {
					run = 3
				}
				spilled := 0
				var encoded atomic.Int64
				opts := codec.StreamOptions{Budget: budget, Encoded: &encoded, Spill: func(k int) (codec.SpillStore, error) {
					spilled++
					return &memSpill{b: make([]byte, k)}, nil
				}}
				if filter { // the blob read from a ReaderAt, not the slice
					opts.Source = bytes.NewReader(data)
				}
				wanted := func(pair int) bool { return !filter || pair%3 == 1 || pair == n-1 }
				if filter {
					opts.Want = wanted
				}
				opts.Spread, opts.SpreadRun = spread, run
				var got []int
				_, id, err := codec.EncodeStream(p, data, opts, nil, func(pair int, prim, sec *codec.Sliver) error {
					got = append(got, pair)
					wp, ws := enc.Pair(pair)
					if !bytes.Equal(prim.MarshalBCS(), wp.MarshalBCS()) || !bytes.Equal(sec.MarshalBCS(), ws.MarshalBCS()) {
						t.Fatalf("n=%d budget=%d pair %d differs from Encode", n, budget, pair)
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if id != enc.BlobID {
					t.Fatalf("n=%d budget=%d: blob ID differs", n, budget)
				}
				var want []int
				for pair := range n {
					if wanted(pair) {
						want = append(want, pair)
					}
				}
				sorted := slices.Sorted(slices.Values(got))
				if !slices.Equal(sorted, want) {
					t.Fatalf("n=%d budget=%d filter=%v spread=%v run %d: pairs %v, want each of %v once", n, budget, filter, spread, run, got, want)
				}
				if !spread && !slices.Equal(got, want) {
					t.Fatalf("n=%d budget=%d filter=%v: pairs %v, want pair order", n, budget, filter, got)
				}
				if spread && n >= 100 && slices.Equal(got, want) {
					t.Fatalf("n=%d budget=%d filter=%v: spread emitted in pair order", n, budget, filter)
				}
				if (spilled > 0) != plan.Spill {
					t.Fatalf("n=%d budget=%d: spilled %d times, plan %+v", n, budget, spilled, plan)
				}
				if e := encoded.Load(); e < int64(size)*9/10 || e > int64(p.R*p.C*int(enc.SymbolSize)) {
					t.Fatalf("n=%d: encoded counter %d for %d bytes", n, e, size)
				}
			}
		}
	}
}

// memSpill is a codec.SpillStore in memory.
type memSpill struct{ b []byte }

func (m *memSpill) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, io.ErrUnexpectedEOF
	}
	return copy(p, m.b[off:]), nil
}

func (m *memSpill) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, io.ErrShortWrite
	}
	return copy(m.b[off:], p), nil
}

// TestEncodeStreamSpreadFeedsMembersTogether checks what Spread is for: with a committee
// of four members holding contiguous quarters of the shards, the pairs come out feeding
// all of them side by side (no member waits long for its next pair), where pair order
// feeds one member after another; for every window count a budget can choose. With
// SpreadRun, consecutive pairs stay together in runs. (At n = 1000 the longest wait is
// 7-10 pairs of 1000 with single-pair spread, 750 in pair order.)
func TestEncodeStreamSpreadFeedsMembersTogether(t *testing.T) {
	p := codec.MustParams(100)
	rng := rand.New(rand.NewPCG(29, 30))
	size := p.R*p.C*40 + 5
	data := randBytes(rng, size)
	full, err := codec.PlanStream(p, uint64(size), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, budget := range []int64{0, full.Memory / 2, full.Memory - full.RecoveryBytes, 1} {
		for _, run := range []int{0, 1, 4} {
			spread := run > 0
			var id codec.BlobID
			var members, pairs []int
			_, _, err := codec.EncodeStream(p, data, codec.StreamOptions{Budget: budget, Spread: spread, SpreadRun: run},
				func(_ *codec.Metadata, bid codec.BlobID) error { id = bid; return nil },
				func(pair int, _, _ *codec.Sliver) error {
					members = append(members, p.ShardForPair(id, pair)*4/p.N)
					pairs = append(pairs, pair)
					return nil
				})
			if err != nil {
				t.Fatal(err)
			}
			// The longest stretch of the output in which some member receives nothing.
			longest := 0
			for m := range 4 {
				last := -1
				for i, got := range members {
					if got == m {
						longest = max(longest, i-last-1)
						last = i
					}
				}
				longest = max(longest, len(members)-last-1)
			}
			// Breaks: consecutive outputs that are not consecutive pairs.
			breaks := 0
			for i := 1; i < len(pairs); i++ {
				if pairs[i] != pairs[i-1]+1 {
					breaks++
				}
			}
			if spread && longest > 12*run {
				t.Errorf("budget %d, spread in runs of %d: a member waited %d pairs for its next one: %v", budget, run, longest, members)
			}
			plan, err := codec.PlanStream(p, uint64(size), budget)
			if err != nil {
				t.Fatal(err)
			}
			// Runs longer than a window are cut to the window.
			if k := min(run, plan.WindowRows); k > 1 && breaks > 2*len(pairs)/k {
				t.Errorf("budget %d, spread in runs of %d: %d of %d outputs break a run: %v", budget, run, breaks, len(pairs), pairs)
			}
			if !spread && longest < p.N/2 {
				t.Errorf("budget %d, pair order: the longest wait is only %d pairs (the test's premise fails)", budget, longest)
			}
		}
	}
}

func TestEncodeStreamStops(t *testing.T) {
	p := codec.MustParams(10)
	calls := 0
	_, _, err := codec.EncodeStream(p, []byte("abcdef"), codec.StreamOptions{}, func(*codec.Metadata, codec.BlobID) error {
		return codec.ErrStopped
	}, func(int, *codec.Sliver, *codec.Sliver) error { calls++; return nil })
	if !errors.Is(err, codec.ErrStopped) || calls != 0 {
		t.Fatalf("stopped: %v after %d pairs", err, calls)
	}
}

func TestPlanStreamShrinksWithBudget(t *testing.T) {
	p := codec.MustParams(1000)
	const size = 1 << 30
	free, _ := codec.PlanStream(p, size, 0)
	big, _ := codec.PlanStream(p, size, 4<<30)
	small, _ := codec.PlanStream(p, size, 512<<20)
	if big.Windows != 1 || big.Spill {
		t.Errorf("4 GiB budget: %+v", big)
	}
	if !small.Spill || small.Memory > 512<<20 || small.Windows < 3 {
		t.Errorf("512 MiB budget: %+v", small)
	}
	if free.Windows != 2 {
		t.Errorf("no budget: %+v", free)
	}
	t.Logf("1 GiB at n=1000: none %+v, 4 GiB %+v, 512 MiB %+v", free, big, small)
}
