// Package sim is a deterministic, seeded, virtual-time simulator for the Tendermint core of
// epoch/tendermint (docs/architecture.md §4: "Test it with a deterministic simulator"). It runs N
// validators with unequal shard weights over a network with delays, drops, duplicates and
// healing partitions before GST and bounded delays after it, with crashed validators and
// byzantine validators (worth at most f shards together with the crashed ones) that
// equivocate and propose invalid values. Committees may change at given heights, members
// leaving and joining (Options.Memberships): a validator outside a height's committee
// follows it, a byzantine one forges votes for it, and a joining one may boot only once the
// height before its first committee is committed, from that state (Options.JoinLate).
// After every step it checks the invariants: no two different commits at one height across
// honest nodes, every committed value valid, every commit certificate verifying against the
// committee of its height and naming no signer outside it, no honest validator signing a
// proposal or vote for a height whose committee it is not in, every honest member (a new one
// included) having voted at its height once its propose timeout fired; and at the end,
// progress once the network is synchronous, every correct node (members and followers
// alike) having committed every height.
//
// Everything is a function of Options (Seed included): the same options replay the same run
// event for event.
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// Options describes one simulation. Times are virtual milliseconds.
type Options struct {
	Seed    uint64
	Weights []int // shards per validator, by validator number
	// Byzantine and Crashed name validators by number; their shards together must be at most
	// f of the total, or Run refuses (safety is only promised up to f).
	Byzantine []int
	Crashed   []int // each crashes at a seeded time before GST
	// Restart brings each crashed validator back, at a seeded time before GST+5s, from the
	// Snapshot it had persisted (encoded and decoded, as a node would).
	Restart bool
	Heights uint64
	// GST is when the network becomes synchronous: before it messages may be dropped,
	// duplicated, delayed up to PreGSTMaxDelay, and cut by partitions; after it every message
	// arrives within [MinDelay, MaxDelay].
	GST                  int64
	PreGSTMaxDelay       int64
	DropRate, DupRate    float64
	Partitions           bool
	MinDelay, MaxDelay   int64
	ClockSkew            int64  // each node's clock is off by up to ±ClockSkew
	LivenessBound        int64  // all correct nodes must reach Heights by GST + this
	ChangeCommitteeEvery uint64 // 0: never; else the weights rotate among honest validators
	// Memberships changes the committee at given heights, members leaving and joining.
	// Validators are numbered 0..len(Weights)-1 for the whole run and every one runs a node;
	// Weights is the committee of height 1 (0: not a member) and each Membership replaces it
	// from its height on. Byzantine and crashed validators may sit in any committee, but
	// their weight must be at most f in each committee separately. Excludes
	// ChangeCommitteeEvery.
	Memberships []Membership
	// JoinLate keeps each validator outside the first committee offline until the height
	// before its first committee has been committed by some honest node, then boots it at a
	// seeded time later from the latest committed state (a joining node syncs the ledger
	// first). Without it, such validators follow from height 1. A crash scheduled while a
	// validator is offline is dropped.
	JoinLate bool
	RealBLS  bool
	// JunkProposals makes byzantine proposers propose only invalid values (a checkpoint of
	// transactions that do not apply, or whose certificates fail: the node's Validate,
	// staking.CheckProposal, refuses them), instead of invalid ones half the time. Honest
	// validators must give them no prevote, so none is ever committed, and the network must
	// still make progress through the honest proposers' rounds.
	JunkProposals bool
	// Equivocation is the probability that a byzantine node sends a conflicting twin of a
	// message to part of the network (default 0.5; negative means never).
	Equivocation float64
	MaxEvents    int
	TimeBound    int64 // max allowed drift of a checkpoint time ahead of the voter's clock
	TickInterval int64
	Tendermint   tendermint.Config // timeouts; identity/app/scheme fields are filled per node
	// Trace, when set, receives one line per processed event (for debugging a replay).
	Trace func(string)
	// Ready, when set, is called once setup (key generation) is done, before the first event;
	// benchmarks reset their timer there.
	Ready func()
}

