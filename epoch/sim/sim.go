// Package sim is a deterministic, seeded, virtual-time simulator for the Tendermint core of
// epoch/tendermint (docs/architecture.md §4: "Test it with a deterministic simulator"). It runs N
// validators with unequal shard weights over a network with delays, drops, duplicates and
// healing partitions before GST and bounded delays after it, with crashed validators and
// byzantine validators (worth at most f shards together with the crashed ones) that
// equivocate and propose invalid values. After every step it checks the invariants: no two
// different commits at one height across honest nodes, every committed value valid and every
// commit certificate verifying; and at the end, progress once the network is synchronous.
//
// Everything is a function of Options (Seed included): the same options replay the same run
// event for event.
package sim

import (
	"container/heap"
	"fmt"
	"math/rand/v2"

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
	RealBLS              bool
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

// Result summarises a successful run.
type Result struct {
	Events    int    // events processed
	Messages  int    // messages delivered
	Time      int64  // virtual time at the end
	MaxRound  int32  // highest round any correct node reached
	Evidence  int    // equivocations reported by honest nodes
	Committed uint64 // heights committed by every correct node
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
	syncSent map[uint64]bool
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
	total, bad := 0, 0
	for i, w := range o.Weights {
		total += w
		if byz[i] {
			bad += w
		}
	}
	for _, c := range o.Crashed {
		if !byz[c] {
			bad += o.Weights[c]
		}
	}
	if bad > epoch.MaxFaulty(total) {
		return fmt.Errorf("sim: faulty weight %d exceeds f=%d", bad, epoch.MaxFaulty(total))
	}
	c0, keys := epochtest.Committee(1, o.Weights, o.Seed)
	s.committees = []*epoch.Committee{c0}
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
		c1, _ := epochtest.Committee(2, w2, o.Seed)
		s.committees = append(s.committees, c1)
	}
	// keys[j] belongs to c0.Members[j]; map validator numbers to nodes via their key.
	keyOf := map[epoch.NodeID]int{}
	for j, k := range keys {
		keyOf[epoch.NodeIDOf(k.PublicKey())] = j
	}
	s.nodes = make([]*node, n)
	for i := 0; i < n; i++ {
		k := epochtest.Key(o.Seed, i)
		id := epoch.NodeIDOf(k.PublicKey())
		nd := &node{id: id, byz: byz[i], log: map[uint64]*tendermint.Decision{}, syncSent: map[uint64]bool{}}
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
	for i := range s.nodes {
		if err := s.start(i, 1); err != nil {
			return err
		}
		s.push(&event{at: s.rng.Int64N(o.TickInterval), kind: evTick, to: i})
	}
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

func (s *simulator) committeeFor(h uint64) *epoch.Committee {
	if s.o.ChangeCommitteeEvery == 0 {
		return s.committees[0]
	}
	return s.committees[(h/s.o.ChangeCommitteeEvery)%2]
}

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
		if e.kind == evRestart {
			if err := s.restart(e.to); err != nil {
				return err
			}
			continue
		}
		if nd.crashed {
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
			effs, err = nd.m.Step(s.clock(e.to), e.tmo)
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
	nd.syncSent = map[uint64]bool{}
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
				if !s.isByz(e.Member, nd.height) {
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
	if err := tendermint.VerifyCommitWith(s.scheme, s.committeeFor(c.Height), s.network, c.Height, c.Hash, &c.Commit); err != nil {
		return s.fail("node %d commit certificate for height %d does not verify: %v", i, c.Height, err)
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
	return s.start(i, c.Height+1)
}
