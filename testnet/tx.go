package testnet

import (
	"context"
	"crypto/ed25519"

	"github.com/walrus-go/walrus-go/internal/keyfile"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/staking"
)

// Submit signs op with key (with the account's next nonce in the ledger of node via),
// submits it to that node and waits until the ledger commits it. It fails the test if the
// node refuses the transaction or the wait times out, and returns the receipt, which may
// still report a rejection (a committed transaction that changed nothing, docs/architecture.md §4).
// Transactions are the way to make a quiet ledger commit new heights on demand.
func (c *Cluster) Submit(via int, key ed25519.PrivateKey, op staking.Op) ledger.TxReceipt {
	c.t.Helper()
	n := c.Unwrap(via)
	if n == nil {
		c.t.Fatalf("testnet: Submit via node %d: not a running node.Node", via)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	acc := n.Ledger().Account(staking.AddressOf(key.Public().(ed25519.PublicKey)))
	tx := staking.Sign(c.Layout.Genesis.NetworkID(), key, staking.Tx{Nonce: acc.Nonce, Op: op})
	reply, err := n.Consensus().SubmitTx(ctx, tx.Encode())
	if err != nil {
		c.t.Fatalf("testnet: Submit: %v", err)
	}
	if !reply.Accepted {
		c.t.Fatalf("testnet: Submit: node %d refused the transaction: %v %s", via, reply.Code, reply.Message)
	}
	rc, err := n.Ledger().WaitTx(ctx, reply.Hash)
	if err != nil {
		c.t.Fatalf("testnet: Submit: waiting for commit: %v", err)
	}
	return rc
}

// Wallet returns the funded client wallet's key (wallet.key).
func (c *Cluster) Wallet() ed25519.PrivateKey {
	c.t.Helper()
	k, err := keyfile.ReadAccountKey(c.Layout.WalletKeyFile)
	if err != nil {
		c.t.Fatal(err)
	}
	return k
}

// Faucet returns the faucet account's key (faucet.key).
func (c *Cluster) Faucet() ed25519.PrivateKey {
	c.t.Helper()
	k, err := keyfile.ReadAccountKey(c.Layout.FaucetKeyFile)
	if err != nil {
		c.t.Fatal(err)
	}
	return k
}
