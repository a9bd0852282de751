package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// TestReadSliverBCS: reading a sliver from a stream into a caller's buffer gives what
// UnmarshalSliverBCS gives, consumes exactly the sliver, and every way of getting it wrong
// (truncation, a length prefix for another size, a symbol size or index that does not fit)
// is an error; truncation is the reader's error, not ErrBadSliver.
func TestReadSliverBCS(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	p := codec.MustParams(10)
	enc := mustEncode(t, p, randBytes(rng, p.R*p.C*6))
	for _, sl := range []codec.Sliver{enc.Primary[2], enc.Secondary[7]} {
		raw := sl.MarshalBCS()
		next := []byte("next item")
		r := bytes.NewReader(append(append([]byte(nil), raw...), next...))
		data := make([]byte, len(sl.Data))
		got, err := codec.ReadSliverBCS(p, sl.Axis, r, data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.MarshalBCS(), raw) || &got.Data[0] != &data[0] || cap(got.Data) != len(data) {
			t.Fatal("sliver read differs from the one written, or not into data")
		}
		if rest, _ := io.ReadAll(r); !bytes.Equal(rest, next) {
			t.Fatalf("consumed more than the sliver: %q left", rest)
		}
		if err := codec.VerifySliver(p, &enc.Metadata, &got); err != nil {
			t.Fatal(err)
		}

		for cut := 0; cut < len(raw); cut += max(1, len(raw)/37) {
			_, err := codec.ReadSliverBCS(p, sl.Axis, bytes.NewReader(raw[:cut]), data)
			if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) || errors.Is(err, codec.ErrBadSliver) {
				t.Fatalf("cut at %d of %d: %v", cut, len(raw), err)
			}
		}
		bad := func(name string, b []byte, data []byte) {
			t.Helper()
			if _, err := codec.ReadSliverBCS(p, sl.Axis, bytes.NewReader(b), data); !errors.Is(err, codec.ErrBadSliver) {
				t.Fatalf("%s: %v", name, err)
			}
		}
		other := codec.AxisPrimary
		if sl.Axis == other {
			other = codec.AxisSecondary
		}
		if _, err := codec.ReadSliverBCS(p, other, bytes.NewReader(raw), data); err == nil {
			t.Fatal("a buffer of the other axis's size accepted")
		}
		syms := len(sl.Data) / int(sl.SymbolSize)
		bad("longer buffer", raw, make([]byte, len(sl.Data)+2*syms))
		mut := func(at int, v uint16) []byte {
			b := bytes.Clone(raw)
			binary.LittleEndian.PutUint16(b[len(b)-4+at:], v)
			return b
		}
		bad("symbol size", mut(0, sl.SymbolSize+2), data)
		bad("index", mut(2, uint16(p.N)), data)
		if _, err := codec.ReadSliverBCS(p, sl.Axis, bytes.NewReader(raw), data[:len(data)-1]); err == nil {
			t.Fatal("a buffer of no sliver size accepted")
		}
	}
}
