package fsutil_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/internal/fsutil"
)

func TestWriteAtomicThenReadBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key")
	if err := fsutil.WriteAtomic(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", st.Mode(), err)
	}
	if b, err := fsutil.ReadBounded(p, 6); err != nil || string(b) != "secret" {
		t.Fatalf("read %q, %v", b, err)
	}
	if _, err := fsutil.ReadBounded(p, 5); err == nil || !strings.Contains(err.Error(), "larger than 5") {
		t.Fatalf("over-limit read: %v", err)
	}
	if _, err := fsutil.ReadBounded(filepath.Join(t.TempDir(), "missing"), 5); !os.IsNotExist(err) {
		t.Fatalf("missing file: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("temporary files left behind: %v", ents)
	}
}
