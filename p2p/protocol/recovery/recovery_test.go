package recovery_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
)

// symbols returns, for target secondary sliver t of a small blob, the symbols of primary
// slivers 0..count-1.
func symbols(t *testing.T, p codec.Params, enc *codec.EncodedBlob, target, count int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range count {
		pr, _ := enc.Pair(i)
		x, err := codec.ExpandSliver(p, pr)
		if err != nil {
			t.Fatal(err)
		}
		sym, err := x.RecoverySymbol(target)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sym.MarshalBCS())
	}
	return out
}

func TestRoundTripAndRefusals(t *testing.T) {
	p := codec.MustParams(10)
	enc, err := codec.Encode(p, bytes.Repeat([]byte("walrus"), 500))
	if err != nil {
		t.Fatal(err)
	}
	targets := []recovery.Target{
		{BlobID: enc.BlobID, Axis: codec.AxisSecondary, Index: 4, Limit: 3},
		{BlobID: enc.BlobID, Axis: codec.AxisPrimary, Index: 2},
	}
	req := recovery.EncodeRequest(targets)
	back, err := recovery.DecodeRequest(p, req)
	if err != nil || len(back) != 2 || back[0] != targets[0] || back[1] != targets[1] {
		t.Fatalf("request round trip: %+v, %v", back, err)
	}
	for cut := range len(req) {
		if _, err := recovery.DecodeRequest(p, req[:cut]); !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("request cut to %d: %v", cut, err)
		}
	}
	bad := bytes.Clone(req)
	bad[2+32] = 9 // axis
	if _, err := recovery.DecodeRequest(p, bad); err == nil {
		t.Fatal("bad axis accepted")
	}

	resp := recovery.EncodeResponse([]recovery.Result{{Symbols: symbols(t, p, enc, 4, 3)}, {Code: p2p.CodeNotFound}})
	codes, syms, err := recovery.ReadResponse(p, bytes.NewReader(resp), targets)
	if err != nil || codes[0] != 0 || codes[1] != p2p.CodeNotFound || len(syms[0]) != 3 {
		t.Fatalf("response: %v %d %v", codes, len(syms[0]), err)
	}
	for j := range syms[0] {
		if err := codec.VerifyRecoverySymbol(p, &enc.Metadata, codec.AxisSecondary, 4, &syms[0][j]); err != nil {
			t.Fatal(err)
		}
	}
	for cut := range len(resp) {
		if _, _, err := recovery.ReadResponse(p, bytes.NewReader(resp[:cut]), targets); err == nil {
			t.Fatalf("response cut to %d accepted", cut)
		}
	}
	if _, _, err := recovery.ReadResponse(p, bytes.NewReader(append(bytes.Clone(resp), 0)), targets); err == nil {
		t.Fatal("trailing byte accepted")
	}
	// More symbols than the limit, or symbols for another target: the node lies.
	over := recovery.EncodeResponse([]recovery.Result{{Symbols: symbols(t, p, enc, 4, 4)}, {Code: p2p.CodeNotFound}})
	if _, _, err := recovery.ReadResponse(p, bytes.NewReader(over), targets); !errors.Is(err, recovery.ErrMalformed) {
		t.Fatalf("over the limit: %v", err)
	}
	other := recovery.EncodeResponse([]recovery.Result{{Symbols: symbols(t, p, enc, 5, 2)}, {Code: p2p.CodeNotFound}})
	if _, _, err := recovery.ReadResponse(p, bytes.NewReader(other), targets); !errors.Is(err, recovery.ErrMalformed) {
		t.Fatalf("another target's symbols: %v", err)
	}
}

// TestSymbolAnswerLen: the size a requester plans with is the size a node sends.
func TestSymbolAnswerLen(t *testing.T) {
	for _, n := range []int{10, 100} {
		p := codec.MustParams(n)
		enc, err := codec.Encode(p, bytes.Repeat([]byte{7}, 20_000))
		if err != nil {
			t.Fatal(err)
		}
		sym := symbols(t, p, enc, 1, 1)[0]
		if got, want := recovery.SymbolAnswerLen(p.N, enc.SymbolSize), 4+len(sym); got != want {
			t.Fatalf("n=%d: SymbolAnswerLen %d, sent %d", n, got, want)
		}
	}
}
