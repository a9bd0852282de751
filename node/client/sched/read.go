package sched

import (
	"errors"
	"time"
)

// ReadConfig is one read's geometry and timing.
type ReadConfig struct {
	// R is how many primary slivers a decode needs; indices below R are the systematic
	// ones, which need no decoding at all.
	R int
	// Owner[i] is the committee member that holds primary sliver i (the owner of its pair's
	// shard, docs/protocol.md §2). Its length is how many primary indices can take part in a
	// decode (codec's usable primaries): the candidates.
	Owner []int
	// Margin is how many slivers beyond the count needed are asked for when a member
	// fails or is slow, or when a decode needs a different set (the client uses R/8, at
	// least 1). None are asked for up front.
	Margin int
	// PerRequest caps how many slivers one request asks for.
	PerRequest int
	// Depth is how many requests may be in flight to one member at once.
	Depth int
	// Retries is how many busy bursts a member may answer before it counts as failed.
	Retries int
	// RetryDelay is the first backoff after a busy answer; it doubles with each burst.
	RetryDelay time.Duration
	// HedgeDelay is how long a member with requests out may stay silent before it is slow.
	HedgeDelay time.Duration
}

// Validate reports a configuration the scheduler cannot run with.
func (c *ReadConfig) Validate() error {
	switch {
	case c.R <= 0:
		return errors.New("sched: ReadConfig.R must be positive")
	case c.Margin <= 0 || c.PerRequest <= 0 || c.Depth <= 0:
		return errors.New("sched: ReadConfig.Margin, PerRequest and Depth must be positive")
	case c.Retries < 0:
		return errors.New("sched: ReadConfig.Retries must not be negative")
	case c.RetryDelay <= 0 || c.HedgeDelay <= 0:
		return errors.New("sched: ReadConfig.RetryDelay and HedgeDelay must be positive")
	}
	for _, m := range c.Owner {
		if m < 0 {
			return errors.New("sched: ReadConfig.Owner holds a negative member index")
		}
	}
	return nil
}

// ReadEvent is an input to Read.Step: [Start], [Tick], [Answer] or [NeedMore].
type ReadEvent interface{ readEvent() }

// Request asks Member for the primary slivers Indices (ascending, at most PerRequest).
type Request struct {
	Member  int
	Indices []int
}

// Outcome classifies how a request ended.
type Outcome uint8

// Outcomes of a request.
const (
	// OK: the request completed; every index not in Answer.Verified is missing, which
	// fails the member as a lie would.
	OK Outcome = 1 + iota
	// Busy: the member refused for now (a retryable answer): ask it again after a backoff.
	Busy
	// Failed: anything else (transport error, a sliver that did not verify, a malformed
	// response). The member is not asked again.
	Failed
)

// Answer reports the end of a request Step returned: the indices whose slivers arrived and
// verified (kept whatever the outcome: each sliver is self-verifying), and the outcome.
type Answer struct {
	Request  Request
	Verified []int
	Outcome  Outcome
}

// NeedMore reports that a decode over the verified slivers (after [TryDecode]) found
// them not enough: the codec needs a different set.
type NeedMore struct{}

func (Answer) readEvent()   {}
func (NeedMore) readEvent() {}

// ReadStatus is where a read stands after a step.
type ReadStatus uint8

// Read statuses.
const (
	// Reading: wait for answers, or for Wake.
	Reading ReadStatus = 1 + iota
	// Complete: every systematic sliver is verified; they are the blob.
	Complete
	// TryDecode: at least R slivers are verified, more than at the last attempt. The
	// driver decodes; if the codec needs more it steps [NeedMore].
	TryDecode
	// NotEnough: nothing is in flight or waiting and too few slivers verified; the read
	// fails.
	NotEnough
)

// ReadOutput is what one Read.Step asks of the driver.
type ReadOutput struct {
	// Send lists the requests to send now.
	Send []Request
	// Wake is when the driver steps [Tick] next, the earliest hedge or backoff deadline;
	// zero when only an answer can move the read on.
	Wake time.Time
	// Slow lists the members found slow in this step (for the driver's log); everything
	// they were asked is being asked of others.
	Slow []int
	// Failed lists the members an answer of this step failed: not asked again.
	Failed []int
	// Status is where the read stands.
	Status ReadStatus
}

// Candidate states.
const (
	pending uint8 = iota // not chosen
	queued               // chosen, waiting for a free lane of its owner
	asked                // in a request
	done                 // verified
)

