package tendermint

import (
	"errors"
	"fmt"
	"sort"

	"github.com/walrus-go/walrus-go/epoch"
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
// not safe for concurrent use: one driver goroutine owns it (an actor, docs/architecture.md §6).
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

// Proposer is the committee index of the member that proposes round r of the current
// height, or -1 before the first height.
func (m *Machine) Proposer(r int32) int {
	if !m.started || len(m.seq) == 0 {
		return -1
	}
	return int(proposerOf(m.seq, m.height, r))
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
