package codec_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// Every single flipped byte of a sliver, a recovery symbol, a proof or the metadata must be
// rejected. Exhaustive over bytes at n=7 and n=10 (one high-rate, one low-rate primary axis).
func TestSingleByteFlipsAreRejected(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{7, 10} {
		p := codec.MustParams(n)
		data := randBytes(rng, p.R*p.C*4+3)
		enc := mustEncode(t, p, data)
		m := &enc.Metadata

		// Slivers: flip every byte of the data of one primary and one secondary sliver.
		for _, sl := range []codec.Sliver{enc.Primary[n-1], enc.Secondary[1]} {
			for i := range sl.Data {
				bad := sl
				bad.Data = bytes.Clone(sl.Data)
				bad.Data[i] ^= 0x40
				if err := codec.VerifySliver(p, m, &bad); !errors.Is(err, codec.ErrSliverHashMismatch) {
					t.Fatalf("n=%d %s sliver byte %d flipped: %v", n, sl.Axis, i, err)
				}
			}
			// The BCS form: every flip either fails to parse or fails verification.
			b := sl.MarshalBCS()
			for i := range b {
				bb := bytes.Clone(b)
				bb[i] ^= 0x01
				got, err := codec.UnmarshalSliverBCS(p, sl.Axis, bb)
				if err == nil && got.Index == sl.Index {
					err = codec.VerifySliver(p, m, &got)
				} else if err == nil {
					// A flipped index byte names a different sliver, which must not verify
					// as that one either.
					err = codec.VerifySliver(p, m, &got)
				}
				if err == nil {
					t.Fatalf("n=%d %s sliver BCS byte %d flipped still verifies", n, sl.Axis, i)
				}
			}
		}

		// Metadata BCS: every flip fails to parse or changes the blob ID.
		mb := m.MarshalBCS()
		for i := range mb {
			bb := bytes.Clone(mb)
			bb[i] ^= 0x01
			got, err := codec.UnmarshalMetadataBCS(p, bb)
			if err == nil {
				err = codec.VerifyMetadata(p, enc.BlobID, &got)
			}
			if err == nil {
				t.Fatalf("n=%d metadata byte %d flipped still verifies", n, i)
			}
		}

		// Recovery symbols and their proofs.
		x, err := codec.ExpandSliver(p, &enc.Primary[2])
		if err != nil {
			t.Fatal(err)
		}
		sym, err := x.RecoverySymbol(n - 2)
		if err != nil {
			t.Fatal(err)
		}
		if err := codec.VerifyRecoverySymbol(p, m, codec.AxisSecondary, n-2, &sym); err != nil {
			t.Fatal(err)
		}
		sb := sym.MarshalBCS()
		for i := range sb {
			bb := bytes.Clone(sb)
			bb[i] ^= 0x01
			got, err := codec.UnmarshalRecoverySymbolBCS(p, codec.AxisSecondary, bb)
			if err == nil {
				err = codec.VerifyRecoverySymbol(p, m, codec.AxisSecondary, n-2, &got)
			}
			if err == nil {
				t.Fatalf("n=%d recovery symbol byte %d flipped still verifies", n, i)
			}
		}
		// The same symbol offered for another target or axis is rejected.
		if err := codec.VerifyRecoverySymbol(p, m, codec.AxisSecondary, n-3, &sym); !errors.Is(err, codec.ErrBadSymbol) {
			t.Fatalf("wrong target accepted: %v", err)
		}
		if err := codec.VerifyRecoverySymbol(p, m, codec.AxisPrimary, n-2, &sym); !errors.Is(err, codec.ErrBadSymbol) {
			t.Fatalf("wrong axis accepted: %v", err)
		}
	}
}

