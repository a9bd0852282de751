package testnet_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/testnet"
)

// BenchmarkBigStore is `make bench-big` (issue 17): `walrus store` of a 1 GiB file
// (WALRUS_BIG_SIZE, e.g. 4GiB, or WALRUS_BIG_MIB overrides the size; make's BIG_SIZE) on a
// 4-node multi-process loopback testnet (`walrus testnet up`, 1000 shards), as a user runs
// it: the file mapped, the default memory budget (WALRUS_BIG_BUDGET, make's BIG_BUDGET,
// overrides it, for the store and the reads). Each of b.N runs stores a fresh file; the
// first is the cold one (fresh client process, fresh node processes), later ones find the
// nodes warm. Each run then reads the blob back (`walrus read --out`), and the last one
// kills the node holding its first systematic sliver and reads it again, which must decode.
// It reports per run:
//
//   - the split of the store into encode (the metadata pass), register, upload (to the
//     certificate) and certify, from the CLI's phase timings (WALRUS_STORE_TIMINGS);
//   - the client's peak RSS (its VmHWM, polled every 50 ms with its anonymous and
//     file-backed resident memory);
//   - the client's user and system CPU seconds, the nodes' (from /proc/<pid>/stat), and
//     the whole machine's (/proc/stat, every CPU, busy time), which on a shared machine
//     includes other people's work: compare it with the sum of the parts;
//   - every node's peak RSS (VmHWM since it started, so the largest over the runs);
//   - issue 4's bound measured in the same run: 2 × (encode + 4.5 × blob / stream rate),
//     with the encode time of EncodeStream in this process (the default budget, pairs
//     discarded) and the stream rate of one libp2p stream (median of three);
//   - the reads' time, rate and peak RSS (anonymous and file-backed too), the output
//     compared with the file byte for byte.
func BenchmarkBigStore(b *testing.B) {
	mib := 1024
	if v, err := strconv.Atoi(os.Getenv("WALRUS_BIG_MIB")); err == nil && v > 0 {
		mib = v
	}
	if v := os.Getenv("WALRUS_BIG_SIZE"); v != "" {
		n, err := parseSize(v)
		if err != nil || n%(1<<20) != 0 {
			b.Fatalf("WALRUS_BIG_SIZE: want whole MiB: %q %v", v, err)
		}
		mib = int(n >> 20)
	}
	budget := os.Getenv("WALRUS_BIG_BUDGET")
	size := mib << 20
	tmp := b.TempDir()
	bin := buildWalrusB(b, tmp)
	dir := filepath.Join(tmp, "net")
	up := exec.Command(bin, "testnet", "up", "--dir", dir, "--nodes", "4", "--shards", "1000", "--epoch-duration", "1h")
	out := newLines()
	up.Stdout, up.Stderr = out, out
	if err := up.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = up.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = up.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = up.Process.Kill()
		}
	}()
	awaitB(b, out, "ready")
	l, err := testnet.LoadLayout(dir)
	if err != nil {
		b.Fatal(err)
	}
	var pids []int
	for _, n := range l.Nodes {
		pids = append(pids, processOfB(b, n.ConfigFile))
	}
	var runs []float64
	for range 3 {
		runs = append(runs, streamBaseline(b))
	}
	slices.Sort(runs)
	streamMiBs := runs[1]
	p := codec.MustParams(1000)

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		file := filepath.Join(tmp, "big-"+strconv.Itoa(i))
		writeRandomFile(b, file, size, uint64(i))
		// Encode time in this process, the file mapped as the CLI does.
		encT := func() time.Duration {
			data, unmap, err := client.MapFile(file)
			if err != nil {
				b.Fatal(err)
			}
			defer unmap()
			defer debug.FreeOSMemory() // the encoder's heap back before the store runs
			runtime.GC()
			t0 := time.Now()
			if _, _, err := codec.EncodeStream(p, data, codec.StreamOptions{Budget: 2 << 30},
				nil, func(int, *codec.Sliver, *codec.Sliver) error { return nil }); err != nil {
				b.Fatal(err)
			}
			return time.Since(t0)
		}()
		runtime.GC()
		b.StartTimer()

		timings := filepath.Join(tmp, "timings-"+strconv.Itoa(i))
		args := []string{"--config", l.ClientConfigFile, "store", file, "--epochs", "2", "--json"}
		if budget != "" {
			args = append(args, "--memory-budget", budget)
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "WALRUS_STORE_TIMINGS="+timings)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cpu0, nodes0 := machineBusy(), nodesCPU(b, pids)
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		peaks := pollRSS(cmd.Process.Pid)
		err := cmd.Wait()
		peakAnon, peakFile, peakRSS := peaks()
		wall := time.Since(t0)
		cpu1, nodes1 := machineBusy(), nodesCPU(b, pids)
		if err != nil {
			b.Fatalf("store: %v\n%s", err, stderr.String())
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		phases := readTimings(b, timings)
		at := func(ph string) time.Time { return phases[ph] }
		enc := at("register").Sub(t0) // process start to the end of the metadata pass
		reg := at("upload").Sub(at("register"))
		upl := at("certify").Sub(at("upload"))
		cert := at("done").Sub(at("certify"))
		storeT := at("done").Sub(t0)
		bound := 2 * (encT.Seconds() + 4.5*float64(mib)/streamMiBs)
		userS, sysS := time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds()
		nodeS := (nodes1 - nodes0).Seconds()
		var rs struct {
			BlobID string `json:"blobId"`
		}
		_ = json.Unmarshal([]byte(stdout.String()), &rs)

		b.ReportMetric(streamMiBs, "stream_MiB/s")
		b.ReportMetric(encT.Seconds(), "encode_inproc_s")
		b.ReportMetric(enc.Seconds(), "encode_s")
		b.ReportMetric(reg.Seconds(), "register_s")
		b.ReportMetric(upl.Seconds(), "upload_s")
		b.ReportMetric(cert.Seconds(), "certify_s")
		b.ReportMetric(storeT.Seconds(), "store_s")
		b.ReportMetric(wall.Seconds(), "cli_wall_s")
		b.ReportMetric(bound, "bound_s")
		b.ReportMetric(storeT.Seconds()/bound, "store_vs_bound")
		b.ReportMetric(float64(peakRSS)/float64(size), "client_peak_rss_x_blob")
		b.ReportMetric(float64(peakRSS)/(1<<20), "client_peak_rss_MiB")
		b.ReportMetric(float64(peakAnon)/(1<<20), "client_peak_anon_MiB")
		b.ReportMetric(float64(peakFile)/(1<<20), "client_peak_file_MiB")
		b.ReportMetric(userS, "client_user_s")
		b.ReportMetric(sysS, "client_sys_s")
		b.ReportMetric(float64(ru.Minflt), "client_minflt")
		b.ReportMetric(nodeS, "nodes_cpu_s")
		b.ReportMetric(userS+sysS+nodeS, "parts_cpu_s")
		b.ReportMetric((cpu1 - cpu0).Seconds(), "machine_cpu_s")
		var nodePeak int64
		for _, pid := range pids {
			nodePeak = max(nodePeak, statusKB(pid, "VmHWM"))
		}
		b.ReportMetric(float64(nodePeak)/1024, "node_peak_rss_MiB")
		b.Logf("run %d: blob %s (%d MiB, budget %q), store %.1f s (encode %.1f, register %.1f, upload %.1f, certify %.1f), bound %.1f s (encode in-process %.1f s, stream %.0f MiB/s); client peak RSS %d MiB (anon %d, file %d), user %.1f s sys %.1f s; nodes %.1f CPU-s, peak RSS %d MiB; machine %.1f CPU-s; load %s",
			i, rs.BlobID, mib, budget, storeT.Seconds(), enc.Seconds(), reg.Seconds(), upl.Seconds(), cert.Seconds(), bound, encT.Seconds(), streamMiBs,
			peakRSS>>20, peakAnon>>20, peakFile>>20, userS, sysS, nodeS, nodePeak/1024, (cpu1 - cpu0).Seconds(), loadAvg())

		// Read it back; in the last run, again with the holder of row 0 down (a decode).
		b.StopTimer()
		bigRead(b, bin, l.ClientConfigFile, rs.BlobID, file, budget, tmp, "read", size)
		// Again once the nodes are idle (the store's last uploads and the nodes'
		// compactions done), to stdout: the read itself, without the file's write-back.
		settled := settleNodes(b, pids)
		b.ReportMetric(settled.Seconds(), "settle_s")
		b.Logf("nodes idle %.1f s after the read", settled.Seconds())
		bigReadStdout(b, bin, l.ClientConfigFile, rs.BlobID, file, budget, "read_settled_stdout", size)
		if i == b.N-1 {
			killRowHolder(b, l, rs.BlobID, pids)
			bigRead(b, bin, l.ClientConfigFile, rs.BlobID, file, budget, tmp, "decode_read", size)
		}
		b.StartTimer()
		_ = os.Remove(file)
	}
}

