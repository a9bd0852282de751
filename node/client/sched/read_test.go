package sched_test

import (
	"slices"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/client/sched"
)

// small is a read of R = 4 over 8 candidates, two per member.
func small(perRequest, depth int) sched.ReadConfig {
	return sched.ReadConfig{
		R: 4, Owner: []int{0, 0, 1, 1, 2, 2, 3, 3}, Margin: 1, PerRequest: perRequest, Depth: depth,
		Retries: 2, RetryDelay: 100 * time.Millisecond, HedgeDelay: time.Second,
	}
}

// n100 is the n = 100 committee of the client's read tests (weights 40, 30, 20, 10; R = 34,
// 98 usable primaries, margin R/8 = 4), its pairs rotated by 7: member 0 holds the first
// 33 systematic slivers.
func n100(perRequest int) sched.ReadConfig {
	return sched.ReadConfig{
		R: 34, Owner: layout(98, 7, 40, 30, 20, 10), Margin: 4, PerRequest: perRequest, Depth: 4,
		Retries: 3, RetryDelay: 300 * time.Millisecond, HedgeDelay: time.Minute,
	}
}

// TestReadExactlyR: a healthy read asks for the R systematic slivers and nothing more, and
// completes when they are all verified without a decode.
func TestReadExactlyR(t *testing.T) {
	runRead(t, small(2, 1), []readStep{
		{0, sched.Start{}, "send={0:0,1}{1:2,3} wake=1000 reading"},
		{10, ok(ask(0, 0, 1)), "wake=1000 reading"},
		{20, ok(ask(1, 2, 3)), "complete"},
		{30, sched.Tick{}, "complete"},
	})
	// The same at n = 100, one sliver per request, through the simulated members: exactly
	// indices 0..R-1 are asked, each once, and no member has more than Depth in flight.
	cfg := n100(1)
	s := newReadSim(t, cfg, nil)
	s.run(time.Second)
	if s.status != sched.Complete {
		t.Fatalf("status %s, want complete", readStatus(s.status))
	}
	checkAskedSystematicOnce(t, s, cfg.R)
	checkDepth(t, s, cfg.Depth)
}

func checkAskedSystematicOnce(t *testing.T, s *readSim, r int) {
	t.Helper()
	if len(s.asked) != r {
		t.Fatalf("%d slivers asked for, want the R = %d systematic ones: %v", len(s.asked), r, s.asked)
	}
	for i := range r {
		if s.served[i] != 1 {
			t.Fatalf("systematic sliver %d served %d times, want once", i, s.served[i])
		}
	}
}

func checkDepth(t *testing.T, s *readSim, depth int) {
	t.Helper()
	for m, n := range s.mostFlight {
		if n > depth {
			t.Fatalf("member %d had %d requests in flight, Depth is %d", m, n, depth)
		}
	}
}

// TestReadBusyMember: a busy answer requeues for the same member after RetryDelay,
// doubling per burst; the answers of requests that were in flight when it turned busy
// count once; after Retries bursts the member fails and is replaced, and a later busy
// answer from it does not requeue anything (it stays failed).
func TestReadBusyMember(t *testing.T) {
	runRead(t, small(1, 2), []readStep{
		{0, sched.Start{}, "send={0:0}{0:1}{1:2}{1:3} wake=1000 reading"},
		{5, busy(ask(0, 0)), "wake=105 reading"},
		{6, busy(ask(0, 1)), "wake=105 reading"}, // same burst: no second backoff
		{105, sched.Tick{}, "send={0:0}{0:1} wake=1000 reading"},
		{110, busy(ask(0, 0)), "wake=310 reading"}, // second burst: 2 × RetryDelay
		{310, sched.Tick{}, "send={0:0} wake=1000 reading"},
		{315, busy(ask(0, 0)), "send={2:4} wake=1000 failed=0 reading"}, // Retries = 2 spent
		// The request for sliver 1, in flight since 105, is refused after the member
		// failed: it is not requeued for the failed member but replaced.
		{316, busy(ask(0, 1)), "send={2:5} wake=1000 failed=0 reading"},
		{320, ok(ask(1, 2)), "wake=1315 reading"},
		{321, ok(ask(1, 3)), "wake=1315 reading"},
		{330, ok(ask(2, 4)), "wake=1330 reading"},
		{331, ok(ask(2, 5)), "decode"},
	})

	// The client's TestBusyMemberRead without a network: at n = 100 with one sliver per
	// request, the member holding most systematic slivers refuses the four requests it has
	// in flight, all within one backoff. It is asked again 300 ms later and serves its
	// share: exactly the R systematic slivers are asked for, each served once.
	cfg := n100(1)
	s := newReadSim(t, cfg, map[int]*member{cfg.Owner[0]: {refuse: 4, latency: 100 * time.Millisecond}})
	for m := range 4 {
		s.member(m).latency = 100 * time.Millisecond
	}
	s.run(5 * time.Second)
	if s.status != sched.Complete || len(s.failed) > 0 {
		t.Fatalf("status %s, failed members %v: want complete, none failed", readStatus(s.status), s.failed)
	}
	b := cfg.Owner[0]
	if len(s.refusals[b]) != 4 {
		t.Fatalf("busy member refused %d times, want 4", len(s.refusals[b]))
	}
	checkAskedSystematicOnce(t, s, cfg.R)
	checkDepth(t, s, cfg.Depth)
	// The first request after the refusals waits for the backoff.
	for _, sent := range s.sends[b] {
		if sent.After(s.refusals[b][3]) && sent.Sub(s.refusals[b][0]) < cfg.RetryDelay {
			t.Fatalf("busy member asked again %v after its first refusal, backoff is %v",
				sent.Sub(s.refusals[b][0]), cfg.RetryDelay)
		}
	}
}

