package dataplane

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// Wire formats of the data-plane protocols. Each exchange is one p2p request/response
// (p2p.Call / p2p.Handle: one frame each way, status byte first in the response). Bodies
// are little-endian, as Walrus's BCS; slivers and metadata travel in their Walrus BCS
// encodings (PROTOCOL.md §2–3), so nothing here invents a second format for them.
//
//	metadata request:     op u8 (1 put, 2 get) | blob_id[32] | [metadata BCS, put only]
//	metadata response:    [metadata BCS, get only]
//	sliver request:       op u8 (1 put pairs, 2 get) | blob_id[32] | count u16 | items
//	  put item:           u32 len | primary BCS | u32 len | secondary BCS   (one pair)
//	  get item:           axis u8 | index u16
//	sliver response:      count u16 | count × (code u8 | [u32 len | sliver BCS, get & ok])
//	confirmation request: blob_id[32] | epoch u32 | deletable u8 | object[32]
//	confirmation response: epoch u32 | BLS signature[96]
//	status request:       blob_id[32]
//	status response:      kind u8 | end_epoch u32 | epoch u32 | has_metadata u8 |
//	                      shards_held u16 | shards_stored u16

// Operation bytes of the metadata and sliver protocols.
const (
	OpPut byte = 1
	OpGet byte = 2
)

// ErrMalformed is wrapped by every decoding failure of an untrusted message.
var ErrMalformed = errors.New("dataplane: malformed message")

// batchFloor is the smallest cap of a sliver batch request or response: big enough that
// small-sliver blobs move all of a node's pairs in one exchange (DESIGN.md §5 "one or a few
// streams"), small enough that one stream cannot make a node buffer much.
const batchFloor = 32 << 20

// PairCap is the largest put item for geometry p: a primary sliver of C and a secondary of
// R symbols of at most codec.MaxSymbolSize bytes (PROTOCOL.md §1–2), with their headers.
func PairCap(p codec.Params) int {
	return (p.R+p.C)*codec.MaxSymbolSize + 64
}

// BatchCap is the size cap of a sliver request or response body, derived from the
// encoding parameters (DESIGN.md §5 "every read a size cap derived from the encoding
// parameters"): at least one full-size pair (PairCap), at most all n pairs a node could
// hold, and otherwise batchFloor so that small-sliver blobs move in one exchange while one
// stream never makes a node buffer more than the larger of one pair and 32 MiB.
func BatchCap(p codec.Params) int {
	pair := PairCap(p)
	return max(pair, min(p.N*pair, batchFloor)) + 64
}

// MaxBatchItems bounds the items of one sliver request: a node never holds more than n
// pairs of a blob, and a get asks for at most one sliver per index and axis.
func MaxBatchItems(p codec.Params) int { return 2 * p.N }

// Protocols returns the four data-plane protocols with caps for geometry p. IDs, metadata
// caps and timeouts come from the p2p table (p2p.Protocols); the sliver protocol carries
// batches of pairs, so its caps are BatchCap instead of the table's single-sliver cap.
func Protocols(p codec.Params) (metadata, sliver, confirmation, status p2p.Protocol) {
	get := func(id protocol.ID, def time.Duration) p2p.Protocol {
		if pr, ok := p2p.ProtocolFor(p, id); ok {
			return pr
		}
		return p2p.Protocol{ID: id, MaxRequest: 4 << 10, MaxResponse: 4 << 10, Timeout: def}
	}
	metadata = get(p2p.IDMetadata, 30*time.Second)
	metadata.MaxRequest = max(metadata.MaxRequest, p2p.MetadataCap(p)+64)
	metadata.MaxResponse = max(metadata.MaxResponse, p2p.MetadataCap(p)+64)
	sliver = get(p2p.IDSliver, 2*time.Minute)
	sliver.MaxRequest, sliver.MaxResponse = BatchCap(p), BatchCap(p)
	confirmation = get(p2p.IDConfirmation, 30*time.Second)
	status = get(p2p.IDStatus, 10*time.Second)
	return
}

// reader is a bounds-checked cursor over untrusted bytes: every read checks the bytes
// left, so no length from the wire drives an allocation or a panic.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("need %d bytes, have %d", n, len(r.b))
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() byte {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

func (r *reader) blobID() codec.BlobID {
	var id codec.BlobID
	copy(id[:], r.take(len(id)))
	return id
}

func (r *reader) end() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	return r.err
}

