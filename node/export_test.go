package node

import (
	"context"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// ValidateCertWith runs n's `certs` validator on data with verifyBLS as the BLS check.
func ValidateCertWith(n *Node, ctx context.Context, data []byte, verifyBLS func(context.Context, *staking.State, *staking.SignedTx) error) p2p.Verdict {
	return n.validateCertWith(ctx, p2p.Message{Data: data}, verifyBLS)
}
