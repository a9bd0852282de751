package keyfile_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/keyfile"
)

func TestRoundTripAndForms(t *testing.T) {
	dir := t.TempDir()
	bk, err := bls.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "bls.key")
	if err := keyfile.WriteBLSKey(p, bk); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	back, err := keyfile.ReadBLSKey(p)
	if err != nil || !bytes.Equal(back.Bytes(), bk.Bytes()) {
		t.Fatalf("BLS round trip: %v", err)
	}
	ak := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	ap := filepath.Join(dir, "wallet.key")
	if err := keyfile.WriteAccountKey(ap, ak); err != nil {
		t.Fatal(err)
	}
	if got, err := keyfile.ReadAccountKey(ap); err != nil || !got.Equal(ak) {
		t.Fatalf("account round trip: %v", err)
	}
	raw := filepath.Join(dir, "raw.key")
	if err := os.WriteFile(raw, ak.Seed(), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := keyfile.ReadAccountKey(raw); err != nil || !got.Equal(ak) {
		t.Fatalf("raw seed: %v", err)
	}
}

func TestBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"short hex": "abcd\n",
		"not hex":   strings.Repeat("zz", 32) + "\n",
		"too large": strings.Repeat("a", 4096),
		"empty":     "",
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := keyfile.ReadAccountKey(p); !errors.Is(err, keyfile.ErrBadKeyFile) {
			t.Errorf("%s: %v, want ErrBadKeyFile", name, err)
		}
		if _, err := keyfile.ReadBLSKey(p); !errors.Is(err, keyfile.ErrBadKeyFile) {
			t.Errorf("%s: BLS: %v, want ErrBadKeyFile", name, err)
		}
	}
	if _, err := keyfile.ReadBLSKey(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}
