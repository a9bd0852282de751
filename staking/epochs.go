package staking

import (
	"errors"
	"fmt"
	"math/bits"

	"github.com/walrus-go/walrus-go/epoch"
)

// ErrTimeBackwards is returned by AdvanceTime for a time before the state's time.
var ErrTimeBackwards = errors.New("staking: time goes backwards")

// EpochEvent records what AdvanceTime did, for logs and scripted tests.
type EpochEvent struct {
	Kind  EpochEventKind
	Epoch uint32 // the epoch selected for (selection) or ended (accounting)
	// Accounting totals, set for EventEpochEnd.
	Income, Burned, Distributed, Carried uint64
}

// EpochEventKind tells selection from accounting.
type EpochEventKind uint8

// Epoch event kinds.
const (
	EventCommitteeSelected EpochEventKind = 1 + iota // the next committee was chosen at mid-epoch
	EventEpochEnd                                    // accounting ran and committees switched
)

// AdvanceTime moves the state's clock to now (unix ms), running every step now crosses
// (docs/architecture.md §4): past mid-epoch the next committee is selected and its prices fixed; past the
// epoch end the epoch's accounting runs and the committees switch. A long gap runs the steps
// of every epoch in between, in order. It fails, changing nothing, if now is before the
// state's time; on a selection failure (no stake at all) the current committee is kept.
func (s *State) AdvanceTime(now int64) ([]EpochEvent, error) {
	if now < s.time {
		return nil, fmt.Errorf("%w: %d < %d", ErrTimeBackwards, now, s.time)
	}
	// The epoch clock of epoch/ rejects times whose epoch overflows; the loop below then
	// runs once per epoch crossed, a number the consensus time bound keeps small.
	if _, err := epoch.EpochAt(s.cfg.GenesisTime, s.cfg.EpochDuration, now); err != nil {
		return nil, err
	}
	if _, err := epoch.EpochSchedule(s.cfg.GenesisTime, s.cfg.EpochDuration, s.ep+1); err != nil {
		return nil, err
	}
	var evs []EpochEvent
	for {
		if s.next == nil && now >= s.cfg.MidEpoch(s.ep) {
			s.selectNext()
			evs = append(evs, EpochEvent{Kind: EventCommitteeSelected, Epoch: s.ep + 1})
			continue
		}
		if s.next != nil && now >= s.cfg.EpochStart(s.ep+1) {
			evs = append(evs, s.endEpoch())
			continue
		}
		break
	}
	s.time = now
	s.prune()
	return evs, nil
}

// selectNext chooses the committee of ep+1 by D'Hondt with minimal movement and fixes its
// prices from the votes of its members weighted by their new shards (docs/protocol.md §6–7).
func (s *State) selectNext() {
	c, err := s.selectCommittee(s.ep+1, s.committee)
	if err != nil {
		// No stake counts for ep+1 (everyone withdrew): keep the committee we have rather
		// than halt the ledger.
		c = cloneCommittee(s.committee)
		c.Epoch = s.ep + 1
		if err := c.Index(); err != nil {
			panic("staking: re-indexing a valid committee failed: " + err.Error())
		}
	}
	s.next = c
	s.nextPrice = s.votePrices(c)
}