// TestReadBusyMemberWaits: while the only member that can serve is backing off, nothing
// is in flight, yet the read has not failed: its slivers are queued for the retry.
func TestReadBusyMemberWaits(t *testing.T) {
	cfg := small(2, 1)
	cfg.R, cfg.Owner, cfg.Retries = 2, []int{0, 0}, 1
	runRead(t, cfg, []readStep{
		{0, sched.Start{}, "send={0:0,1} wake=1000 reading"},
		{5, busy(ask(0, 0, 1)), "wake=105 reading"},
		{105, sched.Tick{}, "send={0:0,1} wake=1105 reading"},
		{110, busy(ask(0, 0, 1)), "failed=0 notenough"},
	})
}

// TestReadHedge: a member silent for HedgeDelay with requests out is slow; what it was
// asked and what was queued for it are replaced at once; the next wake is always the
// earliest deadline; a slow member's late answer counts, and once it answers it is asked
// again for what it holds.
func TestReadHedge(t *testing.T) {
	runRead(t, small(1, 1), []readStep{
		{0, sched.Start{}, "send={0:0}{1:2} wake=1000 reading"},
		{400, ok(ask(0, 0)), "send={0:1} wake=1000 reading"}, // member 1's deadline first
		// Member 1 is slow: sliver 2 (asked) and 3 (queued) are replaced by 4 and 6 at
		// once, and one margin more (5, waiting for member 2's lane).
		{1000, sched.Tick{}, "send={2:4}{3:6} wake=1400 slow=1 reading"},
		{1200, ok(ask(1, 2)), "wake=1400 reading"}, // late, but counts
		// Member 0 is slow now; member 1 answered, so it is asked for sliver 3 again.
		{1400, sched.Tick{}, "send={1:3} wake=2000 slow=0 reading"},
		{1500, ok(ask(2, 4)), "send={2:5} wake=2000 reading"},
		{1600, ok(ask(3, 6)), "wake=2400 decode"},
		{1700, ok(ask(0, 1)), "wake=2400 decode"}, // a fifth sliver: worth another try
		{1800, ok(ask(1, 3)), "complete"},
	})
	// A tick before any deadline changes nothing.
	runRead(t, small(1, 1), []readStep{
		{0, sched.Start{}, "send={0:0}{1:2} wake=1000 reading"},
		{999, sched.Tick{}, "wake=1000 reading"},
	})
	// The wake is the earlier of a hedge deadline and a backoff's end.
	runRead(t, small(1, 2), []readStep{
		{0, sched.Start{}, "send={0:0}{0:1}{1:2}{1:3} wake=1000 reading"},
		{950, busy(ask(0, 0)), "wake=1000 reading"}, // backoff ends at 1050
		{1000, sched.Tick{}, "send={2:4}{2:5}{3:6} wake=1050 slow=1 reading"},
		{1050, sched.Tick{}, "send={0:0} wake=1950 reading"},
	})
}

// TestReadStalledMember is the client's TestStalledMemberReplacedAtOnce without a network:
// the member holding most systematic slivers accepts requests and never answers. One
// hedge round replaces everything it was asked (four lanes of two) and everything queued
// for it: had the replacement fallen short, no later hedge would fire (nobody else turns
// slow) and the simulation would be stuck.
func TestReadStalledMember(t *testing.T) {
	cfg := n100(2)
	cfg.HedgeDelay = 300 * time.Millisecond
	stalled := cfg.Owner[0]
	held := 0
	for i := range cfg.R {
		if cfg.Owner[i] == stalled {
			held++
		}
	}
	if held <= 2*cfg.Depth+cfg.Margin {
		t.Fatalf("fixture: the stalled member holds %d systematic slivers, want more than its lanes and a margin", held)
	}
	s := newReadSim(t, cfg, map[int]*member{stalled: {stall: true}})
	s.run(5 * time.Second)
	if s.status != sched.TryDecode {
		t.Fatalf("status %s, want a successful decode", readStatus(s.status))
	}
	if len(s.slow) != 1 || s.slow[0] != stalled {
		t.Fatalf("slow members %v, want just %d", s.slow, stalled)
	}
	if d := s.end.Sub(t0); d > cfg.HedgeDelay+100*time.Millisecond {
		t.Fatalf("read ended after %v, want one hedge round (%v) and a few answers", d, cfg.HedgeDelay)
	}
}

