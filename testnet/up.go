package testnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/walrus-go/walrus-go/internal/fsutil"
	"github.com/walrus-go/walrus-go/staking"
)

// Defaults for UpOptions.
const (
	DefaultReadyTimeout = 2 * time.Minute
	DefaultStopTimeout  = 15 * time.Second
)

// UpOptions configures Up. Zero fields take defaults; Nodes, Shards and EpochDuration only
// matter when Up generates a new layout (zero means "not set": reusing a layout that
// disagrees with a field that is set is an error).
type UpOptions struct {
	// Dir is the testnet directory. Required. If it holds a genesis.bin the layout is
	// reused (nodes restart on their data), otherwise one is generated.
	Dir string
	// Nodes, Shards and EpochDuration shape a new network (defaults as in Options).
	Nodes         int
	Shards        int
	EpochDuration time.Duration
	// BasePort fixes the ports of a new network (see Options.BasePort); zero picks free ones.
	BasePort int
	// NoFees makes a new network charge no transaction fees and no node deposit
	// (DefaultPrices without DefaultFees).
	NoFees bool
	// Binary is the walrus executable run as `<Binary> node --config <config.yaml>`
	// (default: the running executable, which is the walrus CLI under `walrus testnet up`).
	Binary string
	// Out receives progress and the ready message (default os.Stdout).
	Out io.Writer
	// ReadyTimeout bounds the wait for the first committed checkpoint (default 2 min).
	ReadyTimeout time.Duration
	// StopTimeout is how long stopping waits after SIGTERM before SIGKILL (default 15 s).
	StopTimeout time.Duration
	// Ready reports whether the network is ready; Up polls it until it returns true.
	// Default: HealthReady (every node's /v1/health answers and one reports height ≥ 1).
	Ready func(ctx context.Context, l *Layout) (bool, error)
	// OnReady, if set, is called once the network is ready, after the ready message.
	OnReady func(l *Layout)
}

// validate fills defaults.
func (o *UpOptions) validate() error {
	if o.Dir == "" {
		return errors.New("testnet: UpOptions.Dir is required")
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("testnet: finding the walrus binary: %w", err)
		}
		o.Binary = exe
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = DefaultReadyTimeout
	}
	if o.StopTimeout == 0 {
		o.StopTimeout = DefaultStopTimeout
	}
	if o.Ready == nil {
		o.Ready = HealthReady
	}
	return nil
}

// Up runs a local multi-process testnet (docs/architecture.md §8): it generates a layout in o.Dir or
// reuses the one there, starts every node as its own OS process (`<Binary> node --config
// DIR/nodes/<i>/config.yaml`, pid in node.pid, output appended to node.log), waits until
// the ledger has committed a checkpoint, prints a line containing "ready" with how to store
// and read, and runs until ctx is cancelled. Then it stops the nodes with SIGTERM, waits up
// to StopTimeout, SIGKILLs what is left, and returns nil. A node that dies after the
// network is ready is reported on Out and left down (restart it by hand with the printed
// command); one that dies before is an error.
func Up(ctx context.Context, o UpOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	l, err := openOrGenerate(o)
	if err != nil {
		return err
	}
	procs := make([]*nodeProc, len(l.Nodes))
	defer func() { stopAll(procs, o.StopTimeout, o.Out) }()
	for i := range l.Nodes {
		p, err := startProc(o.Binary, &l.Nodes[i])
		if err != nil {
			return err
		}
		procs[i] = p
		fmt.Fprintf(o.Out, "started node %d (pid %d, peer %s), log %s\n", i, p.cmd.Process.Pid, l.Nodes[i].PeerID, l.Nodes[i].LogFile())
	}
	if err := waitReady(ctx, o, l, procs); err != nil {
		return err
	}
	printReady(o.Out, o.Binary, l)
	if o.OnReady != nil {
		o.OnReady(l)
	}
	// Run until cancelled, reporting nodes that die meanwhile.
	exits := make(chan int, len(procs))
	for i, p := range procs {
		go func() { <-p.done; exits <- i }()
	}
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(o.Out, "stopping testnet")
			return nil
		case i := <-exits:
			if !procs[i].stopping.Load() {
				fmt.Fprintf(o.Out, "node %d exited: %v; restart it with: %s node --config %s\n",
					i, procs[i].err, o.Binary, l.Nodes[i].ConfigFile)
			}
		}
	}
}

