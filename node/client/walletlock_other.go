//go:build !unix

package client

import (
	"context"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/staking"
)

// walletLock is not available here: processes sharing a wallet rely on re-signing alone.
type walletLock struct{}

func openWalletLock(epoch.NetworkID, staking.Address) *walletLock { return nil }

func (w *walletLock) lock(context.Context) error { return nil }
func (w *walletLock) nonce() uint64              { return 0 }
func (w *walletLock) setNonce(uint64)            {}
func (w *walletLock) unlock()                    {}
func (w *walletLock) close()                     {}