// Read schedules the sliver requests of one read (docs/architecture.md §5 "Read"). It is
// not safe for concurrent use: one driver owns it.
//
// The rules, in order of the commits that made them:
//   - candidates are asked lowest index first, so systematic slivers (which make the
//     decode free) come first, and exactly R at first: margin is added only when a
//     request fails or is slow, or a decode needs more;
//   - at most Depth requests are in flight per member, the rest queue for a free lane;
//   - a busy answer requeues its slivers for the same member after RetryDelay, doubling
//     per burst; the answers of one burst (requests that were in flight when the member
//     turned busy, arriving within its backoff) count once; a busy answer once Retries
//     bursts are counted fails the member (even one of the last burst's);
//   - a member that fails or lies is never asked again; its queued slivers go back to
//     the pool and margin more are chosen;
//   - a member with requests out that stays silent for HedgeDelay is slow: everything it
//     was asked, and everything queued for it, is replaced at once by slivers of others
//     (its answers still count if they come); a slow member that answers is not slow any
//     more (each index has one owner, so nobody else can deliver what it holds);
//   - the read fails once nothing is in flight or queued and too few slivers verified.
type Read struct {
	cfg   ReadConfig
	limit int // len(cfg.Owner)

	state []uint8 // per candidate

	// Per member.
	bad     []bool      // failed or lied: not asked again
	busy    []int       // busy bursts so far
	backoff []time.Time // a busy member is asked again from then on
	lanes   []int       // requests in flight
	heard   []time.Time // last answer, or when first asked with no request out
	slow    []bool      // silent for HedgeDelay with requests out

	verified, rows  int // verified slivers, and the systematic ones among them
	nQueued, nAsked int
	running         int // requests in flight
	want            int // verified + queued + asked to aim for
	tried           int // verified at the last decode attempt, -1 before any
	started, ended  bool
	status          ReadStatus

	now time.Time
	out ReadOutput
}

// NewRead returns a read scheduler waiting for [Start].
func NewRead(cfg ReadConfig) (*Read, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	members := 0
	for _, m := range cfg.Owner {
		members = max(members, m+1)
	}
	cfg.Owner = append([]int(nil), cfg.Owner...)
	return &Read{
		cfg:     cfg,
		limit:   len(cfg.Owner),
		state:   make([]uint8, len(cfg.Owner)),
		bad:     make([]bool, members),
		busy:    make([]int, members),
		backoff: make([]time.Time, members),
		lanes:   make([]int, members),
		heard:   make([]time.Time, members),
		slow:    make([]bool, members),
		tried:   -1,
		status:  Reading,
	}, nil
}

// Verified is how many slivers have verified so far.
func (r *Read) Verified() int { return r.verified }

// InFlight is how many requests to member m are in flight.
func (r *Read) InFlight(m int) int {
	if m < 0 || m >= len(r.lanes) {
		return 0
	}
	return r.lanes[m]
}

// Step feeds ev, which happened at now, and returns what to do. Once the read has ended
// (Complete or NotEnough) every step returns that status and nothing else.
func (r *Read) Step(now time.Time, ev ReadEvent) ReadOutput {
	if _, start := ev.(Start); r.ended || !r.started && !start {
		return ReadOutput{Status: r.status}
	}
	r.now = now
	r.out = ReadOutput{}
	switch e := ev.(type) {
	case Start:
		if r.started {
			break
		}
		r.started = true
		r.want = r.cfg.R
		r.choose(false)
		r.dispatch()
	case Tick:
		r.hedge()
		r.dispatch() // backoffs that ended
	case Answer:
		r.answer(e)
	case NeedMore:
		// The codec needs a different set: ask for more.
		r.want = r.verified + r.cfg.Margin
		r.choose(true)
		r.dispatch()
	}
	r.status = r.decide()
	r.ended = r.status == Complete || r.status == NotEnough
	out := r.out
	out.Status = r.status
	if !r.ended {
		out.Wake = r.wake()
	}
	r.out = ReadOutput{}
	return out
}

// decide is the loop top of the read: done, worth a decode, failed, or still reading.
func (r *Read) decide() ReadStatus {
	switch {
	case r.rows == r.cfg.R:
		return Complete
	case r.verified >= r.cfg.R && r.verified != r.tried:
		r.tried = r.verified
		return TryDecode
	case r.running == 0 && r.nQueued == 0:
		return NotEnough
	}
	return Reading
}

// choose queues further candidates, lowest index first, until verified + queued + asked
// covers want. Members that failed or are slow are skipped; so, when spread is set (a
// hedge or a replacement), are members whose lanes are all taken or who are backing off:
// more requests queued behind a slow member would not help.
func (r *Read) choose(spread bool) {
	for i := 0; i < r.limit && r.verified+r.nQueued+r.nAsked < r.want; i++ {
		m := r.cfg.Owner[i]
		if r.state[i] != pending || r.bad[m] || r.slow[m] ||
			spread && (r.lanes[m] >= r.cfg.Depth || r.now.Before(r.backoff[m])) {
			continue
		}
		r.state[i] = queued
		r.nQueued++
	}
}

