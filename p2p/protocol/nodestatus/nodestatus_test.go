package nodestatus

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/internal/wire"
)

func sample() Status {
	return Status{Epoch: 7, Height: 1 << 40, ShardsHeld: 250, BlobsHeld: 12345, BlobsCapped: true,
		SyncBacklog: 3, RecoveredSlivers: 500, RecoveredBytes: 1 << 33, LastScrubUnixMs: 1_700_000_000_123,
		ScrubChecked: 99, BytesStored: 1 << 45, GCBlobs: 4, GCBytes: 1 << 20}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []Status{{}, sample(), {LastScrubUnixMs: math.MaxInt64, BlobsHeld: math.MaxUint64, ShardsHeld: math.MaxUint16}} {
		b := s.Encode()
		if len(b) != ResponseLen {
			t.Fatalf("encoded %d bytes, want %d", len(b), ResponseLen)
		}
		got, err := Decode(b)
		if err != nil || got != s {
			t.Fatalf("Decode(Encode(%+v)) = %+v, %v", s, got, err)
		}
	}
	if err := DecodeRequest(nil); err != nil {
		t.Errorf("empty request: %v", err)
	}
	if err := DecodeRequest(EncodeRequest()); err != nil {
		t.Errorf("version request: %v", err)
	}
	neg := Status{LastScrubUnixMs: -5}
	if got, err := Decode(neg.Encode()); err != nil || got.LastScrubUnixMs != 0 {
		t.Errorf("negative last scrub: %+v, %v", got, err)
	}
}

func TestRefusals(t *testing.T) {
	b := sample().Encode()
	refuse := func(what string, m []byte) {
		t.Helper()
		_, err := Decode(m)
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", what, err)
		}
	}
	for n := 0; n < len(b); n++ {
		refuse("truncated", b[:n])
	}
	refuse("trailing byte", append(b[:len(b):len(b)], 0))
	bad := append([]byte(nil), b...)
	bad[0] = 2
	refuse("version 2", bad)
	bad = append([]byte(nil), b...)
	bad[1] = 2
	refuse("unknown flag", bad)
	bad = append([]byte(nil), b...)
	scrubAt := 1 + 1 + 4 + 8 + 2 + 4*8
	bad[scrubAt+7] = 0x80
	refuse("last scrub over int64", bad)
	for _, req := range [][]byte{{0}, {2}, {1, 0}} {
		if err := DecodeRequest(req); !errors.Is(err, ErrMalformed) {
			t.Errorf("request %x: %v", req, err)
		}
	}
	if Spec.MaxRequest != 1 || Spec.MaxResponse != ResponseLen || Spec.Validate() != nil {
		t.Errorf("spec %+v", Spec)
	}
}

// Random bytes never panic a decoder, and whatever decodes re-encodes to the same bytes.
func TestRandomBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	valid := sample().Encode()
	for i := 0; i < 20000; i++ {
		var b []byte
		if i%2 == 0 {
			b = make([]byte, rng.IntN(2*ResponseLen))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		} else { // mutate a valid message: most stay the right length
			b = append([]byte(nil), valid...)
			for k := rng.IntN(4); k >= 0; k-- {
				b[rng.IntN(len(b))] = byte(rng.Uint32())
			}
		}
		if s, err := Decode(b); err == nil && string(s.Encode()) != string(b) {
			t.Fatalf("%x decodes but does not round-trip", b)
		} else if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("%x: %v outside the ErrMalformed family", b, err)
		}
		_ = DecodeRequest(b)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(sample().Encode())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := Decode(b); err == nil && string(s.Encode()) != string(b) {
			t.Fatalf("does not round-trip")
		}
		_ = DecodeRequest(b)
	})
}
