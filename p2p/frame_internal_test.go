package p2p

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"testing"
)

// fakeScope grants reservations up to limit and records what is held.
type fakeScope struct {
	limit, held, peak int
	prio              uint8
}

func (f *fakeScope) ReserveMemory(size int, prio uint8) error {
	f.prio = prio
	if f.held+size > f.limit {
		return errors.New("over limit")
	}
	f.held += size
	f.peak = max(f.peak, f.held)
	return nil
}

func (f *fakeScope) ReleaseMemory(size int) { f.held -= size }

// TestReadStreamFrame: a large frame the scope grants is reserved whole once its first
// part has arrived (and read into one allocation), and the reservation is returned by
// release; one the scope refuses fails with ErrFrameRefused; small frames never reserve; a
// truncated frame returns its reservation.
func TestReadStreamFrame(t *testing.T) {
	body := make([]byte, 3<<20)
	rand.New(rand.NewSource(1)).Read(body)
	var frame bytes.Buffer
	if err := WriteFrame(&frame, body); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		limit      int
		wantExact  bool
		wantPeak   int
		bodyLength int
	}{
		{limit: 8 << 20, wantExact: true, wantPeak: len(body), bodyLength: len(body)},
		{limit: 8 << 20, wantExact: false, wantPeak: 0, bodyLength: 1000},
	} {
		t.Run(fmt.Sprintf("limit=%d/len=%d", tc.limit, tc.bodyLength), func(t *testing.T) {
			var in bytes.Buffer
			if err := WriteFrame(&in, body[:tc.bodyLength]); err != nil {
				t.Fatal(err)
			}
			sc := &fakeScope{limit: tc.limit}
			got, release, err := readStreamFrame(&in, sc, 4<<20)
			if err != nil || !bytes.Equal(got, body[:tc.bodyLength]) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			if sc.peak != tc.wantPeak {
				t.Errorf("peak reservation %d, want %d", sc.peak, tc.wantPeak)
			}
			if tc.wantExact && sc.prio != streamFramePriority {
				t.Errorf("priority %d", sc.prio)
			}
			release()
			if sc.held != 0 {
				t.Errorf("%d bytes still reserved after release", sc.held)
			}
		})
	}
	// Refused: an error naming the refusal, nothing read past the first part.
	sc := &fakeScope{limit: 1 << 20}
	in := bytes.NewReader(frame.Bytes())
	if got, release, err := readStreamFrame(in, sc, 4<<20); !errors.Is(err, ErrFrameRefused) || got != nil || sc.held != 0 {
		t.Errorf("refused: %d bytes, %v, held %d", len(got), err, sc.held)
	} else {
		release()
	}
	if left, head := in.Len(), len(body)-len(body)/8; left != head {
		t.Errorf("refused: %d bytes left unread, want %d (all but the first eighth)", left, head)
	}
	// Truncated inside a reserved body: error, nothing left reserved.
	sc = &fakeScope{limit: 8 << 20}
	_, release, err := readStreamFrame(bytes.NewReader(frame.Bytes()[:frame.Len()-1]), sc, 4<<20)
	release()
	if !errors.Is(err, ErrTruncatedFrame) || sc.held != 0 || sc.peak != len(body) {
		t.Errorf("truncated: %v, held %d, peak %d", err, sc.held, sc.peak)
	}
	// Truncated before the first eighth arrived: nothing was reserved or allocated whole.
	sc = &fakeScope{limit: 8 << 20}
	cut := frame.Len() - len(body) + len(body)/16
	_, release, err = readStreamFrame(bytes.NewReader(frame.Bytes()[:cut]), sc, 4<<20)
	release()
	if !errors.Is(err, ErrTruncatedFrame) || sc.peak != 0 {
		t.Errorf("truncated early: %v, peak reservation %d (want none)", err, sc.peak)
	}
	// Over the cap: refused before any reservation.
	sc = &fakeScope{limit: 8 << 20}
	if _, _, err := readStreamFrame(bytes.NewReader(frame.Bytes()), sc, 1<<20); !errors.Is(err, ErrFrameTooLarge) || sc.peak != 0 {
		t.Errorf("over cap: %v, peak %d", err, sc.peak)
	}
}

// countingWriter records the size of every Write.
type countingWriter struct {
	bytes.Buffer
	writes []int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	return w.Buffer.Write(p)
}

// TestWriteFrameParts: the frame equals WriteFrame of the joined parts, small parts are
// gathered (one write per large part plus one per run of small ones).
func TestWriteFrameParts(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	part := func(n int) []byte { b := make([]byte, n); rng.Read(b); return b }
	cases := [][][]byte{
		nil,
		{part(0)},
		{part(10), part(20)},
		{part(5), part(100_000), part(9), part(3), part(70_000), part(4)},
		{part(100_000)},
	}
	wantWrites := []int{1, 1, 1, 5, 2}
	for i, parts := range cases {
		var want bytes.Buffer
		if err := WriteFrame(&want, bytes.Join(parts, nil)); err != nil {
			t.Fatal(err)
		}
		var got countingWriter
		if err := WriteFrameParts(&got, parts); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("case %d: frame differs from WriteFrame of the joined parts", i)
		}
		if len(got.writes) != wantWrites[i] {
			t.Errorf("case %d: %d writes %v, want %d", i, len(got.writes), got.writes, wantWrites[i])
		}
	}
}

// FuzzReadStreamFrame: for frames of any size (up to 512 KiB, so both the plain and the
// reserved path run), cut anywhere, with the scope granting or refusing, readStreamFrame
// returns exactly what ReadFrame returns, except that a frame past the plain size the scope
// refuses fails with ErrFrameRefused, and it holds no reservation after release.
func FuzzReadStreamFrame(f *testing.F) {
	f.Add(uint32(100), uint32(0), true)
	f.Add(uint32(300_000), uint32(1<<31), true)
	f.Add(uint32(300_000), uint32(200_000), true)
	f.Add(uint32(300_000), uint32(10_000), false)
	f.Fuzz(func(t *testing.T, size, cut uint32, grant bool) {
		body := make([]byte, size%(512<<10))
		for i := range body {
			body[i] = byte(i * 7)
		}
		var frame bytes.Buffer
		if err := WriteFrame(&frame, body); err != nil {
			t.Fatal(err)
		}
		in := frame.Bytes()[:min(int(cut), frame.Len())]
		want, werr := ReadFrame(bytes.NewReader(in), 1<<20)
		sc := &fakeScope{limit: 1 << 20}
		if !grant {
			sc.limit = 0
		}
		got, release, gerr := readStreamFrame(bytes.NewReader(in), sc, 1<<20)
		release()
		if errors.Is(gerr, ErrFrameRefused) {
			if grant || len(body) <= initialFrameAlloc || got != nil {
				t.Fatalf("%d-byte frame refused (grant %v), %d bytes returned", len(body), grant, len(got))
			}
			return
		}
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("readStreamFrame = %d bytes, %v; ReadFrame = %d bytes, %v", len(got), gerr, len(want), werr)
		}
		if werr != nil && !errors.Is(gerr, ErrTruncatedFrame) && !errors.Is(gerr, io.EOF) && !errors.Is(gerr, ErrMalformedFrame) {
			t.Fatalf("unexpected error %v (ReadFrame: %v)", gerr, werr)
		}
		if sc.held != 0 {
			t.Fatalf("%d bytes still reserved", sc.held)
		}
	})
}
