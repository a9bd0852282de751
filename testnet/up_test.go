package testnet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/walrus-go/walrus-go/node"

	"github.com/walrus-go/walrus-go/testnet"
)

// The Up tests run this test binary as the "walrus" binary: with fakeNodeEnv set, TestMain
// acts as `walrus node --config FILE` instead of running tests. The fake node serves
// /v1/health with a height kept in its data directory (one more at every start, as if it
// committed a checkpoint), and on SIGTERM records a clean stop and exits 0. With
// stubbornEnv set it ignores SIGTERM, to exercise the SIGKILL fallback.
const (
	fakeNodeEnv = "WALRUS_TESTNET_FAKE_NODE"
	stubbornEnv = "WALRUS_TESTNET_FAKE_STUBBORN"
	// realNodeEnv makes this binary run a real node.Node, as `walrus node` does: load the
	// config, New, Start, and Close on SIGTERM.
	realNodeEnv = "WALRUS_TESTNET_REAL_NODE"
)

func realNode(args []string) int {
	if len(args) != 3 || args[0] != "node" || args[1] != "--config" {
		fmt.Fprintf(os.Stderr, "real node: bad args %q\n", args)
		return 2
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	cfg, err := node.LoadConfig(args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	n, err := node.New(context.Background(), cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := n.Start(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		n.Close()
		return 1
	}
	<-sigs
	if err := n.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestMain(m *testing.M) {
	if os.Getenv(fakeNodeEnv) == "1" {
		os.Exit(fakeNode(os.Args[1:]))
	}
	if os.Getenv(realNodeEnv) == "1" {
		os.Exit(realNode(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeNode(args []string) int {
	if len(args) != 3 || args[0] != "node" || args[1] != "--config" {
		fmt.Fprintf(os.Stderr, "fake node: bad args %q\n", args)
		return 2
	}
	b, err := os.ReadFile(args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var cfg struct {
		DataDir string `yaml:"data_dir"`
		APIAddr string `yaml:"api_addr"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil || cfg.DataDir == "" || cfg.APIAddr == "" {
		fmt.Fprintf(os.Stderr, "fake node: config %v %+v\n", err, cfg)
		return 1
	}
	hf := filepath.Join(cfg.DataDir, "height")
	hb, _ := os.ReadFile(hf)
	h, _ := strconv.Atoi(string(hb))
	h++
	if err := os.WriteFile(hf, []byte(strconv.Itoa(h)), 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	if os.Getenv(stubbornEnv) == "1" {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(sigs, syscall.SIGTERM)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/health", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"status":"ok","ledger":{"height":%d}}`, h)
	})
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	// Printed only once the listener is bound: the restart test waits for this line.
	fmt.Println("fake node up at height", h)
	<-sigs
	srv.Close()
	os.WriteFile(filepath.Join(cfg.DataDir, "clean-stop"), nil, 0o600)
	return 0
}

// lines is an io.Writer for Up's output that tests can wait on.
type lines struct {
	mu  sync.Mutex
	all strings.Builder
	ch  chan string
}

func newLines() *lines { return &lines{ch: make(chan string, 1024)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.all.Write(p)
	l.mu.Unlock()
	select {
	case l.ch <- string(p):
	default:
	}
	return len(p), nil
}

func (l *lines) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.all.String() }

// await returns the first output chunk containing s.
func (l *lines) await(t *testing.T, s string) string {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case p := <-l.ch:
			if strings.Contains(p, s) {
				return p
			}
		case <-timeout:
			t.Fatalf("no %q in output:\n%s", s, l.String())
		}
	}
}

func health(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v1/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct{ Ledger struct{ Height int } }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v.Ledger.Height
}

func readPID(t *testing.T, nf *testnet.NodeFiles) int {
	t.Helper()
	b, err := os.ReadFile(nf.PIDFile())
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

type upRun struct {
	dir    string
	out    *lines
	ready  chan *testnet.Layout
	done   chan error
	cancel context.CancelFunc
}

func startUp(t *testing.T, o testnet.UpOptions) *upRun {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r := &upRun{dir: o.Dir, out: newLines(), ready: make(chan *testnet.Layout, 1), done: make(chan error, 1)}
	o.Binary, o.Out = exe, r.out
	o.OnReady = func(l *testnet.Layout) { r.ready <- l }
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- testnet.Up(ctx, o) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func (r *upRun) awaitReady(t *testing.T) *testnet.Layout {
	t.Helper()
	select {
	case l := <-r.ready:
		return l
	case err := <-r.done:
		r.done <- err
		t.Fatalf("Up returned before ready: %v\n%s", err, r.out.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("not ready:\n%s%s", r.out.String(), r.logTails())
	}
	return nil
}

// logTails returns the end of every node.log in the run's directory, for failure reports.
func (r *upRun) logTails() string {
	var sb strings.Builder
	logs, _ := filepath.Glob(filepath.Join(r.dir, testnet.NodesDirName, "*", testnet.LogFileName))
	for _, f := range logs {
		b, _ := os.ReadFile(f)
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		fmt.Fprintf(&sb, "--- %s:\n%s\n", f, b)
	}
	return sb.String()
}

func (r *upRun) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("Up: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Up did not return after cancel")
	}
}

func TestUpMultiProcess(t *testing.T) {
	t.Setenv(fakeNodeEnv, "1")
	dir := filepath.Join(t.TempDir(), "net")
	r := startUp(t, testnet.UpOptions{Dir: dir, Nodes: 3, Shards: 10, EpochDuration: time.Minute})
	l := r.awaitReady(t)
	if !strings.Contains(r.out.String(), "ready") || !strings.Contains(r.out.String(), "store") {
		t.Fatalf("ready message missing:\n%s", r.out.String())
	}
	if len(l.Nodes) != 3 || l.Genesis.NShards != 10 || l.Genesis.EpochDuration != 60_000 {
		t.Fatalf("layout: %d nodes, %d shards, %d ms", len(l.Nodes), l.Genesis.NShards, l.Genesis.EpochDuration)
	}
	for i := range l.Nodes {
		if h := health(t, l.Nodes[i].APIAddr); h != 1 {
			t.Errorf("node %d at height %d", i, h)
		}
		if _, err := os.Stat(l.Nodes[i].LogFile()); err != nil {
			t.Errorf("node %d log: %v", i, err)
		}
	}

	// A second Up on a running directory is refused.
	exe, _ := os.Executable()
	err := testnet.Up(context.Background(), testnet.UpOptions{Dir: dir, Binary: exe, Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Up on a running testnet: %v", err)
	}

	// Kill node 1 outright: Up reports it and keeps running.
	nf := &l.Nodes[1]
	if err := syscall.Kill(readPID(t, nf), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	msg := r.out.await(t, "node 1 exited")
	if !strings.Contains(msg, "node --config "+nf.ConfigFile) {
		t.Errorf("exit report lacks the restart command: %q", msg)
	}
	// Restarted by hand, it comes back with its data (height 1 → 2).
	cmd := exec.Command(exe, "node", "--config", nf.ConfigFile)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make([]byte, 64)
	n, _ := stdout.Read(line) // the fake prints once it serves
	if !strings.Contains(string(line[:n]), "height 2") {
		t.Fatalf("restarted node says %q, want height 2", line[:n])
	}
	if h := health(t, nf.APIAddr); h != 2 {
		t.Fatalf("restarted node reports height %d", h)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	// Cancel: the others get SIGTERM, stop cleanly, pid files go.
	r.stop(t)
	for _, i := range []int{0, 2} {
		if _, err := os.Stat(filepath.Join(l.Nodes[i].DataDir, "clean-stop")); err != nil {
			t.Errorf("node %d did not stop cleanly: %v", i, err)
		}
		if _, err := os.Stat(l.Nodes[i].PIDFile()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("node %d pid file left: %v", i, err)
		}
	}

	// Up again on the same directory reuses the layout and the data.
	r2 := startUp(t, testnet.UpOptions{Dir: dir})
	l2 := r2.awaitReady(t)
	if l2.Genesis.NetworkID() != l.Genesis.NetworkID() {
		t.Fatal("reuse generated a new network")
	}
	if h := health(t, l2.Nodes[0].APIAddr); h != 2 {
		t.Errorf("node 0 restarted at height %d, want 2", h)
	}
	r2.stop(t)

	// A conflicting shape is refused.
	err = testnet.Up(context.Background(), testnet.UpOptions{Dir: dir, Nodes: 5, Binary: exe, Out: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "3-node") {
		t.Fatalf("Up with 5 nodes on a 3-node dir: %v", err)
	}
}

func TestUpKillsStubbornNodes(t *testing.T) {
	t.Setenv(fakeNodeEnv, "1")
	t.Setenv(stubbornEnv, "1")
	r := startUp(t, testnet.UpOptions{Dir: t.TempDir(), Nodes: 2, Shards: 7, StopTimeout: 300 * time.Millisecond})
	l := r.awaitReady(t)
	pids := []int{readPID(t, &l.Nodes[0]), readPID(t, &l.Nodes[1])}
	r.stop(t)
	if !strings.Contains(r.out.String(), "killing it") {
		t.Errorf("no kill reported:\n%s", r.out.String())
	}
	for i, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("node %d (pid %d) still exists: %v", i, pid, err)
		}
	}
}

func TestUpNodeFailsBeforeReady(t *testing.T) {
	// /bin/false exits at once: Up must say so instead of waiting out the timeout.
	err := testnet.Up(context.Background(), testnet.UpOptions{Dir: t.TempDir(), Nodes: 1, Shards: 4,
		Binary: "/bin/false", Out: io.Discard, ReadyTimeout: 30 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "exited before") {
		t.Fatalf("Up with a failing binary: %v", err)
	}
}

// TestUpRealNodes runs the default testnet (4 nodes, 1000 shards) with every node a real
// node.Node in its own process, as `walrus testnet up` does.
func TestUpRealNodes(t *testing.T) {
	t.Setenv(realNodeEnv, "1")
	r := startUp(t, testnet.UpOptions{Dir: t.TempDir()})
	l := r.awaitReady(t)
	if l.Genesis.NShards != 1000 || len(l.Nodes) != 4 {
		t.Fatalf("default testnet: %d shards, %d nodes", l.Genesis.NShards, len(l.Nodes))
	}
	var hs []healthAnswer
	for i := range l.Nodes {
		hs = append(hs, nodeHealth(t, l.Nodes[i].APIAddr))
	}
	if hs[0].Network != testnet.DefaultNetwork {
		t.Fatalf("health %+v", hs[0])
	}
	best := 0
	for _, h := range hs {
		best = max(best, h.Height)
	}
	if best < 1 {
		t.Fatalf("ready before any checkpoint: %+v", hs)
	}

	// Kill node 2 outright and bring it back by hand: it restarts on its data.
	nf := &l.Nodes[2]
	before := nodeHealth(t, nf.APIAddr).Height
	if err := syscall.Kill(readPID(t, nf), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	r.out.await(t, "node 2 exited")
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "node", "--config", nf.ConfigFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	after := awaitNodeHealth(t, nf.APIAddr)
	if after.Height < before {
		t.Fatalf("restarted node at height %d, was at %d", after.Height, before)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("hand-started node did not stop cleanly: %v", err)
	}

	r.stop(t)
	if strings.Contains(r.out.String(), "killing") {
		t.Errorf("real nodes needed SIGKILL:\n%s", r.out.String())
	}
}

type healthAnswer struct {
	Status  string
	Network string
	Height  int
}

func nodeHealth(t *testing.T, addr string) healthAnswer {
	t.Helper()
	h, err := tryHealth(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func tryHealth(addr string) (healthAnswer, error) {
	var h healthAnswer
	resp, err := http.Get("http://" + addr + "/v1/health")
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&h)
	return h, err
}

// awaitNodeHealth polls a starting node's health endpoint: a separate process gives no
// other signal that it is listening.
func awaitNodeHealth(t *testing.T, addr string) healthAnswer {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		h, err := tryHealth(addr)
		if err == nil {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
