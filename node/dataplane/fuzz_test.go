package dataplane_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/dataplane"
	"github.com/walrus-go/walrus-go/p2p"
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
		items, err := dataplane.DecodeItemResults(b, 2, true)
		streamed, used, serr := readItems(b, 2, -1)
		if err == nil && (serr != nil || used != len(b) || !sameItems(items, streamed)) {
			t.Fatalf("ReadItemResults disagrees with DecodeItemResults: %v, read %d of %d", serr, used, len(b))
		}
		if serr == nil && used == len(b) && err != nil {
			t.Fatalf("ReadItemResults accepted what DecodeItemResults refuses: %v", err)
		}
		_, _ = dataplane.DecodeItemResults(b, 1, false)
		_, _ = dataplane.DecodeStatusRequest(b)
	})
}

// readItems runs ReadItemResults over b, reading at most limit bytes of each item (all of
// it when limit < 0), and returns the items as DecodeItemResults would and how much of b
// was consumed.
func readItems(b []byte, want, limit int) ([]dataplane.ItemResult, int, error) {
	r := bytes.NewReader(b)
	var out []dataplane.ItemResult
	err := dataplane.ReadItemResults(r, want, func(i int, code p2p.Code, body io.Reader, n int) error {
		it := dataplane.ItemResult{Code: code}
		if code == 0 {
			if limit >= 0 {
				body = io.LimitReader(body, int64(limit))
			}
			var err error
			if it.Sliver, err = io.ReadAll(body); err != nil {
				return err
			}
		}
		out = append(out, it)
		return nil
	})
	return out, len(b) - r.Len(), err
}

func sameItems(a, b []dataplane.ItemResult) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Code != b[i].Code || !bytes.Equal(a[i].Sliver, b[i].Sliver) {
			return false
		}
	}
	return true
}