// bigRead runs `walrus read BLOB --out F` (with --memory-budget when budget is set),
// compares F with the stored file and reports the read's time, rate and peak RSS under
// metric names starting with name.
func bigRead(b *testing.B, bin, config, blobID, file, budget, tmp, name string, size int) {
	out := filepath.Join(tmp, "read-back")
	defer os.Remove(out)
	runRead(b, bin, []string{"--config", config, "read", blobID, "--out", out}, budget, name, size, nil,
		func() bool { return sameFiles(b, file, out) })
}

// settleNodes waits until the node processes together use under a fifth of a core over a
// second (at most two minutes) and returns how long that took.
func settleNodes(b *testing.B, pids []int) time.Duration {
	t0 := time.Now()
	for time.Since(t0) < 2*time.Minute {
		c0 := nodesCPU(b, pids)
		time.Sleep(time.Second)
		if nodesCPU(b, pids)-c0 < 200*time.Millisecond {
			break
		}
	}
	return time.Since(t0)
}

// bigReadStdout runs `walrus read BLOB` to stdout, hashing what it prints, checks the hash
// against the stored file's, and reports as bigRead does.
func bigReadStdout(b *testing.B, bin, config, blobID, file, budget, name string, size int) {
	h := sha256.New()
	runRead(b, bin, []string{"--config", config, "read", blobID}, budget, name, size, h, func() bool {
		f, err := os.Open(file)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		want := sha256.New()
		if _, err := io.Copy(want, f); err != nil {
			b.Fatal(err)
		}
		return bytes.Equal(h.Sum(nil), want.Sum(nil))
	})
}

