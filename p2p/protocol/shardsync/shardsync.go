// Package shardsync is the home of /walrus/shard-sync/1 (docs/architecture.md §5 "Epoch
// change", docs/protocol.md §7 and §9.13): the new owner of a shard pulls the slivers its
// previous owner stores for it, in blob-ID order, one page per exchange.
//
//	request:   epoch u32 | shard u16 | has_after u8 | after blob_id[32] | limit u16
//	response:  count u16 | more u8 | count × (blob_id[32] | primary_len u32 | primary BCS |
//	           secondary_len u32 | secondary BCS)
//
// A page holds the pairs of blobs strictly after `after` (from the start when has_after is
// 0), at most limit blobs and at most the response cap; more is 1 when the source has further
// blobs of the shard. A blob whose pair the source holds only in part comes with two empty
// slivers, so the requester's cursor always advances. The source answers only the node that owns the shard in the epoch
// asked, which must be its current epoch: the requester is the remote peer of the stream,
// authenticated by the libp2p handshake, and the committee binds each member's peer ID to
// its node. Everything in a page is verified by the receiver against the blob's metadata
// before it is stored.
package shardsync

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
)

// ID is the protocol ID.
const ID protocol.ID = "/walrus/shard-sync/1"

// Timeout bounds one exchange (a page is at most the response cap).
const Timeout = time.Minute

// Framing.
const (
	// RequestLen is the fixed request length.
	RequestLen = 4 + 2 + 1 + 32 + 2
	// ResponseHeaderLen is a response's count and more flag.
	ResponseHeaderLen = 2 + 1
	// itemOverhead is what one blob adds besides its two slivers: ID and two lengths.
	itemOverhead = 32 + 4 + 4
	// pageFloor is the smallest response cap: many small blobs per exchange.
	pageFloor = 32 << 20
	// MaxLimit bounds the blobs per page.
	MaxLimit = 4096
)

// ResponseCap is the response body cap for geometry p: at least one full-size pair.
func ResponseCap(p codec.Params) int {
	pair := itemOverhead + 2*codec.MaxSliverBCSHeaderLen + 2*codec.SliverBCSTrailerLen + (p.R+p.C)*codec.MaxSymbolSize
	return ResponseHeaderLen + max(pair, pageFloor)
}

// ItemLen is the encoded length of one blob's pair in a page.
func ItemLen(primaryBCS, secondaryBCS int) int { return itemOverhead + primaryBCS + secondaryBCS }

// Spec is the protocol's spec for geometry p.
func Spec(p codec.Params) p2p.Protocol {
	return p2p.Protocol{ID: ID, MaxRequest: RequestLen, MaxResponse: ResponseCap(p), Timeout: Timeout}
}

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("shardsync: malformed message")

// Request asks for a page of a shard's pairs.
type Request struct {
	Epoch uint32
	Shard uint16
	// After, when set, starts the page strictly after this blob ID.
	After *codec.BlobID
	// Limit is the most blobs wanted (1..MaxLimit).
	Limit uint16
}

// Encode returns the request body.
func (r *Request) Encode() []byte {
	b := make([]byte, 0, RequestLen)
	b = binary.LittleEndian.AppendUint32(b, r.Epoch)
	b = binary.LittleEndian.AppendUint16(b, r.Shard)
	var after codec.BlobID
	if r.After != nil {
		after = *r.After
	}
	b = wire.AppendBool(b, r.After != nil)
	b = append(b, after[:]...)
	return binary.LittleEndian.AppendUint16(b, r.Limit)
}

// DecodeRequest parses an untrusted request for geometry p.
func DecodeRequest(p codec.Params, b []byte) (Request, error) {
	r := wire.NewReader(b, ErrMalformed)
	var req Request
	req.Epoch = r.U32()
	req.Shard = r.U16()
	has := r.Bool()
	var after codec.BlobID
	r.Fixed(after[:])
	req.Limit = r.U16()
	if err := r.End(); err != nil {
		return Request{}, err
	}
	if int(req.Shard) >= p.N {
		return Request{}, fmt.Errorf("%w: shard %d of %d", ErrMalformed, req.Shard, p.N)
	}
	if req.Limit == 0 || req.Limit > MaxLimit {
		return Request{}, fmt.Errorf("%w: limit %d (1..%d)", ErrMalformed, req.Limit, MaxLimit)
	}
	if has {
		req.After = &after
	} else if after != (codec.BlobID{}) {
		return Request{}, fmt.Errorf("%w: an after blob ID without its flag", ErrMalformed)
	}
	return req, nil
}

// Item is one blob's pair in a page, as BCS encodings (the receiver parses and verifies).
// Both empty means the source does not hold the whole pair: the receiver moves its cursor
// past the blob and gets the pair elsewhere (recovery).
type Item struct {
	BlobID             codec.BlobID
	Primary, Secondary []byte
}

// Page is a response.
type Page struct {
	Items []Item
	More  bool
}

// Encode returns the response body.
func (pg *Page) Encode() []byte {
	n := ResponseHeaderLen
	for i := range pg.Items {
		n += ItemLen(len(pg.Items[i].Primary), len(pg.Items[i].Secondary))
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(pg.Items)))
	b = wire.AppendBool(b, pg.More)
	for i := range pg.Items {
		it := &pg.Items[i]
		b = append(b, it.BlobID[:]...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(it.Primary)))
		b = append(b, it.Primary...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(it.Secondary)))
		b = append(b, it.Secondary...)
	}
	return b
}

// DecodePage parses an untrusted response to a request for at most limit blobs after
// after (nil: from the start): blob IDs must ascend strictly and lie after after, and each
// sliver is at most the largest one geometry p allows. The slivers alias b.
func DecodePage(p codec.Params, b []byte, after *codec.BlobID, limit int) (Page, error) {
	r := wire.NewReader(b, ErrMalformed)
	n := int(r.U16())
	more := r.Bool()
	if err := r.Err(); err != nil {
		return Page{}, err
	}
	if n > limit || n*itemOverhead > r.Len() {
		return Page{}, fmt.Errorf("%w: %d items (at most %d) in %d bytes", ErrMalformed, n, limit, r.Len())
	}
	maxSliver := codec.MaxSliverBCSHeaderLen + codec.SliverBCSTrailerLen + max(p.R, p.C)*codec.MaxSymbolSize
	pg := Page{Items: make([]Item, n), More: more}
	prev := after
	for i := range pg.Items {
		it := &pg.Items[i]
		r.Fixed(it.BlobID[:])
		it.Primary = r.U32Bytes(maxSliver)
		it.Secondary = r.U32Bytes(maxSliver)
		if err := r.Err(); err != nil {
			return Page{}, err
		}
		if prev != nil && string(it.BlobID[:]) <= string(prev[:]) {
			return Page{}, fmt.Errorf("%w: item %d: blob IDs out of order", ErrMalformed, i)
		}
		prev = &it.BlobID
	}
	if err := r.End(); err != nil {
		return Page{}, err
	}
	return pg, nil
}
