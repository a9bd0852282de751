package sched

import (
	"errors"
	"slices"
	"time"
)

// UploadConfig is one upload's committee and timing.
type UploadConfig struct {
	// Weights[m] is how many shards member m holds.
	Weights []int
	// Shards is the committee's shard count n; Quorum the confirmed weight a certificate
	// needs (n-f, docs/protocol.md §5).
	Shards, Quorum int
	// Concurrency bounds how many members are uploaded to at once.
	Concurrency int
	// HedgeDelay is how long the upload may go without an acknowledged batch before the
	// reserve is released.
	HedgeDelay time.Duration
	// ReserveHold is how long the reserve waits for [Certified] once the first group is
	// through.
	ReserveHold time.Duration
}

// Validate reports a configuration the scheduler cannot run with.
func (c *UploadConfig) Validate() error {
	switch {
	case len(c.Weights) == 0:
		return errors.New("sched: UploadConfig.Weights is empty")
	case c.Quorum <= 0 || c.Shards < c.Quorum:
		return errors.New("sched: UploadConfig needs 0 < Quorum <= Shards")
	case c.Concurrency <= 0:
		return errors.New("sched: UploadConfig.Concurrency must be positive")
	case c.HedgeDelay <= 0 || c.ReserveHold <= 0:
		return errors.New("sched: UploadConfig.HedgeDelay and ReserveHold must be positive")
	}
	return nil
}

// UploadEvent is an input to Upload.Step: [Start], [Tick], [Acked], [Finished],
// [Certified] or [Cancelled].
type UploadEvent interface{ uploadEvent() }

// Acked reports that a member acknowledged a batch (metadata or slivers): the upload is
// making progress.
type Acked struct{}

// Finished reports a member's outcome, once per started member: OK when its confirmation
// verified and counts towards the certificate.
type Finished struct {
	Member int
	OK     bool
}

// Certified reports that the certificate is committed (or that the caller is done
// trying): the reserve held back until then may start.
type Certified struct{}

// Cancelled reports that the upload's context ended: members not started yet are
// abandoned, and count as failed.
type Cancelled struct{}

func (Acked) uploadEvent()     {}
func (Finished) uploadEvent()  {}
func (Certified) uploadEvent() {}
func (Cancelled) uploadEvent() {}

// Verdict is the outcome of an upload's quorum.
type Verdict uint8

// Verdicts, each given once, in the step that decides it (zero: none in this step).
const (
	// Quorum: confirmations worth Quorum shards are in; build the certificate.
	Quorum Verdict = 1 + iota
	// OutOfReach: members worth more than Shards-Quorum failed; no certificate can be
	// built, and the driver stops the rest.
	OutOfReach
	// NoQuorum: every member reported and the quorum was not reached.
	NoQuorum
)

// UploadOutput is what one Upload.Step asks of the driver.
type UploadOutput struct {
	// Start lists the members whose upload starts now.
	Start []int
	// Abandon lists members never started that now count as failed (after [Cancelled]).
	Abandon []int
	// Wake is when the driver steps [Tick] next (a stall or the reserve hold ending);
	// zero when none.
	Wake time.Time
	// Verdict is the quorum's outcome if this step decided it.
	Verdict Verdict
	// Done reports that every member has reported: the upload is over.
	Done bool
}

// Upload schedules the members of one upload (docs/architecture.md §5 "Store"). It is not
// safe for concurrent use: one driver owns it.
//
// Quorum first: the heaviest members that together hold Quorum shards (the first group)
// are uploaded to first, and the others (the reserve) only once one of the first group
// fails, the upload goes HedgeDelay without an acknowledged batch, or the first group is
// all through and then the certificate is committed or ReserveHold passes. The
// certificate needs just the first group, and the reserve would otherwise compete with it
// for the client's bandwidth and CPU; the reserve still gets every sliver, in the
// background after the certificate if need be. At most Concurrency members are uploaded
// to at once, heaviest first.
type Upload struct {
	cfg   UploadConfig
	order []int  // members, heaviest first (ties by index)
	first []bool // in the first group

	started, reported []bool
	running           int
	nReported         int
	firstLeft         int
	confirmed, failed int // weights

	begun, released, firstDone, certified, cancelled bool
	lastActivity                                     time.Time
	holdUntil                                        time.Time
	verdict                                          Verdict

	now time.Time
	out UploadOutput
}

// NewUpload returns an upload scheduler waiting for [Start].
func NewUpload(cfg UploadConfig) (*Upload, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Weights = append([]int(nil), cfg.Weights...)
	n := len(cfg.Weights)
	u := &Upload{
		cfg:      cfg,
		order:    MembersByWeight(cfg.Weights),
		first:    make([]bool, n),
		started:  make([]bool, n),
		reported: make([]bool, n),
	}
	w := 0
	for _, m := range u.order {
		if w >= cfg.Quorum {
			break
		}
		u.first[m] = true
		w += cfg.Weights[m]
		u.firstLeft++
	}
	return u, nil
}