// Defaults fills zero fields with the values the scenarios use.
func (o *Options) Defaults() {
	def := func(p *int64, v int64) {
		if *p == 0 {
			*p = v
		}
	}
	if o.Heights == 0 {
		o.Heights = 3
	}
	if o.Equivocation == 0 {
		o.Equivocation = 0.5
	}
	def(&o.PreGSTMaxDelay, 1500)
	def(&o.MinDelay, 5)
	def(&o.MaxDelay, 60)
	def(&o.LivenessBound, 120_000)
	def(&o.TimeBound, 500)
	def(&o.TickInterval, 250)
	if o.MaxEvents == 0 {
		o.MaxEvents = 5_000_000
	}
	t := &o.Tendermint
	def(&t.ProposeBase, 800)
	def(&t.ProposeDelta, 200)
	def(&t.PrevoteBase, 400)
	def(&t.PrevoteDelta, 200)
	def(&t.PrecommitBase, 400)
	def(&t.PrecommitDelta, 200)
	def(&t.RebroadcastInterval, 1000)
}

// Membership is the committee from height From on: Weights[i] shards for validator i, 0
// when it is not a member. Its epoch is one more than the previous committee's.
type Membership struct {
	From    uint64
	Weights []int
}

// Result summarises a successful run.
type Result struct {
	Events    int    // events processed
	Messages  int    // messages delivered
	Time      int64  // virtual time at the end
	MaxRound  int32  // highest round any correct node reached
	Evidence  int    // equivocations reported by honest nodes
	Committed uint64 // heights committed by every correct node
	Forged    int    // votes forged by byzantine validators outside a height's committee
	// JoinersVoted counts validators outside the first committee that voted in a later one.
	JoinersVoted int
}

// Violation is an invariant failure; Run returns it with the seed so the run can be replayed.
type Violation struct {
	Seed uint64
	Time int64
	What string
}

// Error implements error.
func (v *Violation) Error() string {
	return fmt.Sprintf("seed %d, t=%dms: %s", v.Seed, v.Time, v.What)
}

type node struct {
	num      int
	snapshot []byte // persisted at the crash
	id       epoch.NodeID
	m        *tendermint.Machine
	app      *app
	signer   tendermint.Signer
	byz      bool
	crashed  bool
	skew     int64
	height   uint64 // height being agreed
	log      map[uint64]*tendermint.Decision
	syncSent map[uint64]int64 // when it last asked for the decision of each height
	// offline: not booted yet (JoinLate); joinAt is the first height of its first later
	// committee (0: none); booting: a boot is scheduled.
	offline, booting bool
	joinAt           uint64
	voted            map[uint64]bool // heights at which it signed a vote as a member
	forged           map[twinKey]bool
}

type simulator struct {
	twins      map[twinKey][2]tendermint.Hash
	o          Options
	rng        *rand.Rand
	q          queue
	seq        uint64
	now        int64
	nodes      []*node
	committees []*epoch.Committee
	from       []uint64 // first height of each committee (Memberships)
	weights    [][]int  // each committee's weights by validator number
	top        uint64   // highest height committed by an honest node
	scheme     tendermint.Scheme
	network    epoch.NetworkID
	commits    map[uint64]tendermint.Hash
	commitTime map[uint64]int64
	partition  []int // group per node; nil when none
	partEnd    int64
	res        Result
}

// Run executes one simulation and returns a *Violation if an invariant breaks.
func Run(o Options) (*Result, error) {
	o.Defaults()
	s := &simulator{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed)), commits: map[uint64]tendermint.Hash{}, commitTime: map[uint64]int64{}, twins: map[twinKey][2]tendermint.Hash{}}
	s.network[0] = 0x77
	if o.RealBLS {
		s.scheme = tendermint.BLSScheme{}
	} else {
		s.scheme = tendermint.FakeScheme{}
	}
	if err := s.setup(); err != nil {
		return nil, err
	}
	if o.Ready != nil {
		o.Ready()
	}
	if err := s.loop(); err != nil {
		return &s.res, err
	}
	return &s.res, nil
}

func (s *simulator) fail(format string, args ...any) error {
	return &Violation{Seed: s.o.Seed, Time: s.now, What: fmt.Sprintf(format, args...)}
}

