package sched_test

import (
	"slices"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/client/sched"
)

// uploadCfg is the client tests' committee: weights 4, 3, 2, 1 (n = 10, f = 3), so the
// first group is members 0 and 1 (7 shards) and the reserve members 2 and 3.
func uploadCfg() sched.UploadConfig {
	return sched.UploadConfig{Weights: []int{4, 3, 2, 1}, Shards: 10, Quorum: 7, Concurrency: 8,
		HedgeDelay: 2 * time.Second, ReserveHold: 5 * time.Second}
}

func fin(m int, ok bool) sched.Finished { return sched.Finished{Member: m, OK: ok} }

// TestUploadFirstGroup: only the heaviest members worth n-f shards start; once they are
// all through (the certificate), the reserve waits for Certified (or ReserveHold), as the
// client's TestReserveWaitsForCertificate checks with real nodes.
func TestUploadFirstGroup(t *testing.T) {
	t.Run("certified", func(t *testing.T) {
		runUpload(t, uploadCfg(), []uploadStep{
			{0, sched.Start{}, "start=0,1 wake=2000"},
			{1500, sched.Acked{}, "wake=3500"},
			{1600, fin(0, true), "wake=3500"},
			{1700, fin(1, true), "wake=6700 quorum"}, // the hold replaces the stall deadline
			{2000, sched.Certified{}, "start=2,3"},
			{2100, fin(2, true), "-"},
			{2200, fin(3, true), "done"},
		})
	})
	t.Run("hold passes", func(t *testing.T) {
		runUpload(t, uploadCfg(), []uploadStep{
			{0, sched.Start{}, "start=0,1 wake=2000"},
			{100, fin(0, true), "wake=2000"},
			{200, fin(1, true), "wake=5200 quorum"},
			{5199, sched.Tick{}, "wake=5200"},
			{5200, sched.Tick{}, "start=2,3"},
			{5300, fin(2, true), "-"},
			{5400, fin(3, true), "done"},
		})
	})
	t.Run("certified early", func(t *testing.T) {
		runUpload(t, uploadCfg(), []uploadStep{
			{0, sched.Start{}, "start=0,1 wake=2000"},
			{10, sched.Certified{}, "wake=2000"},
			{20, fin(0, true), "wake=2000"},
			{30, fin(1, true), "start=2,3 quorum"},
		})
	})
	// Heaviest first whatever the member order; ties by index.
	u, err := sched.NewUpload(sched.UploadConfig{Weights: []int{1, 3, 2, 3, 1}, Shards: 10, Quorum: 7,
		Concurrency: 8, HedgeDelay: time.Second, ReserveHold: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if out := u.Step(at(0), sched.Start{}); !slices.Equal(out.Start, []int{1, 3, 2}) {
		t.Fatalf("first group %v, want [1 3 2]", out.Start)
	}
}

// TestUploadReserveOnFailure: a first-group member that fails releases the reserve at once.
func TestUploadReserveOnFailure(t *testing.T) {
	runUpload(t, uploadCfg(), []uploadStep{
		{0, sched.Start{}, "start=0,1 wake=2000"},
		{100, fin(1, false), "start=2,3"},
		{200, fin(0, true), "-"},
		{300, fin(2, true), "-"},
		{400, fin(3, true), "quorum done"},
	})
}

// TestUploadReserveOnStall: HedgeDelay without an acknowledged batch releases the reserve;
// each acknowledgement moves the deadline.
func TestUploadReserveOnStall(t *testing.T) {
	runUpload(t, uploadCfg(), []uploadStep{
		{0, sched.Start{}, "start=0,1 wake=2000"},
		{1000, sched.Acked{}, "wake=3000"},
		{2999, sched.Tick{}, "wake=3000"},
		{3000, sched.Tick{}, "start=2,3"},
		{3100, sched.Acked{}, "-"},
	})
}

// TestUploadOutOfReach: once members worth more than f shards failed, the upload fails
// at once, without waiting for the others.
func TestUploadOutOfReach(t *testing.T) {
	runUpload(t, uploadCfg(), []uploadStep{
		{0, sched.Start{}, "start=0,1 wake=2000"},
		{100, fin(0, false), "start=2,3 outofreach"},
		{100, sched.Cancelled{}, "-"},
		{150, fin(1, false), "-"},
		{200, fin(2, false), "-"},
		{250, fin(3, true), "done"},
	})
	// Failures of up to f shards do not end it; one more does.
	runUpload(t, uploadCfg(), []uploadStep{
		{0, sched.Start{}, "start=0,1 wake=2000"},
		{100, fin(1, false), "start=2,3"},  // 3 failed: 7 left
		{200, fin(3, false), "outofreach"}, // 4 failed
	})
}

// TestUploadConcurrency: at most Concurrency members run at once, heaviest first.
func TestUploadConcurrency(t *testing.T) {
	cfg := uploadCfg()
	cfg.Concurrency = 1
	runUpload(t, cfg, []uploadStep{
		{0, sched.Start{}, "start=0 wake=2000"},
		{100, fin(0, true), "start=1 wake=2000"},
		{200, fin(1, true), "wake=5200 quorum"},
		{300, sched.Certified{}, "start=2"},
		{400, fin(2, true), "start=3"},
		{500, fin(3, true), "done"},
	})
}

// TestUploadCancelled: when the upload's context ends, the members not started are
// abandoned and count as failed; the running ones report as they end.
func TestUploadCancelled(t *testing.T) {
	runUpload(t, uploadCfg(), []uploadStep{
		{0, sched.Start{}, "start=0,1 wake=2000"},
		{100, sched.Cancelled{}, "abandon=2,3"},
		{200, fin(0, false), "outofreach"},
		{300, fin(1, false), "done"},
	})
}

// TestUploadNoQuorum: everyone reported and the quorum was never reached (only possible
// when the weights do not add up to Shards, which a Committee guarantees).
func TestUploadNoQuorum(t *testing.T) {
	cfg := uploadCfg()
	cfg.Shards = 12
	runUpload(t, cfg, []uploadStep{
		{0, sched.Start{}, "start=0,1 wake=2000"},
		{100, fin(0, true), "wake=2000"},
		{200, fin(1, false), "start=2,3"},
		{300, fin(2, false), "-"},
		{400, fin(3, true), "noquorum done"},
	})
}

// TestUploadConfig: a configuration the scheduler cannot run with is refused.
func TestUploadConfig(t *testing.T) {
	for _, mutate := range []func(*sched.UploadConfig){
		func(c *sched.UploadConfig) { c.Weights = nil },
		func(c *sched.UploadConfig) { c.Quorum = 0 },
		func(c *sched.UploadConfig) { c.Quorum = 11 },
		func(c *sched.UploadConfig) { c.Concurrency = 0 },
		func(c *sched.UploadConfig) { c.HedgeDelay = 0 },
		func(c *sched.UploadConfig) { c.ReserveHold = 0 },
	} {
		cfg := uploadCfg()
		mutate(&cfg)
		if _, err := sched.NewUpload(cfg); err == nil {
			t.Fatalf("NewUpload(%+v) accepted", cfg)
		}
	}
}
