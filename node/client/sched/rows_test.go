package sched_test

import (
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/client/sched"
)

// rows is a read in which every candidate is needed, as the client's range reads
// (fetchRows) configure it: R = len(Owner), the systematic rows that hold the range, one
// holder each. What the client relies on: nothing beyond the candidates is ever asked, a
// failed member is reported at once (its rows cannot come: the client falls back to a
// decode), a busy one is retried, and a slow one is reported once and then left alone
// with its answers still counting (no Wake for it: the client keeps its own patience).
func rows() sched.ReadConfig {
	return sched.ReadConfig{
		R: 4, Owner: []int{0, 0, 1, 1}, Margin: 1, PerRequest: 2, Depth: 1,
		Retries: 1, RetryDelay: 100 * time.Millisecond, HedgeDelay: time.Second,
	}
}

func TestReadEveryCandidateNeeded(t *testing.T) {
	t.Run("healthy", func(t *testing.T) {
		runRead(t, rows(), []readStep{
			{0, sched.Start{}, "send={0:0,1}{1:2,3} wake=1000 reading"},
			{10, ok(ask(1, 2, 3)), "wake=1000 reading"},
			{20, ok(ask(0, 0, 1)), "complete"},
		})
	})
	t.Run("failed member", func(t *testing.T) {
		runRead(t, rows(), []readStep{
			{0, sched.Start{}, "send={0:0,1}{1:2,3} wake=1000 reading"},
			{10, failed(ask(0, 0, 1), 0), "wake=1000 failed=0 reading"},
			{20, ok(ask(1, 2, 3)), "notenough"},
		})
	})
	t.Run("missing sliver", func(t *testing.T) {
		runRead(t, rows(), []readStep{
			{0, sched.Start{}, "send={0:0,1}{1:2,3} wake=1000 reading"},
			{10, sched.Answer{Request: ask(1, 2, 3), Verified: []int{3}, Outcome: sched.OK}, "wake=1000 failed=1 reading"},
		})
	})
	t.Run("busy then failed", func(t *testing.T) {
		runRead(t, rows(), []readStep{
			{0, sched.Start{}, "send={0:0,1}{1:2,3} wake=1000 reading"},
			{10, busy(ask(0, 0, 1)), "wake=110 reading"},
			{110, sched.Tick{}, "send={0:0,1} wake=1000 reading"},
			{120, busy(ask(0, 0, 1)), "wake=1000 failed=0 reading"},
		})
	})
	t.Run("slow members still count", func(t *testing.T) {
		runRead(t, rows(), []readStep{
			{0, sched.Start{}, "send={0:0,1}{1:2,3} wake=1000 reading"},
			{1000, sched.Tick{}, "slow=0,1 reading"},
			{5000, ok(ask(0, 0, 1)), "reading"},
			{9000, ok(ask(1, 2, 3)), "complete"},
		})
	})
}
