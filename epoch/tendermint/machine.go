package tendermint

import (
	"errors"
	"fmt"
	"sort"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
)

// Errors for rejected events. A driver may penalise the peer that relayed a message rejected
// with one of these (GossipSub "Reject"); ignored messages (old heights, duplicates) return nil.
var (
	ErrNotMember    = errors.New("tendermint: sender is not a member of the height's committee")
	ErrBadSignature = errors.New("tendermint: bad signature")
	ErrWrongRound   = errors.New("tendermint: round out of range")
	ErrNotProposer  = errors.New("tendermint: proposal from a member who is not the round's proposer")
	ErrBadHeight    = errors.New("tendermint: StartHeight does not move forward")
)

type step uint8

const (
	stepPropose step = 1 + iota
	stepPrevote
	stepPrecommit
)

// maxProposalsPerRound bounds the distinct proposals an equivocating proposer can make us keep
// for one round; the first is the one we vote on, later ones only help match a quorum.
const maxProposalsPerRound = 4

type roundState struct {
	proposals []*Proposal
	votes     [2][]*Vote // [Prevote-1 | Precommit-1][member]: each member's first vote
	// extra holds equivocating members' further votes on nil or on known proposal values.
	// Algorithm 1 counts messages, so an equivocator counts towards every value it signed;
	// dropping its second vote instead can strand a locked honest node whose proof of lock
	// contains it (the others could never see that proof complete).
	extra  [2][]*Vote
	weight [2]map[Hash]int
	any    [2]int
	// line guards: each "for the first time" rule of Algorithm 1 fires once per round.
	prevoteTimer, precommitTimer, line36 bool
	evidenced                            map[uint64]bool
}

type validity struct {
	err   error
	round int32
}

// Machine is one validator's (or follower's) Tendermint state for the current height. It is
// not safe for concurrent use: one driver goroutine owns it (an actor, DESIGN.md §6).
type Machine struct {
	cfg Config

	started, decided bool
	height           uint64
	committee        *epoch.Committee
	seqFor           *epoch.Committee
	seq              []uint32
	self             int // member index, -1 when not a member

	round                   int32
	step                    step
	lockedValue, validValue []byte
	lockedHash, validHash   Hash
	lockedRound, validRound int32
	rounds                  map[int32]*roundState
	roundKeys               []int32 // sorted keys of rounds, for deterministic scans
	values                  map[Hash][]byte
	validity                map[Hash]validity
	maxRound                []int32 // per member: highest round seen (line 55)
	skipDirty               bool
	own                     []Message
	lastDecision            *Decision
	nextRebroadcast         int64
	progressAt              int64 // time of the last change of height, round or step
	buffered                []Message
	bufferedBytes           int
	now                     int64
	out                     []Effect
}

// New returns a Machine that waits for its first StartHeight.
func New(cfg Config) (*Machine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Machine{cfg: cfg, self: -1}, nil
}

// Height is the height being agreed (or just decided).
func (m *Machine) Height() uint64 { return m.height }

// Round is the current round.
func (m *Machine) Round() int32 { return m.round }

// Decided reports whether the current height is decided (the machine then waits for the next
// StartHeight).
func (m *Machine) Decided() bool { return m.decided }

// Locked returns lockedRound and the hash of lockedValue (line 38), -1 when unlocked.
func (m *Machine) Locked() (int32, Hash) { return m.lockedRound, m.lockedHash }

// Step feeds one event at time now (unix ms) and returns the effects to carry out, in order.
// The error is non-nil only for a message that is invalid (bad signature, non-member, wrong
// proposer, malformed fields); such a message changes nothing.
func (m *Machine) Step(now int64, ev Event) ([]Effect, error) {
	m.now = now
	h, r, st, d := m.height, m.round, m.step, m.decided
	err := m.dispatch(ev)
	m.advance()
	if h != m.height || r != m.round || st != m.step || d != m.decided {
		m.progressAt = now
	}
	out := m.out
	m.out = nil
	return out, err
}

