package gc

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// TestCompactionWaitsWhileBusy: a due compaction waits while the node serves users, but
// not longer than CompactEvery after the first removal it would give the space of back.
func TestCompactionWaitsWhileBusy(t *testing.T) {
	busy, runs := true, 0
	c := &Collector{cfg: Config{
		Compact:      func(context.Context) error { runs++; return nil },
		CompactAfter: 1, CompactEvery: time.Minute,
		Busy:   func() bool { return busy },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
	t0 := time.Unix(1_700_000_000, 0)
	c.freed, c.freedSince = 100, t0
	ctx := context.Background()
	c.maybeCompact(ctx, t0.Add(time.Second))
	if runs != 0 {
		t.Fatal("compacted while busy")
	}
	c.maybeCompact(ctx, t0.Add(time.Minute))
	if runs != 1 || c.freed != 0 {
		t.Fatalf("runs %d, freed %d: a compaction CompactEvery overdue must run even while busy", runs, c.freed)
	}
	c.freed, c.freedSince = 100, t0.Add(2*time.Minute)
	busy = false
	c.maybeCompact(ctx, t0.Add(2*time.Minute+time.Second))
	if runs != 2 {
		t.Fatalf("runs %d: an idle node compacts once CompactAfter was removed", runs)
	}
}
