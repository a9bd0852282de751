package client_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// Refused on its nonce (node/client/ledger.go sendLocked, nonceproof.go settleLocked):
// with a genesis a node's bad-nonce refusal of a submission is a hint. The bytes are
// pending, accepted nowhere, and the operation is signed again only once they are proven
// never to execute: lost to another writer (a fresh nonce) or dead at their expiry (the
// same nonce).

// behind is a node's "behind" refusal of raw: it says the wallet's next nonce is before it.
func behind(raw []byte) *tx.Reply {
	k := nonceOf(raw)
	return &tx.Reply{Hash: ledger.TxHash(raw), Code: staking.CodeBadNonce, Message: fmt.Sprintf("nonce %d, want %d", k, k-1)}
}

// TestLyingSubmitRefusals: the node a wallet's transactions go to refuses every
// submission on its nonce ("taken" or "behind") while keeping the bytes, and commits
// every one it kept a little later. The verifying client signs the operation once and
// the transfer executes once; when the first bytes are dropped past their expiry, it
// signs again with the same nonce (the first can never execute), and when none is ever
// committed it times out having signed once.
func TestLyingSubmitRefusals(t *testing.T) {
	type setup struct {
		refuse  func(raw []byte) *tx.Reply
		dropped bool // the first bytes are dropped and the ledger moves past their expiry
		commit  bool // the node commits the bytes it kept (those not dropped) a second later
		signed  int  // distinct transactions signed
	}
	cases := map[string]setup{
		"taken, committed later":                 {refuse: taken, commit: true, signed: 1},
		"behind, committed later":                {refuse: behind, commit: true, signed: 1},
		"taken, dropped, the second committed":   {refuse: taken, dropped: true, commit: true, signed: 2},
		"behind, dropped, the second committed":  {refuse: behind, dropped: true, commit: true, signed: 2},
		"taken, never committed (times out)":     {refuse: taken, signed: 1},
		"behind, never committed (times out)":    {refuse: behind, signed: 1},
		"taken, dropped, never committed (same)": {refuse: taken, dropped: true, signed: -1},
	}
	for name, cs := range cases {
		t.Run(name, func(t *testing.T) {
			a := newLCNet(t, "submit-lies", 1<<50)
			a.commit(0)
			a.otherWriter(staking.Address{0x66}) // the wallet's nonce is 1: "behind" says 0
			honest := serve(t, a.l)
			ctx := lcCtx(t)
			to := staking.Address{0x55}
			start := a.l.View().State().Account(a.faucetAddr()).Nonce
			var mu sync.Mutex // serialises the relay's commits
			var wg sync.WaitGroup
			t.Cleanup(wg.Wait)
			rel := newNonceRelay(t, honest, &nonceRelay{
				onNew: func(raw []byte, n int) *tx.Reply {
					if cs.dropped && n == 0 {
						mu.Lock()
						for e := expiryOf(t, raw); a.l.Height() < e; {
							a.commit(0)
						}
						mu.Unlock()
					} else if cs.commit {
						wg.Add(1)
						go func() {
							defer wg.Done()
							time.Sleep(time.Second)
							mu.Lock()
							defer mu.Unlock()
							a.commit(0, raw)
						}()
					}
					return cs.refuse(raw)
				},
				onAgain: cs.refuse,
			})
			timeout := 20 * time.Second
			if !cs.commit {
				timeout = 4 * time.Second
			}
			c, _ := walletClient(t, a, timeout, rel.h, honest)
			rc, err := c.Transfer(ctx, to, 5)
			st := a.l.View().State()
			bal := st.Account(to).Balance
			n := rel.distinct()
			for i := 1; i < n; i++ {
				if nonceOf(rel.sent[i]) != nonceOf(rel.sent[0]) {
					t.Fatalf("transaction %d signed with nonce %d, the first with %d", i, nonceOf(rel.sent[i]), nonceOf(rel.sent[0]))
				}
			}
			if cs.signed >= 0 && n != cs.signed {
				t.Fatalf("%d transactions signed, want %d (%v)", n, cs.signed, err)
			}
			if !cs.commit {
				if !errors.Is(err, client.ErrReceiptTimeout) || bal != 0 || st.Account(a.faucetAddr()).Nonce != start {
					t.Fatalf("not committed: %v; balance %d", err, bal)
				}
				t.Log(err)
				return
			}
			if err != nil || !rc.OK() || bal != 5 || st.Account(a.faucetAddr()).Nonce != start+1 {
				t.Fatalf("receipt %+v, %v; balance %d; nonce %d -> %d", rc, err, bal, start, st.Account(a.faucetAddr()).Nonce)
			}
		})
	}
}

// TestLyingSubmitRefusalsRegister: the node refuses the reservation and the registration
// on their nonce, keeps them and commits each a second later: the verifying client signs
// each once, and one reservation and one registration execute.
func TestLyingSubmitRefusalsRegister(t *testing.T) {
	a := newLCNet(t, "submit-lies-reg", 1<<50)
	a.commit(0)
	honest := serve(t, a.l)
	ctx := lcCtx(t)
	start := a.l.View().State().Account(a.faucetAddr()).Nonce
	var mu sync.Mutex
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	rel := newNonceRelay(t, honest, &nonceRelay{
		onNew: func(raw []byte, n int) *tx.Reply {
			wg.Add(1)
			go func() {
				defer wg.Done()
				time.Sleep(time.Second)
				mu.Lock()
				defer mu.Unlock()
				a.commit(0, raw)
			}()
			return taken(raw)
		},
		onAgain: taken,
	})
	c, _ := walletClient(t, a, 20*time.Second, rel.h, honest)
	enc := encodeFor(t, a, 4)
	reg, certified, err := c.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 2})
	if err != nil || certified {
		t.Fatalf("register: %v (certified %v)", err, certified)
	}
	if n := rel.distinct(); n != 2 {
		t.Fatalf("%d transactions signed", n)
	}
	st := a.l.View().State()
	if st.Account(a.faucetAddr()).Nonce != start+2 || reg.Object != staking.DeriveObjectID(a.faucetAddr(), nonceOf(rel.sent[1]), 0) {
		t.Fatalf("nonce %d -> %d; object %x", start, st.Account(a.faucetAddr()).Nonce, reg.Object[:8])
	}
	bs, err := c.BlobStatus(ctx, enc.BlobID)
	if err != nil || bs.Status.Kind != staking.StatusRegistered || len(bs.Objects) != 1 {
		t.Fatalf("status %+v, %v", bs, err)
	}
}