func (m *Machine) dispatch(ev Event) error {
	switch e := ev.(type) {
	case StartHeight:
		return m.startHeight(e)
	case *StartHeight:
		return m.startHeight(*e)
	case Tick, *Tick:
		m.tick()
		return nil
	case Timeout:
		m.onTimeout(e)
		return nil
	case *Timeout:
		m.onTimeout(*e)
		return nil
	case *Proposal:
		return m.onProposal(e)
	case *Vote:
		return m.onVote(e)
	case *Decision:
		return m.onDecision(e)
	case Resume:
		return m.resume(e)
	case *Resume:
		return m.resume(*e)
	case nil:
		return errors.New("tendermint: nil event")
	}
	return fmt.Errorf("tendermint: unknown event %T", ev)
}

func (m *Machine) emit(e Effect) { m.out = append(m.out, e) }

// ---- heights and rounds ----

func (m *Machine) startHeight(e StartHeight) error {
	c := e.Committee
	if c == nil || c.NShards <= 0 || len(c.Members) == 0 {
		return fmt.Errorf("%w: StartHeight without a committee", epoch.ErrBadCommittee)
	}
	if m.started && e.Height <= m.height {
		return fmt.Errorf("%w: %d after %d", ErrBadHeight, e.Height, m.height)
	}
	m.reset(e.Height, c)
	m.startRound(0) // line 10: upon start do StartRound(0)
	m.replayBuffered()
	return nil
}

// reset opens height with committee c and forgets everything about the previous height.
func (m *Machine) reset(height uint64, c *epoch.Committee) {
	m.started, m.decided = true, false
	m.height = height
	m.committee = c
	if m.seqFor != c {
		m.seq, m.seqFor = ProposerSequence(c), c
	}
	m.self = c.MemberIndex(m.cfg.Self)
	m.round, m.step = 0, stepPropose
	m.lockedValue, m.lockedHash, m.lockedRound = nil, Hash{}, -1
	m.validValue, m.validHash, m.validRound = nil, Hash{}, -1
	m.rounds = make(map[int32]*roundState)
	m.roundKeys = m.roundKeys[:0]
	m.values = make(map[Hash][]byte)
	m.validity = make(map[Hash]validity)
	m.maxRound = make([]int32, len(c.Members))
	for i := range m.maxRound {
		m.maxRound[i] = -1
	}
	m.skipDirty = false
	m.own = m.own[:0]
}

// replayBuffered feeds what arrived early for this height; it keeps anything later.
func (m *Machine) replayBuffered() {
	buf := m.buffered
	m.buffered, m.bufferedBytes = nil, 0
	for _, msg := range buf {
		switch {
		case msg.MsgHeight() == m.height:
			_ = m.dispatch(msg) // invalid early messages are dropped like any other
		case msg.MsgHeight() > m.height:
			m.buffer(msg)
		}
	}
}

// startRound is StartRound (lines 11-21).
func (m *Machine) startRound(r int32) {
	m.round, m.step = r, stepPropose
	m.roundState(r)
	m.propose(r)
	// The paper schedules timeoutPropose only at non-proposers; scheduling it always is
	// harmless (line 57 acts only in step propose) and covers a proposer that had no value.
	m.schedule(TimeoutPropose, r)
}

// propose is lines 13-19: the proposer of round r proposes validValue or a new value.
func (m *Machine) propose(r int32) {
	if m.self >= 0 && int(proposerOf(m.seq, m.height, r)) == m.self {
		v, vr := m.validValue, m.validRound // line 14: re-propose validValue
		if v == nil {
			var err error
			v, err = m.cfg.App.Propose(m.height, r, m.now)
			if err != nil || len(v) > m.cfg.MaxValueSize {
				v = nil // nothing to propose: the others time out (line 57)
			}
			vr = -1
		}
		if v != nil {
			h := HashValue(v)
			p := &Proposal{Height: m.height, Round: r, ValidRound: vr, Value: v, Proposer: uint32(m.self)}
			p.Signature = m.cfg.Signer.Sign(ProposalSignBytes(m.cfg.Network, m.committee.Epoch, m.height, r, vr, h))
			m.broadcast(p)
			m.addProposal(p, h)
			// Relay the proof of lock (the prevotes of vr) with the re-proposal: others need
			// them for line 28, and some may come from members who have since crashed.
			for _, v := range m.pol() {
				m.emit(Broadcast{Msg: v})
			}
		}
	}
}

func (m *Machine) schedule(k TimeoutKind, r int32) {
	m.emit(ScheduleTimeout{Timeout: Timeout{Kind: k, Height: m.height, Round: r}, Duration: m.cfg.timeout(k, r)})
}

