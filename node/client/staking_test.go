package client_test

import (
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
)

// TestStakingThroughTheLedgerClient stakes from the wallet of an in-process cluster, lists
// the stake and the registry through the paged queries, and withdraws a stake that never
// backed a committee, checking the balance to the FROST.
func TestStakingThroughTheLedgerClient(t *testing.T) {
	_, s, ctx := openCluster(t)
	l := s.Ledger
	com, err := l.Candidates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(com.Candidates) != 4 {
		t.Fatalf("%d candidates", len(com.Candidates))
	}
	node := com.Candidates[2]
	shards := 0
	for _, c := range com.Candidates {
		shards += len(c.Shards)
		if c.Pool.Active == 0 || c.PeerID == "" || len(c.Addrs) == 0 {
			t.Fatalf("candidate %+v", c)
		}
	}
	if shards != com.NShards {
		t.Fatalf("%d shards listed of %d", shards, com.NShards)
	}
	before, err := l.Account(ctx, l.Address())
	if err != nil {
		t.Fatal(err)
	}
	const amount = 7 * staking.FrostPerWAL
	_, id, err := l.Stake(ctx, node.Node, amount)
	if err != nil {
		t.Fatal(err)
	}
	list, err := l.StakesOf(ctx, l.Address())
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Stakes) != 1 || list.Stakes[0].ID != id || list.Stakes[0].Node != node.Node || list.Stakes[0].Amount != amount ||
		list.Stakes[0].Activation != list.FirstUnselected {
		t.Fatalf("stakes %+v (want ID %s)", list, id)
	}
	com, err = l.Candidates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range com.Candidates {
		if c.Node == node.Node && (c.Pool.Pending != amount || c.Pool.Next != node.Pool.Next+amount) {
			t.Fatalf("pool after staking %+v, before %+v", c.Pool, node.Pool)
		}
	}
	// Errors the ledger gives: an unknown node, nothing to stake, a stake that is not ours.
	var te *client.TxError
	if _, _, err := l.Stake(ctx, epoch.NodeID{1}, 1); !errors.As(err, &te) || te.Code != staking.CodeUnknownObject {
		t.Fatalf("stake to an unknown node: %v", err)
	}
	if _, _, err := l.Stake(ctx, node.Node, 0); !errors.As(err, &te) || te.Code != staking.CodeInvalidArgument {
		t.Fatalf("zero stake: %v", err)
	}
	if _, err := l.WithdrawStake(ctx, id); !errors.As(err, &te) || te.Code != staking.CodeNotWithdrawable {
		t.Fatalf("withdraw before the request: %v", err)
	}
	// The stake has not backed a selected committee (the cluster's hour-long epoch is young),
	// so it is withdrawable at once.
	if _, err := l.RequestWithdrawStake(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WithdrawStake(ctx, id); err != nil {
		t.Fatal(err)
	}
	after, err := l.Account(ctx, l.Address())
	if err != nil {
		t.Fatal(err)
	}
	// Everything came back but the fees of the three transactions that went through (the
	// refused ones above were refused before any node took them, so they paid nothing).
	in, err := l.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := client.PlanCost(in, before.Account.Balance, client.PlannedTx{Op: &staking.StakeOp{Node: node.Node, Amount: amount}},
		client.PlannedTx{Op: &staking.RequestWithdraw{Stake: id}}, client.PlannedTx{Op: &staking.Withdraw{Stake: id}, Returned: amount})
	if err != nil || cost.Fee == 0 || after.Account.Balance != cost.BalanceAfter {
		t.Fatalf("balance %d after staking and withdrawing, %d before, want %d (fees %d): %v", after.Account.Balance, before.Account.Balance, cost.BalanceAfter, cost.Fee, err)
	}
	if list, err := l.StakesOf(ctx, l.Address()); err != nil || len(list.Stakes) != 0 {
		t.Fatalf("stakes after the withdrawal: %+v, %v", list, err)
	}
}
