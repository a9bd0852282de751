package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

// TestReadToSizes: ReadTo writes exactly the blob, for sizes at symbol-size, chunk and
// row boundaries up to the largest blob n = 10 allows, with the default window and with a
// window of two rows (one row per segment, so every row boundary is a segment boundary);
// ReadRangeTo writes exactly the range.
func TestReadToSizes(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	c := newCluster(t, []int{4, 3, 2, 1}, 31, func(cfg *client.Config) { cfg.HedgeDelay = time.Minute })
	cells := c.p.R * c.p.C // 28: the symbol size grows by 2 every 56 bytes
	sizes := []int{0, 1, 2, 13, 2*cells - 1, 2 * cells, 2*cells + 1, 64 * cells, 64*cells + 1,
		300_001, 1<<20 + 3, int(c.p.MaxBlobSize())}
	for i, size := range sizes {
		data := randomBlob(size, uint64(100+i))
		enc := c.storeAll(ctx, data)
		for _, window := range []int{0, 1} {
			name := fmt.Sprintf("%d bytes, window %d", size, window)
			var buf bytes.Buffer
			n, err := c.client.ReadToWith(ctx, c.com(), enc.BlobID, &buf, client.ReadOptions{WindowBytes: window})
			if err != nil || n != int64(size) || !bytes.Equal(buf.Bytes(), data) {
				t.Fatalf("%s: wrote %d, %v; identical %v", name, n, err, bytes.Equal(buf.Bytes(), data))
			}
			if size < 3 {
				continue
			}
			for _, rg := range [][2]int{{0, 1}, {size - 1, 1}, {size / 3, size / 3}, {1, size - 2}} {
				buf.Reset()
				n, err := c.client.ReadRangeTo(ctx, c.com(), enc.BlobID, int64(rg[0]), int64(rg[1]), &buf, client.ReadOptions{WindowBytes: window})
				if err != nil || n != int64(rg[1]) || !bytes.Equal(buf.Bytes(), data[rg[0]:rg[0]+rg[1]]) {
					t.Fatalf("%s: range %v: wrote %d, %v", name, rg, n, err)
				}
			}
		}
	}
	var buf bytes.Buffer
	enc := c.storeAll(ctx, []byte("x"))
	if n, err := c.client.ReadRangeTo(ctx, c.com(), enc.BlobID, 1, 1, &buf, client.ReadOptions{}); !errors.Is(err, client.ErrRangeNotSatisfiable) || n != 0 || buf.Len() != 0 {
		t.Fatalf("range past the end: %d, %v", n, err)
	}
}

// rowWriter is an io.Writer recording bytes written, and signalling the first write.
type rowWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written atomic.Int64
	first   chan struct{}
	once    sync.Once
	failAt  int64 // fail the write that would pass this many bytes (0: never)
}

var errWriterBroke = errors.New("writer broke")

func (w *rowWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { close(w.first) })
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failAt > 0 && w.written.Load()+int64(len(p)) > w.failAt {
		k := w.failAt - w.written.Load()
		w.buf.Write(p[:k])
		w.written.Add(k)
		return int(k), errWriterBroke
	}
	w.buf.Write(p)
	w.written.Add(int64(len(p)))
	return len(p), nil
}