func (m *Machine) broadcast(msg Message) {
	m.own = append(m.own, msg)
	m.emit(Broadcast{Msg: msg})
}

func (m *Machine) roundState(r int32) *roundState {
	rs, ok := m.rounds[r]
	if !ok {
		n := len(m.committee.Members)
		rs = &roundState{
			votes:  [2][]*Vote{make([]*Vote, n), make([]*Vote, n)},
			weight: [2]map[Hash]int{make(map[Hash]int), make(map[Hash]int)},
		}
		m.rounds[r] = rs
		i := sort.Search(len(m.roundKeys), func(i int) bool { return m.roundKeys[i] >= r })
		m.roundKeys = append(m.roundKeys, 0)
		copy(m.roundKeys[i+1:], m.roundKeys[i:])
		m.roundKeys[i] = r
	}
	return rs
}

func (m *Machine) quorum(w int) bool    { return epoch.IsQuorum(w, m.committee.NShards) }
func (m *Machine) validity1(w int) bool { return epoch.IsValidity(w, m.committee.NShards) }

// ---- timers and ticks ----

// onTimeout is lines 57-66.
func (m *Machine) onTimeout(t Timeout) {
	if !m.started || m.decided || t.Height != m.height || t.Round != m.round {
		return
	}
	switch t.Kind {
	case TimeoutPropose:
		if m.step == stepPropose {
			m.castVote(Prevote, Hash{})
			m.step = stepPrevote
		}
	case TimeoutPrevote:
		if m.step == stepPrevote {
			m.castVote(Precommit, Hash{})
			m.step = stepPrecommit
		}
	case TimeoutPrecommit:
		m.startRound(m.round + 1)
	}
}

// tick re-broadcasts only while the machine is stuck (no change of height, round or step for
// RebroadcastInterval): on a healthy network it costs nothing, and on a lossy one it repairs
// what was lost.
func (m *Machine) tick() {
	if m.now-m.progressAt < m.cfg.RebroadcastInterval || m.now < m.nextRebroadcast {
		return
	}
	m.nextRebroadcast = m.now + m.cfg.RebroadcastInterval
	if m.started && !m.decided {
		for _, msg := range m.own {
			m.emit(Broadcast{Msg: msg})
		}
		for _, v := range m.pol() {
			m.emit(Broadcast{Msg: v})
		}
		// Relay others' votes of this round and the previous one: a node still in round r-1
		// may lack exactly the precommits (perhaps of a member since crashed) that moved us on,
		// and without them it can neither time out of r-1 nor reach f+1 for a skip.
		for _, r := range []int32{m.round - 1, m.round} {
			if rs := m.rounds[r]; rs != nil {
				m.relay(rs)
			}
		}
	}
	if m.lastDecision != nil {
		m.emit(Broadcast{Msg: m.lastDecision})
	}
}

func (m *Machine) relay(rs *roundState) {
	for t := range rs.votes {
		for i, v := range rs.votes[t] {
			if v != nil && i != m.self {
				m.emit(Broadcast{Msg: v})
			}
		}
		for _, v := range rs.extra[t] {
			m.emit(Broadcast{Msg: v})
		}
	}
}

// pol returns the other members' prevotes that made validValue valid (line 36): the proof a
// locked minority needs to show the rest so that a re-proposal of validValue can pass line 28.
// The paper assumes gossip relays every message a correct process received; relaying this set
// is the part of that assumption its liveness argument actually uses.
func (m *Machine) pol() []*Vote {
	if m.validRound < 0 {
		return nil
	}
	rs := m.rounds[m.validRound]
	if rs == nil {
		return nil
	}
	var out []*Vote
	for i, v := range rs.votes[0] {
		if v != nil && i != m.self && v.Value == m.validHash {
			out = append(out, v)
		}
	}
	for _, v := range rs.extra[0] {
		if v.Value == m.validHash {
			out = append(out, v)
		}
	}
	return out
}

// ---- incoming messages ----

// early reports whether msg is for a later height (buffered) or this one is not open.
func (m *Machine) early(msg Message) bool {
	if !m.started || msg.MsgHeight() > m.height {
		if !m.started || msg.MsgHeight() == m.height+1 {
			m.buffer(msg)
		}
		return true
	}
	return false
}

