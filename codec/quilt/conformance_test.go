package quilt_test

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/quilt"
)

// The conformance oracle is the Walrus TypeScript SDK (npm @mysten/walrus 1.2.13, with
// @mysten/walrus-wasm 0.3.0 for blob IDs) behind testdata/sdk/oracle.mjs; the framing is
// documented there and in testdata/sdk/README.md.
const sdkDir = "testdata/sdk"

const (
	opEncodeQuilt = 1
	opPatchID     = 2
	opParsePatch  = 3
)

type sdkOracle struct {
	in  io.WriteCloser
	out *bufio.Reader
}

// startSDK starts oracle.mjs, stopped when tb ends. Without the installed npm packages it
// skips, unless CI is set (make test installs them first with make oracle): there a
// missing oracle fails the test, as the codec's conformance test does.
func startSDK(tb testing.TB) *sdkOracle {
	tb.Helper()
	missing := func(why string) {
		tb.Helper()
		if os.Getenv("CI") != "" {
			tb.Fatalf("quilt conformance oracle unavailable with CI set: %s (run `make oracle`)", why)
		}
		tb.Skipf("quilt conformance oracle unavailable: %s (run `make oracle`)", why)
	}
	for _, pkg := range []string{"walrus", "walrus-wasm"} {
		if _, err := os.Stat(filepath.Join(sdkDir, "node_modules", "@mysten", pkg, "package.json")); err != nil {
			missing("npm package @mysten/" + pkg + " not installed")
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node not on PATH")
	}
	cmd := exec.Command(node, "oracle.mjs")
	cmd.Dir = sdkDir
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting the oracle: %v", err)
	}
	tb.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			tb.Errorf("oracle exit: %v", err)
		}
	})
	return &sdkOracle{in: in, out: bufio.NewReaderSize(out, 1<<20)}
}

type oracleError struct{ msg string }

func (e *oracleError) Error() string { return "sdk oracle: " + e.msg }

func (o *sdkOracle) call(tb testing.TB, op byte, body []byte) ([]byte, error) {
	tb.Helper()
	head := binary.LittleEndian.AppendUint32(nil, uint32(1+len(body)))
	head = append(head, op)
	if _, err := o.in.Write(append(head, body...)); err != nil {
		tb.Fatalf("oracle write: %v", err)
	}
	var h [5]byte
	if _, err := io.ReadFull(o.out, h[:]); err != nil {
		tb.Fatalf("oracle read: %v", err)
	}
	n := binary.LittleEndian.Uint32(h[:4])
	if n < 1 || n > 1<<31 {
		tb.Fatalf("oracle reply length %d", n)
	}
	reply := make([]byte, n-1)
	if _, err := io.ReadFull(o.out, reply); err != nil {
		tb.Fatalf("oracle read: %v", err)
	}
	switch h[4] {
	case 0:
		return reply, nil
	case 1:
		return nil, &oracleError{string(reply)}
	}
	tb.Fatalf("oracle reply status %d", h[4])
	return nil, nil
}

// Request and reply encoding.

func lp(b []byte, v []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(b, uint32(len(v))), v...)
}

func appendTags(b []byte, tags map[string]string) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(tags)))
	for k, v := range tags {
		b = lp(lp(b, []byte(k)), []byte(v))
	}
	return b
}

type replyReader struct {
	tb  testing.TB
	buf []byte
}

func (r *replyReader) take(n int) []byte {
	r.tb.Helper()
	if n < 0 || n > len(r.buf) {
		r.tb.Fatalf("oracle reply truncated: want %d bytes, have %d", n, len(r.buf))
	}
	v := r.buf[:n:n]
	r.buf = r.buf[n:]
	return v
}
func (r *replyReader) u16() int { return int(binary.LittleEndian.Uint16(r.take(2))) }
func (r *replyReader) u32() int { return int(binary.LittleEndian.Uint32(r.take(4))) }
func (r *replyReader) bytes() []byte {
	return r.take(r.u32())
}
func (r *replyReader) tags() map[string]string {
	n := r.u32()
	m := make(map[string]string, n)
	for range n {
		k := string(r.bytes())
		m[k] = string(r.bytes())
	}
	return m
}

// sdkQuilt is what the SDK's encodeQuilt returned, and with wantID the quilt ID from the
// WASM encoder and the patch IDs from encodeQuiltPatchId.
type sdkQuilt struct {
	blob     []byte
	patches  []quilt.Patch
	id       codec.BlobID
	patchIDs []string
}

