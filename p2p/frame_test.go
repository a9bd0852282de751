package p2p_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand"
	"testing"

	"github.com/walrus-go/walrus-go/p2p"
)

func TestFrameRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var buf bytes.Buffer
	var want [][]byte
	for _, n := range []int{0, 1, 127, 128, 4096, 4097, 200_000} {
		b := make([]byte, n)
		rng.Read(b)
		want = append(want, b)
		if err := p2p.WriteFrame(&buf, b); err != nil {
			t.Fatal(err)
		}
	}
	for i, w := range want {
		got, err := p2p.ReadFrame(&buf, 200_000)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, w) {
			t.Fatalf("frame %d differs", i)
		}
	}
	if _, err := p2p.ReadFrame(&buf, 10); !errors.Is(err, io.EOF) {
		t.Fatalf("read past the last frame: %v, want io.EOF", err)
	}
	if got := p2p.AppendFrame([]byte{9}, []byte("abc")); !bytes.Equal(got, []byte{9, 3, 'a', 'b', 'c'}) {
		t.Fatalf("AppendFrame = %v", got)
	}
}

func TestFrameErrors(t *testing.T) {
	over := binary.AppendUvarint(nil, 1001)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"oversize", append(over, make([]byte, 1001)...), p2p.ErrFrameTooLarge},
		{"huge length", binary.AppendUvarint(nil, 1<<62), p2p.ErrFrameTooLarge},
		{"endless continuation", bytes.Repeat([]byte{0x80}, 20), p2p.ErrMalformedFrame},
		{"truncated length", []byte{0x80}, p2p.ErrTruncatedFrame},
		{"truncated body", append(binary.AppendUvarint(nil, 10), 1, 2, 3), p2p.ErrTruncatedFrame},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bytes.NewReader(tc.in)
			_, err := p2p.ReadFrame(r, 1000)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == p2p.ErrFrameTooLarge && r.Len() < len(tc.in)-binary.MaxVarintLen64 {
				t.Fatalf("read %d bytes past an oversize length prefix", len(tc.in)-r.Len())
			}
		})
	}
}

// FuzzReadFrame: arbitrary bytes never panic, never yield more than the cap, and a
// decoded body is exactly the bytes that follow the length prefix.
func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{3, 'a', 'b', 'c'})
	f.Add([]byte{0x80, 0x80, 0x01})
	f.Add(bytes.Repeat([]byte{0xff}, 11))
	f.Fuzz(func(t *testing.T, in []byte) {
		const limit = 1 << 10
		r := bytes.NewReader(in)
		body, err := p2p.ReadFrame(r, limit)
		if err != nil {
			return
		}
		if len(body) > limit {
			t.Fatalf("body of %d bytes over cap", len(body))
		}
		end := len(in) - r.Len()
		if !bytes.Equal(in[end-len(body):end], body) {
			t.Fatalf("body is not the bytes after the prefix")
		}
		n, _ := p2p.ReadFrameLength(bytes.NewReader(in), limit)
		if n != len(body) {
			t.Fatalf("length %d, body %d", n, len(body))
		}
	})
}
