package protocol_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/blobstatus"
	"github.com/walrus-go/walrus-go/p2p/protocol/confirm"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

// sampleBlob encodes data at n = 10: slivers and a blob ID for sample messages.
func sampleBlob(tb testing.TB, data string) (codec.Params, *codec.EncodedBlob) {
	tb.Helper()
	p := codec.MustParams(10)
	enc, err := codec.Encode(p, []byte(data))
	if err != nil {
		tb.Fatal(err)
	}
	return p, enc
}

// TestWireRejectsMalformed feeds truncated and padded messages to every decoder.
func TestWireRejectsMalformed(t *testing.T) {
	p, enc := sampleBlob(t, "hello walrus")
	pr, se := enc.Pair(0)
	good := [][]byte{
		(&metadata.Request{Op: metadata.OpGet, BlobID: enc.BlobID}).Encode(),
		sliver.EncodePutPairs(enc.BlobID, [][2]*codec.Sliver{{pr, se}}),
		sliver.EncodeGet(enc.BlobID, []sliver.Ref{{Axis: codec.AxisPrimary, Index: 3}}),
		(&confirm.Request{BlobID: enc.BlobID, Epoch: 1}).Encode(),
		(&confirm.Confirmation{Epoch: 1}).Encode(),
		(&blobstatus.Status{Kind: 2, ShardsHeld: 3, ShardsStored: 1}).Encode(),
	}
	decode := []func([]byte) error{
		func(b []byte) error { _, err := metadata.DecodeRequest(b); return err },
		func(b []byte) error { _, err := sliver.DecodeRequest(p, b); return err },
		func(b []byte) error { _, err := sliver.DecodeRequest(p, b); return err },
		func(b []byte) error { _, err := confirm.DecodeRequest(b); return err },
		func(b []byte) error { _, err := confirm.Decode(b); return err },
		func(b []byte) error { _, err := blobstatus.Decode(b); return err },
	}
	for i, b := range good {
		if err := decode[i](b); err != nil {
			t.Fatalf("message %d: good encoding rejected: %v", i, err)
		}
		for cut := 0; cut < len(b); cut++ {
			if err := decode[i](b[:cut]); err == nil {
				t.Fatalf("message %d truncated to %d accepted", i, cut)
			}
		}
		if err := decode[i](append(bytes.Clone(b), 0)); err == nil {
			t.Fatalf("message %d with a trailing byte accepted", i)
		}
	}
	// Item results: count mismatch and truncation.
	r := sliver.EncodeItemResults([]sliver.ItemResult{{Sliver: []byte{1, 2, 3}}, {Code: p2p.CodeNotFound}})
	if _, err := sliver.DecodeItemResults(r, 2, true); err != nil {
		t.Fatal(err)
	}
	if _, err := sliver.DecodeItemResults(r, 3, true); err == nil {
		t.Fatal("wrong result count accepted")
	}
	if _, err := sliver.DecodeItemResults(r[:len(r)-2], 2, true); err == nil {
		t.Fatal("truncated results accepted")
	}
	// Streamed: the same items; an item read only in part is skipped to the next; a count
	// mismatch and every truncation fail.
	r = sliver.EncodeItemResults([]sliver.ItemResult{{Sliver: []byte{1, 2, 3}}, {Code: p2p.CodeNotFound}, {Sliver: []byte{4, 5}}})
	items, used, err := readItems(r, 3, 1)
	if err != nil || used != len(r) || !sameItems(items, []sliver.ItemResult{{Sliver: []byte{1}}, {Code: p2p.CodeNotFound}, {Sliver: []byte{4}}}) {
		t.Fatalf("streamed items: %v %v (read %d of %d)", items, err, used, len(r))
	}
	if _, _, err := readItems(r, 2, -1); !errors.Is(err, sliver.ErrMalformed) {
		t.Fatalf("streamed: wrong result count: %v", err)
	}
	for cut := range len(r) {
		if _, _, err := readItems(r[:cut], 3, -1); err == nil {
			t.Fatalf("streamed: truncated to %d accepted", cut)
		}
	}
	stop := errors.New("stop")
	if err := sliver.ReadItemResults(bytes.NewReader(r), 3, func(int, p2p.Code, io.Reader, int) error { return stop }); err != stop {
		t.Fatalf("item's error not returned as it is: %v", err)
	}
}
