// Package recovery is the home of /walrus/recovery-symbol/1 and /walrus/recovery-symbol/2
// (docs/architecture.md §5 "Blob sync", docs/protocol.md §4 and §9): a node that misses a
// sliver asks the other nodes for recovery symbols. For a target sliver (axis, index) of a
// blob, the answering node returns, from every source sliver of the other axis it holds, the
// cell at the target's index of that sliver's expansion, authenticated against the source
// sliver's committed hash. Enough verified symbols decode the target (codec.RecoverSliver):
// n-2f for a secondary sliver, n-f for a primary one, so repair moves about one sliver's
// worth of bytes per lost sliver instead of the blob.
//
// Version 1 answers per target, each symbol with its own Merkle proof
// (codec.RecoverySymbol):
//
//	request:   count u16 | count × (blob_id[32] | target axis u8 | target index u16 | limit u16)
//	response:  count u16 | count × (code u8 | [symbols u16 | symbols × (u32 len | symbol BCS),
//	           ok only])
//
// The answering node sends at most limit symbols for an item (0: every one it can), so a
// requester that knows how many it still needs from whom moves little more than that.
//
// Version 2 answers many targets of one axis of one blob at once: each source sliver's cells
// at those targets are leaves of one Merkle tree (its expansion), proven together by one
// multiproof (codec.MultiProof, codec.SymbolBatch) instead of one proof per cell. A node's
// shards are mostly contiguous runs of pair indices, so an item's targets are a few runs
// and its multiproof about 2·log2(n) hashes where per-cell proofs take log2(n) per target.
// Little endian throughout:
//
//	request:   count u16 | count × item
//	item:      blob_id[32] | target axis u8 | limit u16 | runs u16 | runs × (start u16 | len u16)
//	response:  count u16 | count × (code u8 | [symbol_size u16 | sources u16 | sources × source,
//	           ok only])
//	source:    source index u16 | cells: targets × symbol_size bytes | hashes u16 | hashes × 32
//
// A run names the targets start, start+1, ... start+len-1, modulo n (a run may wrap past
// n-1 to 0): start < n, 1 ≤ len ≤ n, and an item's runs may not overlap. An item's targets
// T are the union of its runs, taken in increasing order; a request names at most 2n
// targets over all its items (MaxTargets2), so its body is at most 2 + 2n × 41 bytes. The
// answering node sends, for each item, from at most limit (0: all) of the source slivers of
// the other axis it stores, in any order but each once: the source's index, its cells at T
// in increasing target order, and the multiproof of leaves T of its expansion's tree, its
// hashes in the order codec.MultiProof defines; the hash count is exactly
// codec.MultiProofLen(n, T), a function of n and T alone. A secondary target is served only
// from primary sources below the usable bound (codec.Params.UsablePrimarySlivers). The
// requester checks every count before it allocates for it (symbol size equal to the
// metadata's, sources at most the limit and n, distinct, hash count exact, nothing beyond
// the response) and verifies every multiproof against the source's hash in the metadata
// before it uses any cell (codec.VerifySymbolBatch). The response cap is max(32 MiB, one
// target from all n sources with symbols of the largest size); a requester splits its
// targets into items and requests so that limit × per-source answers fit (ItemAnswerLen2).
//
// In both versions an item's code is 0 when the node answers it, p2p.CodeNotFound when it
// holds no source sliver of that blob (no metadata, or no shard of it), p2p.CodeForbidden
// when the blob is not registered or certified, p2p.CodeUnavailable when the answer would
// not fit the response cap (ask again for less).
package recovery

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
)

// ID is the protocol ID.
const ID protocol.ID = "/walrus/recovery-symbol/1"

// Timeout bounds one exchange: the answering node expands each source sliver it holds once
// per request, which at n = 1000 takes a few milliseconds per sliver.
const Timeout = time.Minute

// Framing.
const (
	// ItemLen is one request item: blob ID, target axis, target index, limit.
	ItemLen = 32 + 1 + 2 + 2
	// HeaderLen is a request's or response's count.
	HeaderLen = 2
	// symbolFrame is what one symbol adds in a response: its u32 length.
	symbolFrame = 4
	// resultHeader is what one answered item adds: its code and symbol count.
	resultHeader = 1 + 2
	// responseFloor is the smallest response cap: room for many small-symbol targets.
	responseFloor = 32 << 20
)

// MaxItems bounds the targets of one request: at most every sliver of a node's shards.
func MaxItems(p codec.Params) int { return 2 * p.N }

// MaxItemAnswer is the most one answered item may take: a symbol from each of n sources.
func MaxItemAnswer(p codec.Params) int {
	return resultHeader + p.N*(symbolFrame+codec.MaxRecoverySymbolBCSLen)
}

// ResponseCap is the response body cap for geometry p: at least one full item, otherwise
// responseFloor. A node answers what fits and marks the rest CodeUnavailable.
func ResponseCap(p codec.Params) int {
	return HeaderLen + max(MaxItemAnswer(p), responseFloor)
}

// Spec is the protocol's spec for geometry p.
func Spec(p codec.Params) p2p.Protocol {
	return p2p.Protocol{ID: ID, MaxRequest: HeaderLen + MaxItems(p)*ItemLen, MaxResponse: ResponseCap(p), Timeout: Timeout}
}

// SymbolAnswerLen is the framed length of one symbol of symbolSize bytes with a proof of a
// tree over n leaves: what a node adds to a response per source sliver it answers from.
func SymbolAnswerLen(n, symbolSize int) int {
	depth := 0
	for 1<<depth < n {
		depth++
	}
	return symbolFrame + 2 + wire.ULEB128Len(uint64(symbolSize)) + symbolSize +
		wire.ULEB128Len(uint64(depth)) + depth*(1+codec.HashLen) + 8
}

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("recovery: malformed message")

