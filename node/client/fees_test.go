package client_test

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestTxFeeIsTheLedgerFee: TxFee of an operation is the ledger's required fee of the
// transaction the wallet signs with it, whatever the nonce (staking.RequiredFee of the
// signed size), for every kind with a size of its own; a certificate's fee grows with the
// committee's bitmap.
func TestTxFeeIsTheLedgerFee(t *testing.T) {
	f := testnet.DefaultFees
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	var net epoch.NetworkID
	net[0] = 9
	ops := []staking.Op{
		&staking.Transfer{Amount: 5},
		&staking.StakeOp{Amount: 7},
		&staking.ReserveStorage{Size: 1 << 20, Start: 1, End: 3},
		&staking.RegisterBlob{Length: 100, Encoding: 1},
		&staking.DeleteBlob{},
		&staking.ExtendBlob{End: 9},
		&staking.RequestWithdraw{},
		&staking.Withdraw{},
		&staking.UpdateNode{Info: staking.NodeInfo{PeerID: "peer", Addrs: []string{"/ip4/1.2.3.4/tcp/1"}}},
		client.CertifyOp(4),
		client.CertifyOp(100),
	}
	for _, op := range ops {
		for _, nonce := range []uint64{0, 1 << 40} {
			stx := staking.Sign(net, key, staking.Tx{Nonce: nonce, Op: op})
			want, ok := staking.RequiredFee(f, &stx.Tx, len(stx.Encode()))
			got, err := client.TxFee(f, op)
			if !ok || err != nil || got != want || got == 0 {
				t.Errorf("%s: TxFee %d (%v), the ledger requires %d", op.Kind(), got, err, want)
			}
		}
	}
	small, _ := client.TxFee(f, client.CertifyOp(4))
	big, _ := client.TxFee(f, client.CertifyOp(100))
	if big-small != f.PerByte*(100/8+1-1) || small < f.PerVerify {
		t.Errorf("certificate fees %d (4 members), %d (100 members)", small, big)
	}
	if z, _ := client.TxFee(staking.Fees{}, &staking.Transfer{}); z != 0 {
		t.Errorf("fee %d under a zero schedule", z)
	}
}

// TestPlanCost: fees plus amounts against the balance; a shortfall is named, returned
// FROST counts only after.
func TestPlanCost(t *testing.T) {
	in := &query.Info{Epoch: 3, NShards: 10, Prices: testnet.DefaultPrices}
	fee, _ := client.TxFee(in.Prices.Fees, &staking.Transfer{})
	c, err := client.PlanCost(in, 1_000_000, client.PlannedTx{Op: &staking.Transfer{Amount: 500}})
	if err != nil || c.Fee != fee || c.Amount != 500 || c.Total != 500+fee || c.BalanceAfter != 1_000_000-500-fee || c.Check("transfer") != nil {
		t.Fatalf("transfer: %+v %v", c, err)
	}
	c, err = client.PlanCost(in, 0, client.PlannedTx{Op: &staking.Transfer{Amount: 500}})
	if err != nil || c.Shortfall != 500+fee {
		t.Fatalf("fresh account: %+v %v", c, err)
	}
	if err := c.Check("the transfer"); !errors.Is(err, client.ErrInsufficientBalance) || !strings.Contains(err.Error(), "short") ||
		!strings.Contains(err.Error(), client.FormatWAL(500+fee)) {
		t.Fatalf("fresh account: %v", err)
	}
	// A withdrawal: the fee must be covered before the stake comes back.
	wfee, _ := client.TxFee(in.Prices.Fees, &staking.Withdraw{})
	c, _ = client.PlanCost(in, wfee, client.PlannedTx{Op: &staking.Withdraw{}, Returned: 10})
	if c.Shortfall != 0 || c.BalanceAfter != 10 {
		t.Fatalf("withdraw: %+v", c)
	}
	// A store's three transactions: storage and write fee as StorageCost, plus three fees.
	p, _ := codec.NewParams(in.NShards)
	enc, _ := p.EncodedLength(1 << 20)
	plan := client.StorePlan(in, 1<<20, enc, 2)
	c, err = client.PlanCost(in, 1<<40, plan...)
	cost, _ := staking.StorageCost(in.Prices, enc, 2)
	if err != nil || c.Transactions != 3 || c.Amount != cost || cost == 0 {
		t.Fatalf("store: %+v, storage %d", c, cost)
	}
	// Registering a node holds the deposit.
	c, _ = client.PlanCost(in, 1<<50, client.PlannedTx{Op: &staking.RegisterNode{}})
	if c.Amount != in.Prices.Fees.Deposit {
		t.Fatalf("register node: %+v", c)
	}
}