// TestReadAllMembersSlow is the client's TestAllMembersSlow without a network: every
// answer takes longer than HedgeDelay, so at the first hedge every member with requests
// out is slow and nobody is left to replace them; each member that then answers is asked
// for the rest again and the read completes.
func TestReadAllMembersSlow(t *testing.T) {
	cfg := n100(1)
	cfg.HedgeDelay = 100 * time.Millisecond
	members := map[int]*member{}
	for m := range 4 {
		members[m] = &member{latency: 250 * time.Millisecond}
	}
	s := newReadSim(t, cfg, members)
	s.run(30 * time.Second)
	if s.status == sched.NotEnough || len(s.failed) > 0 {
		t.Fatalf("status %s, failed %v: want the read to end well", readStatus(s.status), s.failed)
	}
	if len(s.slow) == 0 {
		t.Fatal("no member was found slow: the fixture does not test the hedge")
	}
}

// TestReadLyingMember: a member whose slivers do not verify (or that leaves one out of an
// answer) fails: what it holds goes back to the pool, others are asked instead (margin
// included), and it is never asked again.
func TestReadLyingMember(t *testing.T) {
	for name, lie := range map[string]sched.Answer{
		"bad sliver": failed(ask(1, 2, 3), 2),
		"missing":    {Request: ask(1, 2, 3), Verified: []int{2}, Outcome: sched.OK},
	} {
		t.Run(name, func(t *testing.T) {
			runRead(t, small(2, 1), []readStep{
				{0, sched.Start{}, "send={0:0,1}{1:2,3} wake=1000 reading"},
				{10, lie, "send={2:4} wake=1000 failed=1 reading"},
				{20, ok(ask(0, 0, 1)), "wake=1010 reading"},
				{30, ok(ask(2, 4)), "decode"},
				{30, sched.NeedMore{}, "send={2:5} wake=1030 reading"}, // not 3: its owner lied
				{40, ok(ask(2, 5)), "decode"},
			})
		})
	}
	// At n = 10 (the client's TestLyingNodes), the member of two shards holding systematic
	// slivers 0 and 1 lies: it is asked once, and the read decodes from others.
	cfg := sched.ReadConfig{R: 4, Owner: layout(8, 7, 4, 3, 2, 1), Margin: 1, PerRequest: 2, Depth: 4,
		Retries: 3, RetryDelay: 100 * time.Millisecond, HedgeDelay: time.Second}
	liar := cfg.Owner[0]
	s := newReadSim(t, cfg, map[int]*member{liar: {lies: true}})
	s.run(time.Second)
	if s.status != sched.TryDecode || !slices.Equal(s.failed, []int{liar}) || len(s.sends[liar]) != 1 {
		t.Fatalf("status %s, failed %v, liar asked %d times: want a decode, the liar failed and asked once",
			readStatus(s.status), s.failed, len(s.sends[liar]))
	}
	// At n = 100 the liar holds 33 systematic slivers: four requests of four are in flight
	// when the first answer fails it, the rest are queued for it; none of those is sent.
	cfg = n100(4)
	liar = cfg.Owner[0]
	s = newReadSim(t, cfg, map[int]*member{liar: {lies: true}})
	s.run(time.Second)
	if s.status != sched.TryDecode || len(s.sends[liar]) != cfg.Depth {
		t.Fatalf("status %s, liar asked %d times: want a decode, the liar asked only in its %d first lanes",
			readStatus(s.status), len(s.sends[liar]), cfg.Depth)
	}
}