func (o *sdkOracle) encode(tb testing.TB, n int, files []quilt.File, wantID bool) (*sdkQuilt, error) {
	tb.Helper()
	b := binary.LittleEndian.AppendUint16(nil, uint16(n))
	if wantID {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(files)))
	for _, f := range files {
		b = lp(b, []byte(f.Identifier))
		b = appendTags(b, f.Tags)
		b = lp(b, f.Data)
	}
	reply, err := o.call(tb, opEncodeQuilt, b)
	if err != nil {
		return nil, err
	}
	r := &replyReader{tb: tb, buf: reply}
	q := &sdkQuilt{blob: r.bytes()}
	count := r.u32()
	for range count {
		start, end := r.u16(), r.u16()
		id := string(r.bytes())
		q.patches = append(q.patches, quilt.Patch{Identifier: id, Tags: r.tags(), Start: start, End: end})
	}
	if wantID {
		copy(q.id[:], r.take(32))
		for range count {
			q.patchIDs = append(q.patchIDs, string(r.bytes()))
		}
	}
	if len(r.buf) != 0 {
		tb.Fatalf("oracle reply: %d trailing bytes", len(r.buf))
	}
	return q, nil
}

// Seeded file sets.

// identifier alphabets: ASCII, Latin-1 and other BMP scripts below U+D800, characters of
// U+E000..U+FFFF (fullwidth forms, the replacement character), and astral characters; mixing
// the last two is where UTF-16 and UTF-8 orders differ (TestSDKSortOrder).
var alphabets = []string{
	"ＡＢＣｘｙｚ０\uFFFD\uE000",
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.",
	"éèàüößçñøåÆŒ",
	"дождьмир",
	"海豹鲸鱼文件图片",
	"🦭🐋🌊📄✨",
	"αβγδ λ",
}

func randomIdentifier(rng *rand.Rand, maxLen int) string {
	n := 1 + rng.IntN(maxLen)
	var sb strings.Builder
	for sb.Len() < n {
		a := []rune(alphabets[rng.IntN(len(alphabets))])
		sb.WriteRune(a[rng.IntN(len(a))])
	}
	return strings.TrimRight(sb.String(), " ")
}

func randomTags(rng *rand.Rand) map[string]string {
	if rng.IntN(3) == 0 {
		return nil
	}
	m := map[string]string{}
	for range rng.IntN(6) {
		// Keys of varied lengths: BCS orders map entries by their serialized keys, length
		// first, which is not the keys' own order.
		k := randomIdentifier(rng, 1+rng.IntN(12))
		v := ""
		if rng.IntN(4) != 0 {
			v = randomIdentifier(rng, 20)
		}
		m[k] = v
	}
	return m
}

// fileSet makes count files with distinct identifiers and sizes up to maxSize (a few
// empty ones), deterministic in seed.
func fileSet(seed uint64, count, maxSize int) []quilt.File {
	rng := rand.New(rand.NewPCG(seed, 0x71117))
	seen := map[string]bool{}
	files := make([]quilt.File, 0, count)
	for len(files) < count {
		id := randomIdentifier(rng, 24)
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		size := 0
		switch rng.IntN(8) {
		case 0: // empty
		case 1:
			size = maxSize
		default:
			size = rng.IntN(maxSize + 1)
		}
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		files = append(files, quilt.File{Identifier: id, Tags: randomTags(rng), Data: data})
	}
	return files
}

