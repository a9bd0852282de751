package recovery

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
)

// ID2 is the protocol ID of the batched version (see the package comment).
const ID2 protocol.ID = "/walrus/recovery-symbol/2"

// Framing of version 2.
const (
	// ItemHeaderLen2 is a request item before its runs: blob ID, target axis, limit, run count.
	ItemHeaderLen2 = 32 + 1 + 2 + 2
	// RunLen is one run of target indices: start, length.
	RunLen = 2 + 2
	// resultHeader2 is what one answered item adds before its sources: code, symbol size,
	// source count.
	resultHeader2 = 1 + 2 + 2
	// sourceHeader2 is what one source adds besides its cells and hashes: its index and its
	// hash count.
	sourceHeader2 = 2 + 2
)

// MaxTargets2 bounds the target indices of one version-2 request, over all its items: every
// sliver of a node's shards, as for version 1.
func MaxTargets2(p codec.Params) int { return 2 * p.N }

// MaxRequest2 is the request body cap: at most MaxTargets2 items and runs (a run has at least
// one target).
func MaxRequest2(p codec.Params) int {
	return HeaderLen + MaxTargets2(p)*(ItemHeaderLen2+RunLen)
}

// ResponseCap2 is the response body cap: at least one item of a single target answered
// from all n sources with symbols of the largest size, otherwise responseFloor. A node
// answers the items that fit and marks the rest CodeUnavailable; a requester sizes its
// requests (SourceAnswerLen2) so that they fit.
func ResponseCap2(p codec.Params) int {
	depth := codec.ProofDepth(p.N)
	one := resultHeader2 + p.N*(sourceHeader2+codec.MaxSymbolSize+depth*codec.HashLen)
	return HeaderLen + max(one, responseFloor)
}

// Spec2 is version 2's spec for geometry p.
func Spec2(p codec.Params) p2p.Protocol {
	return p2p.Protocol{ID: ID2, MaxRequest: MaxRequest2(p), MaxResponse: ResponseCap2(p), Timeout: Timeout}
}

// SourceAnswerLen2 is what one source sliver adds to an item's answer: its index, the cells
// of the item's targets and its multiproof of hashes hashes (codec.MultiProofLen).
func SourceAnswerLen2(symbolSize, targets, hashes int) int {
	return sourceHeader2 + targets*symbolSize + hashes*codec.HashLen
}

// ItemAnswerLen2 is the most an item answered from sources source slivers takes.
func ItemAnswerLen2(symbolSize, targets, hashes, sources int) int {
	return resultHeader2 + sources*SourceAnswerLen2(symbolSize, targets, hashes)
}

// Item is one version-2 request item: several target slivers of one axis of one blob.
type Item struct {
	BlobID codec.BlobID
	Axis   codec.Axis // the targets' axis
	// Targets are the target indices, strictly increasing, below n (sent as runs).
	Targets []int
	// Limit caps the source slivers wanted from the asked node (0: all it has).
	Limit uint16
}

// runs returns targets (strictly increasing, below n) as runs (start, length) of indices
// contiguous modulo n: the fewest, a run through n-1 continuing at 0.
func runs(n int, targets []int) [][2]int {
	var out [][2]int
	for i := 0; i < len(targets); {
		j := i + 1
		for j < len(targets) && targets[j] == targets[j-1]+1 {
			j++
		}
		out = append(out, [2]int{targets[i], j - i})
		i = j
	}
	if len(out) > 1 && out[0][0] == 0 {
		if last := out[len(out)-1]; last[0]+last[1] == n {
			out[len(out)-1][1] += out[0][1]
			out = out[1:]
		}
	}
	return out
}

// EncodeRequest2 returns a version-2 request for items, each with valid targets (strictly
// increasing, below n).
func EncodeRequest2(n int, items []Item) []byte {
	b := binary.LittleEndian.AppendUint16(nil, uint16(len(items)))
	for _, it := range items {
		rs := runs(n, it.Targets)
		b = append(b, it.BlobID[:]...)
		b = append(b, byte(it.Axis))
		b = binary.LittleEndian.AppendUint16(b, it.Limit)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(rs)))
		for _, r := range rs {
			b = binary.LittleEndian.AppendUint16(b, uint16(r[0]))
			b = binary.LittleEndian.AppendUint16(b, uint16(r[1]))
		}
	}
	return b
}