// TestReadDecodeNeedsMore: when a decode over R verified slivers needs a different set,
// Margin more are asked for (none before), and the decode is tried again once more have
// verified.
func TestReadDecodeNeedsMore(t *testing.T) {
	runRead(t, small(2, 1), []readStep{
		{0, sched.Start{}, "send={0:0,1}{1:2,3} wake=1000 reading"},
		// Two replacements: the failure's and its margin.
		{10, failed(ask(0, 0, 1)), "send={2:4,5} wake=1000 failed=0 reading"},
		{20, ok(ask(1, 2, 3)), "wake=1010 reading"},
		{30, ok(ask(2, 4, 5)), "decode"},
		{30, sched.NeedMore{}, "send={3:6} wake=1030 reading"}, // one margin more
		{40, ok(ask(3, 6)), "decode"},
	})
	cfg := n100(4)
	cfg.Retries = 0
	s := newReadSim(t, cfg, map[int]*member{cfg.Owner[0]: {lies: true}})
	s.decodeNeeds = cfg.R + 2
	s.run(time.Second)
	if s.status != sched.TryDecode || s.decodes < 2 || len(s.needMoreAt) == 0 {
		t.Fatalf("status %s after %d decodes (needed more at %v), want a decode after more slivers",
			readStatus(s.status), s.decodes, s.needMoreAt)
	}
}

// TestReadFailedMember: a member whose answer fails is not asked again; its slivers are
// replaced, with Margin more for company; a busy answer to a request it had in flight
// when it failed does not requeue anything for it (it is not a retry candidate).
func TestReadFailedMember(t *testing.T) {
	cfg := small(1, 2)
	cfg.Margin = 2
	runRead(t, cfg, []readStep{
		{0, sched.Start{}, "send={0:0}{0:1}{1:2}{1:3} wake=1000 reading"},
		// One sliver lost, two asked of others: the replacement and a margin of 2 beyond
		// the R that are still counted.
		{5, failed(ask(1, 2)), "send={2:4}{2:5} wake=1000 failed=1 reading"},
		{6, ok(ask(1, 3)), "wake=1000 reading"}, // its slivers still count
	})
	runRead(t, small(1, 2), []readStep{
		{0, sched.Start{}, "send={0:0}{0:1}{1:2}{1:3} wake=1000 reading"},
		{5, failed(ask(0, 0)), "send={2:4} wake=1000 failed=0 reading"},
		{6, busy(ask(0, 1)), "send={2:5} wake=1000 failed=0 reading"},
	})
}

// TestReadSpreadSkipsFullLanes: replacements are not queued behind a member whose lanes
// are all taken (more requests waiting for it would not help); they come from members
// with a free lane.
func TestReadSpreadSkipsFullLanes(t *testing.T) {
	cfg := small(1, 1)
	cfg.Owner = []int{0, 0, 1, 1, 0, 0, 2, 2}
	runRead(t, cfg, []readStep{
		{0, sched.Start{}, "send={0:0}{1:2} wake=1000 reading"},
		{10, failed(ask(1, 2)), "send={2:6} wake=1000 failed=1 reading"}, // not 4, 5 of member 0
	})
}

// TestReadNotEnough: once nothing is in flight or queued and fewer than R slivers
// verified, the read fails, and stays failed.
func TestReadNotEnough(t *testing.T) {
	cfg := small(2, 1)
	cfg.Owner = cfg.Owner[:5]
	runRead(t, cfg, []readStep{
		{0, sched.Start{}, "send={0:0,1}{1:2,3} wake=1000 reading"},
		{10, failed(ask(0, 0, 1)), "send={2:4} wake=1000 failed=0 reading"},
		{20, ok(ask(1, 2, 3)), "wake=1010 reading"}, // 2 verified, one request out
		{30, failed(ask(2, 4)), "failed=2 notenough"},
		{40, sched.Tick{}, "notenough"},
	})
	// Every member down: the read fails as soon as the last answer is in.
	members := map[int]*member{}
	for m := range 4 {
		members[m] = &member{lies: true}
	}
	s := newReadSim(t, n100(4), members)
	s.run(time.Second)
	if slices.Sort(s.failed); s.status != sched.NotEnough || !slices.Equal(slices.Compact(s.failed), []int{0, 1, 2, 3}) {
		t.Fatalf("status %s, failed %v: want notenough with every member failed", readStatus(s.status), s.failed)
	}
}

// TestReadConfig: a configuration the scheduler cannot run with is refused.
func TestReadConfig(t *testing.T) {
	for _, mutate := range []func(*sched.ReadConfig){
		func(c *sched.ReadConfig) { c.R = 0 },
		func(c *sched.ReadConfig) { c.Margin = 0 },
		func(c *sched.ReadConfig) { c.PerRequest = 0 },
		func(c *sched.ReadConfig) { c.Depth = 0 },
		func(c *sched.ReadConfig) { c.Retries = -1 },
		func(c *sched.ReadConfig) { c.HedgeDelay = 0 },
		func(c *sched.ReadConfig) { c.Owner = []int{0, -1} },
	} {
		cfg := small(1, 1)
		mutate(&cfg)
		if _, err := sched.NewRead(cfg); err == nil {
			t.Fatalf("NewRead(%+v) accepted", cfg)
		}
	}
}
