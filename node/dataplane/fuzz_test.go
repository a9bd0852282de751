package dataplane_test

import (
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/dataplane"
)

// FuzzDecoders feeds arbitrary bytes to every decoder of untrusted data-plane messages:
// none may panic, and whatever decodes must re-encode to the same bytes where the format
// is canonical.
func FuzzDecoders(f *testing.F) {
	p := codec.MustParams(10)
	enc, err := codec.Encode(p, []byte("fuzz seed blob"))
	if err != nil {
		f.Fatal(err)
	}
	pr, se := enc.Pair(2)
	f.Add((&dataplane.MetadataRequest{Op: dataplane.OpPut, BlobID: enc.BlobID, Metadata: enc.Metadata.MarshalBCS()}).Encode())
	f.Add(dataplane.EncodePutPairs(enc.BlobID, [][2]*codec.Sliver{{pr, se}}))
	f.Add(dataplane.EncodeGetSlivers(enc.BlobID, []dataplane.SliverRef{{Axis: codec.AxisSecondary, Index: 9}}))
	f.Add((&dataplane.ConfirmationRequest{BlobID: enc.BlobID, Epoch: 7, Deletable: true}).Encode())
	f.Add((&dataplane.Status{Kind: 3, ShardsHeld: 2, ShardsStored: 2}).Encode())
	f.Add(dataplane.EncodeItemResults([]dataplane.ItemResult{{Sliver: pr.MarshalBCS()}, {Code: 2}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := dataplane.DecodeMetadataRequest(b); err == nil && string(m.Encode()) != string(b) {
			t.Fatalf("metadata request does not round-trip")
		}
		if r, err := dataplane.DecodeSliverRequest(p, b); err == nil && r.Op == dataplane.OpGet &&
			string(dataplane.EncodeGetSlivers(r.BlobID, r.Refs)) != string(b) {
			t.Fatalf("get request does not round-trip")
		}
		if c, err := dataplane.DecodeConfirmationRequest(b); err == nil && string(c.Encode()) != string(b) {
			t.Fatalf("confirmation request does not round-trip")
		}
		if c, err := dataplane.DecodeConfirmation(b); err == nil && string(c.Encode()) != string(b) {
			t.Fatalf("confirmation does not round-trip")
		}
		if s, err := dataplane.DecodeStatus(b); err == nil && string(s.Encode()) != string(b) {
			t.Fatalf("status does not round-trip")
		}
		_, _ = dataplane.DecodeItemResults(b, 2, true)
		_, _ = dataplane.DecodeItemResults(b, 1, false)
		_, _ = dataplane.DecodeStatusRequest(b)
	})
}
