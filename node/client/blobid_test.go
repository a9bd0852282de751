package client

import (
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// TestBlobMetadataMatchesComputeMetadata: the bounded computation gives ComputeMetadata's
// metadata for blobs in memory and mapped files, at budgets that fit and budgets that
// spill, and for the empty blob.
func TestBlobMetadataMatchesComputeMetadata(t *testing.T) {
	p := codec.MustParams(100)
	rng := rand.New(rand.NewSource(7))
	for _, size := range []int{0, 1, 1000, 3 << 20} {
		data := make([]byte, size)
		rng.Read(data)
		wantMeta, wantID, err := codec.ComputeMetadata(p, data)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "blob")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		mapped, unmap, err := MapFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, budget := range []int64{0, processReserve + 1<<20, 1 << 30} {
			for name, b := range map[string][]byte{"memory": data, "mapped": mapped} {
				meta, id, err := BlobMetadata(p, b, budget, t.TempDir())
				if err != nil {
					t.Fatalf("%d bytes, budget %d, %s: %v", size, budget, name, err)
				}
				if id != wantID || !reflect.DeepEqual(meta, wantMeta) {
					t.Fatalf("%d bytes, budget %d, %s: blob ID %s, want %s", size, budget, name, id, wantID)
				}
			}
		}
		if err := unmap(); err != nil {
			t.Fatal(err)
		}
	}
}