// MetadataRequest is a decoded metadata request.
type MetadataRequest struct {
	Op     byte
	BlobID codec.BlobID
	// Metadata is the untrusted BCS metadata of a put (nil for a get).
	Metadata []byte
}

// Encode returns the request body.
func (m *MetadataRequest) Encode() []byte {
	out := make([]byte, 0, 33+len(m.Metadata))
	out = append(out, m.Op)
	out = append(out, m.BlobID[:]...)
	return append(out, m.Metadata...)
}

// DecodeMetadataRequest parses an untrusted metadata request.
func DecodeMetadataRequest(b []byte) (MetadataRequest, error) {
	r := &reader{b: b}
	m := MetadataRequest{Op: r.u8(), BlobID: r.blobID()}
	if r.err != nil {
		return MetadataRequest{}, r.err
	}
	switch m.Op {
	case OpPut:
		if len(r.b) == 0 {
			return MetadataRequest{}, fmt.Errorf("%w: put without metadata", ErrMalformed)
		}
		m.Metadata = r.b
	case OpGet:
		if err := r.end(); err != nil {
			return MetadataRequest{}, err
		}
	default:
		return MetadataRequest{}, fmt.Errorf("%w: unknown metadata op %d", ErrMalformed, m.Op)
	}
	return m, nil
}

// SliverRef names one sliver of a blob: its axis and index.
type SliverRef struct {
	Axis  codec.Axis
	Index uint16
}

// EncodePutPairs returns a sliver put request carrying the given pairs (primary i and
// secondary n-1-i, PROTOCOL.md §2) of one blob: PutPairsParts joined.
func EncodePutPairs(id codec.BlobID, pairs [][2]*codec.Sliver) []byte {
	return bytes.Join(PutPairsParts(id, pairs), nil)
}

// PutPairsParts returns the put request of EncodePutPairs as parts to concatenate
// (p2p.CallParts): the slivers' data are referenced, not copied (a 64 MiB blob's upload is
// ~290 MB of slivers); the small pieces between them share one buffer.
func PutPairsParts(id codec.BlobID, pairs [][2]*codec.Sliver) [][]byte {
	// Per sliver: u32 item length, uleb128 data length (at most 10 bytes), and u16
	// symbol_size, u16 index. Sized so appends never reallocate (the parts alias it).
	small := make([]byte, 0, 35+len(pairs)*2*(4+10+4))
	small = append(small, OpPut)
	small = append(small, id[:]...)
	small = binary.LittleEndian.AppendUint16(small, uint16(len(pairs)))
	parts := make([][]byte, 0, 4*len(pairs)+1)
	from := 0
	for _, pr := range pairs {
		for _, s := range pr {
			small = binary.LittleEndian.AppendUint32(small, uint32(sliverBCSLen(s)))
			small = appendULEB128(small, uint64(len(s.Data)))
			parts = append(parts, small[from:len(small):len(small)], s.Data)
			from = len(small)
			small = binary.LittleEndian.AppendUint16(small, s.SymbolSize)
			small = binary.LittleEndian.AppendUint16(small, s.Index)
		}
	}
	return append(parts, small[from:])
}

// sliverBCSLen is len(s.MarshalBCS()).
func sliverBCSLen(s *codec.Sliver) int {
	n := 1
	for v := uint64(len(s.Data)); v >= 0x80; v >>= 7 {
		n++
	}
	return n + len(s.Data) + 4
}

// appendULEB128 appends v as BCS's uleb128.
func appendULEB128(b []byte, v uint64) []byte {
	for ; v >= 0x80; v >>= 7 {
		b = append(b, byte(v)|0x80)
	}
	return append(b, byte(v))
}

// EncodeGetSlivers returns a sliver get request for the given slivers of one blob.
func EncodeGetSlivers(id codec.BlobID, refs []SliverRef) []byte {
	out := make([]byte, 0, 35+3*len(refs))
	out = append(out, OpGet)
	out = append(out, id[:]...)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(refs)))
	for _, ref := range refs {
		out = append(out, byte(ref.Axis))
		out = binary.LittleEndian.AppendUint16(out, ref.Index)
	}
	return out
}

// SliverRequest is a decoded sliver request. Slivers of a put are decoded (shape-checked
// against p) but not yet verified against metadata.
type SliverRequest struct {
	Op     byte
	BlobID codec.BlobID
	Pairs  [][2]codec.Sliver // put
	// Raw holds, for a put, each pair's slivers as received (their BCS SliverData bytes,
	// aliasing the request body), so the store can keep them without re-encoding.
	Raw  [][2][]byte
	Refs []SliverRef // get
}

