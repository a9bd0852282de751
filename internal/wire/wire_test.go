package wire_test

import (
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/internal/wire"
)

var errThing = wire.Malformed("thing: malformed")

func TestFamily(t *testing.T) {
	r := wire.NewReader([]byte{1}, errThing)
	r.U32()
	err := r.Err()
	if !errors.Is(err, errThing) || !errors.Is(err, wire.ErrMalformed) || !errors.Is(err, wire.ErrInvalid) {
		t.Fatalf("short read %v: want the package sentinel, ErrMalformed and the root", err)
	}
	bad := wire.Invalid("thing: fails its check")
	if !errors.Is(bad, wire.ErrInvalid) || errors.Is(bad, wire.ErrMalformed) {
		t.Fatal("an Invalid sentinel is under ErrInvalid only")
	}
	if r.U8() != 0 || r.Take(0) != nil {
		t.Fatal("a failed reader must keep returning zeros")
	}
	plain := wire.NewReader(nil, nil)
	plain.U8()
	if !errors.Is(plain.Err(), wire.ErrMalformed) {
		t.Fatalf("nil kind: %v", plain.Err())
	}
}

func TestReads(t *testing.T) {
	b := []byte{7, 1, 2, 1, 2, 3, 4, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xAA, 0xBB, 2, 0, 0, 0, 'h', 'i'}
	r := wire.NewReader(b, errThing)
	if r.U8() != 7 || r.U16() != 0x0201 || r.U32() != 0x04030201 || r.U64() != 1 || !r.Bool() {
		t.Fatal("fixed-width reads")
	}
	var dst [2]byte
	r.Fixed(dst[:])
	if dst != [2]byte{0xAA, 0xBB} {
		t.Fatalf("fixed %x", dst)
	}
	if s := r.U32Bytes(2); string(s) != "hi" {
		t.Fatalf("u32 bytes %q", s)
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	if r.Off() != len(b) || r.Len() != 0 {
		t.Fatal("offsets")
	}
}

func TestRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		in   []byte
		read func(r *wire.Reader)
	}{
		"bool 2":          {[]byte{2}, func(r *wire.Reader) { r.Bool() }},
		"trailing":        {[]byte{1, 2}, func(r *wire.Reader) { r.U8() }},
		"u32 bytes cap":   {[]byte{3, 0, 0, 0, 'a', 'b', 'c'}, func(r *wire.Reader) { r.U32Bytes(2) }},
		"u32 bytes short": {[]byte{3, 0, 0, 0, 'a'}, func(r *wire.Reader) { r.U32Bytes(9) }},
		"uleb long":       {[]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, func(r *wire.Reader) { r.ULEB128() }},
		"uleb zero tail":  {[]byte{0x81, 0x00}, func(r *wire.Reader) { r.ULEB128() }},
		"uleb overflow":   {[]byte{0xff, 0xff, 0xff, 0xff, 0x1f}, func(r *wire.Reader) { r.ULEB128() }},
		"length cap":      {[]byte{5}, func(r *wire.Reader) { r.Length(4) }},
		"negative take":   {[]byte{1}, func(r *wire.Reader) { r.Take(-1) }},
	} {
		r := wire.NewReader(tc.in, errThing)
		tc.read(&r)
		if err := r.End(); !errors.Is(err, errThing) {
			t.Errorf("%s: %v, want a malformed error", name, err)
		}
	}
}

func TestULEB128RoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 300, 1<<21 - 1, 1 << 21, 1<<32 - 1} {
		b := wire.AppendULEB128(nil, v)
		if len(b) != wire.ULEB128Len(v) {
			t.Fatalf("%d: length %d, ULEB128Len %d", v, len(b), wire.ULEB128Len(v))
		}
		r := wire.NewReader(b, nil)
		if got := r.ULEB128(); got != v || r.End() != nil {
			t.Fatalf("%d: read %d, %v", v, got, r.End())
		}
	}
}

func TestAppenders(t *testing.T) {
	b := wire.AppendBool(nil, true)
	b = wire.AppendBool(b, false)
	b = wire.AppendU32Bytes(b, []byte("xy"))
	r := wire.NewReader(b, nil)
	if !r.Bool() || r.Bool() || string(r.U32Bytes(2)) != "xy" || r.End() != nil {
		t.Fatalf("append round trip %x", b)
	}
}

func TestCount(t *testing.T) {
	b := wire.AppendU32(nil, 2)
	b = wire.AppendU64(b, 7)
	r := wire.NewReader(b, nil)
	if n := r.Count(4); n != 2 || r.Err() != nil {
		t.Fatalf("count %d, %v", n, r.Err())
	}
	r = wire.NewReader(b, nil)
	if r.Count(5); !errors.Is(r.Err(), wire.ErrMalformed) {
		t.Fatal("a count the bytes cannot hold was accepted")
	}
}

func TestCutUTF8(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{{"abc", 5, "abc"}, {"abc", 2, "ab"}, {"aé", 2, "a"}, {"aé", 3, "aé"}, {"€", 2, ""}} {
		if got := wire.CutUTF8(tc.in, tc.n); got != tc.want {
			t.Errorf("CutUTF8(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
