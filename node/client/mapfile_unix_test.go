//go:build unix

package client

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// TestFileBehind: a store reads a mapped blob from the file behind it (at the right offset
// for a part of the mapping), nothing for memory not mapped by MapFile, and the spill files
// keep what is written to them.
func TestFileBehind(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 3))
	want := make([]byte, 3<<20+123)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, want, 0o644); err != nil {
		t.Fatal(err)
	}
	data, unmap, err := MapFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Fatal("the mapping differs from the file")
	}
	for _, part := range [][2]int{{0, len(want)}, {5, len(want) - 7}, {4096, 8192}} {
		src := fileBehind(data[part[0]:part[1]])
		if src == nil {
			t.Fatalf("%v: no file behind the mapping", part)
		}
		got := make([]byte, part[1]-part[0])
		if n, err := src.ReadAt(got, 0); n != len(got) || err != nil || !bytes.Equal(got, want[part[0]:part[1]]) {
			t.Fatalf("%v: read %d, %v, equal %v", part, n, err, bytes.Equal(got, want[part[0]:part[1]]))
		}
	}
	if fileBehind(bytes.Clone(want)) != nil {
		t.Fatal("heap memory has a file behind it")
	}
	src := fileBehind(data)
	if err := unmap(); err != nil {
		t.Fatal(err)
	}
	if fileBehind(data) != nil {
		t.Fatal("an unmapped file is still behind its old address")
	}
	if _, err := src.ReadAt(make([]byte, 10), 0); err == nil {
		t.Fatal("reading a closed mapping's file succeeded")
	}

	alloc, release := spillAllocator(t.TempDir())
	spill, err := alloc(len(want))
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(want); off += 64 << 10 {
		if _, err := spill.WriteAt(want[off:min(len(want), off+64<<10)], int64(off)); err != nil {
			t.Fatal(err)
		}
	}
	got := make([]byte, len(want))
	if _, err := spill.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the spill lost what was written to it: %v", err)
	}
	release()
}

func TestSpoolFile(t *testing.T) {
	dir := t.TempDir()
	want := bytes.Repeat([]byte("walrus "), 300_000)
	data, unmap, err := SpoolFile(bytes.NewReader(want), dir, uint64(len(want)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, want) {
		t.Fatal("the spooled copy differs")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("spool file left in %s: %v", dir, ents)
	}
	if fileBehind(data) == nil {
		t.Fatal("the spooled copy is not read from its file")
	}
	if err := unmap(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := SpoolFile(bytes.NewReader(want), dir, uint64(len(want)-1)); !errors.Is(err, codec.ErrBlobTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("spool file left in %s after a refusal: %v", dir, ents)
	}
	empty, unmap, err := SpoolFile(strings.NewReader(""), dir, 10)
	if err != nil || len(empty) != 0 {
		t.Fatalf("empty: %v %d", err, len(empty))
	}
	_ = unmap()
}
