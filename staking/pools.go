package staking

import (
	"github.com/walrus-go/walrus-go/epoch"
)

// Read-only views of the node registry and the stake pools for wallets and operators
// (`walrus info committee`, `walrus list-staked-wal`). They change nothing and apply no rule
// of their own: every figure is the sum committee selection itself uses (stakeFor) or a
// stake object's own fields.

// Pool summarises the stake delegated to one node, at the state's current epoch.
type Pool struct {
	// Active is the FROST counting for the current epoch's committee (StakeOf(node, ep)).
	Active uint64
	// Next is the FROST counting for the first committee not selected yet: epoch ep+1
	// before the mid-epoch selection, ep+2 after it (the mid-epoch rule, docs/protocol.md §6).
	Next uint64
	// Pending is the FROST of stakes not yet active (activation after the current epoch)
	// and not withdrawing.
	Pending uint64
	// Withdrawing is the FROST of stakes whose withdrawal was requested and that are not
	// withdrawn yet (some of it may still count for committees already selected).
	Withdrawing uint64
	// Stakes counts the pool's stake objects.
	Stakes int
}

// FirstUnselected is the first epoch whose committee is not selected yet: ep+1 before the
// mid-epoch selection, ep+2 after it. A stake added now counts from this epoch on.
func (s *State) FirstUnselected() uint32 { return s.lastSelected() + 1 }

// NextPrices are the prices and capacity chosen with the next committee; ok is false
// before the mid-epoch selection.
func (s *State) NextPrices() (p Prices, ok bool) { return s.nextPrice, s.next != nil }

// Pools summarises the stake pool of every registered node (nodes without stake included,
// with a zero Pool) in one pass over the stakes.
func (s *State) Pools() map[epoch.NodeID]Pool {
	out := map[epoch.NodeID]Pool{}
	for _, nd := range s.nodes.all() {
		out[nd.ID] = Pool{}
	}
	next := s.FirstUnselected()
	counts := func(st *Stake, target uint32) bool {
		return st.Activation <= target && (!st.Withdrawing || st.WithdrawAt > target)
	}
	for _, st := range s.stakes.all() {
		p := out[st.Node]
		p.Stakes++
		// Sums cannot overflow: the total supply fits in uint64 (checked at genesis).
		if counts(st, s.ep) {
			p.Active += st.Amount
		}
		if counts(st, next) {
			p.Next += st.Amount
		}
		if st.Withdrawing {
			p.Withdrawing += st.Amount
		} else if st.Activation > s.ep {
			p.Pending += st.Amount
		}
		out[st.Node] = p
	}
	return out
}

// StakesOwnedBy returns copies of the stake objects an account owns, in ascending ID order.
// It scans the stakes only.
func (s *State) StakesOwnedBy(a Address) []Stake {
	var out []Stake
	for _, id := range s.Stakes() {
		if st := s.stakes.get(id); st.Owner == a {
			out = append(out, *st)
		}
	}
	return out
}

// StakeState is where a stake object stands at an epoch (what `list-staked-wal` prints).
type StakeState uint8

// Stake states.
const (
	// StakePending: not counting for the current epoch's committee yet (Activation > epoch).
	StakePending StakeState = 1 + iota
	// StakeActive: counting for the current epoch's committee.
	StakeActive
	// StakeWithdrawing: withdrawal requested, not withdrawable before WithdrawAt.
	StakeWithdrawing
	// StakeWithdrawable: withdrawal requested and withdrawable now.
	StakeWithdrawable
)

// String names the state as `list-staked-wal` prints it.
func (k StakeState) String() string {
	switch k {
	case StakePending:
		return "pending"
	case StakeActive:
		return "active"
	case StakeWithdrawing:
		return "withdrawing"
	case StakeWithdrawable:
		return "withdrawable"
	}
	return "unknown"
}

// StateAt is the stake's state at epoch e, by the rules of requestWithdraw and withdraw.
func (st *Stake) StateAt(e uint32) StakeState {
	switch {
	case st.Withdrawing && st.WithdrawAt <= e:
		return StakeWithdrawable
	case st.Withdrawing:
		return StakeWithdrawing
	case st.Activation > e:
		return StakePending
	}
	return StakeActive
}
