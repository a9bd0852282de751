package codec_test

import (
	"bytes"
	"errors"
	"math/bits"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// TestSliverBCSPieces: header || Data || trailer is MarshalBCS, and SliverBCSLen its length,
// for data lengths on both sides of every uleb128 width change.
func TestSliverBCSPieces(t *testing.T) {
	for _, n := range []int{0, 2, 126, 128, 1<<14 - 2, 1 << 14, 1<<21 + 2} {
		s := codec.Sliver{Axis: codec.AxisPrimary, Index: 0x1234, SymbolSize: 0xabce, Data: bytes.Repeat([]byte{7}, n)}
		want := s.MarshalBCS()
		head := codec.AppendSliverBCSHeader(nil, len(s.Data))
		tail := codec.AppendSliverBCSTrailer(nil, &s)
		got := append(append(append([]byte(nil), head...), s.Data...), tail...)
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: pieces differ from MarshalBCS", n)
		}
		if codec.SliverBCSLen(n) != len(want) {
			t.Fatalf("%d bytes: SliverBCSLen %d, want %d", n, codec.SliverBCSLen(n), len(want))
		}
		if len(head) > codec.MaxSliverBCSHeaderLen || len(tail) != codec.SliverBCSTrailerLen {
			t.Fatalf("%d bytes: header of %d, trailer of %d bytes", n, len(head), len(tail))
		}
	}
}

// usablePrimariesDirect restates UsablePrimarySlivers from Walrus's rate rule, as the
// client wrote it before it called the codec: the low-rate primary code (k = R source symbols,
// m = n-R recovery) is decoded through its step-1 code of k + next_pow2(k) symbols.
func usablePrimariesDirect(n int) int {
	f := (n - 1) / 3
	k, m := n-2*f, n-(n-2*f)
	pk, pm := 1<<bits.Len(uint(k-1)), 1<<bits.Len(uint(m-1))
	if !(pk < pm || (pk == pm && k > m)) {
		return n
	}
	return min(n, k+pk)
}

// TestUsablePrimarySliversRule checks the codec's rule against a direct restatement for
// every n in 4..1000 (the hand-checked values are in TestUsablePrimarySlivers).
func TestUsablePrimarySliversRule(t *testing.T) {
	for n := 4; n <= 1000; n++ {
		p := codec.MustParams(n)
		got, want := p.UsablePrimarySlivers(), usablePrimariesDirect(n)
		if got != want {
			t.Fatalf("n=%d: UsablePrimarySlivers %d, direct rule %d", n, got, want)
		}
		if got < p.R || got > n {
			t.Fatalf("n=%d: %d usable primaries outside R=%d..n", n, got, p.R)
		}
	}
}

// TestMalformedFamily: every decoder's garbage is both codec.ErrMalformed and
// wire.ErrMalformed.
func TestMalformedFamily(t *testing.T) {
	p := codec.MustParams(10)
	_, err1 := codec.UnmarshalSliverBCS(p, codec.AxisPrimary, []byte{0x80})
	_, err2 := codec.UnmarshalMetadataBCS(p, []byte{1})
	_, err3 := codec.UnmarshalMerkleProofBCS([]byte{0, 0})
	_, err4 := codec.UnmarshalRecoverySymbolBCS(p, codec.AxisPrimary, nil)
	_, err5 := codec.UnmarshalInconsistencyProofBCS(p, codec.AxisPrimary, []byte{0})
	for i, err := range []error{err1, err2, err3, err4, err5} {
		if !errors.Is(err, codec.ErrMalformed) || !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("decoder %d: %v is not in the malformed family", i+1, err)
		}
	}
}
