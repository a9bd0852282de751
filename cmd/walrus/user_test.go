package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

func TestParseAmount(t *testing.T) {
	good := map[string]uint64{
		"1": 1_000_000_000, "1.5": 1_500_000_000, "0.000000001": 1, "2wal": 2_000_000_000,
		"1500frost": 1500, "1500 FROST": 1500, ".25": 250_000_000,
	}
	for in, want := range good {
		if got, err := parseAmount(in); err != nil || got != want {
			t.Errorf("parseAmount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "+1", "1.0000000001", "1.2.3", "abc", "0frost", "99999999999999999999", "1e3"} {
		if got, err := parseAmount(in); err == nil {
			t.Errorf("parseAmount(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseAddress(t *testing.T) {
	hex := strings.Repeat("ab", 32)
	if a, err := parseAddress(hex); err != nil || a.String() != hex {
		t.Errorf("parseAddress: %v, %v", a, err)
	}
	if _, err := parseAddress("0x" + hex); err != nil {
		t.Errorf("0x prefix refused: %v", err)
	}
	for _, bad := range []string{"", hex[:62], hex + "00", strings.Repeat("zz", 32)} {
		if _, err := parseAddress(bad); err == nil {
			t.Errorf("parseAddress(%q) succeeded", bad)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.00 KiB", 5 << 20: "5.00 MiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// Network commands without a configuration fail with one line before dialling anything.
func TestNetworkCommandsNeedConfig(t *testing.T) {
	t.Setenv("WALRUS_CONFIG", "")
	id := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	for _, args := range [][]string{{"read", id}, {"blob-status", id}, {"info"}, {"health"}, {"balance"}, {"address"},
		{"transfer", strings.Repeat("ab", 32), "1"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 1 {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
		if s := errb.String(); strings.Count(s, "\n") != 1 || !strings.Contains(s, "--config") {
			t.Errorf("%v: stderr %q", args, s)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"read", "not-an-id"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "bad blob ID") {
		t.Errorf("bad ID: exit %d, %q", code, errb.String())
	}
}

// A store without --epochs lives at least a day on the default testnet (hour-long epochs):
// the current epoch may be almost over, so a day needs 25 of them; shorter epochs are
// capped at what the ledger sells ahead.
func TestDefaultEpochs(t *testing.T) {
	for d, want := range map[time.Duration]uint32{
		time.Hour: 25, 24 * time.Hour: 2, 30 * time.Minute: 49, 10 * time.Minute: staking.MaxEpochsAhead,
		14 * 24 * time.Hour: 2, 0: staking.MaxEpochsAhead,
	} {
		got := defaultEpochs(d)
		if got != want {
			t.Errorf("defaultEpochs(%v) = %d, want %d", d, got, want)
		}
		if d > 0 && got < staking.MaxEpochsAhead && time.Duration(got-1)*d < minLifetime {
			t.Errorf("defaultEpochs(%v) = %d lives less than %v", d, got, minLifetime)
		}
	}
	if d := testnet.DefaultEpochDuration; time.Duration(defaultEpochs(d)-1)*d < minLifetime {
		t.Errorf("the default testnet's %v epochs: a default store lives less than %v", d, minLifetime)
	}
}

func TestEpochStart(t *testing.T) {
	in := &query.Info{GenesisTime: 1_700_000_000_000, EpochDuration: 3_600_000}
	if got, want := epochStart(in, 25), "2023-11-15T23:13:20Z"; got != want {
		t.Errorf("epochStart = %q, want %q", got, want)
	}
}

func TestParseByteRange(t *testing.T) {
	for in, want := range map[string][2]int64{"0-0": {0, 1}, "0-99": {0, 100}, "10-19": {10, 10}, "5-5": {5, 1}} {
		off, n, err := parseByteRange(in)
		if err != nil || off != want[0] || n != want[1] {
			t.Errorf("parseByteRange(%q) = %d, %d, %v; want %v", in, off, n, err, want)
		}
	}
	for _, in := range []string{"", "5", "5-", "-5", "9-5", "a-b", "1-2-3", "-1-5", "0-9223372036854775807", " 1-2"} {
		if off, n, err := parseByteRange(in); err == nil {
			t.Errorf("parseByteRange(%q) = %d, %d; want an error", in, off, n)
		}
	}
}

// writeFileStreaming leaves the file complete or not at all.
func TestWriteFileStreaming(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	broke := errors.New("read failed")
	err := writeFileStreaming(path, func(w io.Writer) error {
		_, _ = w.Write([]byte("partial"))
		return broke
	})
	if !errors.Is(err, broke) {
		t.Fatalf("failed write: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("a failed read changed the file: %q", b)
	}
	if err := writeFileStreaming(path, func(w io.Writer) error {
		_, err := w.Write([]byte("new contents"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new contents" {
		t.Fatalf("file holds %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("temporary files left: %v", ents)
	}
	// Past the write-back chunk (write-back started along the way): every byte lands.
	big := make([]byte, 2*writebackChunk+12345)
	for i := range big {
		big[i] = byte(i * 31 >> 8)
	}
	if err := writeFileStreaming(path, func(w io.Writer) error {
		for rest := big; len(rest) > 0; {
			n := min(len(rest), 1<<20-7)
			if _, err := w.Write(rest[:n]); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, big) {
		t.Fatalf("a %d-byte write read back as %d bytes, or different", len(big), len(b))
	}
}
