package codec_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// Fuzz targets for every decoder of untrusted bytes. Each checks that decoding never panics,
// that whatever decodes re-encodes to the same bytes (the encoding is canonical), and that the
// verification functions downstream of the decoder do not panic on it either. `go test` runs
// the seed corpora below; `make fuzz` explores further.

type fuzzFixture struct {
	p   codec.Params
	enc *codec.EncodedBlob
	sym codec.RecoverySymbol
	ip  *codec.InconsistencyProof
	bad codec.Metadata
}

func newFuzzFixture(tb testing.TB) *fuzzFixture {
	p := codec.MustParams(10)
	rng := rand.New(rand.NewPCG(21, 22))
	enc := mustEncode(tb, p, randBytes(rng, 300))
	x, err := codec.ExpandSliver(p, &enc.Primary[3])
	if err != nil {
		tb.Fatal(err)
	}
	sym, err := x.RecoverySymbol(5)
	if err != nil {
		tb.Fatal(err)
	}
	// An inconsistency proof against metadata whose secondary sliver 5 hash is tampered.
	bad := codec.Metadata{EncodingType: 1, UnencodedLength: enc.Metadata.UnencodedLength,
		Hashes: append([]codec.SliverPairHashes(nil), enc.Metadata.Hashes...)}
	bad.Hashes[p.N-1-5].Secondary[0] ^= 1
	var syms []codec.RecoverySymbol
	for i := range p.N {
		x, _ := codec.ExpandSliver(p, &enc.Primary[i])
		s, _ := x.RecoverySymbol(5)
		syms = append(syms, s)
	}
	_, ip, _ := codec.RecoverSliver(p, &bad, codec.AxisSecondary, 5, syms)
	if ip == nil {
		tb.Fatal("no inconsistency proof for the fixture")
	}
	return &fuzzFixture{p: p, enc: enc, sym: sym, ip: ip, bad: bad}
}

func FuzzUnmarshalSliverBCS(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.enc.Primary[0].MarshalBCS(), true)
	f.Add(fx.enc.Secondary[9].MarshalBCS(), false)
	f.Add([]byte{}, true)
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x10}, false)
	f.Fuzz(func(t *testing.T, b []byte, primary bool) {
		axis := codec.AxisSecondary
		if primary {
			axis = codec.AxisPrimary
		}
		// ReadSliverBCS (from a stream, into a buffer of the fixture's sliver size) agrees
		// with UnmarshalSliverBCS on what it consumed.
		size := fx.p.PrimarySliverSize(int(fx.enc.Primary[0].SymbolSize))
		if !primary {
			size = fx.p.SecondarySliverSize(int(fx.enc.Primary[0].SymbolSize))
		}
		r := bytes.NewReader(b)
		rs, rerr := codec.ReadSliverBCS(fx.p, axis, r, make([]byte, size))
		used := b[:len(b)-r.Len()]
		if rerr == nil {
			u, err := codec.UnmarshalSliverBCS(fx.p, axis, used)
			if err != nil || !bytes.Equal(u.MarshalBCS(), rs.MarshalBCS()) {
				t.Fatalf("ReadSliverBCS accepted what UnmarshalSliverBCS refuses: %v", err)
			}
		}
		s, err := codec.UnmarshalSliverBCS(fx.p, axis, b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.MarshalBCS(), b) {
			t.Fatal("not canonical")
		}
		if len(s.Data) == size && (rerr != nil || len(used) != len(b)) {
			t.Fatalf("ReadSliverBCS refused a sliver of its size: %v (read %d of %d)", rerr, len(used), len(b))
		}
		_ = codec.VerifySliver(fx.p, &fx.enc.Metadata, &s)
	})
}

func FuzzUnmarshalMetadataBCS(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.enc.Metadata.MarshalBCS())
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := codec.UnmarshalMetadataBCS(fx.p, b)
		if err != nil {
			return
		}
		if !bytes.Equal(m.MarshalBCS(), b) {
			t.Fatal("not canonical")
		}
		_ = codec.VerifyMetadata(fx.p, fx.enc.BlobID, &m)
		_ = codec.VerifySliver(fx.p, &m, &fx.enc.Primary[1])
	})
}

func FuzzUnmarshalRecoverySymbolBCS(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.sym.MarshalBCS())
	f.Add([]byte{1, 0, 2, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := codec.UnmarshalRecoverySymbolBCS(fx.p, codec.AxisSecondary, b)
		if err != nil {
			return
		}
		if !bytes.Equal(s.MarshalBCS(), b) {
			t.Fatal("not canonical")
		}
		_ = codec.VerifyRecoverySymbol(fx.p, &fx.enc.Metadata, codec.AxisSecondary, int(s.Proof.LeafIndex%10), &s)
	})
}

func FuzzUnmarshalMerkleProofBCS(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.sym.Proof.MarshalBCS())
	f.Add([]byte{2, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pr, err := codec.UnmarshalMerkleProofBCS(b)
		if err != nil {
			return
		}
		if !bytes.Equal(pr.MarshalBCS(), b) {
			t.Fatal("not canonical")
		}
		_ = pr.Verify(fx.enc.Metadata.PrimaryHash(3), fx.p.N, fx.sym.Data)
	})
}

func FuzzUnmarshalInconsistencyProofBCS(f *testing.F) {
	fx := newFuzzFixture(f)
	f.Add(fx.ip.MarshalBCS())
	f.Add([]byte{5, 0, 0})
	f.Add([]byte{5, 0, 1, 3, 0, 2, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ip, err := codec.UnmarshalInconsistencyProofBCS(fx.p, codec.AxisSecondary, b)
		if err != nil {
			return
		}
		if !bytes.Equal(ip.MarshalBCS(), b) {
			t.Fatal("not canonical")
		}
		_ = codec.VerifyInconsistencyProof(fx.p, &fx.bad, &ip)
	})
}
