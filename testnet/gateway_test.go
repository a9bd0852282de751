package testnet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/testnet"
)

// startProcess starts cmd with its output going to a lines writer and stops it at test
// cleanup: SIGINT, then SIGKILL after 30 s.
func startProcess(t *testing.T, cmd *exec.Cmd) *lines {
	t.Helper()
	out := newLines()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
	})
	return out
}

// curlResult is one curl run: the status code it printed and the body it wrote.
type curlResult struct {
	code    int
	body    []byte
	headers string
}

// curl runs curl with args, writing the body and headers to files, and returns the
// status code (-w %{http_code}).
func curl(t *testing.T, dir string, args ...string) curlResult {
	t.Helper()
	body, head := filepath.Join(dir, "curl.body"), filepath.Join(dir, "curl.head")
	full := append([]string{"-sS", "--max-time", "120", "-o", body, "-D", head, "-w", "%{http_code}"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	out, runErr := exec.CommandContext(ctx, "curl", full...).Output()
	// A server that answers before reading the whole upload (413) may close the
	// connection while curl still sends: curl then exits non-zero after printing the
	// status it received, which is the answer under test.
	code, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || code == 0 {
		t.Fatalf("curl %v: %v, printed %q", args, runErr, out)
	}
	b, _ := os.ReadFile(body)
	h, _ := os.ReadFile(head)
	return curlResult{code: code, body: b, headers: string(h)}
}

// TestE2EGatewayCurl runs `walrus daemon` as a process against a multi-process testnet
// (`walrus testnet up`) and talks to it with curl: store, read, ranges, errors.
func TestE2EGatewayCurl(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the walrus binary and runs a 4-process testnet and a daemon")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl is not installed")
	}
	tmp := t.TempDir()
	bin := buildWalrus(t, tmp)
	dir := filepath.Join(tmp, "net")
	up := startProcess(t, exec.Command(bin, "testnet", "up", "--dir", dir, "--nodes", "4", "--shards", "100", "--epoch-duration", "10m"))
	up.await(t, "ready")
	l, err := testnet.LoadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	daemon := startProcess(t, exec.Command(bin, "--config", l.ClientConfigFile, "daemon", "--bind-address", "127.0.0.1:0", "--max-body-size", "1024"))
	line := daemon.await(t, "listening on http://")
	m := regexp.MustCompile(`http://(127\.0\.0\.1:[0-9]+)`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no address in %q", line)
	}
	base := "http://" + m[1]

	// A seeded 300 KiB file.
	rng := mrand.New(mrand.NewPCG(31415, 2))
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	file := filepath.Join(tmp, "blob")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := codec.NewParams(100)
	if err != nil {
		t.Fatal(err)
	}
	_, wantID, err := codec.ComputeMetadata(p, data)
	if err != nil {
		t.Fatal(err)
	}

	// Store.
	r := curl(t, tmp, "-X", "PUT", "--data-binary", "@"+file, base+"/v1/blobs?epochs=2")
	if r.code != 200 {
		t.Fatalf("store: %d %s", r.code, r.body)
	}
	var stored struct {
		NewlyCreated struct {
			BlobObject struct {
				BlobID string `json:"blobId"`
				Size   int    `json:"size"`
			} `json:"blobObject"`
			Cost uint64 `json:"cost"`
		} `json:"newlyCreated"`
	}
	if err := json.Unmarshal(r.body, &stored); err != nil || stored.NewlyCreated.BlobObject.BlobID != wantID.String() ||
		stored.NewlyCreated.BlobObject.Size != len(data) || stored.NewlyCreated.Cost == 0 {
		t.Fatalf("store answer %s (%v), want blob %s", r.body, err, wantID)
	}
	id := wantID.String()

	// Read whole, and ranges at the edges.
	r = curl(t, tmp, base+"/v1/blobs/"+id)
	if r.code != 200 || !bytes.Equal(r.body, data) || !strings.Contains(strings.ToLower(r.headers), "accept-ranges: bytes") {
		t.Fatalf("read: %d, %d bytes, headers %s", r.code, len(r.body), r.headers)
	}
	n := len(data)
	for _, tc := range []struct {
		h        string
		off, end int
	}{
		{"0-0", 0, 1},
		{fmt.Sprintf("%d-%d", n-1, n-1), n - 1, n},
		{"1000-70000", 1000, 70001},
	} {
		r = curl(t, tmp, "-r", tc.h, base+"/v1/blobs/"+id)
		want := fmt.Sprintf("content-range: bytes %d-%d/%d", tc.off, tc.end-1, n)
		if r.code != 206 || !bytes.Equal(r.body, data[tc.off:tc.end]) || !strings.Contains(strings.ToLower(r.headers), want) {
			t.Errorf("range %s: %d, %d bytes, headers %s", tc.h, r.code, len(r.body), r.headers)
		}
	}
	r = curl(t, tmp, "-r", fmt.Sprintf("%d-", n), base+"/v1/blobs/"+id)
	if r.code != 416 || !strings.Contains(string(r.body), "INVALID_BYTE_RANGE") {
		t.Errorf("range past the end: %d %s", r.code, r.body)
	}
	r = curl(t, tmp, fmt.Sprintf("%s/v1/blobs/%s/byte-range?start=%d&length=10", base, id, n-10))
	if r.code != 200 || !bytes.Equal(r.body, data[n-10:]) {
		t.Errorf("byte-range: %d %q", r.code, r.body)
	}

	// Errors: unknown, malformed, over the limit (--max-body-size 1024 KiB).
	big := filepath.Join(tmp, "big")
	if err := os.WriteFile(big, make([]byte, 1<<20+1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		reason string
	}{
		{[]string{base + "/v1/blobs/" + codec.BlobID{1}.String()}, 404, "BLOB_NOT_FOUND"},
		{[]string{base + "/v1/blobs/nope"}, 400, "INVALID_BLOB_ID"},
		{[]string{"-X", "PUT", "--data-binary", "@" + big, base + "/v1/blobs"}, 413, "BLOB_TOO_LARGE"},
	} {
		r = curl(t, tmp, tc.args...)
		if r.code != tc.code || !strings.Contains(string(r.body), `"reason":"`+tc.reason+`"`) {
			t.Errorf("%v: %d %s", tc.args, r.code, r.body)
		}
	}
	if r := curl(t, tmp, base+"/status"); r.code != 200 {
		t.Errorf("/status: %d", r.code)
	}
}
