package tendermint_test

import (
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// runCluster delivers every broadcast to every other machine, FIFO, until quiet, and returns
// the commits by machine. Timeouts are not fired: on a perfect network none is needed.
func runCluster(t *testing.T, h *harness, height uint64) map[int]*tendermint.Commit {
	t.Helper()
	type pending struct {
		from int
		msg  tendermint.Message
	}
	var q []pending
	commits := map[int]*tendermint.Commit{}
	handle := func(i int, effs []tendermint.Effect) {
		for _, m := range broadcasts(effs) {
			q = append(q, pending{i, m})
		}
		if c := commitOf(effs); c != nil {
			commits[i] = c
		}
	}
	for i, m := range h.ms {
		if m != nil {
			handle(i, h.step(i, tendermint.StartHeight{Height: height, Committee: h.c}))
		}
	}
	for len(q) > 0 {
		p := q[0]
		q = q[1:]
		for j, m := range h.ms {
			if m != nil && j != p.from {
				handle(j, h.step(j, p.msg))
			}
		}
	}
	return commits
}

func TestHappyPathBLS(t *testing.T) {
	h := newHarness(t, []int{1, 2, 3, 4}, true, 0, 1, 2, 3)
	commits := runCluster(t, h, 7)
	if len(commits) != 4 {
		t.Fatalf("%d machines committed", len(commits))
	}
	prop := h.proposerOf(7, 0)
	var first *tendermint.Commit
	for i, c := range commits {
		if first == nil {
			first = c
		}
		if c.Hash != first.Hash || c.Height != 7 || c.Commit.Round != 0 {
			t.Fatalf("machine %d committed %+v", i, c)
		}
		if err := tendermint.VerifyCommit(h.c, testNet, 7, c.Hash, &c.Commit); err != nil {
			t.Fatalf("machine %d certificate: %v", i, err)
		}
		if !h.ms[i].Decided() {
			t.Fatalf("machine %d not decided", i)
		}
	}
	if h.apps[prop].proposals != 1 {
		t.Fatalf("proposer %d built %d values", prop, h.apps[prop].proposals)
	}
	// A follower certificate check fails for any other height, value, network or committee.
	c := first
	if err := tendermint.VerifyCommit(h.c, testNet, 8, c.Hash, &c.Commit); err == nil {
		t.Fatal("certificate accepted for another height")
	}
	if err := tendermint.VerifyCommit(h.c, testNet, 7, tendermint.HashValue([]byte("x")), &c.Commit); err == nil {
		t.Fatal("certificate accepted for another value")
	}
	if err := tendermint.VerifyCommit(h.c, epoch.NetworkID{9}, 7, c.Hash, &c.Commit); err == nil {
		t.Fatal("certificate accepted on another network")
	}
	other, _ := epochtest.Committee(1, []int{1, 2, 3, 4}, 43)
	if err := tendermint.VerifyCommit(other, testNet, 7, c.Hash, &c.Commit); err == nil {
		t.Fatal("certificate accepted for another committee")
	}
	wrongRound := *c
	wrongRound.Commit.Round = 1
	if err := tendermint.VerifyCommit(h.c, testNet, 7, c.Hash, &wrongRound.Commit); err == nil {
		t.Fatal("certificate accepted for another round")
	}
	if err := tendermint.VerifyCommit(h.c, testNet, 7, tendermint.Hash{}, &c.Commit); err == nil {
		t.Fatal("commit of nil accepted")
	}
}

func TestVerifyCommitBelowQuorum(t *testing.T) {
	h := newHarness(t, []int{1, 2, 3, 4}, false) // n=10, quorum 7
	v := tendermint.HashValue([]byte("value"))
	build := func(who ...int) *tendermint.CommitCert {
		cc := &tendermint.CommitCert{Round: 2, Cert: epoch.Certificate{Epoch: 1, Signers: []byte{0}}}
		var sigs [][96]byte
		for _, i := range who {
			cc.Cert.Signers[0] |= 1 << i
			sigs = append(sigs, h.vote(i, tendermint.Precommit, 5, 2, v).Signature)
		}
		agg, _ := tendermint.FakeScheme{}.Aggregate(toSigs(sigs))
		cc.Cert.Signature = agg
		return cc
	}
	byW := map[int]int{}
	for i, m := range h.c.Members {
		byW[m.Weight()] = i
	}
	if err := tendermint.VerifyCommitWith(h.scheme, h.c, testNet, 5, v, build(byW[3], byW[4])); err != nil {
		t.Fatalf("7 of 10: %v", err)
	}
	if err := tendermint.VerifyCommitWith(h.scheme, h.c, testNet, 5, v, build(byW[2], byW[4])); !errors.Is(err, epoch.ErrNoQuorum) {
		t.Fatalf("6 of 10: %v", err)
	}
	bad := build(byW[3], byW[4])
	bad.Cert.Signers[0] |= 1 << byW[1]
	if err := tendermint.VerifyCommitWith(h.scheme, h.c, testNet, 5, v, bad); !errors.Is(err, epoch.ErrBadCertificate) {
		t.Fatalf("claimed signer without signature: %v", err)
	}
}

func TestRejectsInvalidMessages(t *testing.T) {
	h := newHarness(t, []int{1, 1, 1, 1}, false, 0)
	h.step(0, tendermint.StartHeight{Height: 3, Committee: h.c})
	m := h.ms[0]
	prop := h.proposerOf(3, 0)
	notProp := (prop + 1) % 4
	val := []byte("hello")
	hv := tendermint.HashValue(val)

	cases := map[string]struct {
		ev   tendermint.Event
		want error
	}{
		"non-member":      {func() tendermint.Event { v := h.vote(1, tendermint.Prevote, 3, 0, hv); v.Validator = 9; return v }(), tendermint.ErrNotMember},
		"bad signature":   {func() tendermint.Event { v := h.vote(1, tendermint.Prevote, 3, 0, hv); v.Signature[0] ^= 1; return v }(), tendermint.ErrBadSignature},
		"signed by other": {func() tendermint.Event { v := h.vote(1, tendermint.Prevote, 3, 0, hv); v.Validator = 2; return v }(), tendermint.ErrBadSignature},
		"wrong proposer":  {h.proposal(notProp, 3, 0, -1, val), tendermint.ErrNotProposer},
		"vr >= round":     {h.proposal(h.proposerOf(3, 1), 3, 1, 1, val), tendermint.ErrWrongRound},
		"negative round":  {h.vote(1, tendermint.Prevote, 3, -1, hv), tendermint.ErrWrongRound},
		"huge round":      {h.vote(1, tendermint.Prevote, 3, tendermint.MaxRound, hv), tendermint.ErrWrongRound},
		"bad vote type":   {&tendermint.Vote{Type: 7, Height: 3}, tendermint.ErrMalformed},
		"bad decision":    {&tendermint.Decision{Height: 3, Value: val, Commit: tendermint.CommitCert{Cert: epoch.Certificate{Epoch: 1, Signers: []byte{0xf}}}}, epoch.ErrBadCertificate},
	}
	for name, c := range cases {
		effs, err := m.Step(1000, c.ev)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", name, err, c.want)
		}
		if len(effs) != 0 {
			t.Errorf("%s: rejected message produced %d effects", name, len(effs))
		}
	}
	// Ignored without error: old height, duplicates.
	if effs, err := m.Step(1000, h.vote(1, tendermint.Prevote, 2, 0, hv)); err != nil || len(effs) != 0 {
		t.Fatalf("old height: %v %v", effs, err)
	}
	v := h.vote(1, tendermint.Prevote, 3, 0, hv)
	h.step(0, v)
	if effs, err := m.Step(1000, v); err != nil || len(effs) != 0 {
		t.Fatalf("duplicate: %v %v", effs, err)
	}
	if _, err := m.Step(1000, tendermint.StartHeight{Height: 3, Committee: h.c}); !errors.Is(err, tendermint.ErrBadHeight) {
		t.Fatalf("StartHeight not moving forward: %v", err)
	}
	if _, err := m.Step(1000, tendermint.StartHeight{Height: 4}); err == nil {
		t.Fatal("StartHeight without committee accepted")
	}
	if _, err := m.Step(1000, nil); err == nil {
		t.Fatal("nil event accepted")
	}
}