func TestBCSRoundTrips(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{4, 10, 100} {
		p := codec.MustParams(n)
		enc := mustEncode(t, p, randBytes(rng, p.R*p.C*2+1))
		m2, err := codec.UnmarshalMetadataBCS(p, enc.Metadata.MarshalBCS())
		if err != nil {
			t.Fatal(err)
		}
		if m2.BlobID() != enc.BlobID || !bytes.Equal(m2.MarshalBCS(), enc.Metadata.MarshalBCS()) {
			t.Fatal("metadata round trip")
		}
		for _, sl := range []codec.Sliver{enc.Primary[0], enc.Secondary[n-1]} {
			got, err := codec.UnmarshalSliverBCS(p, sl.Axis, sl.MarshalBCS())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.MarshalBCS(), sl.MarshalBCS()) || got.Index != sl.Index || got.SymbolSize != sl.SymbolSize {
				t.Fatal("sliver round trip")
			}
			// The other axis has a different length: strictly rejected.
			if _, err := codec.UnmarshalSliverBCS(p, sl.Axis.Other(), sl.MarshalBCS()); !errors.Is(err, codec.ErrBadSliver) {
				t.Fatalf("sliver of the wrong axis accepted: %v", err)
			}
			// UnmarshalSliverBCS copies, ParseSliverBCS aliases its input, capped so an
			// append to Data cannot write into the bytes after it.
			raw := sl.MarshalBCS()
			cp, err1 := codec.UnmarshalSliverBCS(p, sl.Axis, raw)
			al, err2 := codec.ParseSliverBCS(p, sl.Axis, raw)
			if err1 != nil || err2 != nil || !bytes.Equal(al.MarshalBCS(), raw) {
				t.Fatalf("parse: %v, %v", err1, err2)
			}
			raw[len(raw)-5-len(sl.Data)/2] ^= 1 // a byte in the middle of Data
			if !bytes.Equal(cp.Data, sl.Data) || bytes.Equal(al.Data, sl.Data) {
				t.Fatal("UnmarshalSliverBCS must copy, ParseSliverBCS must alias")
			}
			if cap(al.Data) != len(al.Data) {
				t.Fatalf("parsed Data has spare capacity %d into the input", cap(al.Data)-len(al.Data))
			}
			if _, err := codec.ParseSliverBCS(p, sl.Axis.Other(), raw); !errors.Is(err, codec.ErrBadSliver) {
				t.Fatalf("parse: sliver of the wrong axis accepted: %v", err)
			}
		}
		x, err := codec.ExpandSliver(p, &enc.Secondary[n/2])
		if err != nil {
			t.Fatal(err)
		}
		if x.Root() != enc.Metadata.SecondaryHash(n/2) {
			t.Fatal("expanded root differs from the committed hash")
		}
		sym, err := x.RecoverySymbol(n - 1)
		if err != nil {
			t.Fatal(err)
		}
		got, err := codec.UnmarshalRecoverySymbolBCS(p, codec.AxisPrimary, sym.MarshalBCS())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.MarshalBCS(), sym.MarshalBCS()) || got.Target != codec.AxisPrimary {
			t.Fatal("symbol round trip")
		}
		pr, err := codec.UnmarshalMerkleProofBCS(sym.Proof.MarshalBCS())
		if err != nil || !bytes.Equal(pr.MarshalBCS(), sym.Proof.MarshalBCS()) {
			t.Fatalf("proof round trip: %v", err)
		}
		// Trailing bytes are rejected everywhere.
		if _, err := codec.UnmarshalMetadataBCS(p, append(enc.Metadata.MarshalBCS(), 0)); !errors.Is(err, codec.ErrMalformed) {
			t.Fatalf("trailing byte accepted: %v", err)
		}
		if _, err := codec.UnmarshalMerkleProofBCS(append(sym.Proof.MarshalBCS(), 0)); !errors.Is(err, codec.ErrMalformed) {
			t.Fatalf("trailing byte accepted: %v", err)
		}
	}
}