func (s *simulator) setup() error {
	o := &s.o
	n := len(o.Weights)
	byz := map[int]bool{}
	for _, b := range o.Byzantine {
		byz[b] = true
	}
	faulty := map[int]bool{}
	for _, b := range o.Byzantine {
		faulty[b] = true
	}
	for _, c := range o.Crashed {
		faulty[c] = true
	}
	for i := range faulty {
		if i < 0 || i >= n {
			return fmt.Errorf("sim: no validator %d", i)
		}
	}
	if len(o.Memberships) > 0 && o.ChangeCommitteeEvery > 0 {
		return fmt.Errorf("sim: Memberships and ChangeCommitteeEvery exclude each other")
	}
	if err := s.addCommittee(1, o.Weights); err != nil {
		return err
	}
	for _, ms := range o.Memberships {
		if len(ms.Weights) != n {
			return fmt.Errorf("sim: membership from height %d has %d weights for %d validators", ms.From, len(ms.Weights), n)
		}
		if ms.From <= s.from[len(s.from)-1] {
			return fmt.Errorf("sim: membership from height %d does not follow %d", ms.From, s.from[len(s.from)-1])
		}
		if err := s.addCommittee(ms.From, ms.Weights); err != nil {
			return err
		}
	}
	// Safety is only promised up to f faulty shards in each committee.
	for k, w := range s.weights {
		total, bad := 0, 0
		for i, x := range w {
			total += x
			if faulty[i] {
				bad += x
			}
		}
		if bad > epoch.MaxFaulty(total) {
			return fmt.Errorf("sim: faulty weight %d exceeds f=%d in committee %d", bad, epoch.MaxFaulty(total), k)
		}
	}
	if o.ChangeCommitteeEvery > 0 {
		// Rotate weights among honest, non-crashed validators: faulty weight stays the same.
		w2 := append([]int(nil), o.Weights...)
		var honest []int
		crashed := map[int]bool{}
		for _, c := range o.Crashed {
			crashed[c] = true
		}
		for i := range w2 {
			if !byz[i] && !crashed[i] {
				honest = append(honest, i)
			}
		}
		for k := 0; k+1 < len(honest); k++ {
			w2[honest[k]], w2[honest[k+1]] = w2[honest[k+1]], w2[honest[k]]
		}
		if err := s.addCommittee(2, w2); err != nil {
			return err
		}
	}
	s.nodes = make([]*node, n)
	for i := 0; i < n; i++ {
		k := epochtest.Key(o.Seed, i)
		id := epoch.NodeIDOf(k.PublicKey())
		nd := &node{num: i, id: id, byz: byz[i], log: map[uint64]*tendermint.Decision{}, syncSent: map[uint64]int64{},
			voted: map[uint64]bool{}, forged: map[twinKey]bool{}}
		if o.Weights[i] == 0 {
			for k := 1; k < len(s.weights); k++ {
				if s.weights[k][i] > 0 {
					nd.joinAt = s.from[k]
					break
				}
			}
			nd.offline = o.JoinLate && nd.joinAt > 0
		}
		if o.ClockSkew > 0 {
			nd.skew = s.rng.Int64N(2*o.ClockSkew+1) - o.ClockSkew
		}
		if o.RealBLS {
			nd.signer = k
		} else {
			nd.signer = tendermint.FakeSigner{PK: k.PublicKey()}
		}
		nd.app = &app{sim: s, self: i, byz: nd.byz}
		cfg := o.Tendermint
		cfg.Network, cfg.Self, cfg.Signer, cfg.Scheme, cfg.App = s.network, id, nd.signer, s.scheme, nd.app
		m, err := tendermint.New(cfg)
		if err != nil {
			return err
		}
		nd.m = m
		s.nodes[i] = nd
	}
	for _, c := range o.Crashed {
		s.push(&event{at: s.rng.Int64N(o.GST + 1), kind: evCrash, to: c})
	}
	if o.Partitions && o.GST > 0 {
		s.newPartition()
	}
	for i, nd := range s.nodes {
		if nd.offline {
			continue
		}
		if err := s.start(i, 1); err != nil {
			return err
		}
		s.push(&event{at: s.rng.Int64N(o.TickInterval), kind: evTick, to: i})
	}
	return nil
}