func TestEquivocationEvidence(t *testing.T) {
	h := newHarness(t, []int{1, 1, 1, 1}, false, 0)
	h.step(0, tendermint.StartHeight{Height: 1, Committee: h.c})
	a := h.vote(2, tendermint.Prevote, 1, 0, tendermint.HashValue([]byte("a")))
	b := h.vote(2, tendermint.Prevote, 1, 0, tendermint.HashValue([]byte("b")))
	h.step(0, a)
	effs := h.step(0, b)
	var ev *tendermint.Evidence
	for _, e := range effs {
		if x, ok := e.(tendermint.Evidence); ok {
			ev = &x
		}
	}
	if ev == nil || ev.Member != 2 || ev.First != a || ev.Second != b {
		t.Fatalf("no evidence for a double prevote: %+v", effs)
	}
	// Reported once.
	c := h.vote(2, tendermint.Prevote, 1, 0, tendermint.HashValue([]byte("c")))
	for _, e := range h.step(0, c) {
		if _, ok := e.(tendermint.Evidence); ok {
			t.Fatal("evidence reported twice")
		}
	}
	// Double proposal.
	p := h.proposerOf(1, 1)
	if p == 0 {
		p = h.proposerOf(1, 2) // keep the test's machine out of the proposer role
	}
	r := int32(1)
	if h.proposerOf(1, 1) != p {
		r = 2
	}
	h.step(0, h.proposal(p, 1, r, -1, []byte("x")))
	found := false
	for _, e := range h.step(0, h.proposal(p, 1, r, -1, []byte("y"))) {
		if x, ok := e.(tendermint.Evidence); ok && int(x.Member) == p {
			found = true
		}
	}
	if !found {
		t.Fatal("no evidence for a double proposal")
	}
}

