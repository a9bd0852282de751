package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// walrusBin is the binary under test, built once by TestMain: the tests exercise exactly
// what a user runs (flag parsing, exit status, streams).
var walrusBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "walrus-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	walrusBin = filepath.Join(dir, "walrus")
	build := exec.Command("go", "build", "-o", walrusBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building walrus:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	stdout, stderr string
	code           int
}

func runWalrus(t *testing.T, stdin []byte, args ...string) result {
	t.Helper()
	cmd := exec.Command(walrusBin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Env = append(os.Environ(), "WALRUS_CONFIG=")
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running walrus %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

func writeFile(t *testing.T, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// docs/protocol.md §3 public vectors, computed with the Walrus reference encoder.
var vectors = []struct {
	n    int
	blob string
	id   string
}{
	{10, "walrus blob id v1 regression test", "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY"},
	{1000, "some other string", "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk"},
}

func TestBlobIDVectors(t *testing.T) {
	for _, v := range vectors {
		path := writeFile(t, []byte(v.blob))
		r := runWalrus(t, nil, "blob-id", "--n-shards", fmt.Sprint(v.n), path)
		if r.code != 0 || r.stdout != v.id+"\n" || r.stderr != "" {
			t.Errorf("n=%d: got %+v, want stdout %q", v.n, r, v.id)
		}
	}
	// n defaults to 1000 (Walrus Mainnet), flags may follow the file, and "-" reads stdin.
	path := writeFile(t, []byte(vectors[1].blob))
	for _, args := range [][]string{{"blob-id", path}, {"blob-id", "-"}, {"--config", "x.toml", "blob-id", path}} {
		r := runWalrus(t, []byte(vectors[1].blob), args...)
		if r.code != 0 || r.stdout != vectors[1].id+"\n" {
			t.Errorf("%v: got %+v, want %q", args, r, vectors[1].id)
		}
	}
}

func TestBlobIDJSON(t *testing.T) {
	for _, v := range vectors {
		path := writeFile(t, []byte(v.blob))
		r := runWalrus(t, nil, "blob-id", path, "--json", "--n-shards", fmt.Sprint(v.n))
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("n=%d: %+v", v.n, r)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatalf("n=%d: output %q is not JSON: %v", v.n, r.stdout, err)
		}
		p := codec.MustParams(v.n)
		length := uint64(len(v.blob))
		s, _ := p.SymbolSize(length)
		enc, _ := p.EncodedLength(length)
		want := map[string]any{
			"blobId":          v.id,
			"unencodedLength": float64(length),
			"encodedLength":   float64(enc),
			"symbolSize":      float64(s),
			"nShards":         float64(v.n),
		}
		if len(got) != len(want) {
			t.Errorf("n=%d: fields %v, want exactly %v", v.n, got, want)
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("n=%d: %s = %v, want %v", v.n, k, got[k], w)
			}
		}
	}
	// docs/protocol.md §6 by hand for the n=10 vector: s = 2 (33 bytes over 28 cells, rounded up
	// to even), encoded = 10·((4+7)·2 + 64·10 + 32) = 6940.
	r := runWalrus(t, nil, "blob-id", "--json", "--n-shards", "10", writeFile(t, []byte(vectors[0].blob)))
	if !strings.Contains(r.stdout, `"encodedLength":6940`) || !strings.Contains(r.stdout, `"symbolSize":2`) {
		t.Errorf("n=10 JSON %q lacks encodedLength 6940 / symbolSize 2", r.stdout)
	}
}

// TestBlobIDErrors checks every failure is one line on stderr, nothing on stdout, status 1.
func TestBlobIDErrors(t *testing.T) {
	dir := t.TempDir()
	p4 := codec.MustParams(4)
	// One byte over the maximum for n=4 (2·3·65534 bytes); sparse, so cheap, and refused
	// from its size before any read.
	tooBig := filepath.Join(dir, "too-big")
	f, err := os.Create(tooBig)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(p4.MaxBlobSize()) + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	maxSize := filepath.Join(dir, "max")
	if err := os.WriteFile(maxSize, make([]byte, p4.MaxBlobSize()), 0o644); err != nil {
		t.Fatal(err)
	}
	small := writeFile(t, []byte("x"))

	cases := []struct {
		name  string
		stdin []byte
		args  []string
		want  string // substring of the error line
	}{
		{"missing file", nil, []string{"blob-id", filepath.Join(dir, "nope")}, "no such file"},
		{"directory", nil, []string{"blob-id", dir}, "is a directory"},
		{"too large file", nil, []string{"blob-id", "--n-shards", "4", tooBig}, "too large"},
		{"too large stdin", make([]byte, p4.MaxBlobSize()+1), []string{"blob-id", "--n-shards", "4", "-"}, "too large"},
		{"n below minimum", nil, []string{"blob-id", "--n-shards", "3", small}, "shard count"},
		{"n above maximum", nil, []string{"blob-id", "--n-shards", "65536", small}, "shard count"},
		{"n negative", nil, []string{"blob-id", "--n-shards", "-1", small}, "shard count"},
		{"n not a number", nil, []string{"blob-id", "--n-shards", "abc", small}, "invalid value"},
		{"no file", nil, []string{"blob-id"}, "want exactly one FILE"},
		{"two files", nil, []string{"blob-id", small, small}, "want exactly one FILE"},
		{"unknown flag", nil, []string{"blob-id", "--bogus", small}, "bogus"},
		{"unknown command", nil, []string{"frobnicate"}, "unknown command"},
		{"no command", nil, nil, "no command"},
		{"unknown global flag", nil, []string{"--bogus", "blob-id", small}, "bogus"},
	}
	if os.Geteuid() != 0 { // root reads mode-000 files anyway
		unreadable := filepath.Join(dir, "unreadable")
		if err := os.WriteFile(unreadable, []byte("x"), 0o000); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct {
			name  string
			stdin []byte
			args  []string
			want  string
		}{"unreadable", nil, []string{"blob-id", unreadable}, "permission denied"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runWalrus(t, c.stdin, c.args...)
			if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 ||
				!strings.HasSuffix(r.stderr, "\n") || !strings.Contains(r.stderr, c.want) {
				t.Errorf("got status %d, stdout %q, stderr %q; want status 1, no stdout, one line containing %q",
					r.code, r.stdout, r.stderr, c.want)
			}
		})
	}

	// The exact maximum is accepted (symbol size 65534).
	r := runWalrus(t, nil, "blob-id", "--json", "--n-shards", "4", maxSize)
	if r.code != 0 || !strings.Contains(r.stdout, `"symbolSize":65534`) {
		t.Errorf("maximum-size blob: %+v", r)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"help", "help"}} {
		r := runWalrus(t, nil, args...)
		if r.code != 0 || r.stderr != "" {
			t.Errorf("%v: %+v", args, r)
			continue
		}
		for _, c := range commands {
			// One line per command: its name, then its summary.
			if !strings.Contains(r.stdout, "\n  "+c.name) || !strings.Contains(r.stdout, c.summary+"\n") {
				t.Errorf("%v: command %q missing from\n%s", args, c.name, r.stdout)
			}
		}
		if !strings.Contains(r.stdout, "-config") || !strings.Contains(r.stdout, "-timeout") {
			t.Errorf("%v: global --config or --timeout flag missing from\n%s", args, r.stdout)
		}
	}
	for _, args := range [][]string{{"help", "blob-id"}, {"blob-id", "-h"}} {
		r := runWalrus(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage: walrus blob-id") ||
			!strings.Contains(r.stdout, "-n-shards") || !strings.Contains(r.stdout, "-json") {
			t.Errorf("%v: %+v", args, r)
		}
	}
	// --timeout takes a duration, 0 for none; nothing else.
	for _, v := range []string{"-3s", "soon", "10"} {
		if r := runWalrus(t, nil, "--timeout", v, "info"); r.code != 1 || !strings.Contains(r.stderr, "want a duration") {
			t.Errorf("--timeout %s: %+v", v, r)
		}
	}
	r := runWalrus(t, nil, "help", "nope")
	if r.code != 1 || !strings.Contains(r.stderr, "unknown command") {
		t.Errorf("help nope: %+v", r)
	}
}
