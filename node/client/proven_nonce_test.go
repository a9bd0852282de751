package client_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// Proven nonce recovery (node/client/nonceproof.go): the verifying client signs an
// operation again only when it proved that its transaction lost its nonce — the proven
// account's nonce past it, and the proven receipts of every height since the client's own
// basis without it.

// nonceRelay is the node a wallet's transactions go to (the test's only node that takes
// transactions). It answers queries through honest, or as lie says (handled true), and
// decides what happens to each transaction: onNew for each distinct one (n counts them
// from 0), onAgain for a submission of bytes it has seen (the client's probe).
type nonceRelay struct {
	h       host.Host
	mu      sync.Mutex
	seen    map[[32]byte]bool
	sent    [][]byte
	onNew   func(raw []byte, n int) *tx.Reply
	onAgain func(raw []byte) *tx.Reply
	lie     func(ctx context.Context, q *query.Query, req []byte) ([]byte, error, bool)
}

func (r *nonceRelay) distinct() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

func newNonceRelay(t *testing.T, honest host.Host, r *nonceRelay) *nonceRelay {
	t.Helper()
	r.h, r.seen = newLCHost(t), map[[32]byte]bool{}
	r.h.Peerstore().AddAddrs(honest.ID(), honest.Addrs(), peerstore.PermanentAddrTTL)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	err := p2p.Handle(r.h, query.Spec, func(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
		q, err := query.Decode(req)
		if err != nil {
			return nil, err
		}
		if r.lie != nil {
			if b, err, handled := r.lie(ctx, q, req); handled {
				return b, err
			}
		}
		return p2p.Call(ctx, r.h, honest.ID(), query.Spec, req)
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	err = p2p.Handle(r.h, tx.Spec, func(_ context.Context, _ peer.ID, raw []byte) ([]byte, error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		h := ledger.TxHash(raw)
		if r.seen[h] {
			return r.onAgain(raw).Encode(), nil
		}
		r.seen[h] = true
		r.sent = append(r.sent, raw)
		return r.onNew(raw, len(r.sent)-1).Encode(), nil
	}, logger)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// walletClient is a verifying client with the faucet's key over nodes.
func walletClient(t *testing.T, a *lcNet, timeout time.Duration, nodes ...host.Host) (*client.Ledger, *rejections) {
	t.Helper()
	var boot []peer.AddrInfo
	for _, n := range nodes {
		boot = append(boot, peer.AddrInfo{ID: n.ID(), Addrs: n.Addrs()})
	}
	rj := &rejections{m: map[peer.ID]error{}}
	l, err := client.NewLedger(client.LedgerConfig{Host: newLCHost(t), Network: a.genesis.NetworkID(), Bootstrap: boot,
		Genesis: a.genesis, Key: a.faucet, NoWalletLock: true, ReceiptTimeout: timeout, OnReject: rj.add,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return l, rj
}

func (n *lcNet) faucetAddr() staking.Address {
	return staking.AddressOf(n.faucet.Public().(ed25519.PublicKey))
}

// otherWriter commits another transaction of the faucet's wallet with its next nonce (a
// writer that reached another node first) and returns its bytes.
func (n *lcNet) otherWriter(to staking.Address) []byte {
	n.nonce = n.l.View().State().Account(n.faucetAddr()).Nonce
	o, _ := n.sign(&staking.Transfer{To: to, Amount: 7})
	n.commit(0, o)
	return o
}

func nonceOf(raw []byte) uint64 {
	stx, err := staking.DecodeSignedTx(raw)
	if err != nil {
		return 0
	}
	return stx.Tx.Nonce
}

// taken is a node's "nonce taken" refusal of raw: the wallet's next nonce is past it.
func taken(raw []byte) *tx.Reply {
	k := nonceOf(raw)
	return &tx.Reply{Hash: ledger.TxHash(raw), Code: staking.CodeBadNonce, Message: fmt.Sprintf("nonce %d, want %d", k, k+1)}
}

func accepted(raw []byte, height uint64) *tx.Reply {
	return &tx.Reply{Accepted: true, Hash: ledger.TxHash(raw), Height: height}
}

// TestProvenNonceLossResigns: two writers of one wallet race for one nonce and the other
// wins: the verifying client proves its transaction lost (the proven account's nonce past
// it, no receipt of it in the proven receipts since its basis), signs the operation again
// with the next nonce, and the transfer executes once.
func TestProvenNonceLossResigns(t *testing.T) {
	a := newLCNet(t, "nonce-loss", 1<<50)
	a.commit(0)
	honest := serve(t, a.l)
	ctx := lcCtx(t)
	to, other := staking.Address{0x55}, staking.Address{0x66}
	r := newNonceRelay(t, honest, &nonceRelay{
		onNew: func(raw []byte, n int) *tx.Reply {
			before := a.l.Height()
			if n == 0 {
				a.otherWriter(other) // our first transaction's nonce goes to another writer
			} else {
				a.commit(0, raw)
			}
			return accepted(raw, before)
		},
		onAgain: taken,
	})
	c, _ := walletClient(t, a, 30*time.Second, r.h, honest)
	rc, err := c.Transfer(ctx, to, 5)
	if err != nil || !rc.OK() {
		t.Fatalf("receipt %+v, %v", rc, err)
	}
	st := a.l.View().State()
	if r.distinct() != 2 || st.Account(to).Balance != 5 || st.Account(other).Balance != 7 {
		t.Fatalf("%d transactions signed; balances %d and %d", r.distinct(), st.Account(to).Balance, st.Account(other).Balance)
	}
	if n := nonceOf(r.sent[1]); n != nonceOf(r.sent[0])+1 {
		t.Fatalf("signed again with nonce %d", n)
	}
}

// forgedState is the state after the checkpoint of height h-1 with another checkpoint of
// height h in place of the real one, in which another transaction of the wallet took the
// nonce; with the real certificate of height h, which does not certify it.
func forgedState(t *testing.T, a *lcNet, h uint64) (*staking.State, query.Certified) {
	t.Helper()
	prev, ok := a.l.ViewAt(h - 1)
	real, ok2 := a.l.ViewAt(h)
	if !ok || !ok2 {
		t.Errorf("heights %d, %d not kept", h-1, h)
		return nil, query.Certified{}
	}
	fs := prev.State().Clone()
	raw := staking.Sign(a.genesis.NetworkID(), a.faucet, staking.Tx{Nonce: fs.Account(a.faucetAddr()).Nonce,
		Op: &staking.Transfer{To: staking.Address{0x99}, Amount: 1}}).Encode()
	cp, _, err := fs.BuildCheckpoint(real.State().Time(), [][]byte{raw})
	if err == nil {
		_, err = fs.ApplyCheckpoint(cp)
	}
	if err != nil {
		t.Error(err)
		return nil, query.Certified{}
	}
	d := real.Commit()
	return fs, query.Certified{Checkpoint: cp.Encode(), Round: d.Commit.Round, Cert: d.Commit.Cert}
}

var errNotFound = p2p.Errorf(p2p.CodeNotFound, "transaction not committed yet")

// TestLyingNonceLoss: a node that says a pending transaction lost its nonce — with a fake
// account nonce and a fake "not found" (the unproven kinds the old recovery read), a
// proven account or receipts against an uncertified root, a receipt hidden from a page,
// or a lie about the height the receipt must come after — never makes the verifying
// client sign the operation again: the operation executes at most once, the client
// reports the receipt the honest node proves or times out, and the liar is named.
func TestLyingNonceLoss(t *testing.T) {
	to := staking.Address{0x55}
	type setup struct {
		commit bool   // the relay commits our transaction at once (else never)
		height uint64 // the relay's claimed height in its acceptance (0: the true one)
		lie    func(t *testing.T, a *lcNet, rel *nonceRelay) func(ctx context.Context, q *query.Query, req []byte) ([]byte, error, bool)
		named  bool // the liar must be named
	}
	notFound := func(q *query.Query) bool {
		return q.Kind == query.QueryProvenWaitTx || q.Kind == query.QueryWaitTx
	}
	cases := map[string]setup{
		"fake nonce and not found (unproven kinds)": {commit: true, lie: func(t *testing.T, a *lcNet, rel *nonceRelay) func(context.Context, *query.Query, []byte) ([]byte, error, bool) {
			return func(_ context.Context, q *query.Query, _ []byte) ([]byte, error, bool) {
				switch {
				case notFound(q):
					return nil, errNotFound, true
				case q.Kind == query.QueryAccount:
					return query.EncodeAccountAnswer(&query.AccountAnswer{Height: 1 << 40, Account: staking.Account{Nonce: 1 << 40}}), nil, true
				}
				return nil, nil, false
			}
		}},
		"receipt hidden from a page": {commit: true, named: true, lie: func(t *testing.T, a *lcNet, rel *nonceRelay) func(context.Context, *query.Query, []byte) ([]byte, error, bool) {
			return func(ctx context.Context, q *query.Query, req []byte) ([]byte, error, bool) {
				switch {
				case notFound(q):
					return nil, errNotFound, true
				case q.Kind == query.QueryProvenReceipts:
					v, ok := a.l.ViewAt(q.At)
					if !ok {
						return nil, errNotFound, true
					}
					pp := v.State().ProvePage(staking.ReceiptListing(q.FromHeight, q.ToHeight), q.Cursor, query.MaxProvenReceiptsPerPage, nil)
					var keep [][]byte
					for _, e := range pp.Entries {
						if re, _ := staking.DecodeReceiptEntry(e); re == nil || !rel.saw(re.TxHash) {
							keep = append(keep, e)
						}
					}
					return query.EncodeProvenReceiptsAnswer(&query.ProvenReceiptsAnswer{Height: v.Height(), At: certifiedAt(v.Commit()),
						More: pp.More, Next: pp.Next, Receipts: keep, Proof: pp.Proof}), nil, true
				}
				return nil, nil, false
			}
		}},
		"receipts against an uncertified root": {commit: true, named: true, lie: func(t *testing.T, a *lcNet, rel *nonceRelay) func(context.Context, *query.Query, []byte) ([]byte, error, bool) {
			return func(ctx context.Context, q *query.Query, req []byte) ([]byte, error, bool) {
				switch {
				case notFound(q):
					return nil, errNotFound, true
				case q.Kind == query.QueryProvenReceipts:
					fs, at := forgedState(t, a, q.At)
					if fs == nil {
						return nil, errNotFound, true
					}
					pp := fs.ProvePage(staking.ReceiptListing(q.FromHeight, q.ToHeight), q.Cursor, query.MaxProvenReceiptsPerPage, nil)
					return query.EncodeProvenReceiptsAnswer(&query.ProvenReceiptsAnswer{Height: q.At, At: at,
						More: pp.More, Next: pp.Next, Receipts: pp.Entries, Proof: pp.Proof}), nil, true
				}
				return nil, nil, false
			}
		}},
		"account nonce against an uncertified root": {commit: false, named: true, lie: func(t *testing.T, a *lcNet, rel *nonceRelay) func(context.Context, *query.Query, []byte) ([]byte, error, bool) {
			return func(ctx context.Context, q *query.Query, req []byte) ([]byte, error, bool) {
				switch {
				case notFound(q):
					return nil, errNotFound, true
				case q.Kind == query.QueryProvenAccount && q.Address == a.faucetAddr():
					h := a.l.Height()
					fs, at := forgedState(t, a, h)
					if fs == nil {
						return nil, errNotFound, true
					}
					var e query.ProvenEntry
					e.Value, e.Proof = fs.Prove(staking.AccountKey(q.Address))
					return query.EncodeProvenAccountAnswer(&query.ProvenAccountAnswer{Height: h, At: at, Account: e}), nil, true
				}
				return nil, nil, false
			}
		}},
		"a huge height to wait after": {commit: true, height: 1 << 40},
	}
	for name, cs := range cases {
		t.Run(name, func(t *testing.T) {
			a := newLCNet(t, "nonce-lies", 1<<50)
			a.commit(0)
			a.commit(0)
			honest := serve(t, a.l)
			ctx := lcCtx(t)
			rel := &nonceRelay{
				onNew: func(raw []byte, n int) *tx.Reply {
					before := a.l.Height()
					if cs.commit && n == 0 {
						a.commit(0, raw)
					}
					if cs.height != 0 {
						before = cs.height
					}
					return accepted(raw, before)
				},
				onAgain: taken, // the liar says the nonce is taken, whatever the truth
			}
			if cs.lie != nil {
				rel.lie = cs.lie(t, a, rel)
			}
			r := newNonceRelay(t, honest, rel)
			timeout := 5 * time.Second
			c, rj := walletClient(t, a, timeout, r.h, honest)
			rc, err := c.Transfer(ctx, to, 5)
			if r.distinct() != 1 {
				t.Fatalf("the operation was signed %d times (%v)", r.distinct(), err)
			}
			bal := a.l.View().State().Account(to).Balance
			if cs.commit {
				if err != nil || !rc.OK() || bal != 5 {
					t.Fatalf("receipt %+v, %v; balance %d", rc, err, bal)
				}
			} else if !errors.Is(err, client.ErrReceiptTimeout) || bal != 0 {
				t.Fatalf("not committed: %v; balance %d", err, bal)
			}
			if cs.named && rj.of(r.h.ID()) == nil {
				t.Fatalf("the liar %s was not named", r.h.ID())
			}
			if !cs.named {
				return
			}
			// The liar alone (the answers it forwards from the honest node verify; its lie
			// does not): never signed again either, the wait times out.
			alone := &nonceRelay{onNew: rel.onNew, onAgain: taken}
			alone.lie = cs.lie(t, a, alone)
			newNonceRelay(t, honest, alone)
			c2, _ := walletClient(t, a, timeout, alone.h)
			_, err = c2.Transfer(ctx, to, 5)
			// (A liar whose proven account fails leaves the client no nonce to sign with.)
			if n := alone.distinct(); n > 1 || err == nil || n == 1 && !errors.Is(err, client.ErrReceiptTimeout) {
				t.Fatalf("alone: the operation was signed %d times: %v", n, err)
			}
		})
	}
}

// certifiedAt is the certified form of a committed decision.
func certifiedAt(d *tendermint.Decision) query.Certified {
	return query.Certified{Checkpoint: d.Value, Round: d.Commit.Round, Cert: d.Commit.Cert}
}

func (r *nonceRelay) saw(h [32]byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[h]
}

// TestProvenNonceOutcomeUnknown: when the wallet's nonce moved past a pending transaction
// more than the receipts' retention after the client's basis, nothing can prove whether
// it was committed: the client says the outcome is unknown and does not sign again.
func TestProvenNonceOutcomeUnknown(t *testing.T) {
	a := newLCNet(t, "nonce-unknown", 1<<50)
	a.commit(0)
	honest := serve(t, a.l)
	ctx := lcCtx(t)
	r := newNonceRelay(t, honest, &nonceRelay{
		onNew: func(raw []byte, n int) *tx.Reply {
			before := a.l.Height()
			a.otherWriter(staking.Address{0x66})
			for range staking.ReceiptHeights + 2 {
				a.commit(0)
			}
			return accepted(raw, before)
		},
		onAgain: taken,
	})
	c, _ := walletClient(t, a, 30*time.Second, r.h, honest)
	_, err := c.Transfer(ctx, staking.Address{0x55}, 5)
	if !errors.Is(err, client.ErrOutcomeUnknown) || r.distinct() != 1 {
		t.Fatalf("signed %d times: %v", r.distinct(), err)
	}
	t.Log(err)
}
