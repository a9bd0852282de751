package blobstatus_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/p2p/protocol/blobstatus"
	"github.com/walrus-go/walrus-go/staking"
)

func TestRequestFlags(t *testing.T) {
	id := codec.BlobID{1, 2, 3}
	for _, flags := range []byte{0, blobstatus.FlagMissing} {
		b := blobstatus.EncodeRequest(id, flags)
		got, f, err := blobstatus.DecodeRequestFlags(b)
		if err != nil || got != id || f != flags {
			t.Fatalf("flags %d: %v %v %v", flags, got, f, err)
		}
		if got, err := blobstatus.DecodeRequest(b); err != nil || got != id {
			t.Fatalf("DecodeRequest with flags %d: %v", flags, err)
		}
	}
	if !bytes.Equal(blobstatus.EncodeRequest(id, 0), id[:]) {
		t.Fatal("a request without flags is not the original bare blob ID")
	}
	for _, bad := range [][]byte{append(id[:], 2), append(id[:], 1, 0), id[:31]} {
		if _, _, err := blobstatus.DecodeRequestFlags(bad); !errors.Is(err, blobstatus.ErrMalformed) {
			t.Fatalf("%x: %v", bad, err)
		}
	}
}

func TestResponseDetail(t *testing.T) {
	plain := blobstatus.Status{Kind: staking.StatusRegistered, EndEpoch: 9, Epoch: 3, HasMetadata: true, ShardsHeld: 5, ShardsStored: 3}
	if b := plain.Encode(); len(b) != blobstatus.ResponseLen {
		t.Fatalf("original answer is %d bytes", len(b))
	}
	detail := plain
	detail.Detail, detail.Missing = true, []uint16{7, 900}
	for _, s := range []blobstatus.Status{plain, detail} {
		got, err := blobstatus.Decode(s.Encode())
		if err != nil || !reflect.DeepEqual(got, s) {
			t.Fatalf("round trip %+v: %+v %v", s, got, err)
		}
	}
	lying := detail
	lying.Missing = []uint16{7}
	if _, err := blobstatus.Decode(lying.Encode()); !errors.Is(err, blobstatus.ErrMalformed) {
		t.Fatalf("a list that disagrees with the counts: %v", err)
	}
	if b := detail.Encode(); len(b) > blobstatus.Spec.MaxResponse {
		t.Fatal("over the cap")
	}
}
