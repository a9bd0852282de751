package sched_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/client/sched"
)

// t0 is virtual time zero; tests give times as milliseconds after it.
var t0 = time.Unix(1_000_000, 0)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func ms(t time.Time) int64 { return t.Sub(t0).Milliseconds() }

// layout returns the owner of each of limit primary indices when member m holds
// weights[m] contiguous shards of n = sum(weights) and pair i is stored on shard
// (i + rot) mod n (docs/protocol.md §2).
func layout(limit, rot int, weights ...int) []int {
	var shardOwner []int
	for m, w := range weights {
		for range w {
			shardOwner = append(shardOwner, m)
		}
	}
	owner := make([]int, limit)
	for i := range owner {
		owner[i] = shardOwner[(i+rot)%len(shardOwner)]
	}
	return owner
}

func ints(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}

// readOut prints a ReadOutput compactly: "send={0:0,1}{1:2,3} wake=1000 slow=1 failed=2
// reading", leaving out what is empty.
func readOut(o sched.ReadOutput) string {
	var b []string
	if len(o.Send) > 0 {
		s := "send="
		for _, r := range o.Send {
			s += fmt.Sprintf("{%d:%s}", r.Member, ints(r.Indices))
		}
		b = append(b, s)
	}
	if !o.Wake.IsZero() {
		b = append(b, fmt.Sprintf("wake=%d", ms(o.Wake)))
	}
	if len(o.Slow) > 0 {
		b = append(b, "slow="+ints(o.Slow))
	}
	if len(o.Failed) > 0 {
		b = append(b, "failed="+ints(o.Failed))
	}
	b = append(b, readStatus(o.Status))
	return strings.Join(b, " ")
}

func readStatus(s sched.ReadStatus) string {
	switch s {
	case sched.Reading:
		return "reading"
	case sched.Complete:
		return "complete"
	case sched.TryDecode:
		return "decode"
	case sched.NotEnough:
		return "notenough"
	}
	return fmt.Sprintf("status(%d)", s)
}

// uploadOut prints an UploadOutput compactly: "start=0,1 abandon=2 wake=2000 quorum done".
func uploadOut(o sched.UploadOutput) string {
	var b []string
	if len(o.Start) > 0 {
		b = append(b, "start="+ints(o.Start))
	}
	if len(o.Abandon) > 0 {
		b = append(b, "abandon="+ints(o.Abandon))
	}
	if !o.Wake.IsZero() {
		b = append(b, fmt.Sprintf("wake=%d", ms(o.Wake)))
	}
	switch o.Verdict {
	case 0:
	case sched.Quorum:
		b = append(b, "quorum")
	case sched.OutOfReach:
		b = append(b, "outofreach")
	case sched.NoQuorum:
		b = append(b, "noquorum")
	default:
		b = append(b, fmt.Sprintf("verdict(%d)", o.Verdict))
	}
	if o.Done {
		b = append(b, "done")
	}
	if len(b) == 0 {
		return "-"
	}
	return strings.Join(b, " ")
}

// ask is the request of member m for indices, as Step returns it.
func ask(m int, indices ...int) sched.Request { return sched.Request{Member: m, Indices: indices} }

// ok is a complete answer to req: every sliver verified.
func ok(req sched.Request) sched.Answer {
	return sched.Answer{Request: req, Verified: req.Indices, Outcome: sched.OK}
}

// busy is a "busy" refusal of req.
func busy(req sched.Request) sched.Answer {
	return sched.Answer{Request: req, Outcome: sched.Busy}
}

// failed is a failed answer to req in which only verified arrived and verified.
func failed(req sched.Request, verified ...int) sched.Answer {
	return sched.Answer{Request: req, Verified: verified, Outcome: sched.Failed}
}

// readStep is one row of a read table: the event at a time and the output it must give.
type readStep struct {
	at   int
	ev   sched.ReadEvent
	want string
}

func runRead(t *testing.T, cfg sched.ReadConfig, steps []readStep) *sched.Read {
	t.Helper()
	r, err := sched.NewRead(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		if got := readOut(r.Step(at(s.at), s.ev)); got != s.want {
			t.Fatalf("step %d (%T at %d ms):\n got  %s\n want %s", i, s.ev, s.at, got, s.want)
		}
	}
	return r
}

// uploadStep is one row of an upload table.
type uploadStep struct {
	at   int
	ev   sched.UploadEvent
	want string
}

func runUpload(t *testing.T, cfg sched.UploadConfig, steps []uploadStep) *sched.Upload {
	t.Helper()
	u, err := sched.NewUpload(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		if got := uploadOut(u.Step(at(s.at), s.ev)); got != s.want {
			t.Fatalf("step %d (%T at %d ms):\n got  %s\n want %s", i, s.ev, s.at, got, s.want)
		}
	}
	return u
}
