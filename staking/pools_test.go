package staking_test

import (
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/staking"
)

// checkPools compares Pools with StakeOf (the sum committee selection uses) and with a
// direct walk over the stake objects, and StakesOwnedBy with Owned.
func checkPools(t *testing.T, n *tnet, owners ...string) {
	t.Helper()
	s := n.s
	pools := s.Pools()
	if len(pools) != len(s.Nodes()) {
		t.Fatalf("%d pools for %d nodes", len(pools), len(s.Nodes()))
	}
	want := map[epoch.NodeID]staking.Pool{}
	for _, id := range s.Stakes() {
		st, _ := s.Stake(id)
		p := want[st.Node]
		p.Stakes++
		switch st.StateAt(s.Epoch()) {
		case staking.StakePending:
			p.Pending += st.Amount
		case staking.StakeWithdrawing, staking.StakeWithdrawable:
			p.Withdrawing += st.Amount
		}
		want[st.Node] = p
	}
	for _, id := range s.Nodes() {
		p, w := pools[id], want[id]
		w.Active, w.Next = s.StakeOf(id, s.Epoch()), s.StakeOf(id, s.FirstUnselected())
		if p != w {
			t.Fatalf("epoch %d node %s: pool %+v, want %+v", s.Epoch(), n.nodeName(id), p, w)
		}
	}
	for _, o := range owners {
		_, _, ids := s.Owned(n.addr(o))
		got := s.StakesOwnedBy(n.addr(o))
		if len(got) != len(ids) {
			t.Fatalf("%s: %d stakes, Owned says %d", o, len(got), len(ids))
		}
		for i := range got {
			if got[i].ID != ids[i] || got[i].Owner != n.addr(o) {
				t.Fatalf("%s: stake %d is %x, Owned says %x", o, i, got[i].ID[:4], ids[i][:4])
			}
		}
	}
}

// TestPoolsAndStakeStates follows a delegation through its life — staked before and after
// mid-epoch, active, withdrawal requested, withdrawable, withdrawn — checking the read-only
// accessors at every step against the rules' own sums.
func TestPoolsAndStakeStates(t *testing.T) {
	n := newTnet(t, 7)
	const d = 1000 // epoch duration, ms
	prices := staking.Prices{Storage: 1, Write: 1, Capacity: 1 << 40}
	n.genesis(10, d, []string{"a", "b"}, []uint64{1000, 1000}, map[string]uint64{"alice": 10_000}, 0, prices)
	g := n.s.Config().GenesisTime
	checkPools(t, n, "alice")
	if n.s.FirstUnselected() != 1 {
		t.Fatalf("first unselected %d at genesis", n.s.FirstUnselected())
	}
	if _, ok := n.s.NextPrices(); ok {
		t.Fatal("next prices before the selection")
	}

	// Before mid-epoch 0: counts from epoch 1.
	r, nonce := n.submit("alice", &staking.StakeOp{Node: n.nodeID("a"), Amount: 300})
	if !r.OK() {
		t.Fatal(r)
	}
	early := staking.DeriveObjectID(n.addr("alice"), nonce, 0)
	checkPools(t, n, "alice")
	if st, _ := n.s.Stake(early); st.StateAt(0) != staking.StakePending || n.s.Pools()[n.nodeID("a")].Next != 1300 {
		t.Fatalf("early stake %+v, pool %+v", st, n.s.Pools()[n.nodeID("a")])
	}

	// After mid-epoch 0: counts from epoch 2.
	n.checkpoint(g+d/2, nil)
	if n.s.FirstUnselected() != 2 {
		t.Fatalf("first unselected %d after mid-epoch", n.s.FirstUnselected())
	}
	if p, ok := n.s.NextPrices(); !ok || p.Storage != 1 {
		t.Fatalf("next prices %+v %v", p, ok)
	}
	r, nonce = n.submit("alice", &staking.StakeOp{Node: n.nodeID("b"), Amount: 200})
	if !r.OK() {
		t.Fatal(r)
	}
	late := staking.DeriveObjectID(n.addr("alice"), nonce, 0)
	checkPools(t, n, "alice")
	if p := n.s.Pools()[n.nodeID("b")]; p.Next != 1200 || p.Pending != 200 || p.Active != 1000 {
		t.Fatalf("pool b %+v", p)
	}

	// Epoch 1: the early stake is active, the late one still pending.
	n.checkpoint(g+d, nil)
	checkPools(t, n, "alice")
	st, _ := n.s.Stake(early)
	lt, _ := n.s.Stake(late)
	if st.StateAt(1) != staking.StakeActive || lt.StateAt(1) != staking.StakePending {
		t.Fatalf("epoch 1: early %v, late %v", st.StateAt(1), lt.StateAt(1))
	}

	// Withdrawing the active stake before mid-epoch 1: it backs epoch 1 only.
	if r, _ := n.submit("alice", &staking.RequestWithdraw{Stake: early}); !r.OK() {
		t.Fatal(r)
	}
	checkPools(t, n, "alice")
	st, _ = n.s.Stake(early)
	if st.StateAt(1) != staking.StakeWithdrawing || st.WithdrawAt != 2 || st.StateAt(2) != staking.StakeWithdrawable {
		t.Fatalf("withdrawing stake %+v", st)
	}
	if p := n.s.Pools()[n.nodeID("a")]; p.Active != 1300 || p.Next != 1000 || p.Withdrawing != 300 {
		t.Fatalf("pool a while withdrawing %+v", p)
	}
	// Withdrawing the pending stake: withdrawable at once.
	if r, _ := n.submit("alice", &staking.RequestWithdraw{Stake: late}); !r.OK() {
		t.Fatal(r)
	}
	lt, _ = n.s.Stake(late)
	if lt.StateAt(1) != staking.StakeWithdrawable {
		t.Fatalf("withdrawn pending stake %+v", lt)
	}
	checkPools(t, n, "alice")
	if r, _ := n.submit("alice", &staking.Withdraw{Stake: late}); !r.OK() {
		t.Fatal(r)
	}
	checkPools(t, n, "alice")
	if got := len(n.s.StakesOwnedBy(n.addr("alice"))); got != 1 {
		t.Fatalf("%d stakes left", got)
	}

	n.checkpoint(g+2*d, nil)
	checkPools(t, n, "alice")
	if r, _ := n.submit("alice", &staking.Withdraw{Stake: early}); !r.OK() {
		t.Fatal(r)
	}
	checkPools(t, n, "alice")
	if n.s.StakesOwnedBy(n.addr("alice")) != nil || n.s.Account(n.addr("alice")).Balance != 10_000 {
		t.Fatalf("after withdrawals: %v, balance %d", n.s.StakesOwnedBy(n.addr("alice")), n.s.Account(n.addr("alice")).Balance)
	}
	for k, want := range map[staking.StakeState]string{staking.StakePending: "pending", staking.StakeActive: "active",
		staking.StakeWithdrawing: "withdrawing", staking.StakeWithdrawable: "withdrawable", 0: "unknown"} {
		if k.String() != want {
			t.Errorf("%d prints %q", k, k.String())
		}
	}
}
