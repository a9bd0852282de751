package client_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// Proven refusals (node/client/ledger.go wait, nonceproof.go provenFate): with a genesis a
// node's dry-run refusal of a pending transaction is only a hint. The client believes it,
// and RegisterBlob buys storage again, only once the transaction is proven dead: the
// proven account's nonce has not reached it at a verified height at or past its expiry.

// expiryOf is a signed transaction's expiry height.
func expiryOf(t *testing.T, raw []byte) uint64 {
	t.Helper()
	stx, err := staking.DecodeSignedTx(raw)
	if err != nil {
		t.Fatal(err)
	}
	return stx.Tx.Expiry
}

// encodeFor encodes a small blob for a's network.
func encodeFor(t *testing.T, a *lcNet, seed uint64) *codec.EncodedBlob {
	t.Helper()
	p, err := codec.NewParams(a.genesis.NShards)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := codec.Encode(p, randomBlob(500, seed))
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

// TestLyingProbeRefusals: the node a wallet's transactions go to accepts the reservation
// and the registration, then says "not found" to every receipt query and refuses every
// probe of them (wrong epoch, invalid argument, expired, insufficient, tx-expired) while
// the network commits them a little later. The verifying client never signs a second
// reservation nor reports a refusal: it returns the registration the honest node proves.
// When the network never commits them (and their expiry is not reached), it times out,
// never reporting the refusal as the ledger's.
func TestLyingProbeRefusals(t *testing.T) {
	codes := []staking.Code{staking.CodeWrongEpoch, staking.CodeInvalidArgument, staking.CodeExpired,
		staking.CodeInsufficient, staking.CodeTxExpired}
	for _, code := range codes {
		for _, commit := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s/commit=%v", code, commit), func(t *testing.T) {
				a := newLCNet(t, "probe-lies", 1<<50)
				a.commit(0)
				honest := serve(t, a.l)
				ctx := lcCtx(t)
				start := a.l.View().State().Account(a.faucetAddr()).Nonce
				var once sync.Once
				var rel *nonceRelay
				rel = newNonceRelay(t, honest, &nonceRelay{
					onNew: func(raw []byte, n int) *tx.Reply {
						if commit && n == 1 {
							// The network commits both a while later (the relay holds its lock
							// while it answers: commit from a copy).
							sent := [][]byte{rel.sent[0], raw}
							go once.Do(func() {
								time.Sleep(1500 * time.Millisecond)
								a.commit(0, sent...)
							})
						}
						return accepted(raw, a.l.Height())
					},
					onAgain: func(raw []byte) *tx.Reply {
						return &tx.Reply{Hash: ledger.TxHash(raw), Code: code, Message: "a lie"}
					},
					lie: func(_ context.Context, q *query.Query, _ []byte) ([]byte, error, bool) {
						if q.Kind == query.QueryProvenWaitTx || q.Kind == query.QueryWaitTx {
							return nil, errNotFound, true
						}
						return nil, nil, false
					},
				})
				timeout := 20 * time.Second
				if !commit {
					timeout = 6 * time.Second
				}
				c, _ := walletClient(t, a, timeout, rel.h, honest)
				enc := encodeFor(t, a, 1)
				reg, certified, err := c.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 2})
				if n := rel.distinct(); n != 2 {
					t.Fatalf("%d transactions signed (%v)", n, err)
				}
				if e := expiryOf(t, rel.sent[0]); e == 0 || e != expiryOf(t, rel.sent[1]) {
					t.Fatalf("expiries %d and %d", e, expiryOf(t, rel.sent[1]))
				}
				var te *client.TxError
				if errors.As(err, &te) {
					t.Fatalf("a refusal reported: %v", err)
				}
				st := a.l.View().State()
				if !commit {
					if !errors.Is(err, client.ErrReceiptTimeout) || st.Account(a.faucetAddr()).Nonce != start {
						t.Fatalf("not committed: %v; nonce %d -> %d", err, start, st.Account(a.faucetAddr()).Nonce)
					}
					t.Log(err)
					return
				}
				if err != nil || certified {
					t.Fatalf("register: %v (certified %v)", err, certified)
				}
				if st.Account(a.faucetAddr()).Nonce != start+2 || reg.Object != staking.DeriveObjectID(a.faucetAddr(), nonceOf(rel.sent[1]), 0) {
					t.Fatalf("nonce %d -> %d; object %x", start, st.Account(a.faucetAddr()).Nonce, reg.Object[:8])
				}
				bs, err := c.BlobStatus(ctx, enc.BlobID)
				if err != nil || bs.Status.Kind != staking.StatusRegistered || len(bs.Objects) != 1 {
					t.Fatalf("status %+v, %v", bs, err)
				}
			})
		}
	}
}

