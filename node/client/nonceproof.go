package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// Proven nonce recovery (docs/architecture.md §4 "Light clients"). Signing an operation
// again after its transaction "lost its nonce" is safe only if that transaction can never
// execute. With a genesis the client decides it from proven facts alone:
//
//   - Each pending transaction carries `after`, a height at which the client itself proved
//     the wallet's account nonce at most the transaction's (nonceBasis): a transaction
//     with nonce k executes only at a height whose state before it has nonce k, so it was
//     not committed at or before `after`. (Not the accepting node's height, which is its
//     word; and not merely the client's highest verified height: byte-identical signed
//     bytes may have been committed before it.)
//   - It is lost when the proven account at a verified height H has a nonce above k — the
//     nonce went to some transaction of the wallet at a height ≤ H, and no later one can
//     take it — and the proven receipts of every height in (after, H] (kind 17, pages
//     proven complete) hold none of it. A receipt found there is the answer instead.
//   - Receipts are kept ReceiptHeights heights: when H − after exceeds that, nothing can
//     prove the loss, and the operation's outcome is unknown (ErrOutcomeUnknown): it is
//     reported, never signed again.

// ErrOutcomeUnknown is wrapped by the error of an operation whose transaction's nonce was
// used while its fate can no longer be proven (its receipts are older than the ledger
// keeps). The operation was not signed again; it may or may not have executed.
var ErrOutcomeUnknown = errors.New("client: the transaction's outcome is unknown")

// nonceBasisMaxAge is how old (local clock) the proven account nonce may be when a
// transaction is signed; an older one is proven again first, so that `after` stays well
// within the receipts' retention.
const nonceBasisMaxAge = 10 * time.Second

// nonceBasis is the latest proven fact about the wallet's own account: at the verified
// height `height` its nonce was `nonce`. provenAccount records every such answer.
type nonceBasis struct {
	mu     sync.Mutex
	height uint64
	nonce  uint64
	at     time.Time
	ok     bool
}

func (b *nonceBasis) note(height, nonce uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ok || height >= b.height {
		b.height, b.nonce, b.at, b.ok = height, nonce, time.Now(), true
	}
}

func (b *nonceBasis) get() (height, nonce uint64, at time.Time, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.height, b.nonce, b.at, b.ok
}

// txBasis is the proven account nonce a transaction about to be signed is checked
// against; proven false without a genesis, where height is the height nodes report
// (reportedHeight), used for the expiry only.
type txBasis struct {
	proven, ok    bool
	height, nonce uint64
}

// txBasisLocked returns the basis for the next transaction, proving the account again if
// the last proof is older than nonceBasisMaxAge (a failure keeps the older one); a stale
// answer of the preferred node is not taken (queryProven). Callers hold l.mu.
func (l *Ledger) txBasisLocked(ctx context.Context) txBasis {
	if l.trust == nil {
		return txBasis{height: l.reportedHeight(ctx)} // (for the expiry only)
	}
	h, n, at, ok := l.nb.get()
	if !ok || time.Since(at) > nonceBasisMaxAge {
		if acc, _, err := l.provenAccount(ctx, l.addr, l.preferred); err == nil {
			h, n, ok = acc.Height, acc.Account.Nonce, true
		}
	}
	return txBasis{proven: true, ok: ok, height: h, nonce: n}
}

// after is the height above which the receipt of a transaction signed with nonce must be:
// the basis's height when its nonce is at most the transaction's; 0 when there is no such
// proof (its loss is then provable only while every receipt since height 1 is kept).
// Without a genesis it is the accepting node's height, claimed.
func (b txBasis) after(nonce, claimed uint64) uint64 {
	switch {
	case !b.proven:
		return claimed
	case b.ok && b.nonce <= nonce:
		return b.height
	}
	return 0
}

// provenLost decides from proven answers whether p lost its nonce: errTxLost, a proven
// receipt of p (success or refusal), an error wrapping ErrOutcomeUnknown, or nothing
// (nil, nil: not proven either way; the caller keeps waiting). It also proves p dead by
// its expiry (provenFate).
func (l *Ledger) provenLost(ctx context.Context, to peer.ID, p *pending) (*query.TxReceipt, error) {
	return l.provenFate(ctx, to, p, nil, "")
}

