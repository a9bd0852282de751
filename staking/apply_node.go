package staking

import (
	"github.com/walrus-go/walrus-go/epoch"
)

// Node, stake and committee-member operations (docs/protocol.md §6–7).

func (s *State) registerNode(c *txCtx, op *RegisterNode) Receipt {
	if err := validateInfo(&op.Info); err != nil {
		return reject(CodeInvalidArgument, "%v", err)
	}
	id := epoch.NodeIDOf(op.BLSKey)
	if s.nodes.has(id) {
		return reject(CodeAlreadyDone, "node already registered")
	}
	dep := s.prices.Fees.Deposit
	if s.balance(c.sender) < dep {
		return reject(CodeInsufficient, "balance %d < deposit %d", s.balance(c.sender), dep)
	}
	if err := s.blsVerify(op.BLSKey, PossessionMessage(s.network, c.sender, op.BLSKey), op.PoP); err != nil {
		return reject(CodeBadCertificate, "proof of possession: %v", err)
	}
	s.account(c.sender).Balance -= dep
	nd := nodeFromInfo(id, c.sender, op.BLSKey, &op.Info)
	nd.Deposit = dep
	s.nodes.put(id, nd)
	return Receipt{}
}

func (s *State) updateNode(c *txCtx, op *UpdateNode) Receipt {
	nd := s.nodes.get(op.Node)
	if nd == nil {
		return reject(CodeUnknownObject, "no node")
	}
	if nd.Operator != c.sender {
		return reject(CodeNotOwner, "not the node's operator")
	}
	if err := validateInfo(&op.Info); err != nil {
		return reject(CodeInvalidArgument, "%v", err)
	}
	nd = s.nodes.mut(op.Node)
	nd.PeerID = op.Info.PeerID
	nd.Addrs = append([]string(nil), op.Info.Addrs...)
	nd.StoragePrice, nd.WritePrice, nd.Capacity = op.Info.StoragePrice, op.Info.WritePrice, op.Info.Capacity
	nd.FeeVote = op.Info.Fees
	// Commission changes take effect two epochs later (docs/protocol.md §6), so delegators can
	// withdraw before a raise applies to them.
	if op.Info.Commission != nd.Commission || nd.NextCommissionEpoch != 0 {
		nd.NextCommission, nd.NextCommissionEpoch = op.Info.Commission, s.ep+2
	}
	return Receipt{}
}

func (s *State) lastSelected() uint32 {
	if s.next != nil {
		return s.ep + 1
	}
	return s.ep
}

func (s *State) stake(c *txCtx, op *StakeOp) Receipt {
	if !s.nodes.has(op.Node) {
		return reject(CodeUnknownObject, "no node")
	}
	if op.Amount == 0 {
		return reject(CodeInvalidArgument, "zero stake")
	}
	if s.balance(c.sender) < op.Amount {
		return reject(CodeInsufficient, "balance %d < %d", s.balance(c.sender), op.Amount)
	}
	s.account(c.sender).Balance -= op.Amount
	// Mid-epoch rule (docs/protocol.md §6): stake counts from the first committee not yet chosen,
	// e+1 before the mid-epoch selection, e+2 after it.
	id := c.newID(0)
	s.stakes.put(id, &Stake{ID: id, Owner: c.sender, Node: op.Node, Amount: op.Amount, Activation: s.lastSelected() + 1})
	return Receipt{}
}

func (s *State) requestWithdraw(c *txCtx, op *RequestWithdraw) Receipt {
	st := s.stakes.get(op.Stake)
	if st == nil {
		return reject(CodeUnknownObject, "no stake %s", op.Stake)
	}
	if st.Owner != c.sender {
		return reject(CodeNotOwner, "stake %s", op.Stake)
	}
	if st.Withdrawing {
		return reject(CodeAlreadyDone, "already withdrawing from epoch %d", st.WithdrawAt)
	}
	last := s.lastSelected()
	st = s.stakes.mut(op.Stake)
	st.Withdrawing = true
	if st.Activation > last {
		// Never counted in a chosen committee: withdrawable at once.
		st.WithdrawAt = s.ep
	} else {
		// It backs the committees already chosen; free after the next boundary past them.
		st.WithdrawAt = last + 1
	}
	return Receipt{}
}

func (s *State) withdraw(c *txCtx, op *Withdraw) Receipt {
	st := s.stakes.get(op.Stake)
	if st == nil {
		return reject(CodeUnknownObject, "no stake %s", op.Stake)
	}
	if st.Owner != c.sender {
		return reject(CodeNotOwner, "stake %s", op.Stake)
	}
	if !st.Withdrawing || st.WithdrawAt > s.ep {
		return reject(CodeNotWithdrawable, "stake not withdrawable at epoch %d", s.ep)
	}
	s.stakes.del(st.ID)
	s.credit(c.sender, st.Amount)
	return Receipt{}
}

func (s *State) member(id epoch.NodeID) (*epoch.Member, Receipt) {
	i := s.committee.MemberIndex(id)
	if i < 0 {
		return nil, reject(CodeNotMember, "node not in the epoch %d committee", s.ep)
	}
	return &s.committee.Members[i], Receipt{}
}

func (s *State) syncDoneTx(op *SyncDone) Receipt {
	m, r := s.member(op.Node)
	if !r.OK() {
		return r
	}
	if op.Epoch != s.ep {
		return reject(CodeWrongEpoch, "sync done for epoch %d, current %d", op.Epoch, s.ep)
	}
	if s.syncDone.has(op.Node) {
		return reject(CodeAlreadyDone, "sync done already recorded")
	}
	if err := s.blsVerify(m.BLSKey, SyncDoneMessage(s.network, s.ep, op.Node), op.Sig); err != nil {
		return reject(CodeBadCertificate, "%v", err)
	}
	s.syncDone.put(op.Node, &syncEntry{Node: op.Node})
	return Receipt{}
}

func (s *State) challengeResults(op *ChallengeResults) Receipt {
	m, r := s.member(op.Attester)
	if !r.OK() {
		return r
	}
	if op.Epoch != s.ep {
		return reject(CodeWrongEpoch, "results for epoch %d, current %d", op.Epoch, s.ep)
	}
	if len(op.Results) == 0 || len(op.Results) > MaxChallengeList {
		return reject(CodeInvalidArgument, "%d results", len(op.Results))
	}
	for i, res := range op.Results {
		if i > 0 && !lessID32(op.Results[i-1].Node, res.Node) {
			return reject(CodeInvalidArgument, "results not strictly ordered by node ID")
		}
		if s.committee.MemberIndex(res.Node) < 0 {
			return reject(CodeNotMember, "result for a node outside the committee")
		}
		if s.challenges.has([2]epoch.NodeID{res.Node, op.Attester}) {
			return reject(CodeAlreadyDone, "result already attested")
		}
	}
	if err := s.blsVerify(m.BLSKey, ChallengeMessage(s.network, s.ep, op.Results), op.Sig); err != nil {
		return reject(CodeBadCertificate, "%v", err)
	}
	for _, res := range op.Results {
		s.challenges.put([2]epoch.NodeID{res.Node, op.Attester}, &challengeEntry{Target: res.Node, Attester: op.Attester, Pass: res.Pass})
	}
	return Receipt{}
}
