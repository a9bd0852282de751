package codec_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// TestDecodePrimaryVerified checks the read path's single-verification decode: with
// slivers that passed VerifySliver it returns the blob, from systematic and from repair
// sets alike, and it still runs the shape checks and the default consistency check.
func TestDecodePrimaryVerified(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	p, err := codec.NewParams(10)
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(rng, 5000)
	enc := mustEncode(t, p, data)
	for _, sl := range enc.Primary {
		if err := codec.VerifySliver(p, &enc.Metadata, &sl); err != nil {
			t.Fatalf("sliver %d: %v", sl.Index, err)
		}
	}
	// Systematic slivers, then a set that needs reconstruction (skips sliver 0).
	for _, set := range [][]codec.Sliver{enc.Primary[:p.R], enc.Primary[1 : p.R+1]} {
		got, err := codec.DecodePrimaryVerified(p, &enc.Metadata, set)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("decoded other bytes from slivers %d..", set[0].Index)
		}
	}
	// A sliver of the wrong symbol size is refused even when vouched for.
	bad := append([]codec.Sliver(nil), enc.Primary[:p.R]...)
	bad[0].SymbolSize += 2
	bad[0].Data = make([]byte, p.C*int(bad[0].SymbolSize))
	if _, err := codec.DecodePrimaryVerified(p, &enc.Metadata, bad); !errors.Is(err, codec.ErrBadSliver) {
		t.Fatalf("wrong symbol size: got %v, want ErrBadSliver", err)
	}
	// Too few slivers is ErrNotEnoughSlivers.
	if _, err := codec.DecodePrimaryVerified(p, &enc.Metadata, enc.Primary[:p.R-1]); !errors.Is(err, codec.ErrNotEnoughSlivers) {
		t.Fatalf("R-1 slivers: got %v, want ErrNotEnoughSlivers", err)
	}
	// The consistency check still runs: a repair set whose decode does not re-derive the
	// committed systematic hashes (metadata for another blob) is ErrInconsistentBlob.
	other := mustEncode(t, p, randBytes(rng, 5000))
	if _, err := codec.DecodePrimaryVerified(p, &other.Metadata, enc.Primary[1:p.R+1]); !errors.Is(err, codec.ErrInconsistentBlob) {
		t.Fatalf("mismatched metadata: got %v, want ErrInconsistentBlob", err)
	}
}
