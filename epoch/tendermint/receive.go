package tendermint

import (
	"fmt"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
)

// Handling of received proposals, votes and decisions (validation, equivocation evidence,
// bookkeeping) and of this node's own votes.

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
	if err := m.verify(v.Validator, mem, msg, v.Signature); err != nil {
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
	if err := m.verify(p.Proposer, mem, msg, p.Signature); err != nil {
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

// verify checks member i's signature; under BLS it uses the committee's prepared keys.
func (m *Machine) verify(i uint32, mem *epoch.Member, msg []byte, sig bls.Signature) error {
	if _, ok := m.cfg.Scheme.(BLSScheme); ok {
		return m.committee.VerifyMember(int(i), msg, sig)
	}
	return m.cfg.Scheme.Verify(mem.BLSKey, msg, sig)
}