// provenFate decides from proven answers alone what became of the pending transaction p,
// asking first (or, with first "", every node: the freshest verified account) for the
// wallet's proven account at a verified height H:
//
//   - its nonce is past p's: p lost its nonce or was committed (as provenLost says: a
//     proven receipt, errTxLost, ErrOutcomeUnknown);
//   - its nonce has not reached p's and H is at least p's expiry height: p was never
//     executed (a transaction with nonce k executes only by moving the nonce past k) and
//     no checkpoint after its expiry may include it, so it never will: an error wrapping
//     errTxExpired and a *TxError, whose reason is hint's (a node's dry-run refusal,
//     named) when there was one, else CodeTxExpired;
//   - otherwise nothing is proven (nil, nil): p may still commit.
func (l *Ledger) provenFate(ctx context.Context, first peer.ID, p *pending, hint *TxError, hintNode peer.ID) (*query.TxReceipt, error) {
	acc, from, err := l.provenAccount(ctx, l.addr, first)
	if err != nil {
		return nil, nil
	}
	if acc.Account.Nonce <= p.nonce {
		if p.expiry != 0 && acc.Height >= p.expiry {
			return nil, expiredErr(p, acc.Height, acc.Account.Nonce, hint, hintNode)
		}
		return nil, nil // not proven used: the transaction may still commit
	}
	h := acc.Height
	if h <= p.after {
		return nil, nil // never with a true basis (nonces only grow)
	}
	if h-p.after > staking.ReceiptHeights {
		return nil, fmt.Errorf("%w: %s %x (nonce %d): the wallet's nonce moved past it by height %d, and the receipts of heights %d..%d that would show whether it was committed are no longer all kept (the ledger keeps %d heights); it was not signed again: check `walrus account` (and `walrus blob-status` for a store) before retrying",
			ErrOutcomeUnknown, p.kind, p.hash[:8], p.nonce, h, p.after+1, h, staking.ReceiptHeights)
	}
	r, err := l.provenReceiptIn(ctx, from, p.hash, p.after+1, h)
	if err != nil {
		l.cfg.Logger.Debug("cannot prove whether the transaction lost its nonce", "kind", p.kind, "nonce", p.nonce, "err", err)
		return nil, nil
	}
	if r != nil {
		return r, nil
	}
	l.cfg.Logger.Debug("transaction lost its nonce (proven)", "kind", p.kind, "nonce", p.nonce, "account_nonce", acc.Account.Nonce, "height", h, "after", p.after)
	return nil, fmt.Errorf("%w: %s with nonce %d (proven at height %d: no receipt of it in heights %d..%d)", errTxLost, p.kind, p.nonce, h, p.after+1, h)
}

// errTxExpired: the transaction is proven never executed and past its expiry height, so it
// can never execute; its operation may be signed again.
var errTxExpired = errors.New("client: transaction expired without being committed")

// expiredErr is the error of a pending transaction proven dead at height h (where the
// wallet's nonce was still nonce): errTxExpired and a *TxError giving the likely cause —
// the refusal a node gave for it (hint, from node), or its expiry.
func expiredErr(p *pending, h, nonce uint64, hint *TxError, node peer.ID) error {
	te := &TxError{Kind: p.kind, Code: staking.CodeTxExpired,
		Message: fmt.Sprintf("expired at height %d without being committed", p.expiry)}
	if hint != nil {
		te = &TxError{Kind: p.kind, Code: hint.Code,
			Message: fmt.Sprintf("%s (node %s's dry run; the transaction expired at height %d without being committed)", hint.Message, node.ShortString(), p.expiry)}
	}
	return fmt.Errorf("%w (%s %x, nonce %d; proven at height %d, where the wallet's nonce is %d): %w",
		errTxExpired, p.kind, p.hash[:8], p.nonce, h, nonce, te)
}

// Transaction expiry (docs/architecture.md §4 "Light clients"). With a genesis every
// transaction carries an expiry height (staking.Tx.Expiry: the last checkpoint height that
// may include it), so that a pending transaction that no node commits becomes provably
// dead (provenFate) and a node's dry-run refusal of it, only a hint, can be believed. It is
// the client's latest verified height plus a margin: txExpiryMargin for operations the
// client never signs again on a refusal, regExpiryMargin for the storage registration
// (reservation and registration), which RegisterBlob signs again after a refusal once it
// is proven dead — heights start only when needed, so a short margin makes that seconds
// on a busy or short-epoch network. Without a genesis nothing is proven: the expiry is the
// highest height the nodes report (reportedHeight) plus the same margin, so a transaction
// every node refused or dropped cannot be committed long after the client gave up on it.
// The ledger checks only that the next height is at most the expiry (staking.feeCheck).
const (
	txExpiryMargin  = 64
	regExpiryMargin = 32
)

// expiry says how a transaction's expiry height is chosen: at, if set (a registration
// shares its reservation's), else the latest verified height plus margin.
type expiry struct {
	margin, at uint64
}

var defaultExpiry = expiry{margin: txExpiryMargin}