// openOrGenerate reuses the layout in o.Dir or generates one.
func openOrGenerate(o UpOptions) (*Layout, error) {
	_, err := os.Stat(filepath.Join(o.Dir, GenesisFileName))
	if errors.Is(err, fs.ErrNotExist) {
		gen := Options{Dir: o.Dir, Nodes: o.Nodes, Shards: o.Shards, EpochDuration: o.EpochDuration, BasePort: o.BasePort}
		if o.NoFees {
			gen.Prices = DefaultPrices
			gen.Prices.Fees = staking.Fees{}
		}
		l, err := Generate(gen)
		if err == nil {
			fmt.Fprintf(o.Out, "generated a new testnet in %s\n", l.Dir)
		}
		return l, err
	}
	if err != nil {
		return nil, err
	}
	l, err := LoadLayout(o.Dir)
	if err != nil {
		return nil, err
	}
	g := l.Genesis
	switch {
	case o.Nodes != 0 && o.Nodes != len(g.Nodes):
		return nil, fmt.Errorf("testnet: %s holds a %d-node network, not %d (use another --dir)", l.Dir, len(g.Nodes), o.Nodes)
	case o.Shards != 0 && o.Shards != g.NShards:
		return nil, fmt.Errorf("testnet: %s holds a %d-shard network, not %d", l.Dir, g.NShards, o.Shards)
	case o.EpochDuration != 0 && o.EpochDuration.Milliseconds() != g.EpochDuration:
		return nil, fmt.Errorf("testnet: %s has %v epochs, not %v", l.Dir, time.Duration(g.EpochDuration)*time.Millisecond, o.EpochDuration)
	}
	for i := range l.Nodes {
		if pid, alive := livePID(&l.Nodes[i]); alive {
			return nil, fmt.Errorf("testnet: node %d of %s is already running (pid %d)", i, l.Dir, pid)
		}
	}
	fmt.Fprintf(o.Out, "reusing the testnet in %s\n", l.Dir)
	return l, nil
}

// nodeProc is one running node process.
type nodeProc struct {
	nf       *NodeFiles
	cmd      *exec.Cmd
	log      *os.File
	done     chan struct{} // closed when the process has exited and err is set
	err      error
	stopping atomic.Bool // set once Up is stopping it, so its exit is not reported as a failure
}

func startProc(binary string, nf *NodeFiles) (*nodeProc, error) {
	log, err := os.OpenFile(nf.LogFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "=== testnet: starting node %d at %s\n", nf.Index, time.Now().UTC().Format(time.RFC3339))
	cmd := exec.Command(binary, "node", "--config", nf.ConfigFile)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Dir = nf.Dir
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("testnet: starting node %d (%s): %w", nf.Index, binary, err)
	}
	p := &nodeProc{nf: nf, cmd: cmd, log: log, done: make(chan struct{})}
	if err := fsutil.WriteAtomic(nf.PIDFile(), []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		cmd.Process.Kill()
		p.wait()
		return nil, err
	}
	go p.wait()
	return p, nil
}

// wait reaps the process; it runs once per process.
func (p *nodeProc) wait() {
	p.err = p.cmd.Wait()
	p.log.Close()
	close(p.done)
}