// DecodeRequest2 parses an untrusted version-2 request for geometry p. Every item needs at
// least one run; a run starts below n and has 1..n indices, taken modulo n; an item's runs
// may not overlap; all items together name at most MaxTargets2 targets. Items come back
// with their targets sorted.
func DecodeRequest2(p codec.Params, b []byte) ([]Item, error) {
	r := wire.NewReader(b, ErrMalformed)
	count := int(r.U16())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if count == 0 || count > MaxTargets2(p) || count*(ItemHeaderLen2+RunLen) > r.Len() {
		return nil, fmt.Errorf("%w: %d items in %d bytes", ErrMalformed, count, r.Len())
	}
	out := make([]Item, count)
	seen := make([]bool, p.N)
	total := 0
	for i := range out {
		it := &out[i]
		r.Fixed(it.BlobID[:])
		it.Axis = codec.Axis(r.U8())
		it.Limit = r.U16()
		nr := int(r.U16())
		if err := r.Err(); err != nil {
			return nil, err
		}
		if !it.Axis.Valid() || nr == 0 || nr > p.N || nr*RunLen > r.Len() {
			return nil, fmt.Errorf("%w: item %d: axis %d, %d runs", ErrMalformed, i, it.Axis, nr)
		}
		clear(seen)
		for range nr {
			start, length := int(r.U16()), int(r.U16())
			if start >= p.N || length == 0 || length > p.N {
				return nil, fmt.Errorf("%w: item %d: run of %d from %d (n=%d)", ErrMalformed, i, length, start, p.N)
			}
			if total += length; total > MaxTargets2(p) {
				return nil, fmt.Errorf("%w: more than %d targets", ErrMalformed, MaxTargets2(p))
			}
			for j := range length {
				t := (start + j) % p.N
				if seen[t] {
					return nil, fmt.Errorf("%w: item %d: target %d twice", ErrMalformed, i, t)
				}
				seen[t] = true
				it.Targets = append(it.Targets, t)
			}
		}
		slices.Sort(it.Targets)
	}
	return out, r.End()
}

// ItemResult is the answer to one item: a failure code, or per source sliver its batch of
// symbols (codec.SymbolBatch, cells in the item's target order).
type ItemResult struct {
	Code       p2p.Code
	SymbolSize int
	Batches    []codec.SymbolBatch
}

// EncodedLen is len of r in a response.
func (r *ItemResult) EncodedLen() int {
	if r.Code != 0 {
		return 1
	}
	n := resultHeader2
	for i := range r.Batches {
		n += SourceAnswerLen2(r.SymbolSize, len(r.Batches[i].Data), len(r.Batches[i].Proof.Hashes))
	}
	return n
}

// EncodeResponse2 returns a version-2 response body.
func EncodeResponse2(results []ItemResult) []byte {
	size := HeaderLen
	for i := range results {
		size += results[i].EncodedLen()
	}
	b := binary.LittleEndian.AppendUint16(make([]byte, 0, size), uint16(len(results)))
	for _, res := range results {
		b = append(b, byte(res.Code))
		if res.Code != 0 {
			continue
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(res.SymbolSize))
		b = binary.LittleEndian.AppendUint16(b, uint16(len(res.Batches)))
		for _, bt := range res.Batches {
			b = binary.LittleEndian.AppendUint16(b, bt.Index)
			for _, d := range bt.Data {
				b = append(b, d...)
			}
			b = binary.LittleEndian.AppendUint16(b, uint16(len(bt.Proof.Hashes)))
			for _, h := range bt.Proof.Hashes {
				b = append(b, h[:]...)
			}
		}
	}
	return b
}

// boundedReader reads at most left bytes: a length read from the wire is checked against
// what remains of the body before anything is allocated for it.
type boundedReader struct {
	r    io.Reader
	left int
}

func (b *boundedReader) full(buf []byte) error {
	if len(buf) > b.left {
		return fmt.Errorf("%w: %d bytes announced, %d left in the response", ErrMalformed, len(buf), b.left)
	}
	n, err := io.ReadFull(b.r, buf)
	b.left -= n
	return endIsMalformed(err)
}

func (b *boundedReader) u16() (int, error) {
	var x [2]byte
	if err := b.full(x[:]); err != nil {
		return 0, err
	}
	return int(binary.LittleEndian.Uint16(x[:])), nil
}