// DecodeSliverRequest parses an untrusted sliver request for geometry p.
func DecodeSliverRequest(p codec.Params, b []byte) (SliverRequest, error) {
	r := &reader{b: b}
	req := SliverRequest{Op: r.u8(), BlobID: r.blobID()}
	count := int(r.u16())
	if r.err != nil {
		return SliverRequest{}, r.err
	}
	if count == 0 || count > MaxBatchItems(p) {
		return SliverRequest{}, fmt.Errorf("%w: %d items (1..%d allowed)", ErrMalformed, count, MaxBatchItems(p))
	}
	switch req.Op {
	case OpPut:
		// Each item takes at least 8 bytes, so count is bounded by the input too.
		if count > len(r.b)/8 {
			return SliverRequest{}, fmt.Errorf("%w: %d items in %d bytes", ErrMalformed, count, len(r.b))
		}
		req.Pairs = make([][2]codec.Sliver, 0, count)
		req.Raw = make([][2][]byte, 0, count)
		for i := 0; i < count; i++ {
			var pair [2]codec.Sliver
			var raws [2][]byte
			for j, axis := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
				raw := r.take(int(r.u32()))
				if r.err != nil {
					return SliverRequest{}, r.err
				}
				// The slivers alias the request body (the frame, owned by this request):
				// no copy of the tens of megabytes a put carries.
				s, err := codec.ParseSliverBCS(p, axis, raw)
				if err != nil {
					return SliverRequest{}, fmt.Errorf("%w: pair %d %s sliver: %w", ErrMalformed, i, axis, err)
				}
				pair[j] = s
				raws[j] = raw
			}
			if int(pair[1].Index) != p.N-1-int(pair[0].Index) {
				return SliverRequest{}, fmt.Errorf("%w: pair %d: secondary %d does not pair with primary %d",
					ErrMalformed, i, pair[1].Index, pair[0].Index)
			}
			req.Pairs = append(req.Pairs, pair)
			req.Raw = append(req.Raw, raws)
		}
	case OpGet:
		if count*3 != len(r.b) {
			return SliverRequest{}, fmt.Errorf("%w: %d get items in %d bytes", ErrMalformed, count, len(r.b))
		}
		req.Refs = make([]SliverRef, count)
		for i := range req.Refs {
			ref := SliverRef{Axis: codec.Axis(r.u8()), Index: r.u16()}
			if !ref.Axis.Valid() || int(ref.Index) >= p.N {
				return SliverRequest{}, fmt.Errorf("%w: item %d: axis %d index %d", ErrMalformed, i, ref.Axis, ref.Index)
			}
			req.Refs[i] = ref
		}
	default:
		return SliverRequest{}, fmt.Errorf("%w: unknown sliver op %d", ErrMalformed, req.Op)
	}
	if err := r.end(); err != nil {
		return SliverRequest{}, err
	}
	return req, nil
}

// ItemResult is the outcome of one item of a sliver request: a p2p failure code (0 for
// success) and, for a successful get, the sliver's BCS bytes.
type ItemResult struct {
	Code   p2p.Code
	Sliver []byte
}

