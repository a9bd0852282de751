package node

import (
	"context"

	"github.com/walrus-go/walrus-go/staking"
)

// SubmitOwn signs op with n's account and submits it like the node's own transactions
// (sync done, invalidate blob).
func SubmitOwn(n *Node, ctx context.Context, op staking.Op) ([]byte, error) {
	return n.submitOwn(ctx, op)
}