// stopAll sends SIGTERM to every live node, waits up to timeout, then SIGKILLs the rest
// and removes their pid files.
func stopAll(procs []*nodeProc, timeout time.Duration, out io.Writer) {
	for _, p := range procs {
		if p == nil {
			continue
		}
		p.stopping.Store(true)
		select {
		case <-p.done:
		default:
			p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	expired := false
	for _, p := range procs {
		if p == nil {
			continue
		}
		if !expired {
			select {
			case <-p.done:
			case <-deadline.C:
				expired = true
			}
		}
		select {
		case <-p.done:
		default:
			fmt.Fprintf(out, "node %d did not stop within %v; killing it\n", p.nf.Index, timeout)
			p.cmd.Process.Kill()
			<-p.done
		}
		os.Remove(p.nf.PIDFile())
	}
}

// livePID reads a node's pid file and reports whether that process still exists.
func livePID(nf *NodeFiles) (int, bool) {
	b, err := fsutil.ReadBounded(nf.PIDFile(), 64)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if !processAlive(pid) {
		return pid, false
	}
	// A stale pid file may name a process that reused the number: where /proc tells the
	// command line, only a process started with this node's config counts.
	if cmd, err := fsutil.ReadBounded(fmt.Sprintf("/proc/%d/cmdline", pid), 1<<16); err == nil {
		return pid, strings.Contains(string(cmd), nf.ConfigFile)
	}
	return pid, true
}

// waitReady polls o.Ready until it holds, a node dies, or the timeout passes.
func waitReady(parent context.Context, o UpOptions, l *Layout, procs []*nodeProc) error {
	ctx, cancel := context.WithTimeout(parent, o.ReadyTimeout)
	defer cancel()
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	var lastErr error
	for {
		for i, p := range procs {
			select {
			case <-p.done:
				return fmt.Errorf("testnet: node %d exited before the network was ready (%v); see %s", i, p.err, l.Nodes[i].LogFile())
			default:
			}
		}
		ok, err := o.Ready(ctx, l)
		if ok {
			return nil
		}
		lastErr = err
		select {
		case <-ctx.Done():
			if err := parent.Err(); err != nil {
				return fmt.Errorf("testnet: stopped before the network was ready: %w", err)
			}
			if lastErr == nil {
				lastErr = ctx.Err()
			}
			return fmt.Errorf("testnet: network not ready after %v: %w", o.ReadyTimeout, lastErr)
		case <-tk.C:
		}
	}
}

// maxHealthBody bounds a /v1/health answer.
const maxHealthBody = 64 << 10

// HealthReady is the default readiness check of Up: every node's HTTP API answers
// /v1/health with status 200, and at least one reports a committed height ≥ 1 (the JSON
// body's "height" field, at the top level or one object down).
func HealthReady(ctx context.Context, l *Layout) (bool, error) {
	var best uint64
	for i := range l.Nodes {
		nf := &l.Nodes[i]
		if nf.APIAddr == "" {
			return false, fmt.Errorf("node %d has no API address", i)
		}
		h, err := healthHeight(ctx, nf.APIAddr)
		if err != nil {
			return false, fmt.Errorf("node %d: %w", i, err)
		}
		best = max(best, h)
	}
	if best < 1 {
		return false, errors.New("no checkpoint committed yet")
	}
	return true, nil
}

var healthClient = &http.Client{Timeout: 2 * time.Second}

// healthHeight asks one node's /v1/health for its height.
func healthHeight(ctx context.Context, addr string) (uint64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/health", nil)
	if err != nil {
		return 0, err
	}
	resp, err := healthClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("health: %s", resp.Status)
	}
	return parseHealthHeight(body)
}

// parseHealthHeight finds "height" in a health JSON object, at the top level or inside
// one nested object (e.g. {"ledger":{"height":3}}).
func parseHealthHeight(body []byte) (uint64, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return 0, fmt.Errorf("health: %w", err)
	}
	var h uint64
	if raw, ok := top["height"]; ok {
		if err := json.Unmarshal(raw, &h); err != nil {
			return 0, fmt.Errorf("health: height: %w", err)
		}
		return h, nil
	}
	for _, raw := range top {
		var inner map[string]json.RawMessage
		if json.Unmarshal(raw, &inner) != nil {
			continue
		}
		if hr, ok := inner["height"]; ok {
			if err := json.Unmarshal(hr, &h); err != nil {
				return 0, fmt.Errorf("health: height: %w", err)
			}
			return h, nil
		}
	}
	return 0, errors.New("health: no height in the answer")
}

// printReady tells the user the network is up and how to use it.
func printReady(out io.Writer, binary string, l *Layout) {
	nid := l.Genesis.NetworkID()
	fmt.Fprintf(out, "testnet ready: %d nodes, %d shards, network %q (id %x), epochs of %v\n",
		len(l.Nodes), l.Genesis.NShards, l.Genesis.Network, nid[:8], time.Duration(l.Genesis.EpochDuration)*time.Millisecond)
	bin := filepath.Base(binary)
	fmt.Fprintf(out, "  client config: %s (wallet %s)\n", l.ClientConfigFile, l.WalletKeyFile)
	fmt.Fprintf(out, "  store a file:  %s --config %s store FILE\n", bin, l.ClientConfigFile)
	fmt.Fprintf(out, "  read it back:  %s --config %s read BLOB_ID > OUT\n", bin, l.ClientConfigFile)
	fmt.Fprintf(out, "  blob status:   %s --config %s blob-status BLOB_ID\n", bin, l.ClientConfigFile)
	fmt.Fprintf(out, "  node logs:     %s/<i>/%s\n", filepath.Join(l.Dir, NodesDirName), LogFileName)
	fmt.Fprintf(out, "  stop with Ctrl-C; a stopped node restarts on its data with: %s node --config %s\n",
		bin, filepath.Join(l.Dir, NodesDirName, "<i>", NodeConfigFileName))
}