// TestLockAndRelease follows lines 22-43: a node that saw a proposal and 2f+1 prevotes locks
// (precommits the value), then in a later round prevotes nil for a fresh different proposal,
// but prevotes a re-proposal of its locked value, and a different value justified by a newer
// proof of lock.
func TestLockAndRelease(t *testing.T) {
	// 7 members of weight 1: f=2, quorum 5. Machine 0 plus members 1..4 make a quorum.
	h := newHarness(t, []int{1, 1, 1, 1, 1, 1, 1}, false, 0)
	var height uint64
	for height = 1; ; height++ {
		ok := true
		for r := int32(0); r < 4; r++ {
			if h.proposerOf(height, r) == 0 {
				ok = false
			}
		}
		if ok {
			break
		}
	}
	others := func(t tendermint.VoteType, r int32, v tendermint.Hash, who ...int) []tendermint.Effect {
		var effs []tendermint.Effect
		for _, i := range who {
			effs = append(effs, h.step(0, h.vote(i, t, height, r, v))...)
		}
		return effs
	}
	nextRound := func(r int32) {
		others(tendermint.Precommit, r, tendermint.Hash{}, 1, 2, 3, 4)
		h.step(0, tendermint.Timeout{Kind: tendermint.TimeoutPrecommit, Height: height, Round: r})
		if h.ms[0].Round() != r+1 {
			t.Fatalf("not in round %d: %d", r+1, h.ms[0].Round())
		}
	}
	h.step(0, tendermint.StartHeight{Height: height, Committee: h.c})
	v := []byte("locked-value")
	hv := tendermint.HashValue(v)
	effs := h.step(0, h.proposal(h.proposerOf(height, 0), height, 0, -1, v))
	if pv := votesOf(effs, tendermint.Prevote); len(pv) != 1 || pv[0].Value != hv {
		t.Fatalf("no prevote for a valid proposal: %+v", effs)
	}
	effs = others(tendermint.Prevote, 0, hv, 1, 2, 3, 4)
	if pc := votesOf(effs, tendermint.Precommit); len(pc) != 1 || pc[0].Value != hv {
		t.Fatalf("no precommit after 2f+1 prevotes: %+v", effs)
	}
	if r, lh := h.ms[0].Locked(); r != 0 || lh != hv {
		t.Fatalf("locked %d %x", r, lh[:4])
	}
	nextRound(0)
	// A fresh, different value in round 1: locked, so nil.
	w := []byte("other-value")
	hw := tendermint.HashValue(w)
	effs = h.step(0, h.proposal(h.proposerOf(height, 1), height, 1, -1, w))
	if pv := votesOf(effs, tendermint.Prevote); len(pv) != 1 || !pv[0].Value.IsNil() {
		t.Fatalf("locked node prevoted a different value: %+v", effs)
	}
	nextRound(1)
	// Round 2: a re-proposal of the locked value with vr=0 is prevoted.
	effs = h.step(0, h.proposal(h.proposerOf(height, 2), height, 2, 0, v))
	if pv := votesOf(effs, tendermint.Prevote); len(pv) != 1 || pv[0].Value != hv {
		t.Fatalf("locked node did not prevote its re-proposed value: %+v", effs)
	}
	// Others prevote w in round 2 (a proof of lock for w newer than our lock at 0).
	others(tendermint.Prevote, 2, hw, 1, 2, 3, 4, 5)
	nextRound(2)
	effs = h.step(0, h.proposal(h.proposerOf(height, 3), height, 3, 2, w))
	if pv := votesOf(effs, tendermint.Prevote); len(pv) != 1 || pv[0].Value != hw {
		t.Fatalf("newer proof of lock did not release the lock: %+v", effs)
	}
	// And 2f+1 precommits on w in round 3 decide w.
	effs = others(tendermint.Precommit, 3, hw, 1, 2, 3, 4, 5)
	c := commitOf(effs)
	if c == nil || c.Hash != hw || c.Commit.Round != 3 {
		t.Fatalf("no commit of w: %+v", effs)
	}
	if err := tendermint.VerifyCommitWith(h.scheme, h.c, testNet, height, hw, &c.Commit); err != nil {
		t.Fatal(err)
	}
}

