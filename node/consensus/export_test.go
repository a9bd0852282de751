package consensus

import (
	"context"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// ValidateTxWith runs n's `txs` validator on the transaction raw (from another peer, with
// a sequence prefix) with verifyBLS as the BLS check.
func (n *Net) ValidateTxWith(ctx context.Context, raw []byte, verifyBLS func(context.Context, *staking.State, *staking.SignedTx) error) p2p.Verdict {
	return n.validateTx(ctx, p2p.Message{Data: EncodeTxWire(1, raw)}, verifyBLS)
}
