package testnet

import (
	"context"
	"errors"
)

// errNoNode is returned by the default StartFunc until node.Node can be wired here.
// TODO(node): replace with node.LoadConfig(nf.ConfigFile) + node.New(ctx, cfg,
// node.WithConnectionGater(gater)) + Start once node/node.go lands.
var errNoNode = errors.New("testnet: node.Node is not available yet; pass WithStartFunc")

// startNode is the default StartFunc: a real node.Node from the generated config.
func startNode(ctx context.Context, nf *NodeFiles, gater *Gater) (Instance, error) {
	return nil, errNoNode
}