// EncodeItemResults returns a sliver response body.
func EncodeItemResults(items []ItemResult) []byte {
	size := 2
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

// DecodeItemResults parses an untrusted sliver response to a request of want items;
// withData says whether successful items carry a sliver (gets) or not (puts).
func DecodeItemResults(b []byte, want int, withData bool) ([]ItemResult, error) {
	r := &reader{b: b}
	n := int(r.u16())
	if r.err != nil {
		return nil, r.err
	}
	if n != want {
		return nil, fmt.Errorf("%w: %d results for %d items", ErrMalformed, n, want)
	}
	out := make([]ItemResult, n)
	for i := range out {
		out[i].Code = p2p.Code(r.u8())
		if out[i].Code == 0 && withData {
			out[i].Sliver = r.take(int(r.u32()))
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	if err := r.end(); err != nil {
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
	if _, err := io.ReadFull(r, hdr[:2]); err != nil {
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

// ConfirmationRequest asks for a storage confirmation of a blob in an epoch with the given
// persistence (PROTOCOL.md §5: the body names blob ID and persistence).
type ConfirmationRequest struct {
	BlobID    codec.BlobID
	Epoch     uint32
	Deletable bool
	Object    staking.ObjectID
}

// Encode returns the request body.
func (c *ConfirmationRequest) Encode() []byte {
	out := make([]byte, 0, 69)
	out = append(out, c.BlobID[:]...)
	out = binary.LittleEndian.AppendUint32(out, c.Epoch)
	if c.Deletable {
		out = append(out, 1)
	} else {
		out = append(out, 0)
	}
	return append(out, c.Object[:]...)
}

// Message is the byte string the confirmation signs (staking.ConfirmationMessage).
func (c *ConfirmationRequest) Message(network [32]byte) []byte {
	return staking.ConfirmationMessage(network, c.Epoch, c.BlobID, c.Deletable, c.Object)
}

// DecodeConfirmationRequest parses an untrusted confirmation request.
func DecodeConfirmationRequest(b []byte) (ConfirmationRequest, error) {
	r := &reader{b: b}
	c := ConfirmationRequest{BlobID: r.blobID(), Epoch: r.u32()}
	switch r.u8() {
	case 0:
	case 1:
		c.Deletable = true
	default:
		r.fail("persistence flag")
	}
	copy(c.Object[:], r.take(len(c.Object)))
	if err := r.end(); err != nil {
		return ConfirmationRequest{}, err
	}
	return c, nil
}

// Confirmation is a node's signed storage confirmation.
type Confirmation struct {
	Epoch     uint32
	Signature bls.Signature
}

// Encode returns the response body.
func (c *Confirmation) Encode() []byte {
	out := binary.LittleEndian.AppendUint32(make([]byte, 0, 4+len(c.Signature)), c.Epoch)
	return append(out, c.Signature[:]...)
}

// DecodeConfirmation parses an untrusted confirmation response. The signature is checked
// by the caller against the message it expects (epoch.CertBuilder.Add).
func DecodeConfirmation(b []byte) (Confirmation, error) {
	r := &reader{b: b}
	c := Confirmation{Epoch: r.u32()}
	copy(c.Signature[:], r.take(len(c.Signature)))
	if err := r.end(); err != nil {
		return Confirmation{}, err
	}
	return c, nil
}

// Status is one node's view of a blob (PROTOCOL.md §8 `/status`).
type Status struct {
	// Kind is the ledger status as this node sees it.
	Kind staking.BlobStatusKind
	// EndEpoch is the ledger's end epoch for the status (see staking.BlobStatus).
	EndEpoch uint32
	// Epoch is the node's current epoch.
	Epoch uint32
	// HasMetadata reports whether the node stores the blob's metadata.
	HasMetadata bool
	// ShardsHeld is how many shards the node holds this epoch; ShardsStored how many of
	// them hold both slivers of the blob.
	ShardsHeld, ShardsStored uint16
}

// Encode returns the response body.
func (s *Status) Encode() []byte {
	out := make([]byte, 0, 14)
	out = append(out, byte(s.Kind))
	out = binary.LittleEndian.AppendUint32(out, s.EndEpoch)
	out = binary.LittleEndian.AppendUint32(out, s.Epoch)
	if s.HasMetadata {
		out = append(out, 1)
	} else {
		out = append(out, 0)
	}
	out = binary.LittleEndian.AppendUint16(out, s.ShardsHeld)
	return binary.LittleEndian.AppendUint16(out, s.ShardsStored)
}

// DecodeStatus parses an untrusted status response.
func DecodeStatus(b []byte) (Status, error) {
	r := &reader{b: b}
	s := Status{Kind: staking.BlobStatusKind(r.u8()), EndEpoch: r.u32(), Epoch: r.u32()}
	switch r.u8() {
	case 0:
	case 1:
		s.HasMetadata = true
	default:
		r.fail("metadata flag")
	}
	s.ShardsHeld, s.ShardsStored = r.u16(), r.u16()
	if err := r.end(); err != nil {
		return Status{}, err
	}
	if s.ShardsStored > s.ShardsHeld {
		return Status{}, fmt.Errorf("%w: %d of %d shards stored", ErrMalformed, s.ShardsStored, s.ShardsHeld)
	}
	return s, nil
}

// DecodeStatusRequest parses an untrusted status request (a bare blob ID).
func DecodeStatusRequest(b []byte) (codec.BlobID, error) {
	r := &reader{b: b}
	id := r.blobID()
	return id, r.end()
}
