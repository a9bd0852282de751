package client

import (
	"context"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/p2p/protocol/query"
)

// Hooks for the external tests of the transaction path's ledger questions.

// SetPreferred makes p the node the wallet's next transaction and its questions go to first.
func (l *Ledger) SetPreferred(p peer.ID) {
	l.mu.Lock()
	l.preferred = p
	l.mu.Unlock()
}

// WalletAccount is the wallet's account as the transaction path reads it (accountLocked).
func (l *Ledger) WalletAccount(ctx context.Context) (*query.AccountAnswer, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.accountLocked(ctx)
}

// TxBasisHeight is the verified height of the nonce basis the next transaction is signed
// with (txBasisLocked), forgetting any earlier basis first.
func (l *Ledger) TxBasisHeight(ctx context.Context) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.nb.mu.Lock()
	l.nb.ok = false
	l.nb.mu.Unlock()
	return l.txBasisLocked(ctx).height
}

// TxNodeInfo is the network information registrations are built from (txNodeInfo).
func (l *Ledger) TxNodeInfo(ctx context.Context) (*query.Info, error) { return l.txNodeInfo(ctx) }
