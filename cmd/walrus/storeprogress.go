package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/walrus-go/walrus-go/codec"

	"github.com/walrus-go/walrus-go/node/client"
)

// phaseProgress draws a long store's progress on a terminal, one line rewritten in place:
// the phase, bytes done of the phase's total, its rate since the phase began and the time
// left at that rate, and the nodes confirmed, e.g.
//
//	encode   [######........................]  21%  215 MiB / 1.00 GiB  98.1 MiB/s  8s left
//	upload   [###########...................]  37%  1.6 GiB / 4.4 GiB sent (0 B skipped)  120 MiB/s  23s left  1/4 nodes confirmed
//
// Encode counts the blob through the metadata pass; upload counts sliver bytes acknowledged
// by nodes (a resumed store's skipped bytes count as done and are shown), while the rest of
// the encoding runs alongside; confirmed counts nodes whose signed confirmation is in.
type phaseProgress struct {
	w      io.Writer
	mu     sync.Mutex
	last   time.Time
	closed bool
	phase  string
	start  time.Time // when the phase began
	base   int64     // the phase's done count when it began (a resumed store's skipped bytes)
	width  int       // characters of the last line, to blank it
	now    func() time.Time
}

func newPhaseProgress(w io.Writer) *phaseProgress {
	return &phaseProgress{w: w, now: time.Now}
}

func (p *phaseProgress) update(pr client.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	now := p.now()
	phase := pr.Phase
	if phase == "" {
		phase = client.PhaseUpload
	}
	done, total := pr.BytesSent, pr.BytesTotal
	if phase == client.PhaseEncode {
		done, total = pr.BytesEncoded, pr.EncodeTotal
	}
	if phase != p.phase {
		p.phase, p.start, p.base = phase, now, done
	} else if now.Sub(p.last) < 200*time.Millisecond && phase != client.PhaseDone {
		return
	}
	p.last = now
	line := p.line(pr, phase, done, total, now)
	pad := ""
	if n := len(line); n < p.width {
		pad = strings.Repeat(" ", p.width-n)
	}
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}

// line renders one progress line (no carriage return).
func (p *phaseProgress) line(pr client.Progress, phase string, done, total int64, now time.Time) string {
	const width = 30
	frac := 0.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	k := int(frac * width)
	var b strings.Builder
	fmt.Fprintf(&b, "%-8s [%s%s] %3.0f%%", phase, strings.Repeat("#", k), strings.Repeat(".", width-k), 100*frac)
	switch phase {
	case client.PhaseRegister, client.PhaseCertify:
		fmt.Fprintf(&b, "  waiting for the ledger (%s)", now.Sub(p.start).Round(time.Second))
	default:
		fmt.Fprintf(&b, "  %s / %s", humanBytes(uint64(max(0, done))), humanBytes(uint64(max(0, total))))
		if phase != client.PhaseEncode {
			fmt.Fprintf(&b, " sent")
			if pr.BytesSkipped > 0 {
				fmt.Fprintf(&b, " (%s skipped)", humanBytes(uint64(pr.BytesSkipped)))
			}
		}
		if el := now.Sub(p.start).Seconds(); el >= 0.5 && done > p.base && phase != client.PhaseDone {
			rate := float64(done-p.base) / el
			fmt.Fprintf(&b, "  %s/s", humanBytes(uint64(rate)))
			if left := float64(total-done) / rate; total > done {
				fmt.Fprintf(&b, "  %s left", (time.Duration(left) * time.Second).Round(time.Second))
			}
		}
	}
	if pr.Nodes > 0 {
		fmt.Fprintf(&b, "  %d/%d nodes confirmed", pr.NodesConfirmed, pr.Nodes)
		if pr.Quorum {
			b.WriteString(" (quorum)")
		}
		if pr.NodesFailed > 0 {
			fmt.Fprintf(&b, ", %d failed", pr.NodesFailed)
		}
	}
	return b.String()
}

func (p *phaseProgress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		fmt.Fprintln(p.w)
	}
}

// readProgress counts the bytes a read writes and draws them with the rate and, when the
// blob's length is known, the share and the time left.
type readProgress struct {
	w     io.Writer // the destination
	bar   *phaseProgress
	total int64
	n     int64
	start time.Time
	last  time.Time
}

func (r *readProgress) Write(b []byte) (int, error) {
	n, err := r.w.Write(b)
	r.n += int64(n)
	if now := time.Now(); now.Sub(r.last) >= 200*time.Millisecond {
		r.last = now
		r.draw(now)
	}
	return n, err
}

func (r *readProgress) draw(now time.Time) {
	p := r.bar
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	var b strings.Builder
	if r.total > 0 {
		const width = 30
		frac := min(1, float64(r.n)/float64(r.total))
		k := int(frac * width)
		fmt.Fprintf(&b, "read     [%s%s] %3.0f%%  %s / %s", strings.Repeat("#", k), strings.Repeat(".", width-k), 100*frac,
			humanBytes(uint64(r.n)), humanBytes(uint64(r.total)))
	} else {
		fmt.Fprintf(&b, "read     %s", humanBytes(uint64(r.n)))
	}
	if el := now.Sub(r.start).Seconds(); el >= 0.5 && r.n > 0 {
		rate := float64(r.n) / el
		fmt.Fprintf(&b, "  %s/s", humanBytes(uint64(rate)))
		if r.total > r.n {
			fmt.Fprintf(&b, "  %s left", (time.Duration(float64(r.total-r.n)/rate) * time.Second).Round(time.Second))
		}
	}
	line := b.String()
	pad := ""
	if len(line) < p.width {
		pad = strings.Repeat(" ", p.width-len(line))
	}
	p.width = len(line)
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
}