func TestInvalidValuePrevotedNil(t *testing.T) {
	h := newHarness(t, []int{1, 1, 1, 1}, false, 0)
	var height uint64 = 1
	for h.proposerOf(height, 0) == 0 {
		height++
	}
	h.step(0, tendermint.StartHeight{Height: height, Committee: h.c})
	effs := h.step(0, h.proposal(h.proposerOf(height, 0), height, 0, -1, []byte("bad tx")))
	if pv := votesOf(effs, tendermint.Prevote); len(pv) != 1 || !pv[0].Value.IsNil() {
		t.Fatalf("invalid value not prevoted nil: %+v", effs)
	}
}

func TestTimeoutsGrowAndFire(t *testing.T) {
	h := newHarness(t, []int{1, 1, 1, 1}, false, 0)
	var height uint64 = 1
	for h.proposerOf(height, 0) == 0 {
		height++
	}
	effs := h.step(0, tendermint.StartHeight{Height: height, Committee: h.c})
	tp := timeoutsOf(effs, tendermint.TimeoutPropose)
	if len(tp) != 1 || tp[0].Round != 0 || tp[0].Duration != 3000 {
		t.Fatalf("propose timeout %+v", tp)
	}
	// Timeout for another round or height is ignored.
	if effs := h.step(0, tendermint.Timeout{Kind: tendermint.TimeoutPropose, Height: height, Round: 1}); len(effs) != 0 {
		t.Fatalf("stale timeout acted: %+v", effs)
	}
	effs = h.step(0, tendermint.Timeout{Kind: tendermint.TimeoutPropose, Height: height, Round: 0})
	if pv := votesOf(effs, tendermint.Prevote); len(pv) != 1 || !pv[0].Value.IsNil() {
		t.Fatalf("timeoutPropose did not prevote nil: %+v", effs)
	}
	h.step(0, h.vote(1, tendermint.Prevote, height, 0, tendermint.HashValue([]byte("a"))))
	effs = h.step(0, h.vote(2, tendermint.Prevote, height, 0, tendermint.HashValue([]byte("b"))))
	if len(timeoutsOf(effs, tendermint.TimeoutPrevote)) != 1 {
		t.Fatalf("2f+1 mixed prevotes did not schedule timeoutPrevote: %+v", effs)
	}
	effs = h.step(0, tendermint.Timeout{Kind: tendermint.TimeoutPrevote, Height: height, Round: 0})
	if pc := votesOf(effs, tendermint.Precommit); len(pc) != 1 || !pc[0].Value.IsNil() {
		t.Fatalf("timeoutPrevote did not precommit nil: %+v", effs)
	}
	h.step(0, h.vote(1, tendermint.Precommit, height, 0, tendermint.Hash{}))
	h.step(0, h.vote(2, tendermint.Precommit, height, 0, tendermint.Hash{}))
	effs = h.step(0, tendermint.Timeout{Kind: tendermint.TimeoutPrecommit, Height: height, Round: 0})
	var r1 []tendermint.ScheduleTimeout
	if h.proposerOf(height, 1) != 0 {
		r1 = timeoutsOf(effs, tendermint.TimeoutPropose)
		if len(r1) != 1 || r1[0].Duration != 3500 {
			t.Fatalf("round 1 propose timeout did not grow: %+v", r1)
		}
	}
}