// TestReadToStreams: with a window of two rows, ReadTo asks for no row more than two
// rows beyond what it has written (its memory does not grow with the blob), and the
// member holding the last row does not answer until the first bytes are written: a read
// that wrote only once it had every sliver would wait for the context instead. n = 100:
// 34 rows of a 6 MiB blob.
func TestReadToStreams(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	c := newCluster(t, []int{40, 30, 20, 10}, 32, func(cfg *client.Config) { cfg.HedgeDelay = time.Minute })
	const L = 6<<20 + 5
	data := randomBlob(L, 32)
	enc := c.storeAll(ctx, data)
	row := rowBytes(t, c.p, L)
	rows, err := c.p.BlobRows(L)
	if err != nil || rows != c.p.R {
		t.Fatalf("fixture: %d rows, %v", rows, err)
	}
	spy := spySlivers(t, c)
	w := &rowWriter{first: make(chan struct{})}
	var mu sync.Mutex
	var ahead []string
	spy.reset(func(ctx context.Context, _ int, refs []sliver.Ref, items []sliver.ItemResult) ([]sliver.ItemResult, error) {
		done := int(w.written.Load()) / row
		for _, ref := range refs {
			if int(ref.Index)-done > 2 {
				mu.Lock()
				ahead = append(ahead, fmt.Sprintf("row %d asked with %d written", ref.Index, done))
				mu.Unlock()
			}
			if int(ref.Index) == rows-1 {
				select {
				case <-w.first:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		return items, nil
	})
	n, err := c.client.ReadToWith(ctx, c.com(), enc.BlobID, w, client.ReadOptions{WindowBytes: 2 * row})
	if err != nil || n != L || !bytes.Equal(w.buf.Bytes(), data) {
		t.Fatalf("ReadTo: %d, %v", n, err)
	}
	if len(ahead) > 0 {
		t.Fatalf("asked beyond the window: %v", ahead)
	}
	if asked, rep := spy.askedIndices(); len(asked) != rows || rep {
		t.Fatalf("asked for %v (repeats %v), want the %d systematic rows once", asked, rep, rows)
	}
	// With the default window (64 MiB: the whole blob) the same holds for the first write.
	w = &rowWriter{first: make(chan struct{})}
	spy.reset(func(ctx context.Context, _ int, refs []sliver.Ref, items []sliver.ItemResult) ([]sliver.ItemResult, error) {
		for _, ref := range refs {
			if int(ref.Index) == rows-1 {
				select {
				case <-w.first:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		return items, nil
	})
	if n, err := c.client.ReadTo(ctx, c.com(), enc.BlobID, w); err != nil || n != L || !bytes.Equal(w.buf.Bytes(), data) {
		t.Fatalf("ReadTo, default window: %d, %v", n, err)
	}
}

// TestReadToFallback: a member holding systematic rows is down or lies; ReadTo writes
// the rows before the first of its rows as they come, then decodes and writes the rest:
// the output is still the blob, byte for byte. A writer that fails stops the read with
// its error, and the count says what it took.
func TestReadToFallback(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	var logs lockedBuffer
	c := newCluster(t, []int{40, 30, 20, 10}, 33, func(cfg *client.Config) {
		cfg.HedgeDelay, cfg.Retries = time.Minute, 1
		cfg.Logger = debugLogger(&logs)
	})
	const L = 3<<20 + 777
	data := randomBlob(L, 33)
	enc := c.storeAll(ctx, data)
	row := rowBytes(t, c.p, L)
	// The lightest member (at most f shards) holding a systematic row after row 0.
	bad, firstRow := -1, 0
	for r := 1; r < c.p.R && bad < 0; r++ {
		m := c.com().Owner(c.p.ShardForPair(enc.BlobID, r))
		if c.com().Members[m].Weight() <= c.p.F && m != c.com().Owner(c.p.ShardForPair(enc.BlobID, 0)) {
			bad, firstRow = m, r
		}
	}
	if bad < 0 {
		t.Fatal("fixture: no light member holds a systematic row after row 0")
	}
	spy := spySlivers(t, c)
	lie := func(_ context.Context, member int, refs []sliver.Ref, items []sliver.ItemResult) ([]sliver.ItemResult, error) {
		for i := range refs {
			if member == bad {
				items[i].Sliver[len(items[i].Sliver)/2] ^= 1
			}
		}
		return items, nil
	}
	for _, window := range []int{0, 2 * row} {
		spy.reset(lie)
		logs.Reset()
		var buf bytes.Buffer
		n, err := c.client.ReadToWith(ctx, c.com(), enc.BlobID, &buf, client.ReadOptions{WindowBytes: window})
		if err != nil || n != L || !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("window %d, lying member: %d, %v", window, n, err)
		}
		if !strings.Contains(logs.String(), "streaming read: falling back to a decode") {
			t.Fatalf("window %d: no fallback logged:\n%s", window, logs.String())
		}
		if window > 0 && firstRow >= 2 && strings.Contains(logs.String(), "written=0 ") {
			t.Fatalf("window %d: nothing written before the fallback though row %d came first:\n%s", window, firstRow, logs.String())
		}
	}
	// A writer that breaks mid-blob.
	spy.reset(nil)
	w := &rowWriter{first: make(chan struct{}), failAt: int64(row) + 10}
	n, err := c.client.ReadToWith(ctx, c.com(), enc.BlobID, w, client.ReadOptions{WindowBytes: 2 * row})
	if !errors.Is(err, errWriterBroke) || n != int64(row)+10 || !bytes.Equal(w.buf.Bytes(), data[:row+10]) {
		t.Fatalf("broken writer: %d, %v", n, err)
	}
	// The member down.
	spy.reset(nil)
	logs.Reset()
	c.nodes[bad].stop()
	for _, window := range []int{0, 2 * row} {
		var buf bytes.Buffer
		n, err := c.client.ReadToWith(ctx, c.com(), enc.BlobID, &buf, client.ReadOptions{WindowBytes: window})
		if err != nil || n != L || !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("window %d, member down: %d, %v", window, n, err)
		}
	}
	if !strings.Contains(logs.String(), "streaming read: falling back to a decode") {
		t.Fatalf("member down: no fallback logged:\n%s", logs.String())
	}
	// A cancelled context ends the read with its error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.client.ReadTo(cctx, c.com(), enc.BlobID, &bytes.Buffer{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

// TestReadToFallbackSpilled reads a blob several times the memory budget with the holders
// of systematic slivers down: ReadTo decodes it through a spill file, a window at a time,
// and the output is still the blob, byte for byte, whole or in a range; the spill file is
// gone afterwards.
func TestReadToFallbackSpilled(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	var logs lockedBuffer
	c := newCluster(t, []int{40, 30, 20, 10}, 35, func(cfg *client.Config) {
		cfg.HedgeDelay, cfg.Retries = time.Minute, 1
		cfg.Logger = debugLogger(&logs)
	})
	const L = 3<<20 + 555
	data := randomBlob(L, 35)
	enc := c.storeAll(ctx, data)
	row := rowBytes(t, c.p, L)
	const budget = 256 << 10
	if L < 8*budget {
		t.Fatal("fixture: the blob is not several times the budget")
	}
	// The two lightest members (30 shards <= f) hold systematic rows: both down.
	down := map[int]bool{}
	for r := range c.p.R {
		if m := c.com().Owner(c.p.ShardForPair(enc.BlobID, r)); c.com().Members[m].Weight() <= 20 {
			down[m] = true
		}
	}
	if len(down) == 0 {
		t.Fatal("fixture: no light member holds a systematic row")
	}
	for m := range down {
		c.nodes[m].stop()
	}
	spill := t.TempDir()
	for _, o := range []client.ReadOptions{
		{MemoryBudget: budget, SpillDir: spill},
		{MemoryBudget: budget, SpillDir: spill, WindowBytes: 2 * row},
		{MemoryBudget: 1, SpillDir: spill, WindowBytes: 2 * row}, // one column at a time
	} {
		logs.Reset()
		var buf bytes.Buffer
		n, err := c.client.ReadToWith(ctx, c.com(), enc.BlobID, &buf, o)
		if err != nil || n != L || !bytes.Equal(buf.Bytes(), data) {
			t.Fatalf("%+v: %d, %v", o, n, err)
		}
		if !strings.Contains(logs.String(), "streaming read: falling back to a decode") || !strings.Contains(logs.String(), "decoding through a spill file") {
			t.Fatalf("%+v: no spilled fallback logged:\n%s", o, logs.String())
		}
		off, size := int64(row/2), int64(3*row+17)
		buf.Reset()
		n, err = c.client.ReadRangeTo(ctx, c.com(), enc.BlobID, off, size, &buf, o)
		if err != nil || n != size || !bytes.Equal(buf.Bytes(), data[off:off+size]) {
			t.Fatalf("%+v, range: %d, %v", o, n, err)
		}
		got, err := c.client.ReadRangeWith(ctx, c.com(), enc.BlobID, 0, L, o)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%+v, ReadRangeWith: %v", o, err)
		}
		if ents, _ := os.ReadDir(spill); len(ents) != 0 {
			t.Fatalf("spill files left: %v", ents)
		}
	}
}

// TestReadInconsistentBlob pins down what the streaming and range reads guarantee beside
// Read for a blob encoded inconsistently: the systematic primary slivers are the blob's
// rows, every other primary sliver is garbage committed in the metadata (each verifies on
// its own). With every systematic row at hand, Read, ReadTo and ReadRange all return the
// blob (Walrus's default check passes: it checks exactly those rows). With the holder of
// row k down, Read must decode, and reports ErrInvalidBlob; ReadTo reports the same, after
// writing the rows before k (all verified, the blob's own bytes); ReadRange of a range
// in other rows still returns it, one covering row k reports ErrInvalidBlob.
func TestReadInconsistentBlob(t *testing.T) {
	actorstest.CheckLeaks(t)
	ctx := testCtx(t)
	var logs lockedBuffer
	c := newCluster(t, []int{40, 30, 20, 10}, 34, func(cfg *client.Config) {
		cfg.HedgeDelay = time.Minute
		cfg.Logger = debugLogger(&logs)
	})
	const L = 1<<20 + 1
	// inconsistent encodes a blob and replaces its non-systematic primary slivers.
	inconsistent := func(seed uint64) ([]byte, *codec.EncodedBlob) {
		data := randomBlob(L, seed)
		enc, err := codec.Encode(c.p, data)
		if err != nil {
			t.Fatal(err)
		}
		garbage := randomBlob(len(enc.Primary[0].Data), seed+1000)
		for j := c.p.R; j < c.p.N; j++ {
			sl := &enc.Primary[j]
			copy(sl.Data, garbage)
			sl.Data[0] = byte(j)
			h, err := codec.SliverHash(c.p, sl)
			if err != nil {
				t.Fatal(err)
			}
			enc.Metadata.Hashes[j].Primary = h
		}
		enc.BlobID = enc.Metadata.BlobID()
		return data, enc
	}
	// A blob whose systematic rows a member with at most f shards holds from row k >= 2 on
	// (the rotation depends on the blob ID).
	owner := func(id codec.BlobID, r int) int { return c.com().Owner(c.p.ShardForPair(id, r)) }
	var data []byte
	var enc *codec.EncodedBlob
	down, k := -1, 0
	for seed := uint64(34); seed < 134 && down < 0; seed++ {
		data, enc = inconsistent(seed)
		for r := 2; r < c.p.R; r++ {
			m := owner(enc.BlobID, r)
			if owner(enc.BlobID, r-1) != m && owner(enc.BlobID, 0) != m && c.com().Members[m].Weight() <= c.p.F {
				down, k = m, r
				break
			}
		}
	}
	if down < 0 {
		t.Fatal("fixture: no blob of 100 has a light member's rows starting at row 2 or later")
	}
	for r := range k { // the member's first systematic row, wherever its shards are
		if owner(enc.BlobID, r) == down {
			k = r
			break
		}
	}
	if k < 2 {
		t.Fatalf("fixture: the member holds row %d", k)
	}
	reg := c.register(enc.BlobID, false)
	res, err := c.upload(ctx, enc, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-res.Done()
	row := rowBytes(t, c.p, L)

	got, err := c.client.Read(ctx, c.com(), enc.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Read, every row at hand: %v", err)
	}
	var buf bytes.Buffer
	if n, err := c.client.ReadToWith(ctx, c.com(), enc.BlobID, &buf, client.ReadOptions{WindowBytes: 2 * row}); err != nil || n != L || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("ReadTo, every row at hand: %d, %v", n, err)
	}

	c.nodes[down].stop()
	if _, err := c.client.Read(ctx, c.com(), enc.BlobID); !errors.Is(err, client.ErrInvalidBlob) {
		t.Fatalf("Read with row %d's holder down: %v, want ErrInvalidBlob", k, err)
	}
	buf.Reset()
	n, err := c.client.ReadToWith(ctx, c.com(), enc.BlobID, &buf, client.ReadOptions{WindowBytes: 2 * row})
	if !errors.Is(err, client.ErrInvalidBlob) {
		t.Fatalf("ReadTo with row %d's holder down: %v, want ErrInvalidBlob", k, err)
	}
	// Segments of one row, two at a time: row k was asked for once row k-2 was written.
	if n != int64(buf.Len()) || n < int64((k-1)*row) || n > int64(k*row) || !bytes.Equal(buf.Bytes(), data[:n]) {
		t.Fatalf("ReadTo wrote %d bytes (buffer %d) before the error, want the blob's first %d..%d", n, buf.Len(), (k-1)*row, k*row)
	}
	// The same through the spilled decode (a budget smaller than the blob).
	buf.Reset()
	n, err = c.client.ReadToWith(ctx, c.com(), enc.BlobID, &buf, client.ReadOptions{WindowBytes: 2 * row, MemoryBudget: 64 << 10, SpillDir: t.TempDir()})
	if !errors.Is(err, client.ErrInvalidBlob) || n != int64(buf.Len()) || n > int64(k*row) || !bytes.Equal(buf.Bytes(), data[:n]) {
		t.Fatalf("spilled ReadTo with row %d's holder down: %d, %v, want ErrInvalidBlob", k, n, err)
	}
	if got, err := c.client.ReadRange(ctx, c.com(), enc.BlobID, 0, int64(row)); err != nil || !bytes.Equal(got, data[:row]) {
		t.Fatalf("ReadRange of row 0: %v", err)
	}
	if _, err := c.client.ReadRange(ctx, c.com(), enc.BlobID, int64(k*row), 1); !errors.Is(err, client.ErrInvalidBlob) {
		t.Fatalf("ReadRange in row %d: %v, want ErrInvalidBlob", k, err)
	}
}