// MembersByWeight returns member indices, heaviest first (ties by index): heavier members
// answer for more shards, so asking them first needs fewer round trips.
func MembersByWeight(weights []int) []int {
	idx := make([]int, len(weights))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return weights[b] - weights[a] })
	return idx
}

// First reports whether member m is in the first group.
func (u *Upload) First(m int) bool { return m >= 0 && m < len(u.first) && u.first[m] }

// Released reports whether the reserve may start.
func (u *Upload) Released() bool { return u.released }

// Step feeds ev, which happened at now, and returns what to do.
func (u *Upload) Step(now time.Time, ev UploadEvent) UploadOutput {
	if _, start := ev.(Start); !u.begun && !start {
		return UploadOutput{}
	}
	u.now = now
	u.out = UploadOutput{}
	switch e := ev.(type) {
	case Start:
		if u.begun {
			break
		}
		u.begun = true
		u.lastActivity = now
	case Tick:
		if !u.released && !u.firstDone && !now.Before(u.lastActivity.Add(u.cfg.HedgeDelay)) {
			u.released = true // stalled: the reserve gets its chance
		}
		if u.firstDone && !u.released && !now.Before(u.holdUntil) {
			u.released = true // the certificate's commit did not come in time
		}
	case Acked:
		u.lastActivity = now
	case Finished:
		u.finished(e)
	case Certified:
		u.certified = true
		if u.firstDone {
			u.released = true
		}
	case Cancelled:
		u.cancel()
	}
	u.startMore()
	u.decide()
	out := u.out
	if !out.Done {
		out.Wake = u.wake()
	}
	u.out = UploadOutput{}
	return out
}

func (u *Upload) finished(f Finished) {
	m := f.Member
	if m < 0 || m >= len(u.started) || !u.started[m] || u.reported[m] {
		return // not a running member of this upload
	}
	u.reported[m] = true
	u.nReported++
	u.running--
	if f.OK {
		u.confirmed += u.cfg.Weights[m]
	} else {
		u.failed += u.cfg.Weights[m]
	}
	if !u.first[m] {
		return
	}
	// A failed first-group member needs the reserve; so does the rest of the upload once
	// the first group is through, after the certificate is committed or ReserveHold, so the
	// Point of Availability does not share the client's CPU and uplink with the reserve.
	if u.firstLeft--; !f.OK {
		u.released = true
	} else if u.firstLeft == 0 {
		u.firstDone = true
		u.holdUntil = u.now.Add(u.cfg.ReserveHold)
		if u.certified {
			u.released = true
		}
	}
}

// cancel abandons the members not started: they count as failed.
func (u *Upload) cancel() {
	if u.cancelled {
		return
	}
	u.cancelled, u.released = true, true
	for _, m := range u.order {
		if u.started[m] {
			continue
		}
		u.started[m], u.reported[m] = true, true
		u.nReported++
		u.failed += u.cfg.Weights[m]
		u.out.Abandon = append(u.out.Abandon, m)
	}
}

// startMore starts members in order, the first group before the reserve is released,
// while fewer than Concurrency run.
func (u *Upload) startMore() {
	if u.cancelled {
		return
	}
	for _, m := range u.order {
		if u.running >= u.cfg.Concurrency {
			return
		}
		if u.started[m] || !u.first[m] && !u.released {
			continue
		}
		u.started[m] = true
		u.running++
		u.out.Start = append(u.out.Start, m)
	}
}

// decide gives the verdict once: the quorum is in, out of reach (fail now rather than
// wait for the stragglers), or never reached by the time everyone reported.
func (u *Upload) decide() {
	if u.verdict == 0 {
		switch {
		case u.confirmed >= u.cfg.Quorum:
			u.verdict = Quorum
		case u.cfg.Shards-u.failed < u.cfg.Quorum:
			u.verdict = OutOfReach
		case u.nReported == len(u.cfg.Weights):
			u.verdict = NoQuorum
		}
		u.out.Verdict = u.verdict
	}
	u.out.Done = u.nReported == len(u.cfg.Weights)
}

// wake is the stall deadline until the first group is through, then the end of the
// reserve hold, while the reserve is held back.
func (u *Upload) wake() time.Time {
	switch {
	case u.released || u.cancelled:
		return time.Time{}
	case u.firstDone:
		return u.holdUntil
	}
	return u.lastActivity.Add(u.cfg.HedgeDelay)
}
