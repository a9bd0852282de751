package codec_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// memSlivers is a codec.SliverStore in memory that counts what it holds.
type memSlivers struct {
	mu   sync.Mutex
	data map[int][]byte
	size int
}

func (m *memSlivers) ReadSliverAt(i int, dst []byte, off int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.data[i]
	if !ok || off+len(dst) > len(d) {
		return fmt.Errorf("sliver %d [%d, +%d) not held", i, off, len(dst))
	}
	copy(dst, d[off:])
	return nil
}

func (m *memSlivers) WriteSliverAt(i int, b []byte, off int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data[i] == nil {
		m.data[i] = make([]byte, m.size)
	}
	copy(m.data[i][off:], b)
	return nil
}

// TestDecodePrimaryWindows checks that the windowed decode reconstructs exactly the
// systematic slivers DecodePrimaryVerified does, byte for byte, for windows of one column
// up to the whole sliver, and fails the same way (too few slivers, an inconsistent blob).
func TestDecodePrimaryWindows(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for _, n := range []int{4, 10, 100} {
		p := codec.MustParams(n)
		size := p.R*p.C*70 + 13
		data := randBytes(rng, size)
		enc := mustEncode(t, p, data)
		s := int(enc.SymbolSize)
		sets := map[string][]int{}
		var all, firstMissing, spread []int
		for i := range p.UsablePrimarySlivers() {
			all = append(all, i)
			if i != 0 {
				firstMissing = append(firstMissing, i)
			}
			if i%3 != 1 {
				spread = append(spread, i)
			}
		}
		sets["systematic"] = all[:p.R]
		sets["without row 0"] = firstMissing
		sets["every third missing"] = spread
		sets["recovery first"] = append(append([]int{}, all[p.R:]...), all[:p.R]...)
		for name, have := range sets {
			var slivers []codec.Sliver
			for _, i := range have {
				slivers = append(slivers, enc.Primary[i])
			}
			want, wantErr := codec.DecodePrimaryVerified(p, &enc.Metadata, slivers)
			for _, budget := range []int64{1, codec.DecodeWindowBytes(p, s, p.R, 3), 1 << 40} {
				st := &memSlivers{data: map[int][]byte{}, size: p.C * s}
				for _, i := range have {
					st.data[i] = bytes.Clone(enc.Primary[i].Data)
				}
				rows, err := codec.DecodePrimaryWindows(p, &enc.Metadata, have, st, budget)
				if (err != nil) != (wantErr != nil) {
					t.Fatalf("n=%d %s budget=%d: %v, DecodePrimaryVerified %v", n, name, budget, err, wantErr)
				}
				if err != nil {
					continue
				}
				if name == "systematic" && len(rows) != 0 {
					t.Fatalf("n=%d: decoded %v with every systematic sliver at hand", n, rows)
				}
				var got []byte
				for r := range p.R {
					got = append(got, st.data[r]...)
				}
				if !bytes.Equal(got[:size], want) || !bytes.Equal(want, data) {
					t.Fatalf("n=%d %s budget=%d: decoded blob differs", n, name, budget)
				}
			}
		}
		// Too few.
		st := &memSlivers{data: map[int][]byte{}, size: p.C * s}
		for _, i := range all[1:p.R] {
			st.data[i] = enc.Primary[i].Data
		}
		if _, err := codec.DecodePrimaryWindows(p, &enc.Metadata, all[1:p.R], st, 1<<20); !errors.Is(err, codec.ErrNotEnoughSlivers) {
			t.Fatalf("n=%d, R-1 slivers: %v", n, err)
		}
		// Slivers of this blob against another's metadata (same length): the decode runs
		// and the consistency check fails.
		other := mustEncode(t, p, randBytes(rng, size))
		st = &memSlivers{data: map[int][]byte{}, size: p.C * s}
		for _, i := range firstMissing {
			st.data[i] = bytes.Clone(enc.Primary[i].Data)
		}
		if _, err := codec.DecodePrimaryWindows(p, &other.Metadata, firstMissing, st, 1); !errors.Is(err, codec.ErrInconsistentBlob) {
			t.Fatalf("n=%d, mismatched metadata: %v", n, err)
		}
	}
}