// checkAgainstSDK encodes files with both and compares blob, index and, with wantID, the
// quilt ID and patch IDs; then decodes the blob and checks every file comes back.
func checkAgainstSDK(t *testing.T, o *sdkOracle, n int, files []quilt.File, wantID bool) {
	t.Helper()
	p := codec.MustParams(n)
	got, err := quilt.Encode(p, files)
	want, sdkErr := o.encode(t, n, files, wantID)
	if err != nil || sdkErr != nil {
		t.Fatalf("n=%d, %d files: walrus-go: %v; SDK: %v", n, len(files), err, sdkErr)
	}
	if !bytes.Equal(got.Blob, want.blob) {
		at := 0
		for at < min(len(got.Blob), len(want.blob)) && got.Blob[at] == want.blob[at] {
			at++
		}
		t.Fatalf("n=%d, %d files: quilt blobs differ: %d vs %d bytes (symbol size %d), first difference at byte %d",
			n, len(files), len(got.Blob), len(want.blob), got.SymbolSize, at)
	}
	if len(got.Index.Patches) != len(want.patches) {
		t.Fatalf("n=%d: %d patches, SDK %d", n, len(got.Index.Patches), len(want.patches))
	}
	for i, pt := range got.Index.Patches {
		w := want.patches[i]
		if pt.Identifier != w.Identifier || pt.Start != w.Start || pt.End != w.End || !maps.Equal(pt.Tags, w.Tags) {
			t.Fatalf("n=%d: patch %d = %q [%d,%d) %v, SDK %q [%d,%d) %v", n, i, pt.Identifier, pt.Start, pt.End, pt.Tags,
				w.Identifier, w.Start, w.End, w.Tags)
		}
	}
	if wantID {
		id, err := got.ComputeID()
		if err != nil {
			t.Fatal(err)
		}
		if id != want.id {
			t.Fatalf("n=%d: quilt ID %s, SDK %s", n, id, want.id)
		}
		for i, pid := range got.PatchIDs(id) {
			if pid.String() != want.patchIDs[i] {
				t.Fatalf("n=%d: patch %d ID %s, SDK %s", n, i, pid, want.patchIDs[i])
			}
			back, err := quilt.ParsePatchID(want.patchIDs[i])
			if err != nil || back != pid {
				t.Fatalf("ParsePatchID(%s) = %+v, %v; want %+v", want.patchIDs[i], back, err, pid)
			}
		}
	}
	dec, err := quilt.Decode(p, want.blob)
	if err != nil {
		t.Fatalf("n=%d: decoding the SDK's quilt: %v", n, err)
	}
	for _, f := range files {
		g, err := dec.Patch(f.Identifier)
		if err != nil {
			t.Fatalf("n=%d: patch %q: %v", n, f.Identifier, err)
		}
		if !bytes.Equal(g.Data, f.Data) || (len(f.Tags) > 0 && !maps.Equal(g.Tags, f.Tags)) || (len(f.Tags) == 0 && len(g.Tags) != 0) {
			t.Fatalf("n=%d: patch %q came back as %d bytes with tags %v", n, f.Identifier, len(g.Data), g.Tags)
		}
	}
}

// TestSDKConformance: for many seeded file sets, walrus-go's quilt equals the SDK's byte
// for byte, with the same index and (where asked) the same quilt ID and patch IDs.
func TestSDKConformance(t *testing.T) {
	o := startSDK(t)
	type tc struct {
		n, count, maxSize int
		wantID            bool
	}
	cases := []tc{
		{4, 1, 0, true},    // one empty file
		{4, 2, 100, true},  // the maximum at n=4 (C-1 = 2)
		{7, 4, 1000, true}, // the maximum at n=7
		{10, 1, 1, true},   // one tiny file
		{10, 6, 50, true},  // the maximum at n=10
		{10, 3, 300 << 10, true},
		{13, 8, 4096, true}, // the maximum at n=13
		{100, 1, 0, true},
		{100, 20, 10 << 10, true},
		{100, 66, 2000, true}, // the maximum at n=100
		{100, 5, 3 << 20, true},
		{100, 12, 1 << 20, false},
	}
	seeds := 3
	if os.Getenv("WALRUS_LONG") != "" {
		seeds = 20
	}
	for _, c := range cases {
		for seed := range seeds {
			t.Run(fmt.Sprintf("n=%d/files=%d/max=%d/seed=%d", c.n, c.count, c.maxSize, seed), func(t *testing.T) {
				files := fileSet(uint64(seed)*1000+uint64(c.n*c.count), c.count, c.maxSize)
				checkAgainstSDK(t, o, c.n, files, c.wantID && seed == 0)
			})
		}
	}
	// n = 1000, Walrus Mainnet's shard count: the maximum of 666 files, and a few MiB. A
	// blob ID at n = 1000 costs the WASM encoder seconds, so only one is computed.
	t.Run("n=1000/files=666", func(t *testing.T) {
		checkAgainstSDK(t, o, 1000, fileSet(1000, 666, 3000), true)
	})
	t.Run("n=1000/files=7/max=4MiB", func(t *testing.T) {
		checkAgainstSDK(t, o, 1000, fileSet(1001, 7, 4<<20), false)
	})
}

