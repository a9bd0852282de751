package sched_test

import (
	"slices"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/client/sched"
)

// member is how one simulated committee member answers requests.
type member struct {
	latency time.Duration // answer time (default 10 ms)
	refuse  int           // refuse the next refuse requests as busy, after 1 ms
	stall   bool          // never answer
	lies    bool          // every sliver it sends fails verification
}

// readSim runs a Read against simulated members in virtual time, synchronously: the
// in-memory network of the read tests (etcd-raft's network, for one client).
type readSim struct {
	t       *testing.T
	r       *sched.Read
	now     time.Time
	members map[int]*member
	// decodeNeeds is how many verified slivers a decode needs (default R): more models a
	// codec that needs a different set.
	decodeNeeds int

	queue []pendingAnswer
	seq   int

	// What happened.
	asked      map[int]int // index -> times asked
	served     map[int]int // index -> times served
	refusals   map[int][]time.Time
	inFlight   map[int]int
	mostFlight map[int]int
	sends      map[int][]time.Time // member -> when each request was sent
	slow       []int
	failed     []int
	status     sched.ReadStatus // Complete, NotEnough, or TryDecode when the decode succeeded
	decodes    int
	needMoreAt []int // verified count at each NeedMore
	end        time.Time
}

type pendingAnswer struct {
	at  time.Time
	seq int
	a   sched.Answer
}

func newReadSim(t *testing.T, cfg sched.ReadConfig, members map[int]*member) *readSim {
	t.Helper()
	r, err := sched.NewRead(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if members == nil {
		members = map[int]*member{}
	}
	return &readSim{
		t: t, r: r, now: t0, members: members, decodeNeeds: cfg.R,
		asked: map[int]int{}, served: map[int]int{}, refusals: map[int][]time.Time{},
		inFlight: map[int]int{}, mostFlight: map[int]int{}, sends: map[int][]time.Time{},
	}
}

func (s *readSim) member(m int) *member {
	if s.members[m] == nil {
		s.members[m] = &member{}
	}
	return s.members[m]
}

// send delivers req to its member, which schedules its answer.
func (s *readSim) send(req sched.Request) {
	m := s.member(req.Member)
	s.sends[req.Member] = append(s.sends[req.Member], s.now)
	s.inFlight[req.Member]++
	s.mostFlight[req.Member] = max(s.mostFlight[req.Member], s.inFlight[req.Member])
	for _, i := range req.Indices {
		s.asked[i]++
	}
	lat := m.latency
	if lat == 0 {
		lat = 10 * time.Millisecond
	}
	var a sched.Answer
	switch {
	case m.stall:
		return
	case m.refuse > 0:
		m.refuse--
		s.refusals[req.Member] = append(s.refusals[req.Member], s.now)
		a, lat = busy(req), time.Millisecond
	case m.lies:
		a = failed(req)
	default:
		a = ok(req)
		for _, i := range req.Indices {
			s.served[i]++
		}
	}
	s.seq++
	s.queue = append(s.queue, pendingAnswer{at: s.now.Add(lat), seq: s.seq, a: a})
}

// run steps the read from Start until it ends, failing the test if it gets stuck (nothing
// in flight that will answer and nothing to wake for) or runs past deadline.
func (s *readSim) run(deadline time.Duration) {
	s.t.Helper()
	var ev sched.ReadEvent = sched.Start{}
	for {
		out := s.r.Step(s.now, ev)
		s.slow = append(s.slow, out.Slow...)
		s.failed = append(s.failed, out.Failed...)
		for _, req := range out.Send {
			s.send(req)
		}
		switch out.Status {
		case sched.Complete, sched.NotEnough:
			s.status, s.end = out.Status, s.now
			return
		case sched.TryDecode:
			s.decodes++
			if s.r.Verified() >= s.decodeNeeds {
				s.status, s.end = sched.TryDecode, s.now
				return
			}
			s.needMoreAt = append(s.needMoreAt, s.r.Verified())
			ev = sched.NeedMore{}
			continue
		}
		if !out.Wake.IsZero() && out.Wake.Before(s.now) {
			s.t.Fatalf("at %d ms: wake %d ms is in the past", ms(s.now), ms(out.Wake))
		}
		// The next event: the earliest answer, or the wake if it comes first.
		slices.SortFunc(s.queue, func(a, b pendingAnswer) int {
			if c := a.at.Compare(b.at); c != 0 {
				return c
			}
			return a.seq - b.seq
		})
		switch {
		case len(s.queue) > 0 && (out.Wake.IsZero() || !out.Wake.Before(s.queue[0].at)):
			p := s.queue[0]
			s.queue = s.queue[1:]
			s.now = p.at
			s.inFlight[p.a.Request.Member]--
			ev = p.a
		case !out.Wake.IsZero():
			s.now = out.Wake
			ev = sched.Tick{}
		default:
			s.t.Fatalf("stuck at %d ms with %d verified: no answer will come and nothing to wake for",
				ms(s.now), s.r.Verified())
		}
		if s.now.Sub(t0) > deadline {
			s.t.Fatalf("still reading at %d ms (%d verified)", ms(s.now), s.r.Verified())
		}
	}
}
