package testnet_test

import (
	"context"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/testnet"
)

// scrubSetup is one node configuration of BenchmarkE2EScrubGCReadCost.
type scrubSetup struct {
	name string
	// what says what runs during the reads, for the log.
	what string
	// config edits the node's loaded configuration.
	config func(*node.Config)
	// gc says the GC runs and removes the blobs deleted during the reads (every
	// configuration stores and deletes them).
	gc bool
}

// allScrubSetups: "off" and "on" are the comparison; "scrub" and "gc" (each alone) say which
// of the two the cost of "on" comes from.
var allScrubSetups = []scrubSetup{
	{name: "off", what: "blob sync, scrub and GC disabled (blob_sync.disabled, gc.disabled)",
		config: func(c *node.Config) { c.BlobSync.Disabled, c.GC.Disabled = true, true }},
	{name: "on", what: "scrub and GC at their defaults, every node's start-up scrub pass in progress and the GC " +
		"removing the blobs deleted during the reads",
		config: func(*node.Config) {}, gc: true},
	{name: "scrub", what: "the scrub alone at its defaults (GC disabled), every node's start-up pass in progress",
		config: func(c *node.Config) { c.GC.Disabled = true }},
	{name: "gc", what: "the GC alone at its defaults (blob sync and scrub disabled), removing the blobs deleted during the reads",
		config: func(c *node.Config) { c.BlobSync.Disabled = true }, gc: true},
}

// collectSetup is the configuration the nodes are restarted into, between rounds, after a
// round whose GC was disabled: the GC unpaced (gc.cpu 1) and blob sync off, so it removes that
// round's deleted blobs, unmeasured, before the next round.
var collectSetup = scrubSetup{name: "collect", what: "between rounds: the GC unpaced, removing the last round's deletes",
	config: func(c *node.Config) { c.BlobSync.Disabled, c.GC.CPU = true, 1 }, gc: true}

// gcBlobs and gcBlobSize are the deletable blobs stored before every configuration's reads
// and deleted during them: 16 × 4 MiB, about 72 MiB of slivers per node, over the GC's
// default 64 MiB compaction threshold.
const gcBlobs, gcBlobSize = 16, 4 << 20