// buffer keeps an early message, within MaxBuffered messages and 4·MaxValueSize bytes of
// values, so that early proposals cannot make the buffer hold unbounded memory.
func (m *Machine) buffer(msg Message) {
	size := 0
	switch x := msg.(type) {
	case *Proposal:
		size = len(x.Value)
	case *Decision:
		size = len(x.Value)
	}
	if len(m.buffered) >= m.cfg.MaxBuffered || m.bufferedBytes+size > 4*m.cfg.MaxValueSize {
		return
	}
	m.buffered = append(m.buffered, msg)
	m.bufferedBytes += size
}

func (m *Machine) member(i uint32) (*epoch.Member, error) {
	if int64(i) >= int64(len(m.committee.Members)) {
		return nil, fmt.Errorf("%w: index %d", ErrNotMember, i)
	}
	return &m.committee.Members[i], nil
}

func (m *Machine) seen(i uint32, r int32) {
	if r > m.maxRound[i] {
		m.maxRound[i] = r
	}
	if r > m.round {
		m.skipDirty = true
	}
}

func (m *Machine) onVote(v *Vote) error {
	if m.early(v) || v.Height < m.height || m.decided {
		return nil
	}
	if v.Type != Prevote && v.Type != Precommit {
		return fmt.Errorf("%w: vote type %d", ErrMalformed, v.Type)
	}
	if v.Round < 0 || v.Round >= MaxRound {
		return fmt.Errorf("%w: %d", ErrWrongRound, v.Round)
	}
	mem, err := m.member(v.Validator)
	if err != nil {
		return err
	}
	t := int(v.Type) - 1
	if v.Round <= m.round+m.cfg.MaxRoundsAhead {
		if prev := m.rounds[v.Round]; prev != nil && prev.has(t, v.Validator, v.Value) {
			return nil // duplicate (re-broadcast or gossip echo)
		}
	}
	msg := VoteSignBytes(m.cfg.Network, m.committee.Epoch, v.Type, v.Height, v.Round, v.Value)
	if err := m.cfg.Scheme.Verify(mem.BLSKey, msg, v.Signature); err != nil {
		return fmt.Errorf("%w: %s from member %d: %v", ErrBadSignature, v.Type, v.Validator, err)
	}
	m.seen(v.Validator, v.Round)
	if v.Round > m.round+m.cfg.MaxRoundsAhead {
		return nil // counts for the round skip only
	}
	rs := m.roundState(v.Round)
	if old := rs.votes[t][v.Validator]; old != nil {
		m.evidence(rs, uint64(v.Type), v.Validator, old, v)
		_, known := m.values[v.Value]
		if (known || v.Value.IsNil()) && rs.extras(t, v.Validator) < maxProposalsPerRound {
			rs.extra[t] = append(rs.extra[t], v)
			rs.weight[t][v.Value] += mem.Weight()
		}
		return nil
	}
	m.addVote(rs, v)
	return nil
}

// has reports whether member i's vote of type t on h is already counted.
func (rs *roundState) has(t int, i uint32, h Hash) bool {
	if v := rs.votes[t][i]; v != nil && v.Value == h {
		return true
	}
	for _, v := range rs.extra[t] {
		if v.Validator == i && v.Value == h {
			return true
		}
	}
	return false
}

func (rs *roundState) extras(t int, i uint32) int {
	n := 0
	for _, v := range rs.extra[t] {
		if v.Validator == i {
			n++
		}
	}
	return n
}

func (m *Machine) addVote(rs *roundState, v *Vote) {
	t := int(v.Type) - 1
	rs.votes[t][v.Validator] = v
	w := m.committee.Members[v.Validator].Weight()
	rs.weight[t][v.Value] += w
	rs.any[t] += w
}

func (m *Machine) evidence(rs *roundState, kind uint64, who uint32, first, second Message) {
	key := kind<<32 | uint64(who)
	if rs.evidenced == nil {
		rs.evidenced = make(map[uint64]bool)
	}
	if rs.evidenced[key] {
		return
	}
	rs.evidenced[key] = true
	m.emit(Evidence{Member: who, First: first, Second: second})
}

