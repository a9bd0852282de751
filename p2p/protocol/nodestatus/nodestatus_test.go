package nodestatus

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/internal/wire"
)

func sample() Status {
	return Status{Version: Version, Epoch: 7, Height: 1 << 40, ShardsHeld: 250, BlobsHeld: 12345, BlobsCapped: true,
		SyncBacklog: 3, RecoveredSlivers: 500, RecoveredBytes: 1 << 33, LastScrubUnixMs: 1_700_000_000_123,
		ScrubChecked: 99, BytesStored: 1 << 45, GCBlobs: 4, GCBytes: 1 << 20, SliversHeld: 6000, SliverBytesHeld: 1 << 36,
		Member: true, ChangeEpoch: 6, ShardsSyncing: 14, ShardsSynced: 30, ShardsRecovered: 2, MovedBytes: 1 << 30, ReleasedPairs: 77,
		SliversToRecover: 1 << 35, ToRecoverCapped: true}
}

// sampleV3 is sample in version 3, which carries no slivers to recover.
func sampleV3() Status {
	s := sample()
	s.Version, s.SliversToRecover, s.ToRecoverCapped = VersionV3, 0, false
	return s
}

// sampleV2 is sample in version 2, which carries no epoch change nor membership.
func sampleV2() Status {
	s := sampleV3()
	s.Version, s.Member, s.ChangeEpoch, s.ShardsSyncing, s.ShardsSynced, s.ShardsRecovered, s.MovedBytes, s.ReleasedPairs =
		VersionV2, false, 0, 0, 0, 0, 0, 0
	return s
}

// sampleV1 is sample in version 1, which carries no slivers held either.
func sampleV1() Status {
	s := sampleV2()
	s.Version, s.SliversHeld, s.SliverBytesHeld = VersionV1, 0, 0
	return s
}

func TestRoundTrip(t *testing.T) {
	for _, s := range []Status{{Version: Version}, {Version: VersionV1}, {Version: VersionV2}, {Version: VersionV3}, sample(), sampleV3(), sampleV2(), sampleV1(),
		{Version: Version, LastScrubUnixMs: math.MaxInt64, BlobsHeld: math.MaxUint64, ShardsHeld: math.MaxUint16, SliverBytesHeld: math.MaxUint64}} {
		b := s.Encode()
		want := map[uint8]int{VersionV1: ResponseLenV1, VersionV2: ResponseLenV2, VersionV3: ResponseLenV3, Version: ResponseLen}[s.Version]
		if len(b) != want || b[0] != s.Version {
			t.Fatalf("encoded %d bytes of version %d, want %d of %d", len(b), b[0], want, s.Version)
		}
		got, err := Decode(b)
		if err != nil || got != s {
			t.Fatalf("Decode(Encode(%+v)) = %+v, %v", s, got, err)
		}
	}
	// Version 0 encodes as the newest; version 1 drops the slivers held.
	if got, err := Decode(Status{SliversHeld: 2}.Encode()); err != nil || got.Version != Version || got.SliversHeld != 2 {
		t.Errorf("zero version: %+v, %v", got, err)
	}
	v1 := sample()
	v1.Version = VersionV1
	if got, err := Decode(v1.Encode()); err != nil || got != sampleV1() {
		t.Errorf("version 1 of sample: %+v, %v", got, err)
	}
	v2 := sample()
	v2.Version = VersionV2
	if got, err := Decode(v2.Encode()); err != nil || got != sampleV2() {
		t.Errorf("version 2 of sample: %+v, %v", got, err)
	}
	v3 := sample()
	v3.Version = VersionV3
	if got, err := Decode(v3.Encode()); err != nil || got != sampleV3() {
		t.Errorf("version 3 of sample: %+v, %v", got, err)
	}
	for _, c := range []struct {
		req  []byte
		want uint8
	}{{nil, VersionV1}, {[]byte{1}, VersionV1}, {[]byte{2}, VersionV2}, {[]byte{3}, VersionV3}, {EncodeRequest(), Version}} {
		if v, err := DecodeRequest(c.req); err != nil || v != c.want {
			t.Errorf("request %x: version %d, %v; want %d", c.req, v, err, c.want)
		}
	}
	neg := Status{LastScrubUnixMs: -5}
	if got, err := Decode(neg.Encode()); err != nil || got.LastScrubUnixMs != 0 {
		t.Errorf("negative last scrub: %+v, %v", got, err)
	}
}

func TestRefusals(t *testing.T) {
	refuse := func(what string, m []byte) {
		t.Helper()
		_, err := Decode(m)
		if !errors.Is(err, ErrMalformed) || !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", what, err)
		}
	}
	for _, b := range [][]byte{sample().Encode(), sampleV3().Encode(), sampleV2().Encode(), sampleV1().Encode()} {
		for n := 0; n < len(b); n++ {
			refuse("truncated", b[:n])
		}
		refuse("trailing byte", append(b[:len(b):len(b)], 0))
		bad := append([]byte(nil), b...)
		bad[1] = 8
		refuse("unknown flag", bad)
		if b[0] < VersionV3 {
			bad[1] = FlagMember
			refuse("membership flag before version 3", bad)
		}
		if b[0] < Version {
			bad[1] = FlagToRecoverCapped
			refuse("to-recover flag before version 4", bad)
		}
		bad = append([]byte(nil), b...)
		scrubAt := 1 + 1 + 4 + 8 + 2 + 4*8
		bad[scrubAt+7] = 0x80
		refuse("last scrub over int64", bad)
		for _, v := range []byte{0, 5, 255} {
			bad = append([]byte(nil), b...)
			bad[0] = v
			refuse("unknown version", bad)
		}
	}
	// A version byte that does not match the length: each layout is exactly its own length.
	for _, m := range []Status{sample(), sampleV3(), sampleV2(), sampleV1()} {
		for _, v := range []uint8{VersionV1, VersionV2, VersionV3, Version} {
			if v == m.Version {
				continue
			}
			b := m.Encode()
			b[0] = v
			b[1] &^= FlagMember | FlagToRecoverCapped
			refuse(fmt.Sprintf("version %d at version %d's length", v, m.Version), b)
		}
	}
	for _, req := range [][]byte{{0}, {5}, {1, 0}, {2, 2}} {
		if _, err := DecodeRequest(req); !errors.Is(err, ErrMalformed) {
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
	valid := [][]byte{sample().Encode(), sampleV3().Encode(), sampleV2().Encode(), sampleV1().Encode()}
	for i := 0; i < 20000; i++ {
		var b []byte
		if i%2 == 0 {
			b = make([]byte, rng.IntN(2*ResponseLen))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
		} else { // mutate a valid message: most stay the right length
			b = append([]byte(nil), valid[i/2%len(valid)]...)
			for k := rng.IntN(4); k >= 0; k-- {
				b[rng.IntN(len(b))] = byte(rng.Uint32())
			}
		}
		if s, err := Decode(b); err == nil && string(s.Encode()) != string(b) {
			t.Fatalf("%x decodes but does not round-trip", b)
		} else if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("%x: %v outside the ErrMalformed family", b, err)
		}
		_, _ = DecodeRequest(b)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(sample().Encode())
	f.Add(sampleV1().Encode())
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if s, err := Decode(b); err == nil && string(s.Encode()) != string(b) {
			t.Fatalf("does not round-trip")
		}
		_, _ = DecodeRequest(b)
	})
}