// TestRegisterRetriesProvenExpired: the registration's transactions are accepted by the
// wallet's node and then dropped (never committed) while the ledger moves past their
// expiry height, and the node refuses them when probed. The client proves them dead (its
// nonce not reached at a verified height past the expiry), reports nothing, and
// RegisterBlob buys once more — with the same nonce, since the first never executed —
// and succeeds.
func TestRegisterRetriesProvenExpired(t *testing.T) {
	a := newLCNet(t, "probe-expired", 1<<50)
	a.commit(0)
	honest := serve(t, a.l)
	ctx := lcCtx(t)
	start := a.l.View().State().Account(a.faucetAddr()).Nonce
	rel := newNonceRelay(t, honest, &nonceRelay{
		onNew: func(raw []byte, n int) *tx.Reply {
			h := a.l.Height()
			switch {
			case n == 1:
				// Dropped: the ledger moves past their expiry without them.
				for e := expiryOf(t, raw); a.l.Height() < e; {
					a.commit(0)
				}
			case n >= 2:
				a.commit(0, raw)
			}
			return accepted(raw, h)
		},
		onAgain: func(raw []byte) *tx.Reply {
			return &tx.Reply{Hash: ledger.TxHash(raw), Code: staking.CodeTxExpired, Message: "expired"}
		},
	})
	c, _ := walletClient(t, a, 30*time.Second, rel.h, honest)
	enc := encodeFor(t, a, 2)
	t0 := time.Now()
	reg, _, err := c.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if n := rel.distinct(); n != 4 {
		t.Fatalf("%d transactions signed", n)
	}
	if nonceOf(rel.sent[2]) != nonceOf(rel.sent[0]) {
		t.Errorf("bought again with nonce %d, the dead reservation had %d", nonceOf(rel.sent[2]), nonceOf(rel.sent[0]))
	}
	st := a.l.View().State()
	if st.Account(a.faucetAddr()).Nonce != start+2 || reg.Object != staking.DeriveObjectID(a.faucetAddr(), nonceOf(rel.sent[3]), 0) {
		t.Fatalf("nonce %d -> %d; object %x", start, st.Account(a.faucetAddr()).Nonce, reg.Object[:8])
	}
	t.Logf("registered after a proven expiry in %v", time.Since(t0))
}

// TestRegisterAgainOnBoughtStorage: the reservation commits, the registration is accepted
// and dropped while the ledger moves past its expiry. Proven dead, the registration is
// signed again on the storage already bought: one reservation, no second purchase.
func TestRegisterAgainOnBoughtStorage(t *testing.T) {
	a := newLCNet(t, "probe-expired-reg", 1<<50)
	a.commit(0)
	honest := serve(t, a.l)
	ctx := lcCtx(t)
	start := a.l.View().State().Account(a.faucetAddr()).Nonce
	rel := newNonceRelay(t, honest, &nonceRelay{
		onNew: func(raw []byte, n int) *tx.Reply {
			h := a.l.Height()
			switch n {
			case 1:
				for e := expiryOf(t, raw); a.l.Height() < e; {
					a.commit(0)
				}
			default:
				a.commit(0, raw)
			}
			return accepted(raw, h)
		},
		onAgain: func(raw []byte) *tx.Reply {
			return &tx.Reply{Hash: ledger.TxHash(raw), Code: staking.CodeWrongEpoch, Message: "dropped"}
		},
	})
	c, _ := walletClient(t, a, 30*time.Second, rel.h, honest)
	enc := encodeFor(t, a, 3)
	reg, _, err := c.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if n := rel.distinct(); n != 3 {
		t.Fatalf("%d transactions signed", n)
	}
	stx, err := staking.DecodeSignedTx(rel.sent[2])
	if err != nil {
		t.Fatal(err)
	}
	rb, ok := stx.Tx.Op.(*staking.RegisterBlob)
	if !ok || rb.Storage != staking.DeriveObjectID(a.faucetAddr(), nonceOf(rel.sent[0]), 0) {
		t.Fatalf("third transaction %T, not a registration on the first reservation", stx.Tx.Op)
	}
	st := a.l.View().State()
	if st.Account(a.faucetAddr()).Nonce != start+2 || reg.Object != staking.DeriveObjectID(a.faucetAddr(), stx.Tx.Nonce, 0) {
		t.Fatalf("nonce %d -> %d; object %x", start, st.Account(a.faucetAddr()).Nonce, reg.Object[:8])
	}
}