func (m *Machine) onProposal(p *Proposal) error {
	if m.early(p) || p.Height < m.height || m.decided {
		return nil
	}
	if p.Round < 0 || p.Round >= MaxRound || p.ValidRound < -1 || p.ValidRound >= p.Round {
		return fmt.Errorf("%w: proposal round %d valid round %d", ErrWrongRound, p.Round, p.ValidRound)
	}
	if len(p.Value) > m.cfg.MaxValueSize {
		return fmt.Errorf("%w: value of %d bytes", ErrMalformed, len(p.Value))
	}
	mem, err := m.member(p.Proposer)
	if err != nil {
		return err
	}
	if want := proposerOf(m.seq, m.height, p.Round); p.Proposer != want {
		return fmt.Errorf("%w: member %d, round %d belongs to %d", ErrNotProposer, p.Proposer, p.Round, want)
	}
	h := HashValue(p.Value)
	near := p.Round <= m.round+m.cfg.MaxRoundsAhead
	if near {
		if rs := m.rounds[p.Round]; rs != nil {
			for _, q := range rs.proposals {
				if q.ValidRound == p.ValidRound && HashValue(q.Value) == h {
					return nil // duplicate
				}
			}
		}
	}
	msg := ProposalSignBytes(m.cfg.Network, m.committee.Epoch, p.Height, p.Round, p.ValidRound, h)
	if err := m.cfg.Scheme.Verify(mem.BLSKey, msg, p.Signature); err != nil {
		return fmt.Errorf("%w: proposal from member %d: %v", ErrBadSignature, p.Proposer, err)
	}
	m.seen(p.Proposer, p.Round)
	if !near {
		return nil
	}
	rs := m.roundState(p.Round)
	if len(rs.proposals) > 0 {
		m.evidence(rs, 0, p.Proposer, rs.proposals[0], p)
		if len(rs.proposals) >= maxProposalsPerRound {
			return nil
		}
	}
	m.addProposal(p, h)
	return nil
}

func (m *Machine) addProposal(p *Proposal, h Hash) {
	rs := m.roundState(p.Round)
	rs.proposals = append(rs.proposals, p)
	if _, ok := m.values[h]; !ok {
		m.values[h] = p.Value
	}
}

func (m *Machine) onDecision(d *Decision) error {
	if m.early(d) || d.Height < m.height || m.decided {
		return nil
	}
	if len(d.Value) > m.cfg.MaxValueSize {
		return fmt.Errorf("%w: value of %d bytes", ErrMalformed, len(d.Value))
	}
	h := HashValue(d.Value)
	if err := VerifyCommitWith(m.cfg.Scheme, m.committee, m.cfg.Network, d.Height, h, &d.Commit); err != nil {
		return err
	}
	m.decide(d.Value, h, d.Commit)
	return nil
}

// ---- own messages ----

func (m *Machine) castVote(t VoteType, h Hash) {
	if m.self < 0 {
		return // followers do not vote
	}
	v := &Vote{Type: t, Height: m.height, Round: m.round, Value: h, Validator: uint32(m.self)}
	v.Signature = m.cfg.Signer.Sign(VoteSignBytes(m.cfg.Network, m.committee.Epoch, t, m.height, m.round, h))
	m.broadcast(v)
	rs := m.roundState(m.round)
	if rs.votes[t-1][m.self] == nil {
		m.addVote(rs, v)
	}
}

func (m *Machine) valid(h Hash, v []byte) bool {
	if c, ok := m.validity[h]; ok && (c.err == nil || c.round == m.round) {
		return c.err == nil
	}
	// A failure is retried in a later round: it may be the checkpoint time being ahead of our
	// clock, which time cures.
	err := m.cfg.App.Validate(m.height, v, m.now)
	m.validity[h] = validity{err: err, round: m.round}
	return err == nil
}

// ---- the upon rules ----

// advance applies the rules of Algorithm 1 until none fires.
func (m *Machine) advance() {
	for m.started && !m.decided {
		if m.tryDecide() || m.trySkip() {
			continue
		}
		rs := m.rounds[m.round]
		if m.step == stepPropose && m.tryProposalVote(rs) {
			continue
		}
		if m.step >= stepPrevote && !rs.line36 && m.tryLine36(rs) {
			continue
		}
		if m.step == stepPrevote {
			if !rs.prevoteTimer && m.quorum(rs.any[0]) { // line 34
				rs.prevoteTimer = true
				m.schedule(TimeoutPrevote, m.round)
			}
			if m.quorum(rs.weight[0][Hash{}]) { // line 44
				m.castVote(Precommit, Hash{})
				m.step = stepPrecommit
				continue
			}
		}
		if !rs.precommitTimer && m.quorum(rs.any[1]) { // line 47
			rs.precommitTimer = true
			m.schedule(TimeoutPrecommit, m.round)
		}
		return
	}
}

