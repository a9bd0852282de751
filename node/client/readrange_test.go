package client_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

// sliverSpy replaces every member's sliver handler with an honest one (honestGet) that
// records which primary slivers each get asks for. hook, when set, sees every request's
// items before they are sent and may change them, delay them or refuse the request.
type sliverSpy struct {
	mu    sync.Mutex
	asked map[int]int // primary index -> times asked
	hook  func(ctx context.Context, member int, refs []sliver.Ref, items []sliver.ItemResult) ([]sliver.ItemResult, error)
}

func spySlivers(t testing.TB, c *cluster) *sliverSpy {
	t.Helper()
	s := &sliverSpy{asked: map[int]int{}}
	sp := sliver.Spec(c.p)
	for i, nd := range c.nodes {
		if err := p2p.Handle(nd.host, sp, func(ctx context.Context, _ peer.ID, body []byte) ([]byte, error) {
			req, err := sliver.DecodeRequest(c.p, body)
			if err != nil {
				return nil, err
			}
			s.mu.Lock()
			for _, ref := range req.Refs {
				if ref.Axis == codec.AxisPrimary {
					s.asked[int(ref.Index)]++
				}
			}
			hook := s.hook
			s.mu.Unlock()
			items, err := honestGet(ctx, c, nd, body)
			if err != nil {
				return nil, err
			}
			if hook != nil {
				if items, err = hook(ctx, i, req.Refs, items); err != nil {
					return nil, err
				}
			}
			return sliver.EncodeItemResults(items), nil
		}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// reset forgets what was asked and sets the hook.
func (s *sliverSpy) reset(hook func(context.Context, int, []sliver.Ref, []sliver.ItemResult) ([]sliver.ItemResult, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked, s.hook = map[int]int{}, hook
}

// askedIndices returns the primary indices asked for, ascending, and whether any was
// asked more than once.
func (s *sliverSpy) askedIndices() (idx []int, repeated bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, n := range s.asked {
		idx = append(idx, i)
		repeated = repeated || n > 1
	}
	slices.Sort(idx)
	return idx, repeated
}

func span(first, end int) []int {
	var out []int
	for i := first; i < end; i++ {
		out = append(out, i)
	}
	return out
}

// rowBytes is the blob bytes per primary sliver for a blob of size bytes.
func rowBytes(t testing.TB, p codec.Params, size int) int {
	t.Helper()
	s, err := p.SymbolSize(uint64(size))
	if err != nil {
		t.Fatal(err)
	}
	return p.C * s
}

// TestReadRange: ranges at the edges of a blob and of its rows return the blob's bytes
// and fetch exactly the systematic primary slivers whose rows hold them, each once;
// ranges outside the blob are *RangeError (ErrRangeNotSatisfiable) with the blob's
// length, and fetch no sliver.
func TestReadRange(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	// No hedge: a loaded machine must not make a read ask anyone else.
	c := newCluster(t, []int{4, 3, 2, 1}, 21, func(cfg *client.Config) { cfg.HedgeDelay = time.Minute })
	const L = 300_000 // n = 10: 4 rows of 75,012 bytes, the last one 48 bytes short
	data := randomBlob(L, 21)
	enc := c.storeAll(ctx, data)
	tiny := []byte("thirty bytes, three rows of 14") // s = 2: rows of 14 bytes, the 4th all padding
	encTiny := c.storeAll(ctx, tiny)
	spy := spySlivers(t, c)
	row := rowBytes(t, c.p, L)
	if row != 75_012 || L > c.p.R*row || L <= (c.p.R-1)*row {
		t.Fatalf("fixture: rows of %d bytes", row)
	}
	for _, tc := range []struct {
		name   string
		id     codec.BlobID
		blob   []byte
		off, n int64
		rows   []int // slivers to fetch
	}{
		{"first byte", enc.BlobID, data, 0, 1, []int{0}},
		{"last byte", enc.BlobID, data, L - 1, 1, []int{3}},
		{"first row", enc.BlobID, data, 0, int64(row), []int{0}},
		{"second row exactly", enc.BlobID, data, int64(row), int64(row), []int{1}},
		{"across one row boundary", enc.BlobID, data, int64(row) - 5, 10, []int{0, 1}},
		{"last byte of a row", enc.BlobID, data, 2*int64(row) - 1, 1, []int{1}},
		{"first byte of a row", enc.BlobID, data, 2 * int64(row), 1, []int{2}},
		{"three rows", enc.BlobID, data, int64(row) - 1, int64(row) + 2, []int{0, 1, 2}},
		{"tail into the padded row", enc.BlobID, data, 3*int64(row) - 7, L - 3*int64(row) + 7, []int{2, 3}},
		{"whole blob", enc.BlobID, data, 0, L, span(0, 4)},
		{"empty at 0", enc.BlobID, data, 0, 0, nil},
		{"empty at the end", enc.BlobID, data, L, 0, nil},
		{"tiny whole (padding row not fetched)", encTiny.BlobID, tiny, 0, 30, span(0, 3)},
		{"tiny last byte", encTiny.BlobID, tiny, 29, 1, []int{2}},
	} {
		spy.reset(nil)
		got, err := c.client.ReadRange(ctx, c.com(), tc.id, tc.off, tc.n)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(got, tc.blob[tc.off:tc.off+tc.n]) || got == nil {
			t.Fatalf("%s: got %d bytes, not the blob's [%d, +%d)", tc.name, len(got), tc.off, tc.n)
		}
		if asked, rep := spy.askedIndices(); !slices.Equal(asked, tc.rows) || rep {
			t.Fatalf("%s: asked for slivers %v (repeats: %v), want %v", tc.name, asked, rep, tc.rows)
		}
	}
	for _, tc := range []struct {
		name   string
		off, n int64
	}{
		{"past the end", L, 1},
		{"one byte too many", 0, L + 1},
		{"offset past the end", L + 1, 0},
		{"negative offset", -1, 1},
		{"negative length", 0, -1},
		{"overflowing", 1, math.MaxInt64},
		{"far offset", math.MaxInt64, 1},
	} {
		spy.reset(nil)
		_, err := c.client.ReadRange(ctx, c.com(), enc.BlobID, tc.off, tc.n)
		var re *client.RangeError
		if !errors.Is(err, client.ErrRangeNotSatisfiable) || !errors.As(err, &re) || re.Length != L {
			t.Fatalf("%s: %v, want a RangeError of a %d-byte blob", tc.name, err, L)
		}
		if asked, _ := spy.askedIndices(); len(asked) != 0 {
			t.Fatalf("%s: asked for slivers %v", tc.name, asked)
		}
	}
	// The metadata can come from the caller: nothing but the slivers is fetched, and
	// metadata of another blob is refused.
	spy.reset(nil)
	got, err := c.client.ReadRangeWith(ctx, c.com(), enc.BlobID, 10, 20, client.ReadOptions{Metadata: &enc.Metadata})
	if err != nil || !bytes.Equal(got, data[10:30]) {
		t.Fatalf("with the caller's metadata: %v", err)
	}
	if _, err := c.client.ReadRangeWith(ctx, c.com(), enc.BlobID, 0, 1, client.ReadOptions{Metadata: &encTiny.Metadata}); !errors.Is(err, codec.ErrBlobIDMismatch) {
		t.Fatalf("another blob's metadata: %v", err)
	}
}

// TestReadRangeFallback: when the member holding a needed systematic sliver lies about
// it, refuses it, or is down, the range still reads right, through the decode (and the
// log says so); a lie about a sliver outside the range costs nothing.
func TestReadRangeFallback(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	var logs lockedBuffer
	c := newCluster(t, []int{4, 3, 2, 1}, 22, func(cfg *client.Config) {
		cfg.HedgeDelay, cfg.Retries = time.Minute, 1
		cfg.Logger = debugLogger(&logs)
	})
	const L = 300_000
	data := randomBlob(L, 22)
	enc := c.storeAll(ctx, data)
	row := rowBytes(t, c.p, L)
	// A row whose holder has at most f shards: without it a decode still works.
	target := -1
	for r := range c.p.R {
		if c.com().Members[c.com().Owner(c.p.ShardForPair(enc.BlobID, r))].Weight() <= c.p.F {
			target = r
			break
		}
	}
	if target < 0 {
		t.Fatal("fixture: every systematic row is held by the heaviest member")
	}
	holder := c.com().Owner(c.p.ShardForPair(enc.BlobID, target))
	off, n := int64(target*row)+17, int64(min(row, L-target*row-17))
	spy := spySlivers(t, c)
	corrupt := func(_ context.Context, member int, refs []sliver.Ref, items []sliver.ItemResult) ([]sliver.ItemResult, error) {
		for i, ref := range refs {
			if member == holder && ref.Axis == codec.AxisPrimary && len(items[i].Sliver) > 100 {
				items[i].Sliver[len(items[i].Sliver)/2] ^= 0x40 // a sliver that no longer verifies
			}
		}
		return items, nil
	}
	refuse := func(_ context.Context, member int, _ []sliver.Ref, items []sliver.ItemResult) ([]sliver.ItemResult, error) {
		if member == holder {
			return nil, p2p.Errorf(p2p.CodeNotFound, "no such sliver")
		}
		return items, nil
	}
	for _, tc := range []struct {
		name string
		hook func(context.Context, int, []sliver.Ref, []sliver.ItemResult) ([]sliver.ItemResult, error)
	}{{"lying holder", corrupt}, {"refusing holder", refuse}} {
		spy.reset(tc.hook)
		logs.Reset()
		got, err := c.client.ReadRange(ctx, c.com(), enc.BlobID, off, n)
		if err != nil || !bytes.Equal(got, data[off:off+n]) {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !strings.Contains(logs.String(), "read range: falling back to a decode") {
			t.Fatalf("%s: no fallback logged:\n%s", tc.name, logs.String())
		}
		if asked, _ := spy.askedIndices(); len(asked) <= 1 {
			t.Fatalf("%s: asked only for %v: no decode", tc.name, asked)
		}
	}
	// The liar does not matter to a range its slivers are not in.
	for r := range c.p.R {
		if c.com().Owner(c.p.ShardForPair(enc.BlobID, r)) != holder {
			spy.reset(corrupt)
			logs.Reset()
			got, err := c.client.ReadRange(ctx, c.com(), enc.BlobID, int64(r*row), 1)
			if err != nil || got[0] != data[r*row] || strings.Contains(logs.String(), "falling back") {
				t.Fatalf("range in row %d beside a liar: %v\n%s", r, err, logs.String())
			}
			if asked, _ := spy.askedIndices(); !slices.Equal(asked, []int{r}) {
				t.Fatalf("range in row %d: asked for %v", r, asked)
			}
			break
		}
	}
	// The holder down.
	spy.reset(nil)
	logs.Reset()
	c.nodes[holder].stop()
	got, err := c.client.ReadRange(ctx, c.com(), enc.BlobID, off, n)
	if err != nil || !bytes.Equal(got, data[off:off+n]) {
		t.Fatalf("holder down: %v", err)
	}
	if !strings.Contains(logs.String(), "read range: falling back to a decode") {
		t.Fatalf("holder down: no fallback logged:\n%s", logs.String())
	}
}

// TestReadRangeCorruptStore: a member whose stored slivers rotted (as in TestLyingNodes,
// through the real handler) changes no range's bytes.
func TestReadRangeCorruptStore(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	c := newCluster(t, []int{4, 3, 2, 1}, 23, func(cfg *client.Config) { cfg.HedgeDelay = time.Minute })
	const L = 200_003
	data := randomBlob(L, 23)
	enc := c.storeAll(ctx, data)
	var bad int
	for i, m := range c.com().Members {
		if m.Weight() == 3 {
			bad = i
		}
	}
	nd := c.nodes[bad]
	for _, sh := range c.com().Members[bad].Shards {
		sl, err := nd.store.Sliver(ctx, enc.BlobID, int(sh), codec.AxisPrimary)
		if err != nil {
			t.Fatal(err)
		}
		sl.Data[len(sl.Data)/3] ^= 0xFF
		if err := nd.raw.Put(ctx, blobstore.SliverKey(int(sh), enc.BlobID, codec.AxisPrimary), sl.MarshalBCS()); err != nil {
			t.Fatal(err)
		}
	}
	row := rowBytes(t, c.p, L)
	for _, rg := range [][2]int64{{0, L}, {0, 1}, {L - 1, 1}, {int64(row) - 3, 6}, {int64(2 * row), int64(row)}} {
		got, err := c.client.ReadRange(ctx, c.com(), enc.BlobID, rg[0], rg[1])
		if err != nil || !bytes.Equal(got, data[rg[0]:rg[0]+rg[1]]) {
			t.Fatalf("range %v with a corrupt member: %v", rg, err)
		}
		var buf bytes.Buffer
		if n, err := c.client.ReadRangeTo(ctx, c.com(), enc.BlobID, rg[0], rg[1], &buf, client.ReadOptions{WindowBytes: 1}); err != nil || n != rg[1] || !bytes.Equal(buf.Bytes(), data[rg[0]:rg[0]+rg[1]]) {
			t.Fatalf("streamed range %v with a corrupt member: %d, %v", rg, n, err)
		}
	}
}

// TestReadRangeStalledHolder: the holder of the range's row accepts the request and never
// answers. The range read waits for it (a slow member is not worth a decode at once), then
// falls back to the decode and returns the right bytes; so does a streaming read.
func TestReadRangeStalledHolder(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	var logs lockedBuffer
	c := newCluster(t, []int{3, 3, 3, 1}, 24, func(cfg *client.Config) {
		cfg.HedgeDelay = 100 * time.Millisecond
		cfg.Logger = debugLogger(&logs)
	})
	const L = 250_000
	data := randomBlob(L, 24)
	enc := c.storeAll(ctx, data)
	row := rowBytes(t, c.p, L)
	holder := c.com().Owner(c.p.ShardForPair(enc.BlobID, 1))
	release := make(chan struct{})
	defer close(release)
	if err := p2p.Handle(c.nodes[holder].host, sliver.Spec(c.p), slowHandler(release), nil); err != nil {
		t.Fatal(err)
	}
	got, err := c.client.ReadRange(ctx, c.com(), enc.BlobID, int64(row)+3, 10)
	if err != nil || !bytes.Equal(got, data[row+3:row+13]) {
		t.Fatalf("range with a stalled holder: %v", err)
	}
	l := logs.String()
	if !strings.Contains(l, "range read: node slow, waiting for it") || !strings.Contains(l, "read range: falling back to a decode") {
		t.Fatalf("no wait and fallback logged:\n%s", l)
	}
	var buf bytes.Buffer
	if n, err := c.client.ReadTo(ctx, c.com(), enc.BlobID, &buf); err != nil || n != L || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("ReadTo with a stalled holder: %d, %v", n, err)
	}
}