// ReadResponse2 parses a version-2 response of size bytes to items as it streams from r,
// for a blob of symbols of symbolSize bytes (from its metadata), and returns per item its
// code and its batches (shape checked, not yet verified: codec.VerifySymbolBatch does that,
// before any cell is used). Every count is checked before anything is allocated for it:
// the symbol size must be symbolSize, the sources at most the limit and n, distinct, below
// n (and below the usable bound for a secondary target), every source's hash count exactly
// what the multiproof of the item's targets takes, and nothing beyond size bytes. A
// violation fails the whole response: the node that sent it is lying.
func ReadResponse2(p codec.Params, r io.Reader, size int, items []Item, symbolSize int) ([]p2p.Code, [][]codec.SymbolBatch, error) {
	br := &boundedReader{r: r, left: size}
	n, err := br.u16()
	if err != nil {
		return nil, nil, fmt.Errorf("result count: %w", err)
	}
	if n != len(items) {
		return nil, nil, fmt.Errorf("%w: %d results for %d items", ErrMalformed, n, len(items))
	}
	codes := make([]p2p.Code, len(items))
	batches := make([][]codec.SymbolBatch, len(items))
	seen := make([]bool, p.N)
	var code [1]byte
	for i, it := range items {
		if err := br.full(code[:]); err != nil {
			return nil, nil, fmt.Errorf("item %d: %w", i, err)
		}
		if codes[i] = p2p.Code(code[0]); codes[i] != 0 {
			continue
		}
		hashes, err := codec.MultiProofLen(p.N, it.Targets)
		if err != nil {
			return nil, nil, fmt.Errorf("item %d: %w", i, err) // our own request: cannot happen
		}
		s, err := br.u16()
		if err != nil {
			return nil, nil, fmt.Errorf("item %d: %w", i, err)
		}
		if s != symbolSize {
			return nil, nil, fmt.Errorf("%w: item %d: symbols of %d bytes, want %d", ErrMalformed, i, s, symbolSize)
		}
		count, err := br.u16()
		if err != nil {
			return nil, nil, fmt.Errorf("item %d: %w", i, err)
		}
		if count > p.N || it.Limit != 0 && count > int(it.Limit) {
			return nil, nil, fmt.Errorf("%w: item %d: %d sources, limit %d, n=%d", ErrMalformed, i, count, it.Limit, p.N)
		}
		if count*SourceAnswerLen2(s, len(it.Targets), hashes) > br.left {
			return nil, nil, fmt.Errorf("%w: item %d: %d sources do not fit the %d bytes left", ErrMalformed, i, count, br.left)
		}
		clear(seen)
		batches[i] = make([]codec.SymbolBatch, count)
		for j := range count {
			src, err := br.u16()
			if err != nil {
				return nil, nil, fmt.Errorf("item %d source %d: %w", i, j, err)
			}
			if src >= p.N || seen[src] || it.Axis == codec.AxisSecondary && src >= p.UsablePrimarySlivers() {
				return nil, nil, fmt.Errorf("%w: item %d: source %d repeated or not usable", ErrMalformed, i, src)
			}
			seen[src] = true
			cells := make([]byte, len(it.Targets)*s)
			if err := br.full(cells); err != nil {
				return nil, nil, fmt.Errorf("item %d source %d: %w", i, j, err)
			}
			h, err := br.u16()
			if err != nil {
				return nil, nil, fmt.Errorf("item %d source %d: %w", i, j, err)
			}
			if h != hashes {
				return nil, nil, fmt.Errorf("%w: item %d source %d: %d proof hashes, want %d", ErrMalformed, i, j, h, hashes)
			}
			proof := make([]byte, h*codec.HashLen)
			if err := br.full(proof); err != nil {
				return nil, nil, fmt.Errorf("item %d source %d: %w", i, j, err)
			}
			bt := codec.SymbolBatch{Target: it.Axis, Index: uint16(src), Targets: it.Targets,
				Data: make([][]byte, len(it.Targets)), Proof: codec.MultiProof{Hashes: make([][codec.HashLen]byte, h)}}
			for k := range bt.Data {
				bt.Data[k] = cells[k*s : (k+1)*s : (k+1)*s]
			}
			for k := range bt.Proof.Hashes {
				copy(bt.Proof.Hashes[k][:], proof[k*codec.HashLen:])
			}
			batches[i][j] = bt
		}
	}
	if br.left != 0 {
		return nil, nil, fmt.Errorf("%w: %d bytes after the last item", ErrMalformed, br.left)
	}
	return codes, batches, nil
}