// tryProposalVote is lines 22-33.
func (m *Machine) tryProposalVote(rs *roundState) bool {
	for _, p := range rs.proposals {
		h := HashValue(p.Value)
		vr := p.ValidRound
		if vr == -1 { // line 22
			if m.valid(h, p.Value) && (m.lockedRound == -1 || m.lockedHash == h) {
				m.castVote(Prevote, h)
			} else {
				m.castVote(Prevote, Hash{})
			}
			m.step = stepPrevote
			return true
		}
		if vrs := m.rounds[vr]; vrs != nil && vr < m.round && m.quorum(vrs.weight[0][h]) { // line 28
			if m.valid(h, p.Value) && (m.lockedRound <= vr || m.lockedHash == h) {
				m.castVote(Prevote, h)
			} else {
				m.castVote(Prevote, Hash{})
			}
			m.step = stepPrevote
			return true
		}
	}
	return false
}

// tryLine36 is lines 36-43.
func (m *Machine) tryLine36(rs *roundState) bool {
	for _, p := range rs.proposals {
		h := HashValue(p.Value)
		if !m.quorum(rs.weight[0][h]) || !m.valid(h, p.Value) {
			continue
		}
		if m.step == stepPrevote {
			m.lockedValue, m.lockedHash, m.lockedRound = p.Value, h, m.round
			m.castVote(Precommit, h)
			m.step = stepPrecommit
		}
		m.validValue, m.validHash, m.validRound = p.Value, h, m.round
		rs.line36 = true
		return true
	}
	return false
}

// tryDecide is lines 49-54, for any round.
func (m *Machine) tryDecide() bool {
	for _, r := range m.roundKeys {
		rs := m.rounds[r]
		if !m.quorum(rs.any[1]) {
			continue
		}
		for h, w := range rs.weight[1] {
			if h.IsNil() || !m.quorum(w) {
				continue
			}
			v, ok := m.values[h]
			if !ok {
				continue // the proposal has not arrived yet
			}
			cc, err := m.certificate(rs, r, h)
			if err != nil {
				continue
			}
			m.decide(v, h, cc)
			return true
		}
	}
	return false
}

// certificate aggregates the precommits of round r on h (all of them, not just a quorum).
func (m *Machine) certificate(rs *roundState, r int32, h Hash) (CommitCert, error) {
	n := len(m.committee.Members)
	cc := CommitCert{Round: r, Cert: epoch.Certificate{Epoch: m.committee.Epoch, Signers: make([]byte, (n+7)/8)}}
	var sigs []bls.Signature
	for i, v := range rs.votes[1] {
		if v != nil && v.Value == h {
			cc.Cert.Signers[i/8] |= 1 << (i % 8)
			sigs = append(sigs, v.Signature)
		}
	}
	for _, v := range rs.extra[1] {
		if v.Value == h {
			cc.Cert.Signers[v.Validator/8] |= 1 << (v.Validator % 8)
			sigs = append(sigs, v.Signature)
		}
	}
	agg, err := m.cfg.Scheme.Aggregate(sigs)
	if err != nil {
		return cc, err
	}
	cc.Cert.Signature = agg
	return cc, nil
}

func (m *Machine) decide(v []byte, h Hash, cc CommitCert) {
	m.decided = true
	m.emit(Commit{Height: m.height, Value: v, Hash: h, Commit: cc})
	m.lastDecision = &Decision{Height: m.height, Value: v, Commit: cc}
}

// trySkip is line 55, generalised (package doc): jump to the highest round R such that
// members worth f+1 shards have been seen at rounds >= R.
func (m *Machine) trySkip() bool {
	if !m.skipDirty {
		return false
	}
	m.skipDirty = false
	type mr struct {
		r int32
		w int
	}
	var ahead []mr
	for i, r := range m.maxRound {
		if r > m.round {
			ahead = append(ahead, mr{r, m.committee.Members[i].Weight()})
		}
	}
	sort.Slice(ahead, func(a, b int) bool { return ahead[a].r > ahead[b].r })
	w := 0
	for _, a := range ahead {
		w += a.w
		if m.validity1(w) {
			m.startRound(a.r)
			return true
		}
	}
	return false
}
