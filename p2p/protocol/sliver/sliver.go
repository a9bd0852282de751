// Package sliver is the home of /walrus/sliver/1, the data plane's bulk protocol
// (docs/architecture.md §5 "Store" and "Read", docs/protocol.md §2 and §9): a client puts a
// node's sliver pairs in batches, a reader gets primary (or secondary) slivers. Client
// (node/client) and server (node/dataplane) both use this package: the ID, the caps derived
// from the encoding parameters, the messages, their encoders and streaming parsers, and the
// framing overheads as named constants.
//
// One exchange is one p2p request/response (p2p.Call, p2p.Handle: one frame each way, the
// response's status byte first). Bodies are little-endian, as Walrus's BCS; slivers travel
// in their Walrus BCS encoding (codec.Sliver.MarshalBCS), so nothing here invents a second
// format for them.
//
//	request:       op u8 (1 put pairs, 2 get) | blob_id[32] | count u16 | count × item
//	  put item:    u32 len | primary BCS | u32 len | secondary BCS      (one pair)
//	  get item:    axis u8 | index u16
//	response:      count u16 | count × (code u8 | [u32 len | sliver BCS, get and ok only])
package sliver

import (
	"bytes"
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
const ID protocol.ID = "/walrus/sliver/1"

// Timeout bounds one exchange: a full batch over a slow link (32 MiB in 2 minutes needs
// about 280 KB/s).
const Timeout = 2 * time.Minute

// Operation bytes.
const (
	OpPut byte = 1
	OpGet byte = 2
)

// Framing overheads: what the messages add around sliver bytes.
const (
	// RequestHeaderLen is op, blob ID and item count.
	RequestHeaderLen = 1 + 32 + 2
	// ResponseHeaderLen is the result count.
	ResponseHeaderLen = 2
	// sliverBCSOverhead is the most a sliver's BCS adds to its data (codec's header and
	// trailer around it).
	sliverBCSOverhead = codec.MaxSliverBCSHeaderLen + codec.SliverBCSTrailerLen
	// PutPairOverhead is what one put item adds to its two slivers' data: each sliver's
	// u32 item length and BCS overhead.
	PutPairOverhead = 2 * (4 + sliverBCSOverhead)
	// GetItemOverhead is what one successful get result adds to its sliver's data: the
	// code byte, the u32 item length and the BCS overhead.
	GetItemOverhead = 1 + 4 + sliverBCSOverhead
	// batchFloor is the smallest cap of a batch: big enough that small-sliver blobs move
	// all of a node's pairs in one exchange, small enough that one stream cannot make a
	// node buffer much.
	batchFloor = 32 << 20
)

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("sliver: malformed message")

// PairCap is the largest put item for geometry p: a primary sliver of C and a secondary
// of R symbols of at most codec.MaxSymbolSize bytes (docs/protocol.md §1–2), framed.
func PairCap(p codec.Params) int {
	return (p.R+p.C)*codec.MaxSymbolSize + PutPairOverhead
}

// BatchCap is the size cap of a request or response body, derived from the encoding
// parameters: at least one full-size pair, at most all n pairs a node could hold, and
// otherwise batchFloor, so one stream never makes a node buffer more than the larger of
// one pair and 32 MiB.
func BatchCap(p codec.Params) int {
	pair := PairCap(p)
	return max(pair, min(p.N*pair, batchFloor)) + RequestHeaderLen
}

// MaxItems bounds the items of one request: a node never holds more than n pairs of a
// blob, and a get asks for at most one sliver per index and axis.
func MaxItems(p codec.Params) int { return 2 * p.N }

// Spec is the protocol's spec for geometry p.
func Spec(p codec.Params) p2p.Protocol {
	return p2p.Protocol{ID: ID, MaxRequest: BatchCap(p), MaxResponse: BatchCap(p), Timeout: Timeout}
}

// GetsPerRequest is how many slivers of sliverSize data bytes one get may ask for so that
// its response fits BatchCap, and at most budget bytes of slivers (at least one).
func GetsPerRequest(p codec.Params, sliverSize, budget int) int {
	n := min((BatchCap(p)-ResponseHeaderLen)/(sliverSize+GetItemOverhead), MaxItems(p))
	return max(1, min(n, budget/max(1, sliverSize)))
}

// PairsPerRequest is how many pairs of pairSize data bytes (primary plus secondary) one
// put may carry so that it fits BatchCap and at most budget bytes (at least one).
func PairsPerRequest(p codec.Params, pairSize, budget int) int {
	room := min(budget, BatchCap(p)-RequestHeaderLen)
	return max(1, min(room/(pairSize+PutPairOverhead), MaxItems(p)/2))
}

// Ref names one sliver of a blob: its axis and index.
type Ref struct {
	Axis  codec.Axis
	Index uint16
}

// EncodePutPairs returns a put request carrying the given pairs (primary i and secondary
// n-1-i, docs/protocol.md §2) of one blob: PutPairsParts joined.
func EncodePutPairs(id codec.BlobID, pairs [][2]*codec.Sliver) []byte {
	return bytes.Join(PutPairsParts(id, pairs), nil)
}

// PutPairsParts returns the put request of EncodePutPairs as parts to concatenate
// (p2p.CallParts): the slivers' data are referenced, not copied (a 64 MiB blob's upload is
// ~290 MB of slivers); the small pieces between them share one buffer.
func PutPairsParts(id codec.BlobID, pairs [][2]*codec.Sliver) [][]byte {
	// Sized so appends never reallocate (the parts alias it).
	small := make([]byte, 0, RequestHeaderLen+len(pairs)*PutPairOverhead)
	small = append(small, OpPut)
	small = append(small, id[:]...)
	small = binary.LittleEndian.AppendUint16(small, uint16(len(pairs)))
	parts := make([][]byte, 0, 4*len(pairs)+1)
	from := 0
	for _, pr := range pairs {
		for _, s := range pr {
			small = binary.LittleEndian.AppendUint32(small, uint32(codec.SliverBCSLen(len(s.Data))))
			small = codec.AppendSliverBCSHeader(small, len(s.Data))
			parts = append(parts, small[from:len(small):len(small)], s.Data)
			from = len(small)
			small = codec.AppendSliverBCSTrailer(small, s)
		}
	}
	return append(parts, small[from:])
}

// EncodeGet returns a get request for the given slivers of one blob.
func EncodeGet(id codec.BlobID, refs []Ref) []byte {
	out := make([]byte, 0, RequestHeaderLen+3*len(refs))
	out = append(out, OpGet)
	out = append(out, id[:]...)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(refs)))
	for _, ref := range refs {
		out = append(out, byte(ref.Axis))
		out = binary.LittleEndian.AppendUint16(out, ref.Index)
	}
	return out
}