// expiryHeight is the expiry height to sign with; basis is the transaction's nonce basis
// (without a genesis it carries only the reported height). Without a genesis it is 0, no
// expiry, only when no node reported a height (the submission fails anyway); a height so
// large that the margin overflows (a node's claim) gives the largest expiry.
func (l *Ledger) expiryHeight(e expiry, basis txBasis) uint64 {
	if e.at != 0 {
		return e.at
	}
	h := max(l.tip.Load(), basis.height)
	if l.trust == nil && h == 0 {
		return 0
	}
	if h > math.MaxUint64-e.margin {
		return math.MaxUint64
	}
	return h + e.margin
}

// reportedHeight is, without a genesis, the highest committed height the nodes report
// (QueryHeight, asked of every node), asked again when older than nonceBasisMaxAge; 0 if
// no node ever answered. It is a node's word, used only for transactions' expiry: a node
// that reports too high a height only makes the expiry later (as with no expiry); one that
// reports too low a height loses to the others.
func (l *Ledger) reportedHeight(ctx context.Context) uint64 {
	l.reported.mu.Lock()
	h, at := l.reported.h, l.reported.at
	l.reported.mu.Unlock()
	if h != 0 && time.Since(at) <= nonceBasisMaxAge {
		return h
	}
	resp, err := l.queryBest(ctx, &query.Query{Kind: query.QueryHeight})
	if err != nil {
		return h
	}
	nh, err := query.DecodeHeight(resp)
	if err != nil {
		return h
	}
	l.reported.mu.Lock()
	defer l.reported.mu.Unlock()
	l.reported.h, l.reported.at = max(l.reported.h, nh), time.Now()
	return l.reported.h
}

// noteTip records a verified checkpoint height: the client's latest verified height is
// the highest of them.
func (l *Ledger) noteTip(h uint64) {
	for {
		cur := l.tip.Load()
		if h <= cur || l.tip.CompareAndSwap(cur, h) {
			return
		}
	}
}

// provenReceiptIn reads the proven receipts of heights from..to at height to (every page
// proven complete, from node first) and returns the receipt of the transaction hash there
// (a success before any refusal), or nil when there is none.
func (l *Ledger) provenReceiptIn(ctx context.Context, first peer.ID, hash [32]byte, from, to uint64) (*query.TxReceipt, error) {
	var refused *query.TxReceipt
	for lo := from; lo <= to; lo += query.MaxReceiptSpan {
		hi := min(to, lo+query.MaxReceiptSpan-1)
		q := query.Query{Kind: query.QueryProvenReceipts, FromHeight: lo, ToHeight: hi, At: to}
		verify := func(ctx context.Context, p peer.ID, b []byte, cursor [32]byte) ([]staking.ReceiptEntry, uint64, bool, [32]byte, error) {
			a, err := query.DecodeProvenReceiptsAnswer(b)
			if err != nil {
				return nil, 0, false, [32]byte{}, fmt.Errorf("%w: %v", ErrUnverified, err)
			}
			cp, err := l.verifyAt(ctx, p, a.Height, &a.At)
			if err != nil {
				return nil, 0, false, [32]byte{}, err
			}
			rs, next, err := query.VerifyReceiptsPage(cp, lo, hi, cursor, a)
			return rs, cp.Height, a.More, next, err
		}
		for more, n := true, 0; more; n++ {
			if n >= maxListPages {
				return nil, fmt.Errorf("client: receipts of heights %d..%d in more than %d pages", lo, hi, maxListPages)
			}
			page, node, err := pageAt(ctx, l, &q, first, verify)
			if err != nil {
				return nil, err
			}
			first, more, q.Cursor = node, page.more, page.next
			for _, e := range page.page {
				if e.TxHash != hash {
					continue
				}
				r := &query.TxReceipt{Hash: hash, Height: e.Height, Index: e.Index,
					Receipt: staking.Receipt{Code: e.Code, Fee: e.Fee, Created: e.Created}}
				if e.Code == staking.OK {
					return r, nil
				}
				if refused == nil {
					refused = r
				}
			}
		}
	}
	return refused, nil
}

// Refused on its nonce (docs/architecture.md §4 "Nonce recovery"). With a genesis a
// node's bad-nonce refusal of a submission is its word: a node may keep the bytes it
// refused and commit them later, and signing the operation again with another nonce at
// once would let both execute. sendLocked treats such bytes as pending, accepted
// nowhere, and signs the operation again only once settleLocked proves they never
// execute.
const (
	// settlePoll is the pause between two proofs of refused bytes' fate: short, since
	// writers sharing a wallet wait here for the commit that used their nonce.
	settlePoll = 200 * time.Millisecond
	// settleOffer is how often the refused bytes are offered to the nodes again (a node
	// that refused them may have been wrong, or lagging).
	settleOffer = time.Second
)

