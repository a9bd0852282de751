package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestOwnTxsExpire: the transactions a node signs itself (sync done, invalidate blob) carry
// an expiry height — the latest height plus the client's margin — so one refused or lost
// can never execute later; such a transaction still commits.
func TestOwnTxsExpire(t *testing.T) {
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := c.Unwrap(0)
	var to staking.Address
	to[0] = 0x5e
	before := n.Ledger().Height()
	raw, err := node.SubmitOwn(n, ctx, &staking.Transfer{To: to, Amount: 3})
	if err != nil {
		t.Fatal(err)
	}
	stx, err := staking.DecodeSignedTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	if e := stx.Tx.Expiry; e < before+64 || e > n.Ledger().Height()+64 {
		t.Fatalf("own transaction expiry %d, want the height at signing (%d…%d) + 64", e, before, n.Ledger().Height())
	}
	for n.Ledger().Account(to).Balance != 3 {
		if ctx.Err() != nil {
			t.Fatal("the node's own transaction did not commit")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestOwnTxRetryOffersTheSameTx: retrying an operation whose transaction is still in the
// mempool offers that transaction again (the mempool publishes it again) instead of signing
// a second one whose nonce would wait behind it; a different operation gets the next nonce;
// once the first is applied, the same operation is signed anew.
func TestOwnTxRetryOffersTheSameTx(t *testing.T) {
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	n := c.Unwrap(0)
	var to staking.Address
	to[0] = 0x5f
	op := &staking.Transfer{To: to, Amount: 5}
	// Alone, node 0 cannot commit: its transactions stay pending.
	c.Partition([]int{0})
	first, err := node.SubmitOwn(n, ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	again, err := node.SubmitOwn(n, ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(first) {
		t.Fatal("a retry signed a new transaction while the first was pending")
	}
	other, err := node.SubmitOwn(n, ctx, &staking.Transfer{To: to, Amount: 7})
	if err != nil {
		t.Fatal(err)
	}
	f, o := decodeOwn(t, first), decodeOwn(t, other)
	if o.Tx.Nonce != f.Tx.Nonce+1 {
		t.Fatalf("another operation got nonce %d after %d", o.Tx.Nonce, f.Tx.Nonce)
	}
	c.Heal()
	for n.Ledger().Account(to).Balance != 12 {
		if ctx.Err() != nil {
			t.Fatalf("balance %d, want 12: the transfers did not both commit once", n.Ledger().Account(to).Balance)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Applied: the same operation again is a new transaction.
	later, err := node.SubmitOwn(n, ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	if l := decodeOwn(t, later); l.Tx.Nonce != o.Tx.Nonce+1 {
		t.Fatalf("after commit, nonce %d, want %d", l.Tx.Nonce, o.Tx.Nonce+1)
	}
}

func decodeOwn(t *testing.T, raw []byte) *staking.SignedTx {
	t.Helper()
	stx, err := staking.DecodeSignedTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	return stx
}
