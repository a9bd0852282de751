package consensus

import (
	"context"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// ValidateTxWith runs n's `txs` validator on data (from another peer) with verifyBLS as
// the BLS check.
func (n *Net) ValidateTxWith(ctx context.Context, data []byte, verifyBLS func(context.Context, *staking.State, *staking.SignedTx) error) p2p.Verdict {
	return n.validateTx(ctx, p2p.Message{Data: data}, verifyBLS)
}
