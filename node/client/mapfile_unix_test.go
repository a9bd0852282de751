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

// TestDropResidentKeepsData drops the resident pages of a mapped file and of a spill
// buffer being written, and checks that every byte reads back the same (the page cache
// keeps them), and that memory not mapped here (the heap, an unmapped file) is left alone.
func TestDropResidentKeepsData(t *testing.T) {
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
	if !bytes.Equal(data, want) || !dropResident(data) || !dropResident(data[5:len(data)-7]) || !bytes.Equal(data, want) {
		t.Fatal("the mapped file changed or was not dropped")
	}

	alloc, release := spillAllocator(t.TempDir(), nil)
	spill, err := alloc(len(want))
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(want); off += 64 << 10 {
		copy(spill[off:], want[off:min(len(want), off+64<<10)])
		if !dropResident(spill) {
			t.Fatal("the spill was not dropped")
		}
	}
	if !bytes.Equal(spill, want) {
		t.Fatal("the spill lost what was written to it")
	}
	release()

	heap := bytes.Clone(want)
	if dropResident(heap) || !bytes.Equal(heap, want) {
		t.Fatal("heap memory was advised")
	}
	if err := unmap(); err != nil {
		t.Fatal(err)
	}
	if dropResident(data) {
		t.Fatal("an unmapped file was advised")
	}
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
	if !dropResident(data) || !bytes.Equal(data, want) {
		t.Fatal("the spooled copy is not a mapping that can be dropped")
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