// Target names a sliver to recover.
type Target struct {
	BlobID codec.BlobID
	Axis   codec.Axis
	Index  uint16
	// Limit caps the symbols wanted for it from the asked node (0: all it has).
	Limit uint16
}

// EncodeRequest returns a request for the given targets.
func EncodeRequest(targets []Target) []byte {
	b := binary.LittleEndian.AppendUint16(make([]byte, 0, HeaderLen+len(targets)*ItemLen), uint16(len(targets)))
	for _, t := range targets {
		b = append(b, t.BlobID[:]...)
		b = append(b, byte(t.Axis))
		b = binary.LittleEndian.AppendUint16(b, t.Index)
		b = binary.LittleEndian.AppendUint16(b, t.Limit)
	}
	return b
}

// DecodeRequest parses an untrusted request for geometry p.
func DecodeRequest(p codec.Params, b []byte) ([]Target, error) {
	r := wire.NewReader(b, ErrMalformed)
	n := int(r.U16())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if n == 0 || n > MaxItems(p) || n*ItemLen != r.Len() {
		return nil, fmt.Errorf("%w: %d items in %d bytes (1..%d allowed)", ErrMalformed, n, r.Len(), MaxItems(p))
	}
	out := make([]Target, n)
	for i := range out {
		r.Fixed(out[i].BlobID[:])
		out[i].Axis = codec.Axis(r.U8())
		out[i].Index = r.U16()
		out[i].Limit = r.U16()
		if !out[i].Axis.Valid() || int(out[i].Index) >= p.N {
			return nil, fmt.Errorf("%w: item %d: axis %d index %d", ErrMalformed, i, out[i].Axis, out[i].Index)
		}
	}
	return out, r.End()
}

// Result is the answer to one target: a failure code, or the symbols' BCS encodings.
type Result struct {
	Code    p2p.Code
	Symbols [][]byte
}

// EncodedLen is len of r in a response.
func (r *Result) EncodedLen() int {
	if r.Code != 0 {
		return 1
	}
	n := resultHeader
	for _, s := range r.Symbols {
		n += symbolFrame + len(s)
	}
	return n
}

// EncodeResponse returns a response body.
func EncodeResponse(results []Result) []byte {
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
		b = binary.LittleEndian.AppendUint16(b, uint16(len(res.Symbols)))
		for _, s := range res.Symbols {
			b = wire.AppendU32Bytes(b, s)
		}
	}
	return b
}

// ReadResponse parses a response to a request of len(targets) targets as it streams from r
// and returns, per target, its code and its symbols decoded for the target's axis (shape
// checked, not yet verified against metadata: codec.RecoverSliver does that). A symbol that
// does not decode, or names another target than asked, fails the whole response: the node
// that sent it is lying.
func ReadResponse(p codec.Params, r io.Reader, targets []Target) ([]p2p.Code, [][]codec.RecoverySymbol, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:HeaderLen]); err != nil {
		return nil, nil, fmt.Errorf("result count: %w", endIsMalformed(err))
	}
	if n := int(binary.LittleEndian.Uint16(hdr[:2])); n != len(targets) {
		return nil, nil, fmt.Errorf("%w: %d results for %d targets", ErrMalformed, n, len(targets))
	}
	codes := make([]p2p.Code, len(targets))
	syms := make([][]codec.RecoverySymbol, len(targets))
	var buf []byte
	for i, t := range targets {
		if _, err := io.ReadFull(r, hdr[:1]); err != nil {
			return nil, nil, fmt.Errorf("item %d: %w", i, endIsMalformed(err))
		}
		if codes[i] = p2p.Code(hdr[0]); codes[i] != 0 {
			continue
		}
		if _, err := io.ReadFull(r, hdr[:2]); err != nil {
			return nil, nil, fmt.Errorf("item %d: %w", i, endIsMalformed(err))
		}
		count := int(binary.LittleEndian.Uint16(hdr[:2]))
		if count > p.N || t.Limit != 0 && count > int(t.Limit) {
			return nil, nil, fmt.Errorf("%w: item %d: %d symbols for n=%d", ErrMalformed, i, count, p.N)
		}
		syms[i] = make([]codec.RecoverySymbol, 0, count)
		for j := range count {
			if _, err := io.ReadFull(r, hdr[:4]); err != nil {
				return nil, nil, fmt.Errorf("item %d symbol %d: %w", i, j, endIsMalformed(err))
			}
			n := binary.LittleEndian.Uint32(hdr[:4])
			if n > codec.MaxRecoverySymbolBCSLen {
				return nil, nil, fmt.Errorf("%w: item %d symbol %d of %d bytes", ErrMalformed, i, j, n)
			}
			// One buffer per symbol: the decoded symbol aliases it.
			buf = make([]byte, n)
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, nil, fmt.Errorf("item %d symbol %d: %w", i, j, endIsMalformed(err))
			}
			s, err := codec.UnmarshalRecoverySymbolBCS(p, t.Axis, buf)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: item %d symbol %d: %w", ErrMalformed, i, j, err)
			}
			if s.TargetIndex() != uint64(t.Index) {
				return nil, nil, fmt.Errorf("%w: item %d symbol %d for target %d, asked %d", ErrMalformed, i, j, s.TargetIndex(), t.Index)
			}
			syms[i] = append(syms[i], s)
		}
	}
	var one [1]byte
	if n, _ := r.Read(one[:]); n > 0 {
		return nil, nil, fmt.Errorf("%w: bytes after the last item", ErrMalformed)
	}
	return codes, syms, nil
}

// endIsMalformed marks the end of a response inside a message as ErrMalformed.
func endIsMalformed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: response ends early: %w", ErrMalformed, err)
	}
	return err
}