// Request is a decoded request. Slivers of a put are decoded (shape-checked against the
// geometry) but not yet verified against metadata.
type Request struct {
	Op     byte
	BlobID codec.BlobID
	Pairs  [][2]codec.Sliver // put
	// Raw holds, for a put, each pair's slivers as received (their BCS bytes, aliasing
	// the request body), so the store can keep them without re-encoding.
	Raw  [][2][]byte
	Refs []Ref // get
}

// DecodeRequest parses an untrusted request for geometry p.
func DecodeRequest(p codec.Params, b []byte) (Request, error) {
	r := wire.NewReader(b, ErrMalformed)
	req := Request{Op: r.U8()}
	r.Fixed(req.BlobID[:])
	count := int(r.U16())
	if err := r.Err(); err != nil {
		return Request{}, err
	}
	if count == 0 || count > MaxItems(p) {
		return Request{}, fmt.Errorf("%w: %d items (1..%d allowed)", ErrMalformed, count, MaxItems(p))
	}
	switch req.Op {
	case OpPut:
		// Each item takes at least 8 bytes, so count is bounded by the input too.
		if count > r.Len()/8 {
			return Request{}, fmt.Errorf("%w: %d items in %d bytes", ErrMalformed, count, r.Len())
		}
		req.Pairs = make([][2]codec.Sliver, 0, count)
		req.Raw = make([][2][]byte, 0, count)
		for i := 0; i < count; i++ {
			var pair [2]codec.Sliver
			var raws [2][]byte
			for j, axis := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
				raw := r.Take(int(r.U32()))
				if err := r.Err(); err != nil {
					return Request{}, err
				}
				// The slivers alias the request body (the frame, owned by this request):
				// no copy of the tens of megabytes a put carries.
				s, err := codec.ParseSliverBCS(p, axis, raw)
				if err != nil {
					return Request{}, fmt.Errorf("%w: pair %d %s sliver: %w", ErrMalformed, i, axis, err)
				}
				pair[j] = s
				raws[j] = raw
			}
			if int(pair[1].Index) != p.N-1-int(pair[0].Index) {
				return Request{}, fmt.Errorf("%w: pair %d: secondary %d does not pair with primary %d",
					ErrMalformed, i, pair[1].Index, pair[0].Index)
			}
			req.Pairs = append(req.Pairs, pair)
			req.Raw = append(req.Raw, raws)
		}
	case OpGet:
		if count*3 != r.Len() {
			return Request{}, fmt.Errorf("%w: %d get items in %d bytes", ErrMalformed, count, r.Len())
		}
		req.Refs = make([]Ref, count)
		for i := range req.Refs {
			ref := Ref{Axis: codec.Axis(r.U8()), Index: r.U16()}
			if !ref.Axis.Valid() || int(ref.Index) >= p.N {
				return Request{}, fmt.Errorf("%w: item %d: axis %d index %d", ErrMalformed, i, ref.Axis, ref.Index)
			}
			req.Refs[i] = ref
		}
	default:
		return Request{}, fmt.Errorf("%w: unknown sliver op %d", ErrMalformed, req.Op)
	}
	if err := r.End(); err != nil {
		return Request{}, err
	}
	return req, nil
}