// addCommittee appends the committee of weights (validator i holds weights[i] shards, 0: not
// a member) from height from on, with the next epoch number. Member keys are
// epochtest.Key(seed, i); members are ordered by node ID and shards dealt out contiguously
// in that order, as epochtest.Committee does.
func (s *simulator) addCommittee(from uint64, weights []int) error {
	type mk struct {
		m epoch.Member
		w int
	}
	var ms []mk
	for i, w := range weights {
		if w < 0 {
			return fmt.Errorf("sim: negative weight for validator %d", i)
		}
		if w == 0 {
			continue
		}
		k := epochtest.Key(s.o.Seed, i)
		ms = append(ms, mk{m: epoch.Member{Node: epoch.NodeIDOf(k.PublicKey()), BLSKey: k.PublicKey(), PeerID: fmt.Sprintf("peer-%d", i)}, w: w})
	}
	if len(ms) == 0 {
		return fmt.Errorf("sim: committee from height %d has no member", from)
	}
	sort.Slice(ms, func(a, b int) bool { return string(ms[a].m.Node[:]) < string(ms[b].m.Node[:]) })
	c := &epoch.Committee{Epoch: uint32(len(s.committees) + 1)}
	next := 0
	for j := range ms {
		for k := 0; k < ms[j].w; k++ {
			ms[j].m.Shards = append(ms[j].m.Shards, uint16(next))
			next++
		}
		c.Members = append(c.Members, ms[j].m)
	}
	c.NShards = next
	if err := c.Index(); err != nil {
		return err
	}
	s.committees = append(s.committees, c)
	s.from = append(s.from, from)
	s.weights = append(s.weights, append([]int(nil), weights...))
	return nil
}

func (s *simulator) newPartition() {
	s.partition = make([]int, len(s.nodes))
	for i := range s.partition {
		s.partition[i] = s.rng.IntN(2)
	}
	s.partEnd = s.now + 1 + s.rng.Int64N(s.o.GST/2+1)
	if s.partEnd > s.o.GST {
		s.partEnd = s.o.GST
	}
}

func (s *simulator) committeeFor(h uint64) *epoch.Committee { return s.committees[s.scheduleIndex(h)] }

// scheduleIndex is the index in s.committees of height h's committee.
func (s *simulator) scheduleIndex(h uint64) int {
	if s.o.ChangeCommitteeEvery > 0 {
		return int((h / s.o.ChangeCommitteeEvery) % 2)
	}
	return max(0, sort.Search(len(s.from), func(k int) bool { return s.from[k] > h })-1)
}

// member reports whether validator i is in height h's committee (by the schedule's weights,
// independently of the committee built from them).
func (s *simulator) member(i int, h uint64) bool { return s.weights[s.scheduleIndex(h)][i] > 0 }

func (s *simulator) clock(i int) int64 { return s.now + s.nodes[i].skew }

func (s *simulator) start(i int, h uint64) error {
	nd := s.nodes[i]
	nd.height = h
	effs, err := nd.m.Step(s.clock(i), tendermint.StartHeight{Height: h, Committee: s.committeeFor(h)})
	if err != nil {
		return s.fail("node %d StartHeight(%d): %v", i, h, err)
	}
	return s.apply(i, effs)
}

func (s *simulator) correct(i int) bool { return !s.nodes[i].byz && !s.nodes[i].crashed }

func (s *simulator) done() bool {
	for i, nd := range s.nodes {
		if s.correct(i) && nd.height <= s.o.Heights {
			return false
		}
	}
	return true
}

