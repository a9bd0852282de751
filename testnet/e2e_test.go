package testnet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/testnet"
)

// The end-to-end test drives the real walrus binary as a user would (docs/architecture.md §8): a
// multi-process testnet from `walrus testnet up`, then the CLI contract of store, read,
// blob-status, info, balance and transfer, error cases, a node killed and restarted, and
// a clean stop.

// buildWalrus compiles cmd/walrus into dir and returns the binary's path.
func buildWalrus(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "walrus")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	cmd := exec.Command(goBin, "build", "-o", bin, "../cmd/walrus")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building walrus: %v\n%s", err, out)
	}
	return bin
}

// cliResult is one CLI run's outcome.
type cliResult struct {
	stdout, stderr string
	code           int
}

// walrusCLI runs the binary with a client config and a bounded time.
type walrusCLI struct {
	t      *testing.T
	bin    string
	config string
}

func (w *walrusCLI) run(args ...string) cliResult {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--config", w.config}, args...)
	cmd := exec.CommandContext(ctx, w.bin, full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("walrus %v: %v", args, err)
	}
	return r
}

// ok runs a command that must succeed.
func (w *walrusCLI) ok(args ...string) string {
	w.t.Helper()
	r := w.run(args...)
	if r.code != 0 {
		w.t.Fatalf("walrus %v: exit %d\nstderr: %s", args, r.code, r.stderr)
	}
	return r.stdout
}

// fails runs a command that must fail with exit status 1 and exactly one line on stderr
// containing want.
func (w *walrusCLI) fails(want string, args ...string) {
	w.t.Helper()
	r := w.run(args...)
	if r.code != 1 {
		w.t.Fatalf("walrus %v: exit %d, want 1\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasSuffix(r.stderr, "\n") {
		w.t.Errorf("walrus %v: stderr is not one line: %q", args, r.stderr)
	}
	if !strings.Contains(r.stderr, want) {
		w.t.Errorf("walrus %v: stderr %q does not mention %q", args, r.stderr, want)
	}
}

// jsonOf decodes a command's JSON output.
func jsonOf[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("bad JSON %q: %v", s, err)
	}
	return v
}

type storeJSON struct {
	BlobID          string `json:"blobId"`
	UnencodedLength uint64 `json:"unencodedLength"`
	EncodedLength   uint64 `json:"encodedLength"`
	CertifiedEpoch  *int   `json:"certifiedEpoch"`
	EndEpoch        uint32 `json:"endEpoch"`
	ExpiresAt       string `json:"expiresAt"`
	Cost            uint64 `json:"cost"`
	Fee             uint64 `json:"fee"` // the store's transaction fees
}

type blobIDJSON struct {
	BlobID        string `json:"blobId"`
	EncodedLength uint64 `json:"encodedLength"`
}

type balanceJSON struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance"`
}

const e2eShards = 100