// ItemResult is the outcome of one item of a request: a p2p failure code (0 for success)
// and, for a successful get, the sliver's BCS bytes.
type ItemResult struct {
	Code   p2p.Code
	Sliver []byte
}

// EncodeItemResults returns a response body.
func EncodeItemResults(items []ItemResult) []byte {
	size := ResponseHeaderLen
	for _, it := range items {
		size += 5 + len(it.Sliver)
	}
	out := make([]byte, 0, size)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(items)))
	for _, it := range items {
		out = append(out, byte(it.Code))
		if it.Code == 0 && it.Sliver != nil {
			out = binary.LittleEndian.AppendUint32(out, uint32(len(it.Sliver)))
			out = append(out, it.Sliver...)
		}
	}
	return out
}

// DecodeItemResults parses an untrusted response to a request of want items; withData
// says whether successful items carry a sliver (gets) or not (puts).
func DecodeItemResults(b []byte, want int, withData bool) ([]ItemResult, error) {
	r := wire.NewReader(b, ErrMalformed)
	n := int(r.U16())
	if err := r.Err(); err != nil {
		return nil, err
	}
	if n != want {
		return nil, fmt.Errorf("%w: %d results for %d items", ErrMalformed, n, want)
	}
	out := make([]ItemResult, n)
	for i := range out {
		out[i].Code = p2p.Code(r.U8())
		if out[i].Code == 0 && withData {
			out[i].Sliver = r.Take(int(r.U32()))
		}
		if err := r.Err(); err != nil {
			return nil, err
		}
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadItemResults parses a get response (EncodeItemResults's form, items with data) of
// want items as it streams from r, holding none of it: item is called for each in order
// with its index, code and, for a success, a reader of exactly the item's n bytes (nil and
// 0 for a failure). What item leaves unread is skipped, so item can give up on a sliver
// and the next one still parses. A count other than want, r ending inside the response
// (ErrMalformed for both) and r's other errors (returned as they are, a timeout say) fail
// the parse; so does item's error, returned as it is: item records its per-item findings
// itself and returns nil to go on.
func ReadItemResults(r io.Reader, want int, item func(i int, code p2p.Code, body io.Reader, n int) error) error {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:ResponseHeaderLen]); err != nil {
		return fmt.Errorf("result count: %w", endIsMalformed(err))
	}
	if n := int(binary.LittleEndian.Uint16(hdr[:2])); n != want {
		return fmt.Errorf("%w: %d results for %d items", ErrMalformed, n, want)
	}
	for i := range want {
		if _, err := io.ReadFull(r, hdr[:1]); err != nil {
			return fmt.Errorf("item %d: %w", i, endIsMalformed(err))
		}
		if code := p2p.Code(hdr[0]); code != 0 {
			if err := item(i, code, nil, 0); err != nil {
				return err
			}
			continue
		}
		if _, err := io.ReadFull(r, hdr[:4]); err != nil {
			return fmt.Errorf("item %d: %w", i, endIsMalformed(err))
		}
		n := int64(binary.LittleEndian.Uint32(hdr[:4]))
		body := &io.LimitedReader{R: r, N: n}
		if err := item(i, 0, body, int(n)); err != nil {
			return err
		}
		if left := body.N; left > 0 {
			if m, err := io.CopyN(io.Discard, body, left); err != nil {
				return fmt.Errorf("item %d: %d of its %d bytes missing: %w", i, left-m, n, endIsMalformed(err))
			}
		}
	}
	return nil
}

// endIsMalformed marks the end of a response inside a message as ErrMalformed.
func endIsMalformed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: response ends early: %w", ErrMalformed, err)
	}
	return err
}