func (s *simulator) loop() error {
	for s.q.Len() > 0 {
		if s.done() {
			s.res.Committed = s.o.Heights
			s.res.Time = s.now
			s.countJoiners()
			return nil
		}
		if s.res.Events >= s.o.MaxEvents {
			return s.fail("event budget of %d exhausted", s.o.MaxEvents)
		}
		e := heap.Pop(&s.q).(*event)
		s.now = e.at
		s.res.Events++
		if s.now > s.o.GST+s.o.LivenessBound {
			hs := make([]uint64, len(s.nodes))
			for i, nd := range s.nodes {
				hs[i] = nd.height
			}
			return s.fail("no progress: heights %v not all past %d by GST+%dms", hs, s.o.Heights, s.o.LivenessBound)
		}
		if s.partition != nil && s.now >= s.partEnd {
			s.partition = nil
			if s.now < s.o.GST && s.rng.IntN(2) == 0 {
				s.newPartition()
			}
		}
		nd := s.nodes[e.to]
		switch {
		case e.kind == evRestart:
			if err := s.restart(e.to); err != nil {
				return err
			}
			continue
		case e.kind == evBoot:
			if err := s.boot(e.to); err != nil {
				return err
			}
			continue
		case nd.crashed || nd.offline:
			continue
		}
		if s.o.Trace != nil {
			s.trace(e)
		}
		var effs []tendermint.Effect
		var err error
		switch e.kind {
		case evCrash:
			nd.crashed = true
			snap, err := nd.m.Snapshot().MarshalBinary()
			if err != nil {
				return s.fail("node %d snapshot: %v", e.to, err)
			}
			nd.snapshot = snap
			if s.o.Restart {
				s.push(&event{at: s.now + 1 + s.rng.Int64N(s.o.GST+5000), kind: evRestart, to: e.to})
			}
			continue
		case evTick:
			effs, err = nd.m.Step(s.clock(e.to), tendermint.Tick{})
			s.push(&event{at: s.now + s.o.TickInterval, kind: evTick, to: e.to})
		case evTimeout:
			// A member whose propose timeout fires in its current round, undecided, prevotes
			// now if it has not yet: one that has just joined the committee as well.
			mustVote := e.tmo.Kind == tendermint.TimeoutPropose && e.tmo.Height == nd.height &&
				e.tmo.Round == nd.m.Round() && !nd.m.Decided() && !nd.byz && s.member(e.to, nd.height)
			effs, err = nd.m.Step(s.clock(e.to), e.tmo)
			if err == nil {
				err = s.apply(e.to, effs)
				effs = nil
			}
			if err == nil && mustVote && !nd.voted[e.tmo.Height] {
				return s.fail("member %d did not vote at height %d after its propose timeout", e.to, e.tmo.Height)
			}
		case evDeliver:
			s.res.Messages++
			if e.msg.MsgHeight() > nd.height {
				s.syncFrom(e.from, e.to)
			}
			effs, err = nd.m.Step(s.clock(e.to), e.msg)
			if err != nil && !s.nodes[e.from].byz {
				return s.fail("node %d rejected a message from honest node %d: %v", e.to, e.from, err)
			}
			err = nil // messages from byzantine nodes may be rejected
			if p, ok := e.msg.(*tendermint.Proposal); ok && nd.byz {
				s.forge(e.to, p)
			}
		}
		if err != nil {
			return s.fail("node %d: %v", e.to, err)
		}
		if err := s.apply(e.to, effs); err != nil {
			return err
		}
	}
	return s.fail("event queue ran dry")
}

// boot starts a validator that joins late (Options.JoinLate) from the state of the highest
// height an honest node has committed, as a node that synced the ledger would.
func (s *simulator) boot(i int) error {
	nd := s.nodes[i]
	nd.offline = false
	if t, ok := s.commitTime[s.top]; ok {
		nd.app.lastTime = t
	}
	s.push(&event{at: s.now + s.rng.Int64N(s.o.TickInterval), kind: evTick, to: i})
	return s.start(i, s.top+1)
}

// countJoiners counts the validators that joined a later committee and voted in it.
func (s *simulator) countJoiners() {
	for _, nd := range s.nodes {
		if nd.joinAt > 0 && len(nd.voted) > 0 {
			s.res.JoinersVoted++
		}
	}
}