// dispatch sends queued candidates to their owners, up to PerRequest per request, while
// the owner has a free lane and is not backing off.
func (r *Read) dispatch() {
	for i := 0; i < r.limit && r.nQueued > 0; i++ {
		m := r.cfg.Owner[i]
		if r.state[i] != queued || r.lanes[m] >= r.cfg.Depth || r.now.Before(r.backoff[m]) {
			continue
		}
		var idx []int
		for j := i; j < r.limit && len(idx) < r.cfg.PerRequest; j++ {
			if r.state[j] == queued && r.cfg.Owner[j] == m {
				idx = append(idx, j)
				r.state[j] = asked
			}
		}
		r.nQueued -= len(idx)
		r.nAsked += len(idx)
		if r.lanes[m] == 0 {
			r.heard[m] = r.now
		}
		r.lanes[m]++
		r.running++
		r.out.Send = append(r.out.Send, Request{Member: m, Indices: idx})
	}
}

// hedge marks slow every member with requests out that has been silent for HedgeDelay.
// Everything a slow member was asked, and everything waiting for it, is asked of others
// now, at once (its answers still count if they come). One margin per hedge instead took
// a hedge round per R/8 slivers a stalled member held.
func (r *Read) hedge() {
	newly := false
	for m, n := range r.lanes {
		if n > 0 && !r.slow[m] && r.now.Sub(r.heard[m]) >= r.cfg.HedgeDelay {
			r.slow[m], newly = true, true
			r.out.Slow = append(r.out.Slow, m)
		}
	}
	if !newly {
		return
	}
	lost := 0
	for i := 0; i < r.limit; i++ {
		if !r.slow[r.cfg.Owner[i]] {
			continue
		}
		switch r.state[i] {
		case queued:
			r.state[i] = pending
			r.nQueued--
		case asked:
			lost++
		}
	}
	counted := r.verified + r.nQueued + r.nAsked
	r.want = max(r.want, counted+max(0, r.cfg.R-(counted-lost))+r.cfg.Margin)
	r.choose(true)
	r.dispatch()
}

// answer takes in the end of a request.
func (r *Read) answer(a Answer) {
	m := a.Request.Member
	if m < 0 || m >= len(r.lanes) || r.lanes[m] == 0 {
		return // not a request of this read
	}
	r.running--
	r.lanes[m]--
	r.heard[m] = r.now
	// A slow member that answers is not slow any more: what it still owns may be asked of
	// it again (every index has one owner, so no one else can deliver it).
	r.slow[m] = false
	for _, i := range a.Verified {
		if i < 0 || i >= r.limit || r.state[i] != asked {
			continue // cannot happen: each candidate is in one request at a time
		}
		if i < r.cfg.R {
			r.rows++
		}
		r.verified++
		r.state[i] = done
		r.nAsked--
	}
	// A busy member is asked again for the rest, after a backoff, a few times before it
	// counts as failed.
	again := a.Outcome == Busy && r.busy[m] < r.cfg.Retries && !r.bad[m]
	failed := a.Outcome != OK
	for _, i := range a.Request.Indices {
		if i < 0 || i >= r.limit || r.state[i] != asked {
			continue
		}
		r.nAsked--
		if again {
			r.state[i] = queued
			r.nQueued++
			continue
		}
		r.state[i] = pending // someone else must deliver it
		failed = true        // an OK answer without it: missing, as good as a lie
	}
	switch {
	case !failed:
	case again && r.now.Before(r.backoff[m]):
		// Another of the requests in flight when the member turned busy: the backoff
		// already covers it, and counts once.
	case again:
		r.busy[m]++
		r.backoff[m] = r.now.Add(r.cfg.RetryDelay << (r.busy[m] - 1))
	default:
		r.bad[m] = true
		r.out.Failed = append(r.out.Failed, m)
		for i := 0; i < r.limit; i++ {
			if r.state[i] == queued && r.cfg.Owner[i] == m {
				r.state[i] = pending
				r.nQueued--
			}
		}
		// The replacements get a little company too.
		r.want = max(r.want, r.verified+r.nQueued+r.nAsked+r.cfg.Margin)
	}
	r.choose(true)
	r.dispatch()
}

// wake is the earliest deadline: a member with requests out turning slow, or a busy
// member with queued slivers and a free lane coming out of its backoff.
func (r *Read) wake() time.Time {
	var at time.Time
	for m, n := range r.lanes {
		if n > 0 && !r.slow[m] {
			at = earliest(at, r.heard[m].Add(r.cfg.HedgeDelay))
		}
	}
	for i := 0; i < r.limit; i++ {
		m := r.cfg.Owner[i]
		if r.state[i] == queued && r.lanes[m] < r.cfg.Depth && r.now.Before(r.backoff[m]) {
			at = earliest(at, r.backoff[m])
		}
	}
	return at
}
