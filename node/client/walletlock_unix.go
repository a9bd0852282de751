//go:build unix

package client

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/staking"
)

// walletLock is an advisory lock (flock) shared by every process of this user on this
// machine that signs for one wallet on one network: a file in the temporary directory
// named after both. It also holds the next nonce the last holder left (8 bytes, little
// endian), so the next one signs with it directly. Holding it while a transaction is signed and submitted gives each process a
// distinct nonce without a round of refusals, and above all it keeps two processes from
// signing byte-identical transactions (the same reservation at the same nonce), which a
// node accepts once and reports accepted to both (nonce.go).
type walletLock struct{ f *os.File }

// openWalletLock opens (creating) the wallet's lock file; nil if it cannot, and the
// client then relies on re-signing alone.
func openWalletLock(network epoch.NetworkID, addr staking.Address) *walletLock {
	h := blake2b.Sum256(append(append([]byte("walrus-go/wallet-lock"), network[:]...), addr[:]...))
	path := filepath.Join(os.TempDir(), "walrus-wallet-"+hex.EncodeToString(h[:12])+".lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil
	}
	return &walletLock{f: f}
}

// lock takes the lock, polling so that ctx can end the wait.
func (w *walletLock) lock(ctx context.Context) error {
	delay := 200 * time.Microsecond
	for {
		err := syscall.Flock(int(w.f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return nil
		}
		if err != syscall.EWOULDBLOCK && err != syscall.EINTR {
			return err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 5*time.Millisecond)
	}
}

// nonce is the next nonce the last holder recorded (0 if none). Call with the lock held.
func (w *walletLock) nonce() uint64 {
	var b [8]byte
	if n, err := w.f.ReadAt(b[:], 0); n != 8 || err != nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b[:])
}

// setNonce records the next nonce. Call with the lock held.
func (w *walletLock) setNonce(n uint64) {
	_, _ = w.f.WriteAt(binary.LittleEndian.AppendUint64(nil, n), 0)
}

func (w *walletLock) unlock() { _ = syscall.Flock(int(w.f.Fd()), syscall.LOCK_UN) }

func (w *walletLock) close() { _ = w.f.Close() }
