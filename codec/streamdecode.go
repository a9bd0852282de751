package codec

import (
	"fmt"
	"slices"
)

// SliverStore holds primary slivers outside the decoder's memory (a spill file, say) for
// DecodePrimaryWindows: the verified slivers it decodes from, and the systematic slivers it
// reconstructs.
type SliverStore interface {
	// ReadSliverAt fills dst with bytes [off, off+len(dst)) of primary sliver index's Data.
	ReadSliverAt(index int, dst []byte, off int) error
	// WriteSliverAt stores data as bytes [off, off+len(data)) of primary sliver index's Data.
	WriteSliverAt(index int, data []byte, off int) error
}

// DecodeWindowBytes is the working memory DecodePrimaryWindows needs for a window of w
// symbols (columns) when miss systematic slivers are to be reconstructed: the R slivers
// used and the missing ones in chunk layout, and a window of one sliver to read into and
// one to write from, per worker.
func DecodeWindowBytes(p Params, symbolSize, miss, w int) int64 {
	cs := chunkSize(symbolSize)
	return int64(w) * (int64(p.R+miss)*int64(cs) + 2*int64(numWorkers(p.R))*int64(symbolSize))
}

// DecodePrimaryWindows is DecodePrimaryVerified for slivers kept outside memory: it
// reconstructs the systematic primary slivers (rows 0..R-1) missing from have out of R of
// the slivers in have, which must all have been verified against m (VerifySliver), reading
// them from st, a window of columns at a time in about budget bytes (at least one column;
// DecodeWindowBytes), and writes each reconstructed sliver to st. Then it runs the default
// consistency check on those, reading them back from st. It returns the rows it
// reconstructed (none when have holds every systematic sliver: the blob is those rows).
//
// Which slivers are used, what decodes and what is inconsistent is exactly as for
// DecodePrimary (the same R lowest usable indices of have, the same code), so the bytes
// are the ones DecodePrimaryVerified would return, row for row.
func DecodePrimaryWindows(p Params, m *Metadata, have []int, st SliverStore, budget int64) ([]int, error) {
	if err := checkMetadataShape(p, m); err != nil {
		return nil, err
	}
	s, err := m.SymbolSize(p)
	if err != nil {
		return nil, err
	}
	code, err := axisCode(p, AxisSecondary) // primary slivers are its positions
	if err != nil {
		return nil, err
	}
	k, usable := code.k, code.usable()
	idx := slices.Clone(have)
	slices.Sort(idx)
	idx = slices.Compact(idx)
	var use []int
	for _, i := range idx {
		if i >= 0 && i < usable && len(use) < k {
			use = append(use, i)
		}
	}
	if len(use) < k {
		return nil, fmt.Errorf("%w: %d usable primary slivers, need %d", ErrNotEnoughSlivers, len(use), k)
	}
	chosen := make([]bool, usable)
	for _, i := range use {
		chosen[i] = true
	}
	var missing []int
	for r := range k {
		if !chosen[r] {
			missing = append(missing, r)
		}
	}
	if len(missing) == 0 {
		return nil, nil
	}
	C, cs := p.C, chunkSize(s)
	w := int(min(int64(C), max(1, budget/max(1, DecodeWindowBytes(p, s, len(missing), 1)))))
	// Chunk-layout buffers of one window for the slivers used and the missing ones.
	bufs := make([][]byte, usable)
	for _, i := range use {
		bufs[i] = make([]byte, w*cs)
	}
	for _, r := range missing {
		bufs[r] = make([]byte, w*cs)
	}
	workers := numWorkers(max(len(use), len(missing)))
	raw := make([][]byte, workers)
	for i := range raw {
		raw[i] = make([]byte, w*s)
	}
	for c0 := 0; c0 < C; c0 += w {
		c1 := min(C, c0+w)
		n := (c1 - c0) * s
		size := (c1 - c0) * cs
		if err := parallelFor(len(use), func(wk, j int) error {
			i := use[j]
			if err := st.ReadSliverAt(i, raw[wk][:n], c0*s); err != nil {
				return err
			}
			toChunks(bufs[i][:size], raw[wk][:n], s)
			return nil
		}); err != nil {
			return nil, err
		}
		// Reconstruct stripe by stripe so both cores work, as DecodePrimary does.
		width := max(cs, (64<<10)/cs*cs)
		stripes := (size + width - 1) / width
		if err := parallelFor(stripes, func(_, j int) error {
			lo, hi := j*width, min(size, (j+1)*width)
			sub := make([][]byte, usable)
			for _, i := range use {
				sub[i] = bufs[i][lo:hi]
			}
			for _, r := range missing {
				sub[r] = bufs[r][lo:lo:hi]
			}
			return code.reconstructData(sub)
		}); err != nil {
			return nil, err
		}
		if err := parallelFor(len(missing), func(wk, j int) error {
			r := missing[j]
			fromChunks(raw[wk][:n], bufs[r][:size], s)
			return st.WriteSliverAt(r, raw[wk][:n], c0*s)
		}); err != nil {
			return nil, err
		}
	}
	bufs, raw = nil, nil
	// Default consistency check (docs/protocol.md §4) on the rows decoded: one row per
	// worker at a time.
	rowBytes := C * s
	scratch := make([]expandScratch, numWorkers(len(missing)))
	rows := make([][]byte, len(scratch))
	if err := parallelFor(len(missing), func(wk, j int) error {
		r := missing[j]
		if rows[wk] == nil {
			rows[wk] = make([]byte, rowBytes)
		}
		if err := st.ReadSliverAt(r, rows[wk], 0); err != nil {
			return err
		}
		h, err := sliverHash(&scratch[wk], p, AxisPrimary, rows[wk], s)
		if err != nil {
			return err
		}
		if h != m.PrimaryHash(r) {
			return fmt.Errorf("%w: primary sliver %d re-derived from the decoded blob mismatches", ErrInconsistentBlob, r)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return missing, nil
}