// endEpoch runs the accounting of the current epoch and switches to the next.
//
// Rules (docs/protocol.md §6), all integer, rounding down:
//   - income I = the storage payments assigned to this epoch + write and transaction fees paid in it.
//   - burn B = ⌊3·I/100⌋; R = I - B is for the committee.
//   - "Stored data" is uniform per shard: every shard stores one sliver pair of every blob,
//     so a node's stored data is proportional to its shards and the split by shard weight ×
//     stored data reduces to ⌊R·shards_i/n⌋.
//   - a node whose failed-challenge attestations come from attesters worth f+1 shards
//     (epoch.IsValidity) forfeits its share, which is burned (the paper's slashing, simplified).
//   - the remainder R - Σ shares (rounding dust) is carried to the next epoch's income.
//   - a node's share: commission ⌊share·bps/10⁴⌋ to the operator's balance; the rest to the
//     stakes active in this epoch pro rata ⌊rest·amount_j/total⌋ (added to the stake,
//     compounding); rounding dust, or everything when no stake is active, to the operator.
//
// So income = burned + credited + carried exactly; TestConservation checks the supply.
func (s *State) endEpoch() EpochEvent {
	e := s.ep
	ev := EpochEvent{Kind: EventEpochEnd, Epoch: e}
	var income uint64
	if v := s.income.get(e); v != nil {
		income = v.Amount
	}
	s.income.del(e)
	s.reserved.del(e)
	ev.Income = income
	hi, lo := bits.Mul64(income, BurnPercent)
	burn := div128(hi, lo, 100)
	rest := income - burn
	c := s.committee
	n := uint64(c.NShards)
	var paid uint64
	if rest > 0 {
		// Stakes active in e, per node, in ascending stake ID order for the pro-rata split.
		active := map[epoch.NodeID][]ObjectID{}
		for _, id := range s.Stakes() {
			st := s.stakes.get(id)
			if st.Activation <= e && (!st.Withdrawing || st.WithdrawAt > e) {
				active[st.Node] = append(active[st.Node], id)
			}
		}
		for i := range c.Members {
			m := &c.Members[i]
			hi, lo := bits.Mul64(rest, uint64(m.Weight()))
			share := div128(hi, lo, n)
			paid += share
			if s.failedChallenges(m.Node) {
				burn += share
				continue
			}
			s.payNode(m.Node, share, active[m.Node])
		}
	}
	carried := rest - paid
	if carried > 0 {
		addEpoch(&s.income, e+1, carried)
	}
	s.burned += burn
	ev.Burned, ev.Distributed, ev.Carried = burn, paid, carried

	// Switch committees and prices; apply commission changes due now.
	s.ep = e + 1
	s.committee, s.next = s.next, nil
	s.prices = s.nextPrice
	s.nextPrice = Prices{}
	for _, id := range s.Nodes() {
		if nd := s.nodes.get(id); nd.NextCommissionEpoch != 0 && nd.NextCommissionEpoch <= s.ep {
			nd = s.nodes.mut(id)
			nd.Commission, nd.NextCommission, nd.NextCommissionEpoch = nd.NextCommission, 0, 0
		}
	}
	for _, v := range s.syncDone.all() {
		s.syncDone.del(v.Node)
	}
	for _, v := range s.challenges.all() {
		s.challenges.del([2]epoch.NodeID{v.Target, v.Attester})
	}
	// Registrations that stayed idle go (prune.go); expired storage resources and blob
	// objects are removed by prune after the time step, a bounded number per checkpoint.
	s.pruneNodes()
	return ev
}

// div128 is ⌊(hi·2⁶⁴+lo)/d⌋ for a quotient known to fit in 64 bits.
func div128(hi, lo, d uint64) uint64 {
	q, _ := bits.Div64(hi, lo, d)
	return q
}

// failedChallenges reports whether attesters worth f+1 shards reported node failing.
func (s *State) failedChallenges(node epoch.NodeID) bool {
	w := 0
	for i := range s.committee.Members {
		a := &s.committee.Members[i]
		if ch := s.challenges.get([2]epoch.NodeID{node, a.Node}); ch != nil && !ch.Pass {
			w += a.Weight()
		}
	}
	return epoch.IsValidity(w, s.committee.NShards)
}

func (s *State) payNode(id epoch.NodeID, share uint64, stakeIDs []ObjectID) {
	nd := s.nodes.get(id)
	stakes := make([]*Stake, len(stakeIDs))
	for i, sid := range stakeIDs {
		stakes[i] = s.stakes.get(sid)
	}
	hi, lo := bits.Mul64(share, uint64(nd.Commission))
	comm := div128(hi, lo, BasisPoints)
	rest := share - comm
	var total uint64
	for _, st := range stakes {
		total += st.Amount
	}
	var given uint64
	if total > 0 {
		for _, st := range stakes {
			hi, lo := bits.Mul64(rest, st.Amount)
			r := div128(hi, lo, total)
			if r > 0 {
				s.stakes.mut(st.ID).Amount += r
			}
			given += r
		}
	}
	if op := comm + rest - given; op > 0 {
		s.credit(nd.Operator, op)
	}
}

func cloneCommittee(c *epoch.Committee) *epoch.Committee {
	out := &epoch.Committee{Epoch: c.Epoch, NShards: c.NShards, Members: make([]epoch.Member, len(c.Members))}
	for i, m := range c.Members {
		m.Addrs = append([]string(nil), m.Addrs...)
		m.Shards = append([]uint16(nil), m.Shards...)
		out.Members[i] = m
	}
	return out
}