// runRead runs the read command args (with --memory-budget when budget is set), its
// stdout to stdout, checks the result with same, and reports the read's time, rate and
// peak RSS under metric names starting with name.
func runRead(b *testing.B, bin string, args []string, budget, name string, size int, stdout io.Writer, same func() bool) {
	if budget != "" {
		args = append(args, "--memory-budget", budget)
	}
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	peaks := pollRSS(cmd.Process.Pid)
	err := cmd.Wait()
	anon, fileRSS, peakRSS := peaks()
	wall := time.Since(t0)
	if err != nil {
		b.Fatalf("%s: %v\n%s", name, err, stderr.String())
	}
	if !same() {
		b.Fatalf("%s: the blob read back differs from the file", name)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	b.ReportMetric(wall.Seconds(), name+"_s")
	b.ReportMetric(float64(size)/(1<<20)/wall.Seconds(), name+"_MiB/s")
	b.ReportMetric(float64(peakRSS)/(1<<20), name+"_peak_rss_MiB")
	b.ReportMetric(float64(anon)/(1<<20), name+"_peak_anon_MiB")
	b.ReportMetric(float64(fileRSS)/(1<<20), name+"_peak_file_MiB")
	b.Logf("%s: %.1f s (%.0f MiB/s), peak RSS %d MiB (anon %d, file %d), user %.1f s sys %.1f s; load %s", name, wall.Seconds(),
		float64(size)/(1<<20)/wall.Seconds(), peakRSS>>20, anon>>20, fileRSS>>20,
		time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds(), loadAvg())
}

// sameFiles compares two files a MiB at a time.
func sameFiles(b *testing.B, x, y string) bool {
	fx, err := os.Open(x)
	if err != nil {
		b.Fatal(err)
	}
	defer fx.Close()
	fy, err := os.Open(y)
	if err != nil {
		b.Fatal(err)
	}
	defer fy.Close()
	bx, by := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		nx, ex := io.ReadFull(fx, bx)
		ny, ey := io.ReadFull(fy, by)
		if nx != ny || !bytes.Equal(bx[:nx], by[:ny]) {
			return false
		}
		if ex != nil || ey != nil {
			return ex == ey || (errors.Is(ex, io.ErrUnexpectedEOF) && errors.Is(ey, io.ErrUnexpectedEOF))
		}
	}
}

