package main

import (
	"bytes"
	"strings"
	"testing"
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
	for _, args := range [][]string{{"read", id}, {"blob-status", id}, {"info"}, {"balance"}, {"address"},
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