// settleLocked decides from proven answers what became of p, bytes that no node accepted
// and that a node (hintNode, hint) refused on their nonce, until by (then an error
// wrapping ErrReceiptTimeout: they may still commit until their expiry height):
//
//   - a proven receipt, or a node accepting the bytes when they are offered again: p is
//     returned, to be waited for like an accepted transaction (the wait proves the
//     receipt);
//   - proven lost (the proven account's nonce passed p's and no proven receipt since its
//     basis holds it: another writer of the wallet took the nonce): the nonce to sign
//     the operation again with — the highest of the proven account's nonce and want, the
//     node's hint of the next free one (a wrong hint only delays: bytes signed with a
//     nonce the account does not reach die at their expiry);
//   - proven dead at its expiry (the proven account's nonce had not reached p's at a
//     height at or past p's expiry): the proven account's nonce then, p's own nonce
//     unless earlier transactions of the wallet died too.
//
// Callers hold l.mu.
func (l *Ledger) settleLocked(ctx context.Context, p *pending, by time.Time, hint *TxError, hintNode peer.ID, want uint64) (*pending, uint64, error) {
	ctx, cancel := context.WithDeadline(ctx, by)
	defer cancel()
	l.cfg.Logger.Debug("a node refused a submission on its nonce: waiting for proof", "node", hintNode, "kind", p.kind,
		"nonce", p.nonce, "expiry", p.expiry, "err", hint)
	offered := time.Now()
	for {
		r, err := l.provenFate(ctx, "", p, nil, "")
		switch {
		case r != nil:
			return p, 0, nil
		case errors.Is(err, errTxLost):
			_, n, _, _ := l.nb.get()
			if want > n+maxResign {
				want = 0 // an absurd hint
			}
			return nil, max(n, p.nonce+1, want), nil
		case errors.Is(err, errTxExpired):
			_, n, _, _ := l.nb.get()
			l.cfg.Logger.Debug("refused submission proven dead: signing it again", "kind", p.kind, "nonce", n, "err", err)
			return nil, n, nil
		case err != nil:
			return nil, 0, err
		}
		sleepCtx(ctx, settlePoll)
		if ctx.Err() != nil {
			break
		}
		if time.Since(offered) >= settleOffer {
			offered = time.Now()
			if to, ok := l.offer(ctx, p.raw); ok {
				p.to = to
				return p, 0, nil
			}
		}
	}
	if err := context.Cause(ctx); !errors.Is(err, context.DeadlineExceeded) {
		return nil, 0, err
	}
	return nil, 0, fmt.Errorf("%w: %s %x (nonce %d): no node accepted it and node %s refused it on its nonce (%v), unproven: it may still commit until height %d",
		ErrReceiptTimeout, p.kind, p.hash[:8], p.nonce, hintNode.ShortString(), hint, p.expiry)
}

// offer submits raw to the nodes in submission order and returns the first that accepts.
func (l *Ledger) offer(ctx context.Context, raw []byte) (peer.ID, bool) {
	for _, to := range l.txOrder() {
		resp, err := p2p.Call(ctx, l.cfg.Host, to, tx.Spec, raw)
		if err != nil {
			continue
		}
		if rep, err := tx.DecodeReply(resp); err == nil && rep.Accepted {
			return to, true
		}
	}
	return "", false
}

// maxFill bounds the gap fillLocked fills.
const maxFill = 64

// fillLocked fills the nonces from the proven account's (or want, a node's hint, if
// higher) up to p's with transfers of one FROST from the wallet to itself, each signed once
// and submitted to the first node that accepts it, then offers p's bytes again; it returns
// the node that accepted them. Every node refused p as behind: the wallet's transactions
// before it are in no mempool, and signing p's operation again with an earlier nonce would
// let p's own bytes (which a node may keep) execute too once the gap fills. A filler is
// a new operation of its own, harmless whether it executes or loses its nonce (to one of
// the wallet's earlier transactions that a node did keep: its waiter proves the loss).
// Callers hold l.mu.
func (l *Ledger) fillLocked(ctx context.Context, want uint64, p *pending) (peer.ID, bool) {
	basis := l.txBasisLocked(ctx)
	from := want
	if basis.ok {
		from = max(from, basis.nonce)
	}
	if from >= p.nonce || p.nonce-from > maxFill {
		return "", false
	}
	l.cfg.Logger.Debug("every node lacks the wallet's transactions before this one: filling the gap", "kind", p.kind,
		"nonce", p.nonce, "from", from)
	for n := from; n < p.nonce; n++ {
		raw := staking.Sign(l.cfg.Network, l.cfg.Key, staking.Tx{Nonce: n, Expiry: l.expiryHeight(defaultExpiry, basis),
			Op: &staking.Transfer{To: l.addr, Amount: 1}}).Encode()
		if _, ok := l.offer(ctx, raw); !ok {
			break // (a node took nonce n after all: p's bytes may be accepted now)
		}
	}
	return l.offer(ctx, p.raw)
}
