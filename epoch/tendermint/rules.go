package tendermint

import (
	"sort"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
)

// The upon-rules of Algorithm 1 (lines 22-56), applied until none fires.

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
