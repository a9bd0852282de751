package protocol_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/blobstatus"
	"github.com/walrus-go/walrus-go/p2p/protocol/confirm"
	"github.com/walrus-go/walrus-go/p2p/protocol/inconsistency"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

// FuzzDataPlaneDecoders feeds arbitrary bytes to every decoder of untrusted data-plane messages:
// none may panic, and whatever decodes must re-encode to the same bytes where the format
// is canonical.
func FuzzDataPlaneDecoders(f *testing.F) {
	p, enc := sampleBlob(f, "fuzz seed blob")
	pr, se := enc.Pair(2)
	f.Add((&metadata.Request{Op: metadata.OpPut, BlobID: enc.BlobID, Metadata: enc.Metadata.MarshalBCS()}).Encode())
	f.Add(sliver.EncodePutPairs(enc.BlobID, [][2]*codec.Sliver{{pr, se}}))
	f.Add(sliver.EncodeGet(enc.BlobID, []sliver.Ref{{Axis: codec.AxisSecondary, Index: 9}}))
	f.Add((&confirm.Request{BlobID: enc.BlobID, Epoch: 7, Deletable: true}).Encode())
	f.Add((&blobstatus.Status{Kind: 3, ShardsHeld: 2, ShardsStored: 2}).Encode())
	f.Add(sliver.EncodeItemResults([]sliver.ItemResult{{Sliver: pr.MarshalBCS()}, {Code: 2}}))
	x, err := codec.ExpandSliver(p, pr)
	if err != nil {
		f.Fatal(err)
	}
	sym, err := x.RecoverySymbol(3)
	if err != nil {
		f.Fatal(err)
	}
	f.Add((&inconsistency.Request{BlobID: enc.BlobID, Epoch: 2, Metadata: enc.Metadata,
		Proof: codec.InconsistencyProof{Target: codec.AxisSecondary, TargetIndex: 3, Symbols: []codec.RecoverySymbol{sym}}}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := inconsistency.DecodeRequest(p, b); err == nil && !bytes.Equal(r.Encode(), b) {
			t.Fatalf("inconsistency request does not round-trip")
		}
		if a, err := inconsistency.DecodeResponse(b); err == nil && !bytes.Equal(a.Encode(), b) {
			t.Fatalf("inconsistency response does not round-trip")
		}
		if m, err := metadata.DecodeRequest(b); err == nil && string(m.Encode()) != string(b) {
			t.Fatalf("metadata request does not round-trip")
		}
		if r, err := sliver.DecodeRequest(p, b); err == nil && r.Op == sliver.OpGet &&
			string(sliver.EncodeGet(r.BlobID, r.Refs)) != string(b) {
			t.Fatalf("get request does not round-trip")
		}
		if c, err := confirm.DecodeRequest(b); err == nil && string(c.Encode()) != string(b) {
			t.Fatalf("confirmation request does not round-trip")
		}
		if c, err := confirm.Decode(b); err == nil && string(c.Encode()) != string(b) {
			t.Fatalf("confirmation does not round-trip")
		}
		if s, err := blobstatus.Decode(b); err == nil && string(s.Encode()) != string(b) {
			t.Fatalf("status does not round-trip")
		}
		items, err := sliver.DecodeItemResults(b, 2, true)
		streamed, used, serr := readItems(b, 2, -1)
		if err == nil && (serr != nil || used != len(b) || !sameItems(items, streamed)) {
			t.Fatalf("ReadItemResults disagrees with DecodeItemResults: %v, read %d of %d", serr, used, len(b))
		}
		if serr == nil && used == len(b) && err != nil {
			t.Fatalf("ReadItemResults accepted what DecodeItemResults refuses: %v", err)
		}
		_, _ = sliver.DecodeItemResults(b, 1, false)
		_, _ = blobstatus.DecodeRequest(b)
	})
}

// readItems runs ReadItemResults over b, reading at most limit bytes of each item (all of
// it when limit < 0), and returns the items as DecodeItemResults would and how much of b
// was consumed.
func readItems(b []byte, want, limit int) ([]sliver.ItemResult, int, error) {
	r := bytes.NewReader(b)
	var out []sliver.ItemResult
	err := sliver.ReadItemResults(r, want, func(i int, code p2p.Code, body io.Reader, n int) error {
		it := sliver.ItemResult{Code: code}
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

func sameItems(a, b []sliver.ItemResult) bool {
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