// An inconsistently encoded blob: one sliver's data altered before hashing. Recovering it from
// honest symbols must yield an inconsistency proof that verifies, survives BCS, and a proof
// over a consistent sliver must never verify.
func TestInconsistencyProofs(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{4, 10, 13, 100} {
		p := codec.MustParams(n)
		data := randBytes(rng, p.R*p.C*2+7)
		enc := mustEncode(t, p, data)
		for _, target := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
			victim := rng.IntN(n)
			// A malicious writer commits to a tampered sliver: the metadata carries the hash
			// of the altered data, while every other sliver is honest.
			bad := codec.Metadata{EncodingType: enc.Metadata.EncodingType, UnencodedLength: enc.Metadata.UnencodedLength,
				Hashes: append([]codec.SliverPairHashes(nil), enc.Metadata.Hashes...)}
			var tampered codec.Sliver
			if target == codec.AxisPrimary {
				tampered = enc.Primary[victim]
			} else {
				tampered = enc.Secondary[victim]
			}
			tampered.Data = bytes.Clone(tampered.Data)
			tampered.Data[rng.IntN(len(tampered.Data))] ^= 0x80
			h, err := codec.SliverHash(p, &tampered)
			if err != nil {
				t.Fatal(err)
			}
			if target == codec.AxisPrimary {
				bad.Hashes[victim].Primary = h
			} else {
				bad.Hashes[n-1-victim].Secondary = h
			}
			// Honest holders of the other axis serve symbols for the victim.
			var syms []codec.RecoverySymbol
			for i := range n {
				src := &enc.Primary[i]
				if target == codec.AxisPrimary {
					src = &enc.Secondary[i]
				}
				x, err := codec.ExpandSliver(p, src)
				if err != nil {
					t.Fatal(err)
				}
				sym, err := x.RecoverySymbol(victim)
				if err != nil {
					t.Fatal(err)
				}
				syms = append(syms, sym)
			}
			_, proof, err := codec.RecoverSliver(p, &bad, target, victim, syms)
			if !errors.Is(err, codec.ErrInconsistentBlob) || proof == nil {
				t.Fatalf("n=%d %s %d: want inconsistency, got %v", n, target, victim, err)
			}
			if err := codec.VerifyInconsistencyProof(p, &bad, proof); err != nil {
				t.Fatalf("n=%d: valid proof rejected: %v", n, err)
			}
			rt, err := codec.UnmarshalInconsistencyProofBCS(p, target, proof.MarshalBCS())
			if err != nil {
				t.Fatal(err)
			}
			if err := codec.VerifyInconsistencyProof(p, &bad, &rt); err != nil {
				t.Fatalf("n=%d: round-tripped proof rejected: %v", n, err)
			}
			// The same symbols against honest metadata prove nothing.
			if err := codec.VerifyInconsistencyProof(p, &enc.Metadata, proof); !errors.Is(err, codec.ErrProofNotInconsistent) && !errors.Is(err, codec.ErrBadInconsistencyProof) {
				t.Fatalf("n=%d: proof against consistent metadata: %v", n, err)
			}
			// A proof over a consistent sliver (another index) never verifies.
			other := (victim + 1) % n
			var good []codec.RecoverySymbol
			for i := range n {
				src := &enc.Primary[i]
				if target == codec.AxisPrimary {
					src = &enc.Secondary[i]
				}
				x, _ := codec.ExpandSliver(p, src)
				sym, _ := x.RecoverySymbol(other)
				good = append(good, sym)
			}
			sl, proof2, err := codec.RecoverSliver(p, &bad, target, other, good)
			if err != nil || proof2 != nil || sl == nil {
				t.Fatalf("n=%d: consistent sliver: %v", n, err)
			}
			fake := codec.InconsistencyProof{Target: target, TargetIndex: uint16(other), Symbols: proof.Symbols}
			if err := codec.VerifyInconsistencyProof(p, &bad, &fake); err == nil {
				t.Fatal("proof with symbols for another target verified")
			}
			// Wrong symbol count.
			short := *proof
			short.Symbols = short.Symbols[1:]
			if err := codec.VerifyInconsistencyProof(p, &bad, &short); !errors.Is(err, codec.ErrBadInconsistencyProof) {
				t.Fatalf("short proof: %v", err)
			}
			// Reading the tampered blob fails the same way for every reader: the decoded
			// blob is the honest one, whose systematic slivers do not all match.
			if target == codec.AxisPrimary && victim < p.R {
				var sl []codec.Sliver
				for i := range n {
					if i != victim {
						sl = append(sl, enc.Primary[i])
					}
				}
				if _, err := codec.DecodePrimary(p, &bad, sl); !errors.Is(err, codec.ErrInconsistentBlob) {
					t.Fatalf("n=%d: decode of inconsistent blob: %v", n, err)
				}
			}
		}
	}
}

func TestCheckConsistency(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	p := codec.MustParams(10)
	data := randBytes(rng, 500)
	enc := mustEncode(t, p, data)
	for _, strict := range []bool{false, true} {
		if err := codec.CheckConsistency(p, &enc.Metadata, data, strict); err != nil {
			t.Fatalf("strict=%v: %v", strict, err)
		}
		other := bytes.Clone(data)
		other[0] ^= 1
		if err := codec.CheckConsistency(p, &enc.Metadata, other, strict); !errors.Is(err, codec.ErrInconsistentBlob) {
			t.Fatalf("strict=%v: altered blob: %v", strict, err)
		}
	}
}