func TestRoundSkip(t *testing.T) {
	h := newHarness(t, []int{1, 1, 1, 1}, false, 0) // f=1: f+1 = 2 members
	h.step(0, tendermint.StartHeight{Height: 1, Committee: h.c})
	h.step(0, h.vote(1, tendermint.Prevote, 1, 5, tendermint.Hash{}))
	if h.ms[0].Round() != 0 {
		t.Fatal("one member (f) moved us")
	}
	h.step(0, h.vote(2, tendermint.Precommit, 1, 9, tendermint.Hash{}))
	if h.ms[0].Round() != 5 {
		t.Fatalf("f+1 members at rounds >= 5, now in round %d", h.ms[0].Round())
	}
	// Far-future rounds (beyond the storage window) still count for the skip.
	h.step(0, h.vote(1, tendermint.Prevote, 1, 500, tendermint.Hash{}))
	h.step(0, h.vote(3, tendermint.Prevote, 1, 700, tendermint.Hash{}))
	if h.ms[0].Round() != 500 {
		t.Fatalf("round %d, want 500", h.ms[0].Round())
	}
}

func TestDecisionCatchUpAndFollower(t *testing.T) {
	// Machines 0..2 decide; machine 3 hears nothing, then gets the Decision.
	h := newHarness(t, []int{1, 1, 1, 1}, false, 0, 1, 2)
	commits := runCluster(t, h, 4)
	if len(commits) != 3 {
		t.Fatalf("%d commits with 3 of 4 live", len(commits))
	}
	c := commits[0]
	d := &tendermint.Decision{Height: 4, Value: c.Value, Commit: c.Commit}

	// A follower (not in the committee) accepts it.
	stranger := epochtest.Key(1000, 0)
	f, err := tendermint.New(tendermint.Config{Network: testNet, Self: epoch.NodeIDOf(stranger.PublicKey()), Signer: tendermint.FakeSigner{PK: stranger.PublicKey()}, Scheme: tendermint.FakeScheme{}, App: &testApp{}})
	if err != nil {
		t.Fatal(err)
	}
	effs, err := f.Step(0, tendermint.StartHeight{Height: 4, Committee: h.c})
	if err != nil || len(broadcasts(effs)) != 0 {
		t.Fatalf("follower broadcast on start: %v %v", effs, err)
	}
	// Tampered decision rejected.
	bad := *d
	bad.Value = []byte("forged")
	if _, err := f.Step(0, &bad); !errors.Is(err, epoch.ErrBadCertificate) {
		t.Fatalf("forged decision: %v", err)
	}
	effs, err = f.Step(0, d)
	if err != nil {
		t.Fatal(err)
	}
	if fc := commitOf(effs); fc == nil || fc.Hash != c.Hash {
		t.Fatalf("follower did not commit: %+v", effs)
	}
	// The decided machines re-broadcast the decision on Tick once they have been stuck for
	// the rebroadcast interval (default 2 s), and not before.
	if effs := h.step(0, tendermint.Tick{}); len(effs) != 0 {
		t.Fatalf("re-broadcast while making progress: %+v", effs)
	}
	effs, err = h.ms[0].Step(1000+2000, tendermint.Tick{})
	if err != nil {
		t.Fatal(err)
	}
	sawDecision := false
	for _, m := range broadcasts(effs) {
		if dd, ok := m.(*tendermint.Decision); ok && dd.Height == 4 {
			sawDecision = true
		}
	}
	if !sawDecision {
		t.Fatal("decision not re-broadcast on Tick")
	}
}

