package recovery_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand"
	"reflect"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
)

// batches returns, for the given secondary targets of enc, the batches of primary slivers
// 0..count-1.
func batches(t testing.TB, p codec.Params, enc *codec.EncodedBlob, targets []int, count int) []codec.SymbolBatch {
	t.Helper()
	var out []codec.SymbolBatch
	for i := range count {
		pr, _ := enc.Pair(i)
		x, err := codec.ExpandSliver(p, pr)
		if err != nil {
			t.Fatal(err)
		}
		b, err := x.SymbolBatch(targets)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestRequest2RoundTrip(t *testing.T) {
	p := codec.MustParams(10)
	id := codec.BlobID{7}
	items := []recovery.Item{
		{BlobID: id, Axis: codec.AxisSecondary, Targets: []int{0, 1, 2, 8, 9}, Limit: 3}, // one wrapped run
		{BlobID: id, Axis: codec.AxisPrimary, Targets: []int{1, 3, 4, 5, 7}},
		{BlobID: id, Axis: codec.AxisPrimary, Targets: []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
	}
	req := recovery.EncodeRequest2(p.N, items)
	// The wrapped run is one run: 2 + 3 items' headers + (1 + 3 + 1) runs.
	if want := 2 + 3*recovery.ItemHeaderLen2 + 5*recovery.RunLen; len(req) != want {
		t.Fatalf("request of %d bytes, want %d", len(req), want)
	}
	back, err := recovery.DecodeRequest2(p, req)
	if err != nil || !reflect.DeepEqual(back, items) {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
	for cut := range len(req) {
		if _, err := recovery.DecodeRequest2(p, req[:cut]); !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("request cut to %d: %v", cut, err)
		}
	}
	if _, err := recovery.DecodeRequest2(p, append(bytes.Clone(req), 0)); !errors.Is(err, wire.ErrMalformed) {
		t.Fatal("trailing byte accepted")
	}
	item := func(axis byte, runs ...[2]int) []byte {
		b := binary.LittleEndian.AppendUint16(nil, 1)
		b = append(b, id[:]...)
		b = append(b, axis, 0, 0)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(runs)))
		for _, r := range runs {
			b = binary.LittleEndian.AppendUint16(b, uint16(r[0]))
			b = binary.LittleEndian.AppendUint16(b, uint16(r[1]))
		}
		return b
	}
	if got, err := recovery.DecodeRequest2(p, item(1, [2]int{7, 5}, [2]int{3, 1})); err != nil || !reflect.DeepEqual(got[0].Targets, []int{0, 1, 3, 7, 8, 9}) {
		t.Fatalf("wrapped run: %v %v", got, err)
	}
	for name, b := range map[string][]byte{
		"bad axis":          item(3, [2]int{0, 1}),
		"no run":            item(1),
		"start beyond n":    item(1, [2]int{10, 1}),
		"empty run":         item(1, [2]int{3, 0}),
		"run longer than n": item(1, [2]int{0, 11}),
		"overlapping runs":  item(1, [2]int{0, 3}, [2]int{2, 2}),
		"wrap onto itself":  item(1, [2]int{8, 4}, [2]int{1, 1}),
		"no items":          {0, 0},
	} {
		if _, err := recovery.DecodeRequest2(p, b); !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// At most 2n targets over all items.
	var many []recovery.Item
	for range 3 {
		many = append(many, recovery.Item{BlobID: id, Axis: codec.AxisPrimary, Targets: []int{0, 1, 2, 3, 4, 5, 6, 7}})
	}
	if _, err := recovery.DecodeRequest2(p, recovery.EncodeRequest2(p.N, many)); !errors.Is(err, wire.ErrMalformed) {
		t.Fatalf("24 targets at n=10: %v", err)
	}
	if len(recovery.EncodeRequest2(p.N, many[:2])) > recovery.MaxRequest2(p) {
		t.Fatal("request cap too small")
	}
}

func TestResponse2RoundTripAndRefusals(t *testing.T) {
	p := codec.MustParams(10)
	enc, err := codec.Encode(p, bytes.Repeat([]byte("walrus"), 500))
	if err != nil {
		t.Fatal(err)
	}
	s := int(enc.SymbolSize)
	targets := []int{0, 1, 2, 8, 9}
	items := []recovery.Item{
		{BlobID: enc.BlobID, Axis: codec.AxisSecondary, Targets: targets, Limit: 3},
		{BlobID: enc.BlobID, Axis: codec.AxisSecondary, Targets: []int{4}},
	}
	good := batches(t, p, enc, targets, 3)
	resp := recovery.EncodeResponse2([]recovery.ItemResult{{SymbolSize: s, Batches: good}, {Code: p2p.CodeNotFound}})
	codes, got, err := recovery.ReadResponse2(p, bytes.NewReader(resp), len(resp), items, s)
	if err != nil || codes[0] != 0 || codes[1] != p2p.CodeNotFound || len(got[0]) != 3 {
		t.Fatalf("round trip: %v %v %v", codes, len(got), err)
	}
	for j := range got[0] {
		if !reflect.DeepEqual(got[0][j], good[j]) {
			t.Fatalf("batch %d differs", j)
		}
		if _, err := codec.VerifySymbolBatch(p, &enc.Metadata, &got[0][j]); err != nil {
			t.Fatal(err)
		}
	}
	read := func(b []byte, items []recovery.Item, s int) error {
		_, _, err := recovery.ReadResponse2(p, bytes.NewReader(b), len(b), items, s)
		return err
	}
	for cut := range len(resp) {
		if err := read(resp[:cut], items, s); !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("response cut to %d: %v", cut, err)
		}
	}
	if err := read(append(bytes.Clone(resp), 0), items, s); !errors.Is(err, wire.ErrMalformed) {
		t.Fatal("trailing byte accepted")
	}
	if err := read(resp, items, s+2); !errors.Is(err, wire.ErrMalformed) {
		t.Fatal("other symbol size accepted")
	}
	limited := append([]recovery.Item(nil), items...)
	limited[0].Limit = 2
	if err := read(resp, limited, s); !errors.Is(err, wire.ErrMalformed) {
		t.Fatal("more sources than the limit accepted")
	}
	enc1 := func(bs []codec.SymbolBatch) []byte {
		return recovery.EncodeResponse2([]recovery.ItemResult{{SymbolSize: s, Batches: bs}, {Code: p2p.CodeNotFound}})
	}
	twice := []codec.SymbolBatch{good[0], good[1], good[0]}
	if err := read(enc1(twice), items, s); !errors.Is(err, wire.ErrMalformed) {
		t.Fatal("repeated source accepted")
	}
	extra := append([]codec.SymbolBatch(nil), good...)
	extra[1].Proof.Hashes = append(append([][codec.HashLen]byte(nil), extra[1].Proof.Hashes...), [codec.HashLen]byte{})
	if err := read(enc1(extra), items, s); !errors.Is(err, wire.ErrMalformed) {
		t.Fatal("surplus proof hash accepted")
	}
	short := append([]codec.SymbolBatch(nil), good...)
	short[2].Proof.Hashes = short[2].Proof.Hashes[1:]
	if err := read(enc1(short), items, s); !errors.Is(err, wire.ErrMalformed) {
		t.Fatal("missing proof hash accepted")
	}
	// A primary source beyond the usable bound cannot serve a secondary target.
	if u := p.UsablePrimarySlivers(); u < p.N {
		far := batches(t, p, enc, targets, u+1)[u:]
		if err := read(enc1(far), items, s); !errors.Is(err, wire.ErrMalformed) {
			t.Fatal("unusable source accepted")
		}
	}
	// A source count whose answers cannot fit what is left is refused before allocation.
	huge := bytes.Clone(resp)
	binary.LittleEndian.PutUint16(huge[2+1+2:], 9)
	if err := read(huge, items, s); !errors.Is(err, wire.ErrMalformed) {
		t.Fatal("oversized source count accepted")
	}
	// One byte changed in a cell parses but fails verification.
	flip := bytes.Clone(resp)
	flip[2+1+2+2+2] ^= 1
	_, fb, err := recovery.ReadResponse2(p, bytes.NewReader(flip), len(flip), items, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := codec.VerifySymbolBatch(p, &enc.Metadata, &fb[0][0]); err == nil {
		t.Fatal("changed cell verified")
	}
}

// The caps admit what an honest node sends: a whole axis of targets from every source fits
// a request, and a single target from every source of the largest symbols fits a response.
func TestCaps2(t *testing.T) {
	for _, n := range []int{4, 10, 1000} {
		p := codec.MustParams(n)
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		odd := make([]int, 0, n/2)
		for i := 1; i < n; i += 2 {
			odd = append(odd, i)
		}
		req := recovery.EncodeRequest2(n, []recovery.Item{{Targets: all}, {Targets: odd}, {Targets: []int{0}}})
		if len(req) > recovery.MaxRequest2(p) {
			t.Fatalf("n=%d: request of %d > %d", n, len(req), recovery.MaxRequest2(p))
		}
		one := recovery.HeaderLen + recovery.ItemAnswerLen2(codec.MaxSymbolSize, 1, codec.ProofDepth(n), n)
		if one > recovery.ResponseCap2(p) {
			t.Fatalf("n=%d: one target's answer %d > cap %d", n, one, recovery.ResponseCap2(p))
		}
	}
}

// FuzzDecode2: untrusted requests and responses never panic.
func FuzzDecode2(f *testing.F) {
	p := codec.MustParams(10)
	enc, err := codec.Encode(p, bytes.Repeat([]byte("fuzz"), 300))
	if err != nil {
		f.Fatal(err)
	}
	s := int(enc.SymbolSize)
	targets := []int{0, 1, 9}
	items := []recovery.Item{{BlobID: enc.BlobID, Axis: codec.AxisSecondary, Targets: targets}}
	f.Add(recovery.EncodeRequest2(p.N, items))
	f.Add(recovery.EncodeResponse2([]recovery.ItemResult{{SymbolSize: s, Batches: batches(f, p, enc, targets, 2)}}))
	rng := rand.New(rand.NewSource(1))
	junk := make([]byte, 64)
	rng.Read(junk)
	f.Add(junk)
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = recovery.DecodeRequest2(p, b)
		codes, bs, err := recovery.ReadResponse2(p, bytes.NewReader(b), len(b), items, s)
		if err != nil {
			return
		}
		for i := range codes {
			for j := range bs[i] {
				_, _ = codec.VerifySymbolBatch(p, &enc.Metadata, &bs[i][j])
			}
		}
	})
}