// restart replaces a crashed node's machine by a fresh one resumed from its snapshot.
func (s *simulator) restart(i int) error {
	nd := s.nodes[i]
	snap, err := tendermint.DecodeSnapshot(nd.snapshot, 1<<20)
	if err != nil {
		return s.fail("node %d: decoding its snapshot: %v", i, err)
	}
	cfg := s.o.Tendermint
	cfg.Network, cfg.Self, cfg.Signer, cfg.Scheme, cfg.App = s.network, nd.id, nd.signer, s.scheme, nd.app
	m, err := tendermint.New(cfg)
	if err != nil {
		return err
	}
	nd.m, nd.crashed = m, false
	nd.syncSent = map[uint64]int64{}
	nd.height = snap.Height
	effs, err := m.Step(s.clock(i), tendermint.Resume{Committee: s.committeeFor(snap.Height), Snapshot: snap})
	if err != nil {
		return s.fail("node %d Resume: %v", i, err)
	}
	s.push(&event{at: s.now + s.o.TickInterval, kind: evTick, to: i})
	return s.apply(i, effs)
}

func (s *simulator) apply(i int, effs []tendermint.Effect) error {
	nd := s.nodes[i]
	for _, eff := range effs {
		switch e := eff.(type) {
		case tendermint.Broadcast:
			if err := s.checkOwn(i, e.Msg); err != nil {
				return err
			}
			if nd.byz {
				s.byzantineBroadcast(i, e.Msg)
			} else {
				for j := range s.nodes {
					if j != i {
						s.send(i, j, e.Msg)
					}
				}
			}
		case tendermint.ScheduleTimeout:
			s.push(&event{at: s.now + e.Duration, kind: evTimeout, to: i, tmo: e.Timeout})
			if !nd.byz && e.Round > s.res.MaxRound {
				s.res.MaxRound = e.Round
			}
		case tendermint.Evidence:
			if !nd.byz {
				if !s.isByz(e.Member, e.First.MsgHeight()) {
					return s.fail("node %d reports evidence against honest member %d", i, e.Member)
				}
				s.res.Evidence++
			}
		case tendermint.Commit:
			if err := s.onCommit(i, e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *simulator) isByz(member uint32, h uint64) bool {
	c := s.committeeFor(h)
	if int(member) >= len(c.Members) {
		return false
	}
	for _, nd := range s.nodes {
		if nd.id == c.Members[member].Node {
			return nd.byz
		}
	}
	return false
}

func (s *simulator) onCommit(i int, c tendermint.Commit) error {
	nd := s.nodes[i]
	if c.Height != nd.height {
		return s.fail("node %d committed height %d while at %d", i, c.Height, nd.height)
	}
	com := s.committeeFor(c.Height)
	if err := tendermint.VerifyCommitWith(s.scheme, com, s.network, c.Height, c.Hash, &c.Commit); err != nil {
		return s.fail("node %d commit certificate for height %d does not verify: %v", i, c.Height, err)
	}
	// No signer outside the height's committee, by the schedule (not the committee object).
	signers, err := c.Commit.Cert.SignerIndices(len(com.Members))
	if err != nil || c.Commit.Cert.Epoch != com.Epoch {
		return s.fail("node %d commit certificate for height %d: epoch %d of %d, %v", i, c.Height, c.Commit.Cert.Epoch, com.Epoch, err)
	}
	for _, j := range signers {
		v := s.validator(com.Members[j].Node)
		if v < 0 || !s.member(v, c.Height) {
			return s.fail("node %d commit certificate for height %d signed by validator %d, not in its committee", i, c.Height, v)
		}
	}
	if !nd.byz {
		if prev, ok := s.commits[c.Height]; ok && prev != c.Hash {
			return s.fail("AGREEMENT VIOLATED: height %d committed as %x and %x", c.Height, prev[:6], c.Hash[:6])
		}
		v, err := parseValue(c.Value)
		if err != nil || !v.valid || v.height != c.Height {
			return s.fail("VALIDITY VIOLATED: node %d committed an invalid value at height %d", i, c.Height)
		}
		if pt, ok := s.commitTime[c.Height-1]; ok && v.time <= pt {
			return s.fail("VALIDITY VIOLATED: checkpoint time %d not after %d at height %d", v.time, pt, c.Height)
		}
		s.commits[c.Height] = c.Hash
		s.commitTime[c.Height] = v.time
	}
	nd.log[c.Height] = &tendermint.Decision{Height: c.Height, Value: c.Value, Commit: c.Commit}
	nd.app.applied(c.Value)
	if !nd.byz && c.Height > s.top {
		s.top = c.Height
		// Validators joining at the next height boot once it can start (JoinLate).
		for j, o := range s.nodes {
			if o.offline && !o.booting && o.joinAt <= c.Height+1 {
				o.booting = true
				s.push(&event{at: s.now + s.rng.Int64N(1000), kind: evBoot, to: j})
			}
		}
	}
	return s.start(i, c.Height+1)
}

// validator returns the number of the validator with node ID id, or -1.
func (s *simulator) validator(id epoch.NodeID) int {
	for i, nd := range s.nodes {
		if nd.id == id {
			return i
		}
	}
	return -1
}

// checkOwn checks a message node i broadcasts: if i signed it (a proposal or vote of its
// own, not a relay), i must be a member of the message height's committee; an honest
// member's votes are recorded for joinersVoted. A member's own message is recognised by its
// index (relayed messages were verified, so they carry their signer's index); for a
// non-member, whose relays name others, by re-signing.
func (s *simulator) checkOwn(i int, msg tendermint.Message) error {
	nd := s.nodes[i]
	h := msg.MsgHeight()
	c := s.committeeFor(h)
	if s.member(i, h) {
		if v, ok := msg.(*tendermint.Vote); ok && int(v.Validator) < len(c.Members) && c.Members[v.Validator].Node == nd.id {
			nd.voted[h] = true
		}
		return nil
	}
	if nd.byz {
		return nil
	}
	var own bool
	switch m := msg.(type) {
	case *tendermint.Proposal:
		own = nd.signer.Sign(tendermint.ProposalSignBytes(s.network, c.Epoch, m.Height, m.Round, m.ValidRound, tendermint.HashValue(m.Value))) == m.Signature
	case *tendermint.Vote:
		own = nd.signer.Sign(tendermint.VoteSignBytes(s.network, c.Epoch, m.Type, m.Height, m.Round, m.Value)) == m.Signature
	}
	if own {
		return s.fail("validator %d signed a %T for height %d, whose committee it is not in", i, msg, h)
	}
	return nil
}

// forge makes byzantine validator i, outside the committee of proposal p's height (it
// left, or has not joined yet), answer p with a prevote and a precommit for its value as if
// it were a member: under the index it holds in the nearest committee it is in (or a random
// one), signed with its own key for the height's epoch or for that committee's. Correct
// nodes must not count them: a counted forged precommit would make a commit certificate
// fail to verify.
func (s *simulator) forge(i int, p *tendermint.Proposal) {
	nd := s.nodes[i]
	key := twinKey{p.Height, p.Round}
	if s.member(i, p.Height) || nd.forged[key] {
		return
	}
	nd.forged[key] = true
	c := s.committeeFor(p.Height)
	idx, ep := uint32(s.rng.IntN(len(c.Members))), c.Epoch
	best := -1
	for k, o := range s.committees {
		if j := o.MemberIndex(nd.id); j >= 0 && (best < 0 || absDiff(k, s.scheduleIndex(p.Height)) < absDiff(best, s.scheduleIndex(p.Height))) {
			best, idx = k, uint32(j)
		}
	}
	if best >= 0 && s.rng.IntN(2) == 0 {
		ep = s.committees[best].Epoch
	}
	h := tendermint.HashValue(p.Value)
	for _, t := range []tendermint.VoteType{tendermint.Prevote, tendermint.Precommit} {
		v := &tendermint.Vote{Type: t, Height: p.Height, Round: p.Round, Value: h, Validator: idx}
		v.Signature = nd.signer.Sign(tendermint.VoteSignBytes(s.network, ep, t, v.Height, v.Round, v.Value))
		s.res.Forged++
		for j := range s.nodes {
			if j != i {
				s.send(i, j, v)
			}
		}
	}
}

func absDiff(a, b int) int {
	if a > b {
		return a - b
	}
	return b - a
}