func TestNextHeightBuffered(t *testing.T) {
	h := newHarness(t, []int{1, 1, 1, 1}, false, 0)
	h.step(0, tendermint.StartHeight{Height: 1, Committee: h.c})
	hv := tendermint.HashValue([]byte("z"))
	// Votes for height 2 arrive before height 1 is done; they are kept and replayed.
	h.step(0, h.vote(1, tendermint.Prevote, 2, 3, hv))
	h.step(0, h.vote(2, tendermint.Prevote, 2, 3, hv))
	// Height 3 (two ahead) is dropped.
	h.step(0, h.vote(3, tendermint.Prevote, 3, 3, hv))
	h.step(0, tendermint.StartHeight{Height: 2, Committee: h.c})
	if h.ms[0].Round() != 3 {
		t.Fatalf("buffered height-2 votes not replayed: round %d", h.ms[0].Round())
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := tendermint.New(tendermint.Config{}); err == nil {
		t.Fatal("empty config accepted")
	}
	cfg := tendermint.Config{Signer: tendermint.FakeSigner{}, Scheme: tendermint.FakeScheme{}, App: &testApp{}, ProposeBase: -1}
	if err := cfg.Validate(); err == nil {
		t.Fatal("negative timeout accepted")
	}
}

// TestStaleProofOfLockRejected: line 28 accepts a re-proposal only when its proof of lock is
// at least as recent as our lock. Locked on w in round 1, a re-proposal of v justified by
// round 0 gets a nil prevote.
func TestStaleProofOfLockRejected(t *testing.T) {
	h := newHarness(t, []int{1, 1, 1, 1, 1, 1, 1}, false, 0)
	var height uint64
	for height = 1; ; height++ {
		if h.proposerOf(height, 0) != 0 && h.proposerOf(height, 1) != 0 && h.proposerOf(height, 2) != 0 {
			break
		}
	}
	others := func(t tendermint.VoteType, r int32, v tendermint.Hash) []tendermint.Effect {
		var effs []tendermint.Effect
		for i := 1; i <= 4; i++ {
			effs = append(effs, h.step(0, h.vote(i, t, height, r, v))...)
		}
		return effs
	}
	next := func(r int32) {
		others(tendermint.Precommit, r, tendermint.Hash{})
		h.step(0, tendermint.Timeout{Kind: tendermint.TimeoutPrecommit, Height: height, Round: r})
	}
	v, w := []byte("value-v"), []byte("value-w")
	hv, hw := tendermint.HashValue(v), tendermint.HashValue(w)
	h.step(0, tendermint.StartHeight{Height: height, Committee: h.c})
	h.step(0, h.proposal(h.proposerOf(height, 0), height, 0, -1, v))
	others(tendermint.Prevote, 0, hv)
	if r, lh := h.ms[0].Locked(); r != 0 || lh != hv {
		t.Fatalf("not locked on v at 0: %d", r)
	}
	next(0)
	h.step(0, h.proposal(h.proposerOf(height, 1), height, 1, -1, w))
	others(tendermint.Prevote, 1, hw)
	effs := h.step(0, h.vote(5, tendermint.Prevote, height, 1, hw)) // our nil + 5 on w: a quorum
	if pc := votesOf(effs, tendermint.Precommit); len(pc) != 1 || pc[0].Value != hw {
		t.Fatalf("no precommit of w after its proof of lock: %+v", effs)
	}
	if r, lh := h.ms[0].Locked(); r != 1 || lh != hw {
		t.Fatalf("not locked on w at 1: %d", r)
	}
	next(1)
	effs = h.step(0, h.proposal(h.proposerOf(height, 2), height, 2, 0, v))
	if pv := votesOf(effs, tendermint.Prevote); len(pv) != 1 || !pv[0].Value.IsNil() {
		t.Fatalf("prevoted v on a proof of lock older than our lock: %+v", effs)
	}
}
