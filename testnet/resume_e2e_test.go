package testnet_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestE2EStoreResume is issue 17's resumable-store test (make test-resume): on a
// multi-process testnet (`walrus testnet up`, 4 nodes, 100 shards), `walrus store` kills
// itself with SIGKILL in each phase (WALRUS_TEST_KILL_AT: during the encoding, right after
// the registration, a third into the upload, with the confirmations in but before the
// certificate), and the same command run again completes, reads back byte-identical, and
// sends at most what was missing: exactly the pairs the nodes report missing before the
// re-run (their own count, /walrus/status/1), and no more bytes than those into the node
// processes, within an allowance (the kernel's count of what they read, /proc/<pid>/io
// rchar, which includes their storage engine's reads and the ledger's chatter). Then a blob 4× the client's --memory-budget stores
// and reads back.
func TestE2EStoreResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the walrus binary and runs a 4-process testnet")
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
	w := &walrusCLI{t: t, bin: bin, config: l.ClientConfigFile}
	var pids []int
	for _, n := range l.Nodes {
		pids = append(pids, processOf(t, n.ConfigFile))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := client.Open(ctx, l.ClientConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := s.Client.Params()
	rng := rand.New(rand.NewPCG(17, 4))

	for i, phase := range []string{"encode", "register", "upload", "confirmed"} {
		t.Run(phase, func(t *testing.T) {
			size := 8 << 20
			if phase == "encode" || phase == "upload" {
				// Long enough to be caught mid-encoding, and for more put batches per
				// node than are in flight at once.
				size = 32 << 20
			}
			data := make([]byte, size)
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			file := filepath.Join(tmp, "resume-"+phase)
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}
			enc, err := codec.Encode(p, data)
			if err != nil {
				t.Fatal(err)
			}
			pairSize := int64(p.PrimarySliverSize(int(enc.SymbolSize)) + p.SecondarySliverSize(int(enc.SymbolSize)))

			// 1. Killed in the phase.
			cmd := exec.Command(bin, "--config", l.ClientConfigFile, "store", file, "--epochs", "2", "--json")
			cmd.Env = append(os.Environ(), "WALRUS_TEST_KILL_AT="+phase)
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("store %d was not killed in phase %s: %v\n%s", i, phase, err, out)
			}

			// 2. What the nodes miss, in their own words, once they are through the
			// requests that were complete when the client died (the same answer twice,
			// half a second apart).
			com, err := s.Ledger.Committee(ctx)
			if err != nil {
				t.Fatal(err)
			}
			count := func() int {
				missing := 0
				for m := range com.Members {
					st, err := s.Client.Status(ctx, &com.Members[m], enc.BlobID)
					if err != nil {
						t.Fatal(err)
					}
					missing += int(st.ShardsHeld - st.ShardsStored)
				}
				return missing
			}
			missing := count()
			for range 20 {
				time.Sleep(500 * time.Millisecond)
				again := count()
				if again == missing {
					break
				}
				missing = again
			}
			t.Logf("phase %s: %d of %d pairs missing after the kill", phase, missing, p.N)
			switch phase {
			case "encode", "register":
				if missing != p.N {
					t.Errorf("killed in %s but %d of %d pairs already stored", phase, p.N-missing, p.N)
				}
			case "upload":
				if missing == 0 || missing == p.N {
					t.Errorf("killed mid-upload but %d of %d pairs missing", missing, p.N)
				}
			}

			// 3. Run again: completes, sends only what was missing.
			before := readBytes(t, pids)
			r := jsonOf[struct {
				BlobID  string         `json:"blobId"`
				Resumed client.Resumed `json:"resumed"`
			}](t, w.ok("store", file, "--epochs", "2", "--json"))
			received := readBytes(t, pids) - before
			if r.BlobID != enc.BlobID.String() {
				t.Fatalf("blob ID %s, want %s", r.BlobID, enc.BlobID)
			}
			sentPairs := int64(p.N) - r.Resumed.PairsSkipped
			if sentPairs != int64(missing) {
				t.Errorf("re-run sent %d pairs, the nodes missed %d (%+v)", sentPairs, missing, r.Resumed)
			}
			if phase == "confirmed" && r.Resumed.Confirmations == 0 {
				t.Errorf("no confirmation reused after a kill with the confirmations in: %+v", r.Resumed)
			}
			// rchar counts the nodes' storage reads too (pebble reads back what it
			// flushes and compacts: +21% measured for a whole 32 MiB blob), and the
			// ledger's gossip: allow half again and 4 MiB. A full resend would be far
			// over it whenever much was stored.
			allow := (int64(missing)*pairSize+4*int64(p.MetadataSize()))*3/2 + 4<<20
			t.Logf("phase %s: re-run resumed %+v; node processes read %d bytes (missing pairs: %d bytes)", phase, r.Resumed, received, int64(missing)*pairSize)
			if received > allow {
				t.Errorf("the nodes read %d bytes during the re-run, at most %d were missing (+ allowance)", received, allow)
			}

			// 4. Reads back byte-identical.
			got := filepath.Join(tmp, "got-"+phase)
			w.ok("read", r.BlobID, "--out", got)
			if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, data) {
				t.Fatalf("read back differs (%v)", err)
			}
		})
	}

	t.Run("over-budget", func(t *testing.T) {
		// 16 MiB through a 4 MiB budget: the encoding spills and re-encodes in windows.
		data := make([]byte, 16<<20)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		file := filepath.Join(tmp, "big")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r := jsonOf[storeJSON](t, w.ok("store", file, "--epochs", "2", "--memory-budget", "4MiB", "--json"))
		got := filepath.Join(tmp, "got-big")
		w.ok("read", r.BlobID, "--out", got)
		if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("read back differs (%v)", err)
		}
	})
}

// processOf finds the process whose command line names config (a node started by
// `walrus testnet up`).
func processOf(t *testing.T, config string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		for i, a := range args {
			if a == "--config" && i+1 < len(args) && args[i+1] == config && i > 0 && args[i-1] == "node" {
				return pid
			}
		}
	}
	t.Fatalf("no node process with --config %s", config)
	return 0
}

// readBytes sums what the processes have read so far (rchar of /proc/<pid>/io: sockets
// and files alike).
func readBytes(t *testing.T, pids []int) int64 {
	t.Helper()
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
		if err != nil {
			t.Skipf("no /proc/%d/io: %v", pid, err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "rchar: "); ok {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				total += n
			}
		}
	}
	return total
}
