package inconsistency_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p/protocol/inconsistency"
)

func TestRequestRoundTripAndBounds(t *testing.T) {
	p := codec.MustParams(7)
	enc, err := codec.Encode(p, bytes.Repeat([]byte("walrus"), 500))
	if err != nil {
		t.Fatal(err)
	}
	var syms []codec.RecoverySymbol
	for i := range p.N - 2*p.F {
		x, err := codec.ExpandSliver(p, &enc.Primary[i])
		if err != nil {
			t.Fatal(err)
		}
		s, err := x.RecoverySymbol(5)
		if err != nil {
			t.Fatal(err)
		}
		syms = append(syms, s)
	}
	req := inconsistency.Request{BlobID: enc.BlobID, Epoch: 3, Metadata: enc.Metadata,
		Proof: codec.InconsistencyProof{Target: codec.AxisSecondary, TargetIndex: 5, Symbols: syms}}
	b := req.Encode()
	if len(b) > inconsistency.Spec(p).MaxRequest {
		t.Fatalf("request of %d bytes over the cap %d", len(b), inconsistency.Spec(p).MaxRequest)
	}
	got, err := inconsistency.DecodeRequest(p, b)
	if err != nil {
		t.Fatal(err)
	}
	if got.BlobID != req.BlobID || got.Epoch != 3 || got.Metadata.BlobID() != enc.BlobID ||
		got.Proof.Target != codec.AxisSecondary || got.Proof.TargetIndex != 5 || len(got.Proof.Symbols) != len(syms) {
		t.Fatalf("decoded %+v", got)
	}
	if !bytes.Equal(got.Encode(), b) {
		t.Fatal("not canonical")
	}
	// Every defect is ErrMalformed, in the wire.ErrInvalid family the data plane maps to
	// "bad request".
	mlen := binary.LittleEndian.Uint32(b[37:])
	bad := map[string][]byte{
		"empty":          nil,
		"truncated":      b[:len(b)-1],
		"trailing":       append(append([]byte(nil), b...), 0),
		"axis":           func() []byte { c := bytes.Clone(b); c[36] = 3; return c }(),
		"metadata len":   func() []byte { c := bytes.Clone(b); binary.LittleEndian.PutUint32(c[37:], 1<<31); return c }(),
		"short metadata": func() []byte { c := bytes.Clone(b); binary.LittleEndian.PutUint32(c[37:], mlen-1); return c }(),
		"no proof":       b[:inconsistency.HeaderLen+int(mlen)],
	}
	for name, body := range bad {
		if _, err := inconsistency.DecodeRequest(p, body); !errors.Is(err, inconsistency.ErrMalformed) || !errors.Is(err, wire.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Another geometry's request does not decode.
	if _, err := inconsistency.DecodeRequest(codec.MustParams(10), b); err == nil {
		t.Error("a request for n=7 decoded for n=10")
	}
}

func TestResponseRoundTrip(t *testing.T) {
	a := inconsistency.Response{Epoch: 9}
	a.Signature[0], a.Signature[95] = 1, 2
	b := a.Encode()
	if len(b) != inconsistency.ResponseLen {
		t.Fatalf("%d bytes", len(b))
	}
	got, err := inconsistency.DecodeResponse(b)
	if err != nil || got != a {
		t.Fatalf("%+v %v", got, err)
	}
	for _, body := range [][]byte{b[:len(b)-1], append(bytes.Clone(b), 0)} {
		if _, err := inconsistency.DecodeResponse(body); !errors.Is(err, inconsistency.ErrMalformed) {
			t.Errorf("%d bytes: %v", len(body), err)
		}
	}
}