// BenchmarkE2EScrubGCReadCost: read throughput of a 64 MiB blob on the 4-node testnet
// (n = 1000) with background scrubbing and garbage collection off, and on at their defaults
// while they work: every node is restarted into the configuration (so its start-up scrub
// pass runs during the reads), and 16 deletable 4 MiB blobs stored just before are deleted
// one after another while the reads run (so the GC removes them, and compacts, meanwhile);
// every configuration, "off" included, stores and deletes the same at the same moments, with
// nothing removed where the GC is disabled; after every round, untimed, each node's GC removes
// that round's 16 (restarted into collectSetup where the round had it disabled), so a GC round
// removes its own 16 and no more. The two
// alternate round by round (the order rotating), rounds being 3 × -benchtime, so both see
// the same machine load. Reported: each configuration's MiB/s over all its reads and per
// round, and the ratio; the process's CPU per read (client and nodes) and over a second
// without reads; the slivers the scrub re-verified, the blobs and bytes the GC removed and
// the change in the nodes' stored bytes, during the timed reads; and whether every node's
// scrub pass was still running when the reads ended.
func BenchmarkE2EScrubGCReadCost(b *testing.B) {
	const blobSize, readsPerRound = 64 << 20, 5
	shards := benchShards()
	var setup atomic.Pointer[scrubSetup]
	scrubSetups := scrubSetupsFromEnv(b)
	setup.Store(&scrubSetups[0])
	start := func(ctx context.Context, nf *testnet.NodeFiles, g *testnet.Gater) (testnet.Instance, error) {
		cfg, err := node.LoadConfig(nf.ConfigFile)
		if err != nil {
			return nil, err
		}
		setup.Load().config(cfg)
		n, err := node.New(ctx, cfg, node.WithConnectionGater(g), node.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			return nil, err
		}
		if err := n.Start(ctx); err != nil {
			_ = n.Close()
			return nil, err
		}
		return &testnet.NodeInstance{Node: n}, nil
	}
	c := testnet.New(b, 4, testnet.WithShards(shards), testnet.WithTimeout(2*time.Minute), testnet.WithStartFunc(start))
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	data := make([]byte, blobSize)
	mrand.NewChaCha8([32]byte{9}).Read(data)
	enc, err := storeBlob(ctx, s, data)
	if err != nil {
		b.Fatal(err)
	}
	state := processState()
	rounds := 3 * b.N
	type tally struct {
		readT                time.Duration
		reads                int
		perRound             []float64     // MiB/s of each round
		readCPU, idleCPU     time.Duration // the process's CPU during the timed reads, and over a second without
		scrubbed             int64         // slivers re-verified during the reads
		gcBlobs, gcBytes     uint64        // removed by the GC during the reads
		storedDelta          int64         // change of the nodes' stored bytes during the reads
		passRunning, deleted int           // rounds with every node's pass running at the end; deletes committed during the reads
	}
	tallies := make([]tally, len(scrubSetups))
	health := func() (scrubbed int64, gcBlobs, gcBytes uint64, stored int64, passRunning bool) {
		passRunning = true
		for i := range c.N() {
			h := c.Unwrap(i).Health()
			scrubbed += int64(h.ScrubChecked)
			gcBlobs += h.GCBlobs
			gcBytes += h.GCBytes
			stored += int64(h.BytesStored)
			passRunning = passRunning && h.LastScrubUnixMs == 0
		}
		return
	}
	// storeFodder stores the deletable blobs of one round, four at a time, each until every
	// node holds its slivers (a restart cutting an upload short would leave blob sync
	// recovering them during the reads).
	storeFodder := func(r, k int) []codec.BlobID {
		ids := make([]codec.BlobID, gcBlobs)
		var wg sync.WaitGroup
		errs := make(chan error, gcBlobs)
		sem := make(chan struct{}, 4)
		for i := range gcBlobs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				d := make([]byte, gcBlobSize)
				mrand.NewChaCha8([32]byte{byte(r), byte(k), byte(i), 77}).Read(d)
				id, err := storeDeletable(ctx, s, d)
				if err != nil {
					errs <- err
					return
				}
				ids[i] = id
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatalf("storing the blobs to delete: %v", err)
		}
		return ids
	}
	steal0 := stolenCPU()
	b.ResetTimer()
	for r := range rounds {
		for j := range scrubSetups {
			k := (j + r) % len(scrubSetups)
			su, t := &scrubSetups[k], &tallies[k]
			b.StopTimer()
			// The blobs the GC is to remove during the reads, stored with the nodes as they are,
			// for every configuration alike: the uploads just before the reads and the deletes
			// during them (the nodes' flushes and compactions of their slivers, consensus) are
			// the same workload everywhere, so "off" against "gc" differs only in the GC.
			fodder := storeFodder(r, k)
			setup.Store(su)
			for i := range c.N() {
				c.Crash(i)
			}
			for i := range c.N() {
				c.Restart(i)
			}
			// Warm-up, untimed: the restarted nodes reconnect, the client redials them (a
			// read can fail while a node is still loading: retried), caches fill.
			for i := range c.N() {
				for c.Unwrap(i).Health().Peers < c.N()-1 {
					if ctx.Err() != nil {
						b.Fatalf("node %d did not reconnect", i)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			for deadline := time.Now().Add(2 * time.Minute); ; {
				_, err := s.Read(ctx, enc.BlobID)
				if err == nil {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("%s: warm-up read after restart: %v", su.name, err)
				}
				time.Sleep(250 * time.Millisecond)
			}
			// The background's own CPU: the whole process over a second with no read.
			idle0, _ := processUsage()
			time.Sleep(time.Second)
			idle1, _ := processUsage()
			t.idleCPU += idle1 - idle0
			// The deletes, one after another, while the reads run.
			readsDone := make(chan struct{})
			var deleted atomic.Int64
			delDone := make(chan error, 1)
			go func() {
				for _, id := range fodder {
					if _, err := s.Ledger.DeleteBlob(ctx, id); err != nil {
						delDone <- fmt.Errorf("delete %s: %w", id, err)
						return
					}
					select {
					case <-readsDone:
					default:
						deleted.Add(1)
					}
				}
				delDone <- nil
			}()
			scr0, gcb0, gcy0, st0, _ := health()
			cpu0, _ := processUsage()
			b.StartTimer()
			var roundT time.Duration
			for range readsPerRound {
				t0 := time.Now()
				got, err := s.Read(ctx, enc.BlobID)
				roundT += time.Since(t0)
				if err != nil || len(got) != blobSize {
					b.Fatalf("%s: read %d bytes, %v", su.name, len(got), err)
				}
			}
			b.StopTimer()
			close(readsDone)
			cpu1, _ := processUsage()
			scr1, gcb1, gcy1, st1, running := health()
			t.readT += roundT
			t.reads += readsPerRound
			t.perRound = append(t.perRound, float64(readsPerRound)*blobSize/(1<<20)/roundT.Seconds())
			t.readCPU += cpu1 - cpu0
			t.scrubbed += scr1 - scr0
			t.gcBlobs += gcb1 - gcb0
			t.gcBytes += gcy1 - gcy0
			t.storedDelta += st1 - st0
			t.deleted += int(deleted.Load())
			if running {
				t.passRunning++
			}
			if err := <-delDone; err != nil {
				b.Fatal(err)
			}
			// Untimed: every node removes this round's deletes before the next round, which
			// would otherwise remove them beside its own (its nodes' start-up sweeps find
			// them): with the GC disabled in this round, the nodes are restarted into
			// collectSetup to do so.
			if !su.gc {
				setup.Store(&collectSetup)
				for i := range c.N() {
					c.Crash(i)
				}
				for i := range c.N() {
					c.Restart(i)
				}
			}
			for i, deadline := 0, time.Now().Add(3*time.Minute); i < c.N(); {
				if c.Unwrap(i).Health().GCBlobs >= gcBlobs {
					i++
					continue
				}
				if time.Now().After(deadline) || ctx.Err() != nil {
					b.Fatalf("%s: node %d's GC removed %d of the round's %d deleted blobs", su.name, i, c.Unwrap(i).Health().GCBlobs, gcBlobs)
				}
				time.Sleep(100 * time.Millisecond)
			}
			b.StartTimer()
		}
		e2eRuns++
	}
	b.StopTimer()
	steal := stealSince(steal0)
	mibs := func(k int) float64 {
		return float64(tallies[k].reads) * blobSize / (1 << 20) / tallies[k].readT.Seconds()
	}
	cpuPerRead := func(k int) float64 { return tallies[k].readCPU.Seconds() / float64(tallies[k].reads) }
	passNote := func(k, running, rounds int) string {
		if scrubSetups[k].name == "off" || scrubSetups[k].name == "gc" {
			return "no scrub"
		}
		return fmt.Sprintf("every node's pass still running when the reads ended in %d of %d rounds", running, rounds)
	}
	var lines []string
	for k, su := range scrubSetups {
		t := &tallies[k]
		b.ReportMetric(mibs(k), "read_MiB/s_"+su.name)
		b.ReportMetric(cpuPerRead(k), "cpu_s/read_"+su.name)
		b.ReportMetric(t.idleCPU.Seconds()/float64(rounds), "idle_cpu_cores_"+su.name)
		b.ReportMetric(float64(t.scrubbed)/float64(rounds), "scrubbed_slivers/round_"+su.name)
		b.ReportMetric(float64(t.gcBytes)/float64(rounds)/(1<<20), "gc_MiB/round_"+su.name)
		per := make([]string, len(t.perRound))
		for i, v := range t.perRound {
			per[i] = fmt.Sprintf("%.1f", v)
		}
		lines = append(lines, fmt.Sprintf("  %-5s %6.1f MiB/s over %d reads (per round: %s); process CPU %.2f s a read, %.3f cores "+
			"without reads; during the reads the scrub re-verified %d slivers (%s), "+
			"%d deletes committed, the GC removed %d blobs / %.1f MiB, the nodes' stored bytes changed by %+.1f MiB: %s",
			su.name, mibs(k), t.reads, strings.Join(per, " "), cpuPerRead(k), t.idleCPU.Seconds()/float64(rounds),
			t.scrubbed, passNote(k, t.passRunning, rounds), t.deleted, t.gcBlobs, float64(t.gcBytes)/(1<<20), float64(t.storedDelta)/(1<<20), su.what))
	}
	var ratios []string
	for k, su := range scrubSetups[1:] {
		k++
		b.ReportMetric(mibs(k)/mibs(0), su.name+"_vs_off")
		b.ReportMetric(cpuPerRead(k)/cpuPerRead(0), "cpu_"+su.name+"_vs_off")
		ratios = append(ratios, fmt.Sprintf("  %s/off: read MiB/s %.3f×, process CPU per read %.3f×", su.name, mibs(k)/mibs(0), cpuPerRead(k)/cpuPerRead(0)))
	}
	b.ReportMetric(float64(shards), "shards")
	if steal >= 0 {
		b.ReportMetric(steal.Seconds(), "cpu_steal_s")
	}
	b.Logf("reads of a %d MiB blob, n = %d, with background scrub and GC in %d configurations: %d rounds (alternating, "+
		"every node restarted for each), %d timed reads per configuration and round after one warm-up read, the first round in a %s; "+
		"CPU steal %.2f s\n%s\n%s",
		blobSize>>20, shards, len(scrubSetups), rounds, readsPerRound, state, steal.Seconds(), strings.Join(lines, "\n"), strings.Join(ratios, "\n"))
}

// storeDeletable stores data as a deletable blob for 5 epochs and returns once every node
// holds its slivers.
func storeDeletable(ctx context.Context, s *client.Session, data []byte) (codec.BlobID, error) {
	enc, err := codec.Encode(s.Client.Params(), data)
	if err != nil {
		return codec.BlobID{}, err
	}
	reg, certified, err := s.Ledger.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 5, Deletable: true})
	if err != nil || certified {
		return codec.BlobID{}, fmt.Errorf("register: %v (already certified %v)", err, certified)
	}
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		return codec.BlobID{}, err
	}
	res, err := s.Client.Upload(ctx, com, enc, reg, nil)
	if err != nil {
		return codec.BlobID{}, err
	}
	if err := s.Ledger.CertifyBlob(ctx, enc.BlobID, reg, res); err != nil {
		return codec.BlobID{}, err
	}
	res.Certified()
	select {
	case <-res.Done():
	case <-ctx.Done():
		return codec.BlobID{}, ctx.Err()
	}
	return enc.BlobID, nil
}

// scrubSetupsFromEnv is "off" and those of allScrubSetups named in WALRUS_BENCH_SCRUB_SETUPS
// (comma-separated, e.g. "scrub" for more rounds of that one alone), or all of them.
func scrubSetupsFromEnv(b *testing.B) []scrubSetup {
	v := strings.TrimSpace(os.Getenv("WALRUS_BENCH_SCRUB_SETUPS"))
	if v == "" {
		return allScrubSetups
	}
	out := []scrubSetup{allScrubSetups[0]}
	for _, name := range strings.Split(v, ",") {
		found := false
		for _, su := range allScrubSetups[1:] {
			if su.name == strings.TrimSpace(name) {
				out, found = append(out, su), true
			}
		}
		if !found {
			b.Fatalf("WALRUS_BENCH_SCRUB_SETUPS: no configuration %q (on, scrub, gc)", name)
		}
	}
	return out
}
