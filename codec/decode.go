package codec

import (
	"fmt"

	"github.com/walrus-go/walrus-go/internal/hugemem"
)

// DecodePrimary reconstructs the blob from at least R = n-2f primary slivers (docs/protocol.md §4):
// each column of the column-expanded matrix is a codeword of the primary code.
//
// Which index sets work: the primary code is low-rate for most n (e.g. n = 10, 100, 1000) and
// is decoded through the step-1 code of docs/protocol.md §1, which only covers primary slivers
// 0..R+K-1 (K = next_pow2(R); at n = 1000 that is 0..845). Any R distinct slivers from that
// range decode; slivers beyond it are verified but cannot help. With at most f slivers missing
// at least R+K-f >= R of the usable ones remain, so "all slivers from n-f honest shards"
// always works. Where the primary code is high-rate (n = 4, 7, 13, ...) any R slivers work.
//
// Exactly R slivers are used, lowest indices first (source slivers need no decoding); each
// used one is verified against m (a bad one fails the call with ErrSliverHashMismatch, any
// misshapen one with ErrBadSliver; duplicates are ignored). The default consistency check
// then re-derives the hashes of the systematic primary slivers that were not used; a mismatch
// is ErrInconsistentBlob. m must already be verified against the blob ID (VerifyMetadata).
func DecodePrimary(p Params, m *Metadata, slivers []Sliver) ([]byte, error) {
	return decodeAxis(p, m, AxisPrimary, slivers, false)
}

// DecodePrimaryVerified is DecodePrimary for slivers the caller has already checked with
// VerifySliver against the same m, so each is hashed once on the read path rather than
// twice (a client verifies every sliver as it arrives, to drop a lying node's slivers
// early). Only the sliver verification is skipped: shapes are still checked and the
// default consistency check still runs. Passing an unverified sliver here voids the
// guarantee that the result matches m.
func DecodePrimaryVerified(p Params, m *Metadata, slivers []Sliver) ([]byte, error) {
	return decodeAxis(p, m, AxisPrimary, slivers, true)
}

// DecodeSecondary reconstructs the blob from at least C = n-f secondary slivers (any C of the
// n: the secondary code is always high-rate). Verification and the default consistency check
// are as for DecodePrimary.
func DecodeSecondary(p Params, m *Metadata, slivers []Sliver) ([]byte, error) {
	return decodeAxis(p, m, AxisSecondary, slivers, false)
}