// killRowHolder SIGKILLs the node process holding the blob's systematic primary sliver 0
// (its owner in the current committee, matched to the layout by BLS key), so a read must
// decode.
func killRowHolder(b *testing.B, l *testnet.Layout, blobID string, pids []int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := client.Open(ctx, l.ClientConfigFile)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		b.Fatal(err)
	}
	id, err := codec.ParseBlobID(blobID)
	if err != nil {
		b.Fatal(err)
	}
	p := s.Client.Params()
	key := com.Members[com.Owner(p.ShardForPair(id, 0))].BLSKey
	for i, n := range l.Genesis.Nodes {
		if n.BLSKey == key {
			if err := syscall.Kill(pids[i], syscall.SIGKILL); err != nil {
				b.Fatal(err)
			}
			b.Logf("killed node %d (pid %d), the holder of row 0", i, pids[i])
			return
		}
	}
	b.Fatal("no node of the layout holds row 0")
}

// loadAvg is the first field of /proc/loadavg (the one-minute load), or "?".
func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// buildWalrusB is buildWalrus for a benchmark.
func buildWalrusB(b *testing.B, dir string) string {
	bin := filepath.Join(dir, "walrus")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "../cmd/walrus")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building walrus: %v\n%s", err, out)
	}
	return bin
}

func awaitB(b *testing.B, l *lines, s string) {
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case p := <-l.ch:
			if strings.Contains(p, s) {
				return
			}
		case <-timeout:
			b.Fatalf("no %q in output:\n%s", s, l.String())
		}
	}
}

func processOfB(b *testing.B, config string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(raw), "\x00")
		for i, a := range args {
			if a == "--config" && i > 0 && args[i-1] == "node" && i+1 < len(args) && args[i+1] == config {
				return pid
			}
		}
	}
	b.Fatalf("no node process with --config %s", config)
	return 0
}

func writeRandomFile(b *testing.B, path string, size int, seed uint64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rng := rand.New(rand.NewPCG(seed, 1717))
	w := bufio.NewWriterSize(f, 1<<20)
	buf := make([]byte, 1<<20)
	for off := 0; off < size; off += len(buf) {
		for j := 0; j < len(buf); j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				buf[j+k] = byte(v >> (8 * k))
			}
		}
		if _, err := w.Write(buf[:min(len(buf), size-off)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}

// machineBusy is the whole machine's busy CPU time so far: every field of /proc/stat's cpu
// line but idle and iowait (guest time is already in user).
func machineBusy() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest, guest_nice (in user)
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * 10 * time.Millisecond
}

// nodesCPU sums the processes' user+system time (/proc/<pid>/stat fields 14 and 15).
func nodesCPU(b *testing.B, pids []int) time.Duration {
	var total int64
	for _, pid := range pids {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			b.Fatal(err)
		}
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		u, _ := strconv.ParseInt(f[11], 10, 64)
		k, _ := strconv.ParseInt(f[12], 10, 64)
		total += u + k
	}
	return time.Duration(total) * 10 * time.Millisecond
}

// statusKB reads a "Name: N kB" field of /proc/<pid>/status, or 0.
func statusKB(pid int, name string) int64 {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseInt(f[0], 10, 64)
				return n
			}
		}
	}
	return 0
}

// pollRSS samples the process's anonymous and file-backed resident memory and its VmHWM
// every 50 ms until the returned function is called, which gives the peaks. VmHWM as last
// sampled is the peak RSS: getrusage's ru_maxrss of a child is not, on Linux it starts from
// the high-water mark of the process that forked it (this one, which mapped and encoded
// the blob itself).
func pollRSS(pid int) func() (anon, file, hwm int64) {
	var mu sync.Mutex
	var anon, file, hwm int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			a, f, h := statusKB(pid, "RssAnon")<<10, statusKB(pid, "RssFile")<<10, statusKB(pid, "VmHWM")<<10
			mu.Lock()
			anon, file, hwm = max(anon, a), max(file, f), max(hwm, h)
			mu.Unlock()
			select {
			case <-t.C:
			case <-stop:
				return
			}
		}
	}()
	return func() (int64, int64, int64) {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return anon, file, hwm
	}
}

// readTimings reads the CLI's phase lines.
func readTimings(b *testing.B, path string) map[string]time.Time {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	out := map[string]time.Time{}
	raw, _ := io.ReadAll(f)
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		ph, ns, ok := strings.Cut(line, " ")
		n, err := strconv.ParseInt(ns, 10, 64)
		if ok && err == nil {
			out[ph] = time.Unix(0, n)
		}
	}
	for _, ph := range []string{"register", "upload", "certify", "done"} {
		if _, ok := out[ph]; !ok {
			b.Fatalf("no %s phase in the timings: %q", ph, raw)
		}
	}
	return out
}
