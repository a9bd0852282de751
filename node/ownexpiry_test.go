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