// decodeAxis decodes from slivers of axis; preverified skips re-verifying the chosen ones
// (DecodePrimaryVerified's contract).
func decodeAxis(p Params, m *Metadata, axis Axis, slivers []Sliver, preverified bool) ([]byte, error) {
	if err := checkMetadataShape(p, m); err != nil {
		return nil, err
	}
	s, err := m.SymbolSize(p)
	if err != nil {
		return nil, err
	}
	// The code whose codewords are the axis's slivers: primary slivers are positions of the
	// primary code (R -> n), secondary slivers of the secondary code (C -> n).
	code, err := axisCode(p, axis.Other())
	if err != nil {
		return nil, err
	}
	k, usable := code.k, code.usable()
	// Candidates by position; the first of duplicates wins.
	cand := make([]*Sliver, usable)
	for i := range slivers {
		sl := &slivers[i]
		if sl.Axis != axis {
			return nil, fmt.Errorf("%w: %s sliver given to %s decode", ErrBadSliver, sl.Axis, axis)
		}
		if err := checkSliverShape(p, sl); err != nil {
			return nil, err
		}
		if idx := int(sl.Index); idx < usable && cand[idx] == nil {
			cand[idx] = sl
		}
	}
	if countNonNil(cand) < k {
		return nil, fmt.Errorf("%w: %d usable %s slivers, need %d", ErrNotEnoughSlivers, countNonNil(cand), axis, k)
	}
	// Use (and verify, in parallel) exactly k: source positions first, as they need no
	// decoding.
	chosen := make([]*Sliver, usable)
	verified := make([]bool, p.N)
	var use []int
	for i := 0; i < usable && len(use) < k; i++ {
		if cand[i] != nil {
			chosen[i], verified[i] = cand[i], true
			use = append(use, i)
		}
	}
	scratch := make([]expandScratch, numWorkers(max(len(use), p.R)))
	if !preverified {
		if err := parallelFor(len(use), func(w, j int) error {
			return verifySliver(&scratch[w], p, m, chosen[use[j]])
		}); err != nil {
			return nil, err
		}
	} else {
		// The caller's VerifySliver also checked the symbol size against m.
		for _, i := range use {
			if int(chosen[i].SymbolSize) != s {
				return nil, fmt.Errorf("%w: symbol size %d, metadata implies %d", ErrBadSliver, chosen[i].SymbolSize, s)
			}
		}
	}
	sliverSyms := p.sourceSymbols(axis)
	cs := chunkSize(s)
	size := sliverSyms * cs
	// The source slivers of this code, in chunk layout.
	src := make([][]byte, k)
	if countNonNil(chosen[:k]) == k {
		for i := range k {
			src[i] = chosen[i].Data
		}
	} else {
		// Buffers only for the chosen slivers and the missing source positions (<= 2k).
		shards := make([][]byte, usable)
		bufs := make([][]byte, usable)
		for i, sl := range chosen {
			if sl == nil && i >= k {
				continue
			}
			bufs[i] = make([]byte, size)
			if sl != nil {
				toChunks(bufs[i], sl.Data, s)
				shards[i] = bufs[i]
			}
		}
		// Reconstruct stripe by stripe so both cores work (the error locator is per call).
		width := max(cs, (64<<10)/cs*cs)
		nStripes := (size + width - 1) / width
		err := parallelFor(nStripes, func(_, j int) error {
			lo, hi := j*width, min(size, (j+1)*width)
			sub := make([][]byte, usable)
			for i := range shards {
				if len(shards[i]) != 0 {
					sub[i] = shards[i][lo:hi]
				} else if bufs[i] != nil {
					sub[i] = bufs[i][lo:lo:hi]
				}
			}
			return code.reconstructData(sub)
		})
		if err != nil {
			return nil, err
		}
		for i := range k {
			src[i] = make([]byte, sliverSyms*s)
			fromChunks(src[i], bufs[i], s)
		}
	}
	// Lay out the R×C source matrix row-major.
	R, C := p.R, p.C
	blob := hugemem.Bytes(R * C * s)
	if axis == AxisPrimary {
		for r := range R {
			copy(blob[r*C*s:], src[r])
		}
	} else {
		for c := range C {
			for r := range R {
				copy(blob[(r*C+c)*s:(r*C+c+1)*s], src[c][r*s:(r+1)*s])
			}
		}
	}
	// Default consistency check (docs/protocol.md §4): the systematic primary slivers must hash to
	// their committed values; those we verified on the way in already do.
	err = parallelFor(R, func(w, r int) error {
		if axis == AxisPrimary && verified[r] {
			return nil
		}
		h, err := sliverHash(&scratch[w], p, AxisPrimary, blob[r*C*s:(r+1)*C*s], s)
		if err != nil {
			return err
		}
		if h != m.PrimaryHash(r) {
			return fmt.Errorf("%w: primary sliver %d re-derived from the decoded blob mismatches", ErrInconsistentBlob, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return blob[:m.UnencodedLength:m.UnencodedLength], nil
}

func countNonNil(s []*Sliver) int {
	c := 0
	for _, x := range s {
		if x != nil {
			c++
		}
	}
	return c
}

// CheckConsistency checks a decoded blob against verified metadata (docs/protocol.md §4). The
// default check (strict = false) re-derives the R systematic primary slivers from the blob and
// compares their hashes; the strict check re-encodes the whole blob and compares the blob ID.
// A failure is ErrInconsistentBlob.
func CheckConsistency(p Params, m *Metadata, blob []byte, strict bool) error {
	if err := checkMetadataShape(p, m); err != nil {
		return err
	}
	if uint64(len(blob)) != m.UnencodedLength {
		return fmt.Errorf("%w: blob of %d bytes, metadata says %d", ErrInconsistentBlob, len(blob), m.UnencodedLength)
	}
	if strict {
		got, _, err := ComputeMetadata(p, blob)
		if err != nil {
			return err
		}
		if got.BlobID() != m.BlobID() {
			return fmt.Errorf("%w: re-encoding gives a different blob ID", ErrInconsistentBlob)
		}
		return nil
	}
	s, err := m.SymbolSize(p)
	if err != nil {
		return err
	}
	rowBytes := p.C * s
	scratch := make([]expandScratch, numWorkers(p.R))
	rows := make([][]byte, len(scratch))
	return parallelFor(p.R, func(w, r int) error {
		if rows[w] == nil {
			rows[w] = make([]byte, rowBytes)
		}
		row := rows[w]
		clear(row)
		if r*rowBytes < len(blob) {
			copy(row, blob[r*rowBytes:])
		}
		h, err := sliverHash(&scratch[w], p, AxisPrimary, row, s)
		if err != nil {
			return err
		}
		if h != m.PrimaryHash(r) {
			return fmt.Errorf("%w: primary sliver %d", ErrInconsistentBlob, r)
		}
		return nil
	})
}
