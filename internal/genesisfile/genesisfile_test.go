package genesisfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/walrus-go/walrus-go/internal/genesisfile"
	"github.com/walrus-go/walrus-go/staking"
)

func TestRoundTripAndGarbage(t *testing.T) {
	dir := t.TempDir()
	g := &staking.Genesis{Network: "unit", NShards: 4, EpochDuration: 1000}
	p := filepath.Join(dir, "genesis.bin")
	if err := genesisfile.Write(p, g); err != nil {
		t.Fatal(err)
	}
	back, err := genesisfile.Read(p)
	if err != nil || back.NetworkID() != g.NetworkID() {
		t.Fatalf("round trip: %v", err)
	}
	bad := filepath.Join(dir, "bad.bin")
	if err := os.WriteFile(bad, []byte("not a genesis"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := genesisfile.Read(bad); !errors.Is(err, staking.ErrDecode) {
		t.Fatalf("garbage: %v, want staking.ErrDecode", err)
	}
	if _, err := genesisfile.Read(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}
