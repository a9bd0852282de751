// Package inconsistency is the home of /walrus/inconsistency/1 (docs/architecture.md §5
// "Invalid blobs", docs/protocol.md §4 and §9.12): a node that found a blob to be
// inconsistently encoded (its recovery of a sliver decoded to data whose hash is not the
// committed one) sends the proof to the other committee members; each one checks the
// metadata against the blob ID and the proof against the metadata, and answers with its BLS
// signature on InvalidBlob(blob_id) for the epoch asked. Signatures of f+1 shards make the
// certificate that the `invalidate blob` transaction carries.
//
//	request:   blob_id[32] | epoch u32 | target axis u8 | metadata_len u32 | metadata BCS |
//	           proof BCS (the rest: codec.InconsistencyProof)
//	response:  epoch u32 | BLS signature[96]
//
// The metadata travels with the proof so that a node that does not hold the blob can judge
// it alone; it is authenticated by the blob ID, so carrying it costs trust nothing.
package inconsistency

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
)

// ID is the protocol ID.
const ID protocol.ID = "/walrus/inconsistency/1"

// Timeout bounds one exchange: the answering node decodes one sliver from the proof's
// symbols (milliseconds at n = 1000) after waiting for its worker pool.
const Timeout = 30 * time.Second

// Framing.
const (
	// HeaderLen is the request's fixed part: blob ID, epoch, target axis, metadata length.
	HeaderLen = 32 + 4 + 1 + 4
	// ResponseLen is the fixed response length.
	ResponseLen = 4 + bls.SignatureSize
	// proofHeader bounds the proof's target index and symbol count.
	proofHeader = 2 + wire.MaxULEB128Len
)

// MaxProofLen is the longest proof for geometry p: the most symbols any target needs
// (n-f, for a primary sliver), each at most codec.MaxRecoverySymbolBCSLen.
func MaxProofLen(p codec.Params) int {
	return proofHeader + (p.N-p.F)*codec.MaxRecoverySymbolBCSLen
}

// Spec is the protocol's spec for geometry p.
func Spec(p codec.Params) p2p.Protocol {
	return p2p.Protocol{ID: ID, MaxRequest: HeaderLen + p.MaxMetadataBCSLen() + MaxProofLen(p),
		MaxResponse: ResponseLen, Timeout: Timeout}
}

// ErrMalformed is wrapped by every decoding failure of an untrusted message of this
// protocol (a member of the wire.ErrMalformed family).
var ErrMalformed = wire.Malformed("inconsistency: malformed message")

// Request carries an inconsistency proof of a blob and the epoch whose attestation is asked.
type Request struct {
	BlobID   codec.BlobID
	Epoch    uint32
	Metadata codec.Metadata
	Proof    codec.InconsistencyProof
}

// Encode returns the request body.
func (r *Request) Encode() []byte {
	meta := r.Metadata.MarshalBCS()
	proof := r.Proof.MarshalBCS()
	out := make([]byte, 0, HeaderLen+len(meta)+len(proof))
	out = append(out, r.BlobID[:]...)
	out = binary.LittleEndian.AppendUint32(out, r.Epoch)
	out = append(out, byte(r.Proof.Target))
	out = binary.LittleEndian.AppendUint32(out, uint32(len(meta)))
	out = append(out, meta...)
	return append(out, proof...)
}

// DecodeRequest parses an untrusted request for geometry p: shapes only (the metadata's
// length and hash count, the proof's target and symbol shapes). The caller still checks that
// the metadata matches the blob ID and that the proof verifies
// (codec.VerifyInconsistencyProof), in that order: cheap checks first.
func DecodeRequest(p codec.Params, b []byte) (Request, error) {
	r := wire.NewReader(b, ErrMalformed)
	var req Request
	r.Fixed(req.BlobID[:])
	req.Epoch = r.U32()
	axis := codec.Axis(r.U8())
	meta := r.U32Bytes(p.MaxMetadataBCSLen())
	proof := r.Rest()
	if err := r.End(); err != nil {
		return Request{}, err
	}
	if !axis.Valid() {
		return Request{}, fmt.Errorf("%w: target axis %d", ErrMalformed, axis)
	}
	if len(proof) > MaxProofLen(p) {
		return Request{}, fmt.Errorf("%w: proof of %d bytes (at most %d)", ErrMalformed, len(proof), MaxProofLen(p))
	}
	var err error
	if req.Metadata, err = codec.UnmarshalMetadataBCS(p, meta); err != nil {
		return Request{}, fmt.Errorf("%w: metadata: %w", ErrMalformed, err)
	}
	if req.Proof, err = codec.UnmarshalInconsistencyProofBCS(p, axis, proof); err != nil {
		return Request{}, fmt.Errorf("%w: proof: %w", ErrMalformed, err)
	}
	return req, nil
}

// Response is a node's attestation: its BLS signature on InvalidBlob(blob_id) in Epoch
// (staking.InvalidBlobMessage).
type Response struct {
	Epoch     uint32
	Signature bls.Signature
}

// Encode returns the response body.
func (a *Response) Encode() []byte {
	out := binary.LittleEndian.AppendUint32(make([]byte, 0, ResponseLen), a.Epoch)
	return append(out, a.Signature[:]...)
}

// DecodeResponse parses an untrusted response (the signature is checked by the caller,
// against the member's key: epoch.CertBuilder.Add).
func DecodeResponse(b []byte) (Response, error) {
	r := wire.NewReader(b, ErrMalformed)
	var a Response
	a.Epoch = r.U32()
	r.Fixed(a.Signature[:])
	if err := r.End(); err != nil {
		return Response{}, err
	}
	return a, nil
}