func TestE2ECLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the walrus binary and runs a 4-process testnet")
	}
	tmp := t.TempDir()
	bin := buildWalrus(t, tmp)
	dir := filepath.Join(tmp, "net")

	// walrus testnet up, as a process whose output we watch.
	up := exec.Command(bin, "testnet", "up", "--dir", dir, "--nodes", "4", "--shards", "100", "--epoch-duration", "10m")
	out := newLines()
	up.Stdout, up.Stderr = out, out
	if err := up.Start(); err != nil {
		t.Fatal(err)
	}
	upDone := make(chan error, 1)
	go func() { upDone <- up.Wait() }()
	t.Cleanup(func() {
		select {
		case <-upDone:
		default:
			up.Process.Signal(syscall.SIGINT)
			select {
			case <-upDone:
			case <-time.After(30 * time.Second):
				up.Process.Kill()
				<-upDone
			}
		}
	})
	out.await(t, "ready")
	l, err := testnet.LoadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := &walrusCLI{t: t, bin: bin, config: l.ClientConfigFile}

	// Files of 0 B, 1 B and 1 MiB (seeded).
	rng := rand.New(rand.NewPCG(7, 11))
	sizes := []int{0, 1, 1 << 20}
	files := make([]string, len(sizes))
	contents := make([][]byte, len(sizes))
	for i, n := range sizes {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		contents[i] = b
		files[i] = filepath.Join(tmp, "file"+string(rune('a'+i)))
		if err := os.WriteFile(files[i], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	before := jsonOf[balanceJSON](t, w.ok("balance", "--json"))
	if before.Balance == 0 || len(before.Address) != 64 {
		t.Fatalf("balance: %+v", before)
	}
	if addr := strings.TrimSpace(w.ok("address")); addr != before.Address {
		t.Errorf("address %q, balance says %q", addr, before.Address)
	}

	var spent uint64
	ids := make([]string, len(files))
	for i, f := range files {
		s := jsonOf[storeJSON](t, w.ok("store", f, "--epochs", "2", "--json"))
		want := jsonOf[blobIDJSON](t, w.ok("blob-id", "--n-shards", "100", "--json", f))
		if s.BlobID != want.BlobID || s.EncodedLength != want.EncodedLength || s.UnencodedLength != uint64(sizes[i]) {
			t.Errorf("store %d B: %+v, blob-id says %+v", sizes[i], s, want)
		}
		if s.CertifiedEpoch == nil || s.EndEpoch != uint32(*s.CertifiedEpoch)+2 || s.Cost == 0 || s.Fee == 0 {
			t.Errorf("store %d B: epochs or cost wrong: %+v", sizes[i], s)
		}
		if at, err := time.Parse(time.RFC3339, s.ExpiresAt); err != nil || !at.After(time.Now()) || at.Location() != time.UTC {
			t.Errorf("store %d B: expiresAt %q (%v)", sizes[i], s.ExpiresAt, err)
		}
		spent += s.Cost + s.Fee
		ids[i] = s.BlobID
	}

	// Read back: to a file and, for the largest, to stdout.
	for i, id := range ids {
		dst := filepath.Join(tmp, "out"+id)
		w.ok("read", id, "--out", dst)
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, contents[i]) {
			t.Errorf("read %s: %d bytes differ from the %d stored", id, len(got), len(contents[i]))
		}
	}
	if got := w.ok("read", ids[2]); got != string(contents[2]) {
		t.Errorf("read to stdout: %d bytes differ", len(got))
	}

	// Status, info.
	for _, id := range ids {
		st := jsonOf[struct {
			Status    string `json:"status"`
			EndEpoch  uint32 `json:"endEpoch"`
			ExpiresAt string `json:"expiresAt"`
		}](t, w.ok("blob-status", id, "--json"))
		if _, err := time.Parse(time.RFC3339, st.ExpiresAt); st.Status != "certified" || st.EndEpoch == 0 || err != nil {
			t.Errorf("blob-status %s: %+v", id, st)
		}
	}
	unknown := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	if st := w.ok("blob-status", unknown, "--json"); !strings.Contains(st, `"nonexistent"`) {
		t.Errorf("blob-status of an unknown blob: %s", st)
	}
	info := jsonOf[struct {
		NShards     int    `json:"nShards"`
		MaxBlobSize uint64 `json:"maxBlobSize"`
		Committee   []struct {
			PeerID string `json:"peerId"`
			Shards int    `json:"shards"`
			Stake  uint64 `json:"stake"`
		} `json:"committee"`
	}](t, w.ok("info", "--json"))
	total := 0
	for _, m := range info.Committee {
		total += m.Shards
		if !strings.HasPrefix(m.PeerID, "12D3KooW") {
			t.Errorf("info: peer ID %q", m.PeerID)
		}
		if m.Stake == 0 {
			t.Errorf("info: member %s shows no stake", m.PeerID)
		}
	}
	if info.NShards != e2eShards || len(info.Committee) != 4 || total != e2eShards || info.MaxBlobSize == 0 {
		t.Errorf("info: %+v", info)
	}

	// Transfer 1.5 WAL and see exactly that and its fee (plus the stores) leave the balance.
	to := strings.Repeat("ab", 32)
	tr := jsonOf[struct {
		Fee uint64 `json:"fee"`
	}](t, w.ok("transfer", to, "1.5", "--json"))
	spent += tr.Fee
	after := jsonOf[balanceJSON](t, w.ok("balance", "--json"))
	if want := before.Balance - spent - 1_500_000_000; after.Balance != want || tr.Fee == 0 {
		t.Errorf("balance %d after spending %d and sending 1.5 WAL from %d, want %d", after.Balance, spent, before.Balance, want)
	}

	// Errors: one line, exit status 1.
	w.fails("does not exist", "read", unknown)
	w.fails("bad blob ID", "read", "not-a-blob-id")
	w.fails("no such file", "store", filepath.Join(tmp, "missing"))
	w.fails("insufficient", "transfer", to, "1000000000")
	w.fails("bad amount", "transfer", to, "1.2.3")
	(&walrusCLI{t: t, bin: bin, config: filepath.Join(tmp, "nope.yaml")}).fails("no such file", "info")

	// Kill node 1 hard; reads and stores still work on the other three.
	victim := &l.Nodes[1]
	pid := readPID(t, victim)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	out.await(t, "node 1 exited")
	if got := w.ok("read", ids[2]); got != string(contents[2]) {
		t.Errorf("read with node 1 down: %d bytes differ", len(got))
	}
	extra := filepath.Join(tmp, "extra")
	if err := os.WriteFile(extra, []byte("stored while node 1 was down"), 0o644); err != nil {
		t.Fatal(err)
	}
	extraID := jsonOf[storeJSON](t, w.ok("store", extra, "--json")).BlobID

	// Restart it on its data with `walrus node` and wait until it has caught up with
	// node 0's height from after the store.
	target := nodeHealth(t, l.Nodes[0].APIAddr).Height
	node := exec.Command(bin, "node", "--config", victim.ConfigFile)
	var nodeOut bytes.Buffer
	node.Stdout, node.Stderr = &nodeOut, &nodeOut
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	nodeDone := make(chan error, 1)
	go func() { nodeDone <- node.Wait() }()
	t.Cleanup(func() {
		select {
		case <-nodeDone:
		default:
			node.Process.Kill()
			<-nodeDone
		}
	})
	awaitNodeHealth(t, victim.APIAddr)
	deadline := time.Now().Add(45 * time.Second)
	for nodeHealth(t, victim.APIAddr).Height < target {
		if time.Now().After(deadline) {
			t.Fatalf("restarted node stuck below height %d:\n%s", target, nodeOut.String())
		}
		time.Sleep(100 * time.Millisecond) // a separate process: polling its health is the signal
	}
	if st := w.ok("blob-status", extraID, "--json"); !strings.Contains(st, `"certified"`) {
		t.Errorf("blob stored while node 1 was down: %s", st)
	}

	// Clean stops: the restarted node on SIGTERM, the testnet on SIGINT.
	node.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-nodeDone:
		nodeDone <- err
		if err != nil {
			t.Errorf("walrus node exit: %v\n%s", err, nodeOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("walrus node did not stop on SIGTERM")
	}
	up.Process.Signal(syscall.SIGINT)
	select {
	case err := <-upDone:
		upDone <- err
		if err != nil {
			t.Errorf("walrus testnet up exit: %v\n%s", err, out.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("walrus testnet up did not stop on SIGINT:\n%s", out.String())
	}
	if s := out.String(); !strings.Contains(s, "stopping testnet") || strings.Contains(s, "killing it") {
		t.Errorf("testnet did not stop cleanly:\n%s", s)
	}
	// With every node down, a network command says so in one line.
	w.fails("no reachable node", "info")
}