// defaultMemoryBudget is min(physical memory / 4, 2 GiB), or 1 GiB when the machine does
// not say.
func defaultMemoryBudget() int64 {
	total := physicalMemory()
	if total <= 0 {
		return 1 << 30
	}
	return min(total/4, 2<<30)
}

// memoryBudget parses a --memory-budget value ("" is defaultMemoryBudget()) and makes it
// the Go runtime's memory limit too (limitHeap).
func memoryBudget(flag string) (int64, error) {
	budget := defaultMemoryBudget()
	if flag != "" {
		b, err := parseSize("memory-budget", flag)
		if err != nil || b == 0 || b > 1<<62 {
			return 0, fmt.Errorf("bad --memory-budget %q: want a byte count like 536870912 or 512MiB", flag)
		}
		budget = int64(b)
	}
	limitHeap(budget)
	return budget, nil
}

// limitHeap makes the budget the Go runtime's soft memory limit too (debug.SetMemoryLimit,
// unless GOMEMLIMIT is set): the store and the read plan their memory within the budget,
// and the limit keeps the heap's garbage from growing it past that (GOGC alone lets a
// heap of live buffers double before a collection). Never below 256 MiB: a budget smaller
// than what the work needs at the least would have the collector run without end.
func limitHeap(budget int64) {
	if os.Getenv("GOMEMLIMIT") == "" && budget > 0 {
		debug.SetMemoryLimit(max(budget, 256<<20))
	}
}

// physicalMemory reads MemTotal from /proc/meminfo (Linux), or 0.
func physicalMemory() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(v)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// testKillEnv names the phase in which `walrus store` kills itself with SIGKILL, for the
// resumable-store tests (testnet): "encode" (the first progress tick of the metadata pass), "register"
// (registered, nothing sent), "upload" (a third sent), "confirmed" (quorum confirmed, before
// the certificate). Unset in normal use.
const testKillEnv = "WALRUS_TEST_KILL_AT"

// timingsEnv names a file to which `walrus store` appends one line per phase it enters,
// "<phase> <unix nanoseconds>", for make bench-big's split of a store. Unset in normal use.
const timingsEnv = "WALRUS_STORE_TIMINGS"

// killHook returns a progress callback that SIGKILLs the process at the phase named by
// $WALRUS_TEST_KILL_AT and records phase changes in $WALRUS_STORE_TIMINGS, or nil.
func killHook() func(client.Progress) {
	at := os.Getenv(testKillEnv)
	timings := os.Getenv(timingsEnv)
	if at == "" && timings == "" {
		return nil
	}
	phase := ""
	record := func(pr client.Progress) {
		if timings == "" || pr.Phase == phase {
			return
		}
		phase = pr.Phase
		if f, err := os.OpenFile(timings, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "%s %d\n", phase, time.Now().UnixNano())
			f.Close()
		}
	}
	var once sync.Once
	kill := func() {
		once.Do(func() {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal lands before anything else runs
		})
	}
	return func(pr client.Progress) {
		record(pr)
		switch {
		case at == "encode" && pr.Phase == client.PhaseEncode && pr.BytesEncoded > 0:
			kill()
		case at == "register" && pr.Phase == client.PhaseUpload:
			kill()
		case at == "upload" && pr.Phase == client.PhaseUpload && pr.BytesTotal > 0 && pr.BytesSent-pr.BytesSkipped >= pr.BytesTotal/3:
			kill()
		case at == "confirmed" && pr.Phase == client.PhaseCertify:
			kill()
		}
	}
}

// blobLength is the blob's unencoded length from the ledger (its blob objects), or 0.
func blobLength(ctx context.Context, s *client.Session, id codec.BlobID) int64 {
	st, err := s.Ledger.BlobStatus(ctx, id)
	if err != nil {
		return 0
	}
	for _, o := range st.Objects {
		if o.Length > 0 {
			return int64(o.Length)
		}
	}
	return 0
}

// mapBlob maps a regular file read-only (client.MapFile), refusing one over limit bytes;
// stdin ("-") and other files (pipes) are copied into a temporary file first, in the
// spill's directory (os.TempDir()), and that copy is mapped (client.SpoolFile: unlinked
// once mapped, gone with the mapping), so a blob never sits in the heap.
func mapBlob(path string, limit uint64) ([]byte, func(), error) {
	var in *os.File
	if path == "-" {
		in = os.Stdin
	} else {
		st, err := os.Stat(path)
		if err != nil {
			return nil, nil, err
		}
		if st.Mode().IsRegular() {
			if size := uint64(st.Size()); size > limit {
				return nil, nil, tooLarge(path, size, limit)
			}
			data, unmap, err := client.MapFile(path)
			if err != nil {
				return nil, nil, err
			}
			return data, func() { _ = unmap() }, nil
		}
		if st.IsDir() {
			return nil, nil, fmt.Errorf("%s: is a directory", path)
		}
		if in, err = os.Open(path); err != nil {
			return nil, nil, err
		}
		defer in.Close()
	}
	data, unmap, err := client.SpoolFile(in, "", limit)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return data, func() { _ = unmap() }, nil
}