// TestSDKEdgeCases: hand-picked file sets — tags that BCS reorders, identifiers that sort
// differently as bytes and as text of other lengths, files whose sizes straddle a column.
func TestSDKEdgeCases(t *testing.T) {
	o := startSDK(t)
	sets := map[string][]quilt.File{
		"tag order": {
			{Identifier: "a", Tags: map[string]string{"b": "1", "aa": "2", "": "empty key", "ab": ""}, Data: []byte("x")},
			{Identifier: "b", Tags: map[string]string{strings.Repeat("k", 200): "long key", "z": "v"}, Data: nil},
		},
		"prefix identifiers": {
			{Identifier: "ab", Data: []byte{1}}, {Identifier: "a", Data: []byte{2}}, {Identifier: "a b", Data: []byte{3}},
			{Identifier: "B", Data: []byte{4}}, {Identifier: "é", Data: []byte{5}}, {Identifier: "e\u0301", Data: []byte{6}},
		},
		"long identifier": {
			{Identifier: strings.Repeat("walrus-", 300), Data: []byte("long")}, {Identifier: "short", Data: []byte("s")},
		},
		"equal sizes": {
			{Identifier: "one", Data: bytes.Repeat([]byte{1}, 4096)}, {Identifier: "two", Data: bytes.Repeat([]byte{2}, 4096)},
			{Identifier: "three", Data: bytes.Repeat([]byte{3}, 4096)},
		},
	}
	for name, files := range sets {
		for _, n := range []int{10, 100} {
			t.Run(fmt.Sprintf("%s/n=%d", name, n), func(t *testing.T) { checkAgainstSDK(t, o, n, files, true) })
		}
	}
	// Sizes around column boundaries at n=10 (R=4, C=7).
	for size := 40; size <= 80; size += 3 {
		files := []quilt.File{{Identifier: "f", Data: bytes.Repeat([]byte{9}, size)}, {Identifier: "g", Data: make([]byte, 80-size)}}
		t.Run(fmt.Sprintf("boundary/%d", size), func(t *testing.T) { checkAgainstSDK(t, o, 10, files, false) })
	}
}

// TestSDKRejects: what neither can encode — more files than C-1, files needing a symbol
// size over the maximum — fails in both.
func TestSDKRejects(t *testing.T) {
	o := startSDK(t)
	for _, c := range []struct {
		name  string
		n     int
		files []quilt.File
	}{
		{"too many files", 10, fileSet(7, 7, 10)},
		{"too large", 10, []quilt.File{{Identifier: "big", Data: make([]byte, 2<<20)}}},
		{"duplicate", 10, []quilt.File{{Identifier: "x"}, {Identifier: "x"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := quilt.Encode(codec.MustParams(c.n), c.files)
			_, sdkErr := o.encode(t, c.n, c.files, false)
			var oe *oracleError
			if err == nil || !errors.As(sdkErr, &oe) {
				t.Fatalf("walrus-go: %v; SDK: %v; want both to fail", err, sdkErr)
			}
		})
	}
}

// TestSDKPatchIDs: patch ID strings both ways, across the column range.
func TestSDKPatchIDs(t *testing.T) {
	o := startSDK(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 200 {
		var id quilt.PatchID
		for j := range id.Quilt {
			id.Quilt[j] = byte(rng.Uint32())
		}
		id.Version = quilt.Version
		id.Start = uint16(1 + rng.IntN(65533))
		id.End = id.Start + 1 + uint16(rng.IntN(int(65535-id.Start)))
		if i == 0 {
			id.Start, id.End = 1, 65535
		}
		body := append(id.Quilt[:], id.Version)
		body = binary.LittleEndian.AppendUint16(body, id.Start)
		body = binary.LittleEndian.AppendUint16(body, id.End)
		reply, err := o.call(t, opPatchID, body)
		if err != nil {
			t.Fatal(err)
		}
		r := &replyReader{tb: t, buf: reply}
		if s := string(r.bytes()); s != id.String() {
			t.Fatalf("patch ID %+v: SDK %s, walrus-go %s", id, s, id)
		}
		reply, err = o.call(t, opParsePatch, lp(nil, []byte(id.String())))
		if err != nil {
			t.Fatal(err)
		}
		r = &replyReader{tb: t, buf: reply}
		var back quilt.PatchID
		copy(back.Quilt[:], r.take(32))
		back.Version = r.take(1)[0]
		back.Start, back.End = uint16(r.u16()), uint16(r.u16())
		if back != id {
			t.Fatalf("SDK parsed %s as %+v, want %+v", id, back, id)
		}
	}
}

// TestSDKSortOrder: identifiers mixing characters of U+E000–U+FFFF with ones above U+FFFF
// sort differently by UTF-8 bytes (Walrus's Rust encoder) and by UTF-16 code units (the SDK);
// walrus-go follows the SDK, its reference: the same quilt bytes and ID.
func TestSDKSortOrder(t *testing.T) {
	o := startSDK(t)
	files := []quilt.File{{Identifier: "\uFF21 fullwidth", Data: []byte("a")}, {Identifier: "\U0001F9AD seal", Data: []byte("b")}}
	got, err := quilt.Encode(codec.MustParams(10), files)
	if err != nil {
		t.Fatal(err)
	}
	want, err := o.encode(t, 10, files, false)
	if err != nil {
		t.Fatal(err)
	}
	if got.Index.Patches[0].Identifier != want.patches[0].Identifier || got.Index.Patches[0].Identifier != files[1].Identifier {
		t.Fatalf("walrus-go put %q first, the SDK %q; want the surrogate pair first (UTF-16 order)",
			got.Index.Patches[0].Identifier, want.patches[0].Identifier)
	}
}
