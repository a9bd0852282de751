package client

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// Errors of the ledger client.
var (
	// ErrNoNode: no bootstrap node answered (no network, or every node is down).
	ErrNoNode = errors.New("client: no reachable node")
	// ErrNoWallet: a transaction was asked of a ledger client without an account key.
	ErrNoWallet = errors.New("client: no wallet key configured")
	// ErrReceiptTimeout: a submitted transaction was not seen committed in time. It may
	// still commit later; its hash is in the error message.
	ErrReceiptTimeout = errors.New("client: transaction not committed in time")
)

// TxError is a transaction the ledger refused, in the dry run of the node that received it
// or when the checkpoint applied it (docs/architecture.md §4: a rejected tx changes nothing and gets a
// receipt with the reason).
type TxError struct {
	Kind    staking.Kind
	Code    staking.Code
	Message string
}

// Error is one line: which transaction, the code and the ledger's reason.
func (e *TxError) Error() string {
	return fmt.Sprintf("ledger rejected %s transaction: %s: %s", e.Kind, e.Code, e.Message)
}

// LedgerConfig configures a Ledger.
type LedgerConfig struct {
	// Host is the client's libp2p host. Required.
	Host host.Host
	// Network is the network ID that transactions bind (docs/architecture.md §3). Required.
	Network epoch.NetworkID
	// Bootstrap lists the nodes to ask; at least one. Their addresses are added to the
	// host's peerstore.
	Bootstrap []peer.AddrInfo
	// Key is the wallet's account key; nil makes a read-only ledger client.
	Key ed25519.PrivateKey
	// Certs, if set, is the joined `certs` GossipSub topic: CertifyBlob publishes the
	// certify transaction there too (docs/architecture.md §5).
	Certs *p2p.Topic
	// ReceiptTimeout bounds the wait for one transaction's commit (default 2 minutes).
	ReceiptTimeout time.Duration
	// Logger receives debug logs (default slog.Default()).
	Logger *slog.Logger
	// NoWalletLock skips the per-wallet lock file that processes of one machine sharing
	// the wallet take while signing (nonce.go); they then rely on re-signing alone.
	NoWalletLock bool
	// Genesis, when set, makes the client verify (proven.go, trust.go): it trusts the
	// genesis committee and the committees each one certified, and believes blob status,
	// account and info answers only when proven against a certified checkpoint of this
	// genesis's network. Without it answers are believed as the nodes give them.
	Genesis *staking.Genesis
	// TrustFile caches the trusted committees (beside the client configuration); "" keeps
	// them in memory only.
	TrustFile string
	// OnReject, if set, is told of every node answer that failed verification.
	OnReject func(node peer.ID, err error)
}

// Ledger is the light client of the control plane: it asks bootstrap nodes over
// /walrus/query/1, submits signed transactions over /walrus/tx/1 and waits for their
// receipts, and implements LedgerHooks for Client.Store. It is safe for concurrent use,
// and several Ledgers (processes) may share one wallet: transactions are signed one at a
// time with consecutive nonces, pipelined to the wallet's home node, and re-signed when
// another writer took their nonce (nonce.go).
type Ledger struct {
	cfg   LedgerConfig
	addr  staking.Address
	peers []peer.ID
	home  []peer.ID // peers in the wallet's rendezvous order (homeRank): where transactions go

	mu        sync.Mutex  // serialises signing and submission (nonces)
	wlock     *walletLock // nil without a key, with NoWalletLock, or if it cannot be opened
	nextNonce uint64
	haveNonce bool
	preferred peer.ID // the node our last transaction went to: its view includes it

	regMu sync.Mutex
	regs  map[codec.BlobID]regInfo // what RegisterBlob learned, for StoreSummary

	trust *trust        // nil: answers are not verified (no Genesis)
	nb    nonceBasis    // the wallet's latest proven account nonce (nonceproof.go)
	tip   atomic.Uint64 // the highest verified checkpoint height (transactions' expiry)
	// reported: without a genesis, the highest height nodes reported and when it was
	// asked (transactions' expiry, reportedHeight).
	reported struct {
		mu sync.Mutex
		h  uint64
		at time.Time
	}
}

// regInfo is what RegisterBlob recorded about one blob for the store summary.
type regInfo struct {
	cost     uint64
	endEpoch uint32
	encoded  uint64
}

// NewLedger returns a ledger client. It does not dial; the first query does.
func NewLedger(cfg LedgerConfig) (*Ledger, error) {
	if cfg.Host == nil {
		return nil, errors.New("client: LedgerConfig.Host is required")
	}
	if cfg.Network == (epoch.NetworkID{}) {
		return nil, errors.New("client: LedgerConfig.Network is required")
	}
	if len(cfg.Bootstrap) == 0 {
		return nil, errors.New("client: LedgerConfig.Bootstrap is empty")
	}
	if cfg.ReceiptTimeout <= 0 {
		cfg.ReceiptTimeout = 2 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	l := &Ledger{cfg: cfg, regs: map[codec.BlobID]regInfo{}}
	if cfg.Genesis != nil {
		if cfg.Genesis.NetworkID() != cfg.Network {
			return nil, errors.New("client: LedgerConfig.Genesis is not the genesis of LedgerConfig.Network")
		}
		var err error
		if l.trust, err = newTrust(cfg.Genesis, cfg.TrustFile, cfg.Logger); err != nil {
			return nil, err
		}
	}
	if cfg.Key != nil {
		l.addr = staking.AddressOf(cfg.Key.Public().(ed25519.PublicKey))
	}
	for _, ai := range cfg.Bootstrap {
		cfg.Host.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
		l.peers = append(l.peers, ai.ID)
	}
	l.home = homeRank(l.addr, l.peers)
	if cfg.Key != nil && !cfg.NoWalletLock {
		l.wlock = openWalletLock(cfg.Network, l.addr)
	}
	return l, nil
}

// Close releases the wallet lock file, if any. The Ledger must not be used afterwards.
func (l *Ledger) Close() {
	if l.wlock != nil {
		l.wlock.close()
	}
}

// Address is the wallet's account address (zero for a read-only client).
func (l *Ledger) Address() staking.Address { return l.addr }

// order returns the peers to try: the preferred one (whose view includes our last
// transaction) first, then connected ones, then the rest.
func (l *Ledger) order(pref peer.ID) []peer.ID {
	out := make([]peer.ID, 0, len(l.peers))
	if pref != "" {
		out = append(out, pref)
	}
	var later []peer.ID
	for _, p := range l.peers {
		if p == pref {
			continue
		}
		if l.cfg.Host.Network().Connectedness(p) == network.Connected {
			out = append(out, p)
		} else {
			later = append(later, p)
		}
	}
	return append(out, later...)
}

// query asks the nodes in order until one answers; a remote error with a status (the
// node understood and refused) is returned as is, transport failures move on.
func (l *Ledger) query(ctx context.Context, q *query.Query) ([]byte, peer.ID, error) {
	l.mu.Lock()
	pref := l.preferred
	l.mu.Unlock()
	return l.queryFrom(ctx, q, pref)
}

// queryFrom is query with the preferred peer given (callers holding l.mu).
func (l *Ledger) queryFrom(ctx context.Context, q *query.Query, pref peer.ID) ([]byte, peer.ID, error) {
	var errs []error
	for _, p := range l.order(pref) {
		resp, err := p2p.Call(ctx, l.cfg.Host, p, query.Spec, q.Encode())
		if err == nil {
			return resp, p, nil
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		var se *p2p.StatusError
		if errors.As(err, &se) && se.Code == p2p.CodeBadRequest {
			return nil, p, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", p.ShortString(), err))
	}
	return nil, "", fmt.Errorf("%w (%d tried): %w", ErrNoNode, len(l.peers), errors.Join(errs...))
}

// bestQueryTimeout bounds each node's answer in queryBest.
const bestQueryTimeout = 5 * time.Second

// queryBest asks every bootstrap node in parallel and returns the answer reflecting the
// highest committed height (every answer but QueryHeight's starts with it as u64 LE), so a
// lagging node does not show a state older than what this client just committed. It
// falls back to query's error when nobody answers.
func (l *Ledger) queryBest(ctx context.Context, q *query.Query) ([]byte, error) {
	b, _, err := l.queryBestFrom(ctx, q)
	return b, err
}

// queryBestFrom is queryBest that also names the node that answered.
func (l *Ledger) queryBestFrom(ctx context.Context, q *query.Query) ([]byte, peer.ID, error) {
	type ans struct {
		b   []byte
		p   peer.ID
		err error
	}
	ch := make(chan ans, len(l.peers))
	cctx, cancel := context.WithTimeout(ctx, bestQueryTimeout)
	defer cancel()
	body := q.Encode()
	for _, p := range l.peers {
		go func() {
			b, err := p2p.Call(cctx, l.cfg.Host, p, query.Spec, body)
			ch <- ans{b, p, err}
		}()
	}
	var best []byte
	var bestP peer.ID
	var bestH uint64
	var errs []error
	for range l.peers {
		a := <-ch
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		if len(a.b) < 8 {
			continue
		}
		if h := binary.LittleEndian.Uint64(a.b); best == nil || h > bestH {
			best, bestP, bestH = a.b, a.p, h
		}
	}
	if best != nil {
		return best, bestP, nil
	}
	if ctx.Err() != nil {
		return nil, "", ctx.Err()
	}
	return nil, "", fmt.Errorf("%w (%d tried): %w", ErrNoNode, len(l.peers), errors.Join(errs...))
}

// Info returns network information and the current committee, from the most up-to-date
// node.
func (l *Ledger) Info(ctx context.Context) (*query.Info, error) {
	if l.trust != nil {
		return l.provenInfo(ctx, "")
	}
	resp, err := l.queryBest(ctx, &query.Query{Kind: query.QueryInfo})
	if err != nil {
		return nil, err
	}
	return query.DecodeInfo(resp)
}

// Account returns an account's balance and nonce, from the most up-to-date node.
func (l *Ledger) Account(ctx context.Context, a staking.Address) (*query.AccountAnswer, error) {
	if l.trust != nil {
		acc, _, err := l.provenAccount(ctx, a, "")
		return acc, err
	}
	resp, err := l.queryBest(ctx, &query.Query{Kind: query.QueryAccount, Address: a})
	if err != nil {
		return nil, err
	}
	return query.DecodeAccountAnswer(resp)
}

// BlobStatus returns a blob ID's status and its live objects, from the most up-to-date
// node.
func (l *Ledger) BlobStatus(ctx context.Context, id codec.BlobID) (*query.BlobAnswer, error) {
	if l.trust != nil {
		return l.provenBlobStatus(ctx, id)
	}
	resp, err := l.queryBest(ctx, &query.Query{Kind: query.QueryBlobStatus, BlobID: id})
	if err != nil {
		return nil, err
	}
	return query.DecodeBlobAnswer(resp)
}

// Height returns a node's committed height.
func (l *Ledger) Height(ctx context.Context) (uint64, error) {
	resp, _, err := l.query(ctx, &query.Query{Kind: query.QueryHeight})
	if err != nil {
		return 0, err
	}
	return query.DecodeHeight(resp)
}

// Committee returns the current committee (LedgerHooks).
func (l *Ledger) Committee(ctx context.Context) (*epoch.Committee, error) {
	in, err := l.Info(ctx)
	if err != nil {
		return nil, err
	}
	return in.Committee, nil
}

// pending is a submitted transaction awaiting its receipt.
type pending struct {
	kind   staking.Kind
	hash   [32]byte
	to     peer.ID
	raw    []byte
	after  uint64 // the receipt comes from a later checkpoint (txBasis.after, nonceproof.go)
	nonce  uint64 // the nonce it was signed with: objects it creates derive from it
	expiry uint64 // the last height that may include it (0: none; nonceproof.go)
}

// sendLocked signs op with the next nonce and submits it to the first node that accepts
// it, the wallet's home first (nonce.go). Callers hold l.mu. The node's dry run runs
// against its committed state plus its mempool, so consecutive transactions of ours sent
// to the same node chain (reserve then register) without waiting for a commit in between.
// A node that says the nonce is taken (another writer of this wallet got there first)
// names the next free one, and the transaction is signed again with it — without a
// genesis; with one, that refusal is a hint and the operation is signed again only once
// the refused bytes are proven never to execute (settleLocked, nonceproof.go). With a genesis the
// transaction carries an expiry height chosen by exp (nonceproof.go); a node's refusal
// other than "nonce" is then only that node's word and the next node is asked (the
// refusal is returned when no node accepts), and a transaction every node refused as
// expired (the client's latest verified height was stale) is signed again, with the same
// nonce, after proving a fresh height.
func (l *Ledger) sendLocked(ctx context.Context, op staking.Op, exp expiry) (*pending, error) {
	if l.cfg.Key == nil {
		return nil, ErrNoWallet
	}
	if l.wlock != nil {
		if err := l.wlock.lock(ctx); err != nil {
			return nil, err
		}
		defer l.wlock.unlock()
	}
	if !l.haveNonce {
		acc, err := l.accountLocked(ctx)
		if err != nil {
			return nil, err
		}
		l.nextNonce, l.haveNonce = acc.Account.Nonce, true
	}
	if l.wlock != nil {
		// Another process of this wallet may have signed since: start from its next.
		l.nextNonce = max(l.nextNonce, l.wlock.nonce())
	}
	basis := l.txBasisLocked(ctx)
	var errs []error
	var refusal *TxError
	refreshed := false
	var settleBy time.Time // with a genesis: when settling refused bytes gives up
	for range maxResign {
		stx := staking.Sign(l.cfg.Network, l.cfg.Key, staking.Tx{Nonce: l.nextNonce, Expiry: l.expiryHeight(exp, basis), Op: op})
		raw := stx.Encode()
		errs, refusal = errs[:0], nil
		var nonceHint *TxError // with a genesis: a bad-nonce refusal of these bytes, not believed
		var hintNode peer.ID
		var hintWant uint64
		resign, behind := false, uint64(0)
		haveBehind := false
		expired := true // every refusal so far is tx-expired
		for _, p := range l.txOrder() {
			resp, err := p2p.Call(ctx, l.cfg.Host, p, tx.Spec, raw)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				errs = append(errs, fmt.Errorf("%s: %w", p.ShortString(), err))
				continue
			}
			rep, err := tx.DecodeReply(resp)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.ShortString(), err))
				continue
			}
			if !rep.Accepted {
				te := &TxError{Kind: op.Kind(), Code: rep.Code, Message: rep.Message}
				if rep.Code != staking.CodeBadNonce {
					if l.trust == nil {
						return nil, te
					}
					// One node's word: another may accept it.
					if refusal == nil {
						refusal = te
					}
					expired = expired && rep.Code == staking.CodeTxExpired
					errs = append(errs, fmt.Errorf("%s: %w", p.ShortString(), te))
					continue
				}
				expired = false
				want, ok := wantNonce(rep.Message)
				if l.trust != nil {
					// The node's word: it may keep these bytes and commit them later, so
					// the operation is signed again only once they are proven never to
					// execute (settleLocked). A node that says the nonce is taken is the
					// end of this round (its mempool serialises the wallet's writers);
					// one that says it is behind, the next node is asked.
					if nonceHint == nil {
						nonceHint, hintNode = te, p
					}
					if ok {
						hintWant = max(hintWant, want)
					}
					errs = append(errs, fmt.Errorf("%s: %w", p.ShortString(), te))
					if ok && want > stx.Tx.Nonce {
						break
					}
					continue
				}
				if ok && want > stx.Tx.Nonce {
					// Other writers of this wallet hold our nonce (and the ones up to
					// want) in this node's mempool: take the next free one.
					l.nextNonce, l.preferred, resign = want, p, true
					break
				}
				// This node lacks our earlier transactions (it lags, or they were lost):
				// another node may hold them.
				if ok && !haveBehind {
					behind, haveBehind = want, true
				}
				errs = append(errs, te)
				continue
			}
			l.nextNonce, l.haveNonce = stx.Tx.Nonce+1, true
			l.preferred = p
			if l.wlock != nil {
				l.wlock.setNonce(l.nextNonce)
			}
			return &pending{kind: op.Kind(), hash: rep.Hash, to: p, raw: raw, after: basis.after(stx.Tx.Nonce, rep.Height),
				nonce: stx.Tx.Nonce, expiry: stx.Tx.Expiry}, nil
		}
		if resign {
			continue
		}
		if nonceHint != nil {
			// No node accepted these bytes and one refused them on their nonce (a hint):
			// they are pending as if accepted nowhere until their fate is proven.
			p := &pending{kind: op.Kind(), hash: staking.TxHash(raw), to: hintNode, raw: raw, after: basis.after(stx.Tx.Nonce, 0),
				nonce: stx.Tx.Nonce, expiry: stx.Tx.Expiry}
			if hintWant < stx.Tx.Nonce {
				// Every node says it is behind: the wallet's transactions before it are in
				// no mempool (dropped, or expired). The gap is filled with transfers to
				// ourselves, each signed once, and these bytes offered again: this
				// operation keeps its one signed form.
				if to, ok := l.fillLocked(ctx, hintWant, p); ok {
					p.to = to
					l.nextNonce, l.haveNonce = stx.Tx.Nonce+1, true
					l.preferred = to
					if l.wlock != nil {
						l.wlock.setNonce(l.nextNonce)
					}
					return p, nil
				}
			}
			if settleBy.IsZero() {
				settleBy = time.Now().Add(l.cfg.ReceiptTimeout)
			}
			got, next, err := l.settleLocked(ctx, p, settleBy, nonceHint, hintNode, hintWant)
			if err != nil {
				l.haveNonce = false
				return nil, err
			}
			if got != nil {
				l.nextNonce, l.haveNonce = stx.Tx.Nonce+1, true
				l.preferred = got.to
				if l.wlock != nil {
					l.wlock.setNonce(l.nextNonce)
				}
				return got, nil
			}
			l.nextNonce = next
			basis = l.txBasisLocked(ctx)
			continue
		}
		if refusal != nil {
			if expired && !refreshed && exp.at == 0 {
				// Our latest verified height was stale: prove a fresh one and sign the
				// same nonce again (at most one of the two can ever execute).
				refreshed = true
				_, _, _ = l.provenAccount(ctx, l.addr, "") // (verifyAt notes its height)
				continue
			}
			errs = append(errs[:0], refusal)
			break
		}
		if haveBehind && len(errs) > 0 {
			// No node holds our transactions before this nonce: they were lost (their
			// waiters sign them again). Start again from the first node's next nonce.
			l.nextNonce = behind
			continue
		}
		break
	}
	l.haveNonce = false
	var te *TxError
	if len(errs) > 0 && errors.As(errs[len(errs)-1], &te) {
		return nil, te
	}
	return nil, fmt.Errorf("%w: submitting %s: %w", ErrNoNode, op.Kind(), errors.Join(errs...))
}

// accountLocked asks the preferred node (or any) for the wallet's account; with a genesis
// a stale answer of the preferred node is not taken (queryProven).
func (l *Ledger) accountLocked(ctx context.Context) (*query.AccountAnswer, error) {
	if l.trust != nil {
		acc, p, err := l.provenAccount(ctx, l.addr, l.preferred)
		if err == nil && l.preferred != "" {
			l.preferred = p
		}
		return acc, err
	}
	q := &query.Query{Kind: query.QueryAccount, Address: l.addr}
	if l.preferred == "" {
		// No node holds our pending transactions yet: the most up-to-date one knows the
		// nonce the next checkpoint expects.
		resp, err := l.queryBest(ctx, q)
		if err != nil {
			return nil, err
		}
		return query.DecodeAccountAnswer(resp)
	}
	resp, p, err := l.queryFrom(ctx, q, l.preferred)
	if err != nil {
		return nil, err
	}
	l.preferred = p
	return query.DecodeAccountAnswer(resp)
}

// wait polls QueryWaitTx (each poll a bounded server-side wait) until the transaction's
// receipt is in or ReceiptTimeout passes. It asks the node that accepted the transaction
// first and falls back to the others if that node stops answering.
//
// With a genesis nothing a node says ends the wait but proven facts: a proven receipt, a
// proven loss of the nonce, or a proven death by expiry (provenFate, nonceproof.go). A
// node's dry-run refusal of the pending transaction (probe) is a hint: the client goes on
// asking the other nodes and checks its fate from proven answers, and reports the refusal
// as the likely cause only once the transaction is proven dead.
func (l *Ledger) wait(ctx context.Context, p *pending) (query.TxReceipt, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ReceiptTimeout)
	defer cancel()
	peers := append([]peer.ID{p.to}, l.peers...)
	kind := query.QueryWaitTx
	if l.trust != nil {
		kind = query.QueryProvenWaitTx // the receipt proven (provenlist.go)
	}
	var refused []error
	var hint *TxError // with a genesis: a node's refusal of the pending transaction, not believed
	var hintNode peer.ID
	var lastFate time.Time
	for i := 0; ; {
		q := &query.Query{Kind: kind, TxHash: p.hash, Wait: min(waitPoll, query.MaxWait), After: p.after}
		to := peers[i%len(peers)]
		resp, err := p2p.Call(ctx, l.cfg.Host, to, query.Spec, q.Encode())
		if err == nil && l.trust != nil {
			r, verr := l.verifyReceipt(ctx, to, p, resp)
			if verr == nil {
				return r, receiptErr(p, &r)
			}
			if ctx.Err() == nil {
				refused = append(refused, l.reject(to, verr))
				err = verr // the next node
			}
		} else if err == nil {
			a, err := query.DecodeWaitAnswer(resp)
			if err != nil {
				return query.TxReceipt{}, err
			}
			return a.Receipt, receiptErr(p, &a.Receipt)
		}
		if ctx.Err() != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				if hint != nil {
					// Not a *TxError: the refusal is a node's word, the transaction may
					// still commit until its expiry height.
					refused = append(refused, fmt.Errorf("node %s refused it in its dry run (%v), unproven: it may still commit until height %d",
						hintNode.ShortString(), hint, p.expiry))
				}
				if len(refused) > 0 {
					return query.TxReceipt{}, fmt.Errorf("%w: %s %x after %v: %w", ErrReceiptTimeout, p.kind, p.hash[:8], l.cfg.ReceiptTimeout, oneLine(refused))
				}
				return query.TxReceipt{}, fmt.Errorf("%w: %s %x after %v", ErrReceiptTimeout, p.kind, p.hash[:8], l.cfg.ReceiptTimeout)
			}
			return query.TxReceipt{}, ctx.Err()
		}
		var se *p2p.StatusError
		if errors.As(err, &se) && se.Code == p2p.CodeNotFound {
			// Not committed yet. A transaction that became invalid while pending (say a
			// reservation whose start epoch passed) is dropped from mempools without a
			// receipt: offering it again makes the node dry-run it, and a refusal other
			// than "nonce" (which also means it was just committed) ends the wait —
			// without a genesis; with one it is a hint until the transaction is proven
			// dead. A "nonce" refusal whose nonce the node's ledger has used without
			// committing this transaction means it lost its nonce to another writer
			// (errTxLost; proven with a genesis).
			r, refusal, err := l.probe(ctx, to, p)
			if err != nil {
				return query.TxReceipt{}, err
			}
			if r != nil { // (with a genesis, a proven receipt)
				return *r, receiptErr(p, r)
			}
			if refusal != nil {
				if l.trust == nil {
					return query.TxReceipt{}, refusal
				}
				if hint == nil || hintNode != to || hint.Code != refusal.Code {
					l.cfg.Logger.Debug("a node refused a pending transaction: waiting for proof", "node", to, "kind", p.kind,
						"nonce", p.nonce, "expiry", p.expiry, "err", refusal)
				}
				hint, hintNode = refusal, to
				i++ // its "not found" is its word too: ask the next node
			}
			if l.trust != nil && (refusal != nil || time.Since(lastFate) >= fateEvery) {
				lastFate = time.Now()
				r, err := l.provenFate(ctx, "", p, hint, hintNode)
				if err != nil {
					return query.TxReceipt{}, err
				}
				if r != nil {
					return *r, receiptErr(p, r)
				}
				if refusal != nil {
					sleepCtx(ctx, fatePause)
				}
			}
			continue
		}
		// The node is unreachable or failed: the next one. Transactions are gossiped on
		// the txs topic, so any node's ledger carries the receipt once committed.
		i++
		if i%len(peers) == 0 {
			t := time.NewTimer(500 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
	}
}

// receiptErr is a committed transaction's failure as an error: a *TxError, or errTxLost
// for a bad nonce (another transaction of the wallet took it; sign the operation again).
func receiptErr(p *pending, r *query.TxReceipt) error {
	switch {
	case r.OK():
		return nil
	case r.Code == staking.CodeBadNonce:
		return fmt.Errorf("%w: %s: %s", errTxLost, p.kind, r.Message)
	}
	return &TxError{Kind: p.kind, Code: r.Code, Message: r.Message}
}

// waitPoll is how long one receipt query lets the node wait before the client probes
// that the transaction is still pending.
const waitPoll = 3 * time.Second

// fateEvery is how often, at most, a wait with a genesis checks the pending transaction's
// fate from proven answers when no node refused it; fatePause is the pause after a node's
// refusal (a liar may answer at once, every time).
const (
	fateEvery = 5 * time.Second
	fatePause = 500 * time.Millisecond
)

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// probe resubmits a pending transaction's bytes (a no-op for a node that holds it) and
// returns the node's refusal if it says the transaction can no longer apply (the node's
// word), errTxLost if its nonce went to another transaction, or its receipt if it turns
// out committed (checkLost).
func (l *Ledger) probe(ctx context.Context, to peer.ID, p *pending) (*query.TxReceipt, *TxError, error) {
	resp, err := p2p.Call(ctx, l.cfg.Host, to, tx.Spec, p.raw)
	if err != nil {
		return nil, nil, nil // the receipt query will notice a dead node
	}
	rep, err := tx.DecodeReply(resp)
	if err != nil || rep.Accepted {
		return nil, nil, nil
	}
	if rep.Code == staking.CodeBadNonce {
		if want, ok := wantNonce(rep.Message); ok && want > p.nonce {
			r, err := l.checkLost(ctx, to, p)
			return r, nil, err
		}
		return nil, nil, nil
	}
	return nil, &TxError{Kind: p.kind, Code: rep.Code, Message: rep.Message}, nil
}

// Submit signs op with the wallet key and the next nonce, submits it and waits until the
// ledger commits it. A refused or failed transaction is a *TxError.
func (l *Ledger) Submit(ctx context.Context, op staking.Op) (query.TxReceipt, error) {
	r, _, err := l.sendWait(ctx, op, defaultExpiry)
	return r, err
}

// resetNonce forgets the cached nonce after a failure, so the next transaction asks.
func (l *Ledger) resetNonce() {
	l.mu.Lock()
	l.haveNonce = false
	l.mu.Unlock()
}

// Transfer sends amount FROST to another account and waits for the commit.
func (l *Ledger) Transfer(ctx context.Context, to staking.Address, amount uint64) (query.TxReceipt, error) {
	return l.Submit(ctx, &staking.Transfer{To: to, Amount: amount})
}

// RegisterBlob implements LedgerHooks (docs/architecture.md §5 "Store"): a blob already certified
// until at least the wanted end epoch is reused (alreadyCertified); a registered, not yet
// certified object of ours with enough lifetime and the same persistence is reused (a
// retried store); otherwise it reserves storage for the encoded length over
// [current, current+Epochs) and registers the blob on it, sending both transactions to
// one node back to back and waiting for both commits.
func (l *Ledger) RegisterBlob(ctx context.Context, enc *codec.EncodedBlob, opts StoreOptions) (Registration, bool, error) {
	if opts.Epochs == 0 {
		return Registration{}, false, errors.New("client: StoreOptions.Epochs must be at least 1")
	}
	if opts.Epochs > staking.MaxEpochsAhead {
		return Registration{}, false, fmt.Errorf("client: at most %d epochs ahead, not %d", staking.MaxEpochsAhead, opts.Epochs)
	}
	// The epoch may turn between reading it and the commit (the reservation then starts
	// in the past: wrong epoch; or the resource is not live yet: expired): again with a
	// fresh view, a bounded number of times (epochs can be seconds long on a test network).
	// A genuinely bad argument fails the same way every time.
	// A reservation that lost its nonce to another writer of the wallet (nonce.go) is
	// bought again, at most maxLostRetries times.
	// With a genesis a refusal of a pending transaction is believed only once the
	// transaction is proven dead (wait, provenFate): a node's word never makes the client
	// buy twice. The registration's transactions carry a short expiry (regExpiryMargin) so
	// that this is proven soon; one that simply expired is tried again too.
	const attempts = 3
	for i, lost := 1, 0; ; i++ {
		reg, certified, err := l.registerOnce(ctx, enc, opts, lost > 0)
		var te *TxError
		if i < attempts && errors.As(err, &te) && te.Kind != staking.KindTransfer &&
			(te.Code == staking.CodeWrongEpoch || te.Code == staking.CodeInvalidArgument || te.Code == staking.CodeExpired ||
				l.trust != nil && te.Code == staking.CodeTxExpired) {
			l.cfg.Logger.Debug("registration refused, retrying with a fresh epoch", "blob_id", enc.BlobID, "err", err)
			continue
		}
		if errors.Is(err, errTxLost) && lost < maxLostRetries {
			l.cfg.Logger.Debug("registration lost its nonce, buying again", "blob_id", enc.BlobID, "err", err)
			lost++
			i--
			continue
		}
		return reg, certified, err
	}
}

// registerOnce is one attempt of RegisterBlob. With jitter (a retry after a lost
// reservation) the reservation is a random number of bytes larger, within the billing
// unit it takes anyway (same price): two writers without a shared wallet lock that keep
// meeting on one nonce then no longer sign byte-identical reservations (sharedReservation).
func (l *Ledger) registerOnce(ctx context.Context, enc *codec.EncodedBlob, opts StoreOptions, jitter bool) (Registration, bool, error) {
	// The reservation's start epoch comes from the node the transactions go to (the
	// wallet's home, nonce.go): a node's dry run refuses a registration on storage that
	// starts in an epoch it has not reached (seen under load in TestStoreAcrossEpochs). If
	// that node lags an epoch behind, the commit refuses the reservation (wrong epoch) and
	// the registration runs again.
	in, err := l.txNodeInfo(ctx)
	if err != nil {
		return Registration{}, false, err
	}
	length := enc.Metadata.UnencodedLength
	if length > in.MaxBlobSize {
		return Registration{}, false, fmt.Errorf("client: blob of %d bytes exceeds the network's maximum of %d", length, in.MaxBlobSize)
	}
	encLen, err := enc.Params.EncodedLength(length)
	if err != nil {
		return Registration{}, false, err
	}
	want := in.Epoch + opts.Epochs
	st, err := l.BlobStatus(ctx, enc.BlobID)
	if err != nil {
		return Registration{}, false, err
	}
	if st.Status.Kind == staking.StatusInvalid {
		return Registration{}, false, fmt.Errorf("client: blob %s was invalidated", enc.BlobID)
	}
	if st.Status.Kind == staking.StatusCertified && st.Status.EndEpoch >= want {
		l.record(enc.BlobID, regInfo{endEpoch: st.Status.EndEpoch, encoded: encLen})
		return Registration{}, true, nil
	}
	for _, o := range st.Objects {
		if o.Owner == l.addr && !o.Certified && o.Deletable == opts.Deletable && o.Storage.End >= want && o.Storage.Start <= in.Epoch {
			l.record(enc.BlobID, regInfo{endEpoch: o.Storage.End, encoded: encLen})
			return Registration{Deletable: o.Deletable, Object: o.ID}, false, nil
		}
	}
	if l.cfg.Key == nil {
		return Registration{}, false, ErrNoWallet
	}
	cost, ok := staking.StorageCost(in.Prices, encLen, opts.Epochs)
	if !ok {
		return Registration{}, false, errors.New("client: storage cost overflows")
	}

	// The balance check gives a clear error before anything is sent (the node's dry run
	// would refuse the reservation too, less readably). It reads committed state; the
	// nonce comes from sendLocked.
	acc, err := l.Account(ctx, l.addr)
	if err != nil {
		return Registration{}, false, err
	}
	if acc.Account.Balance < cost {
		return Registration{}, false, fmt.Errorf("client: insufficient balance: have %s, storing needs %s", FormatWAL(acc.Account.Balance), FormatWAL(cost))
	}
	// Reservation and registration back to back under one lock: consecutive nonces to
	// one node, so the registration's dry run sees the reservation.
	register := &staking.RegisterBlob{BlobID: enc.BlobID, Root: enc.Metadata.Root(), Length: length,
		Encoding: enc.Metadata.EncodingType, Deletable: opts.Deletable}
	l.mu.Lock()
	size := encLen
	if slack := (encLen+staking.BillingUnit-1)/staking.BillingUnit*staking.BillingUnit - encLen; jitter && slack > 0 {
		size += 1 + mrand.Uint64N(min(slack, maxJitter))
	}
	rp, err := l.sendLocked(ctx, &staking.ReserveStorage{Size: size, Start: in.Epoch, End: want}, expiry{margin: regExpiryMargin})
	if err != nil {
		l.mu.Unlock()
		return Registration{}, false, err
	}
	register.Storage = staking.DeriveObjectID(l.addr, rp.nonce, 0)
	// The registration expires with its reservation: once the reservation is proven dead,
	// so is the registration, which can execute only after it (its nonce).
	gp, err := l.sendLocked(ctx, register, expiry{margin: regExpiryMargin, at: rp.expiry})
	l.mu.Unlock()
	if err != nil {
		l.resetNonce()
		// A reservation dropped from the mempool (the epoch turned and it now starts in
		// the past) makes the registration fail on its nonce: report the reservation's
		// fate when it failed, so the caller sees the epoch and retries.
		if _, rerr := l.wait(ctx, rp); rerr != nil {
			return Registration{}, false, rerr
		}
		// The reservation committed: register on it alone.
		if _, gp, err = l.sendWait(ctx, register, expiry{margin: regExpiryMargin}); err != nil {
			return Registration{}, false, sharedReservation(err)
		}
	} else {
		if _, err := l.wait(ctx, rp); err != nil {
			// A lost reservation also fails the registration that names its storage:
			// RegisterBlob buys again.
			l.resetNonce()
			return Registration{}, false, err
		}
		_, err = l.wait(ctx, gp)
		if errors.Is(err, errTxLost) || errors.Is(err, errTxExpired) {
			// The reservation committed, the registration lost its nonce or is proven
			// dead (a node that took it and dropped it): sign it again, on the storage
			// already bought.
			if errors.Is(err, errTxExpired) {
				l.resetNonce() // its nonce is free again
			}
			_, gp, err = l.sendWait(ctx, register, expiry{margin: regExpiryMargin})
		}
		if err != nil {
			l.resetNonce()
			return Registration{}, false, sharedReservation(err)
		}
	}
	l.record(enc.BlobID, regInfo{cost: cost, endEpoch: want, encoded: encLen})
	return Registration{Deletable: opts.Deletable, Object: staking.DeriveObjectID(l.addr, gp.nonce, 0)}, false, nil
}

// maxJitter bounds the extra bytes of a jittered reservation.
const maxJitter = 64 << 10

// sharedReservation turns a registration refused because its storage resource is gone
// into errTxLost, so that RegisterBlob buys again. It happens when another process of the
// wallet, on another machine (no shared wallet lock), signed a byte-identical reservation
// with the same nonce: the node accepted it once and reported it accepted to both, and the
// other's registration consumed it.
func sharedReservation(err error) error {
	var te *TxError
	if errors.As(err, &te) && te.Kind == staking.KindRegisterBlob && te.Code == staking.CodeUnknownObject {
		return fmt.Errorf("%w: %w", errTxLost, err)
	}
	return err
}

// txNodeInfo asks the node transactions go to first (the preferred node, else the
// wallet's home) for the network information, falling back to the others. With a genesis
// its answer is taken only if it is not older than the highest height the client already
// verified (queryProven): a node left behind, or serving an old checkpoint, cannot make
// the client reserve storage from a past epoch at past prices.
func (l *Ledger) txNodeInfo(ctx context.Context) (*query.Info, error) {
	l.mu.Lock()
	order := l.txOrder()
	l.mu.Unlock()
	if l.trust != nil {
		return l.provenInfo(ctx, order[0])
	}
	resp, _, err := l.queryFrom(ctx, &query.Query{Kind: query.QueryInfo}, order[0])
	if err != nil {
		return nil, err
	}
	return query.DecodeInfo(resp)
}

func (l *Ledger) record(id codec.BlobID, r regInfo) {
	l.regMu.Lock()
	l.regs[id] = r
	l.regMu.Unlock()
}

func (l *Ledger) recorded(id codec.BlobID) regInfo {
	l.regMu.Lock()
	defer l.regMu.Unlock()
	return l.regs[id]
}

// CertifyBlob implements LedgerHooks: it signs the certify-blob transaction carrying the
// certificate, submits it, publishes the same signed transaction on the `certs` topic when
// the client has one (docs/architecture.md §5; nodes verify it against the committee and add it to
// their mempools, so the certificate lands even if the node we submitted to fails), and
// waits for the commit. A blob someone else certified meanwhile counts as success.
func (l *Ledger) CertifyBlob(ctx context.Context, id codec.BlobID, reg Registration, res *UploadResult) error {
	if res == nil || res.Certificate == nil {
		return errors.New("client: no certificate to submit")
	}
	op := &staking.CertifyBlob{Blob: reg.Object, BlobID: id, Deletable: reg.Deletable, Cert: *res.Certificate}
	for lost := 0; ; lost++ {
		l.mu.Lock()
		// A short expiry, as the registration's: a certificate of an epoch that ended is
		// dropped from mempools, and the store runs again once that is proven.
		p, err := l.sendLocked(ctx, op, expiry{margin: regExpiryMargin})
		l.mu.Unlock()
		var te *TxError
		if errors.As(err, &te) && te.Code == staking.CodeAlreadyDone {
			if l.trust != nil {
				return l.confirmCertified(ctx, id, &pending{kind: op.Kind(), to: l.preferred})
			}
			return nil
		}
		if err != nil {
			return err
		}
		if l.cfg.Certs != nil {
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := l.cfg.Certs.Publish(pctx, p.raw); err != nil {
				l.cfg.Logger.Debug("publishing certificate failed", "blob_id", id, "err", err)
			}
			cancel()
		}
		_, err = l.wait(ctx, p) // with a genesis, a proven receipt
		if err == nil {
			return nil
		}
		if errors.As(err, &te) && te.Code == staking.CodeAlreadyDone {
			if l.trust != nil {
				return l.confirmCertified(ctx, id, p)
			}
			return nil
		}
		// Lost its nonce to another writer, or proven dead at its expiry (a busy ledger
		// passed the short margin): the same certificate, signed again.
		if (errors.Is(err, errTxLost) || errors.Is(err, errTxExpired)) && lost < maxLostRetries {
			continue
		}
		if err != nil {
			l.resetNonce()
		}
		return err
	}
}

var _ LedgerHooks = (*Ledger)(nil)

// FormatWAL prints a FROST amount as WAL with up to nine decimals ("1.5 WAL").
func FormatWAL(frost uint64) string {
	whole, frac := frost/staking.FrostPerWAL, frost%staking.FrostPerWAL
	if frac == 0 {
		return fmt.Sprintf("%d WAL", whole)
	}
	s := fmt.Sprintf("%d.%09d", whole, frac)
	for s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	return s + " WAL"
}

// SubmitCreating is Submit for a transaction that creates an object (stake, reserve
// storage, …): it also returns the ID of the first object created,
// staking.DeriveObjectID(sender, nonce, 0) (docs/protocol.md §11).
func (l *Ledger) SubmitCreating(ctx context.Context, op staking.Op) (query.TxReceipt, staking.ObjectID, error) {
	r, p, err := l.sendWait(ctx, op, defaultExpiry)
	if err != nil {
		return r, staking.ObjectID{}, err
	}
	return r, staking.DeriveObjectID(l.addr, p.nonce, 0), nil
}

// Stake delegates amount FROST from the wallet to node's pool, waits for the commit and
// returns the new stake object's ID.
func (l *Ledger) Stake(ctx context.Context, node epoch.NodeID, amount uint64) (query.TxReceipt, staking.ObjectID, error) {
	return l.SubmitCreating(ctx, &staking.StakeOp{Node: node, Amount: amount})
}

// RequestWithdrawStake asks to withdraw one of the wallet's stakes (it stops counting for
// committees not selected yet) and waits for the commit.
func (l *Ledger) RequestWithdrawStake(ctx context.Context, stake staking.ObjectID) (query.TxReceipt, error) {
	return l.Submit(ctx, &staking.RequestWithdraw{Stake: stake})
}

// WithdrawStake returns a withdrawable stake, with its compounded rewards, to the wallet's
// balance and waits for the commit.
func (l *Ledger) WithdrawStake(ctx context.Context, stake staking.ObjectID) (query.TxReceipt, error) {
	return l.Submit(ctx, &staking.Withdraw{Stake: stake})
}

// pageAttempts bounds how often a paged listing starts again because the ledger moved
// between its pages.
const pageAttempts = 3

// pages asks for the pages of a paged query (QueryCommittee, QueryStakes) from the most
// up-to-date node, then the rest from that same node, and returns them all; decode parses
// one page and reports its height, whether more follow and the cursor for the next. If the
// node's height changes between pages the listing starts again (at most pageAttempts
// times), so the pages describe one state.
func pages[T any](ctx context.Context, l *Ledger, q query.Query, decode func([]byte) (T, uint64, bool, [32]byte, error)) ([]T, error) {
	var err error
	for range pageAttempts {
		q.Cursor = [32]byte{}
		var b []byte
		var p peer.ID
		if b, p, err = l.queryBestFrom(ctx, &q); err != nil {
			return nil, err
		}
		var out []T
		var first uint64
		for i := 0; ; i++ {
			page, h, more, cursor, derr := decode(b)
			if derr != nil {
				return nil, derr
			}
			if i == 0 {
				first = h
			} else if h != first {
				err = fmt.Errorf("client: the ledger moved from height %d to %d while listing", first, h)
				break
			}
			out = append(out, page)
			if !more {
				return out, nil
			}
			q.Cursor = cursor
			if b, err = p2p.Call(ctx, l.cfg.Host, p, query.Spec, q.Encode()); err != nil {
				break
			}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return nil, err
}

// Candidates returns every registered node — committee members and candidates — with its
// votes, its stake pool and its shards now and in the next committee once selected
// (`walrus info committee`), read from one node's state, page by page.
func (l *Ledger) Candidates(ctx context.Context) (*query.CommitteeAnswer, error) {
	if l.trust != nil {
		return l.provenCandidates(ctx)
	}
	ps, err := pages(ctx, l, query.Query{Kind: query.QueryCommittee}, func(b []byte) (*query.CommitteeAnswer, uint64, bool, [32]byte, error) {
		a, err := query.DecodeCommitteeAnswer(b)
		if err != nil {
			return nil, 0, false, [32]byte{}, err
		}
		var cur [32]byte
		if n := len(a.Candidates); n > 0 {
			cur = a.Candidates[n-1].Node
		} else if a.More {
			return nil, 0, false, cur, fmt.Errorf("%w: an empty page with more to come", query.ErrMalformed)
		}
		return a, a.Height, a.More, cur, nil
	})
	if err != nil {
		return nil, err
	}
	all := ps[0]
	for _, p := range ps[1:] {
		if last := all.Candidates[len(all.Candidates)-1].Node; len(p.Candidates) > 0 && string(p.Candidates[0].Node[:]) <= string(last[:]) {
			return nil, fmt.Errorf("%w: committee pages out of order", query.ErrMalformed)
		}
		all.Candidates = append(all.Candidates, p.Candidates...)
	}
	all.More = false
	return all, nil
}

// StakesOf returns every stake object owner owns, read from one node's state, page by page
// (`walrus list-staked-wal`).
func (l *Ledger) StakesOf(ctx context.Context, owner staking.Address) (*query.StakesAnswer, error) {
	if l.trust != nil {
		return l.provenStakes(ctx, owner)
	}
	a, err := listing(ctx, l, query.Query{Kind: query.QueryStakes, Address: owner}, "stake", query.DecodeStakesAnswer,
		func(a *query.StakesAnswer) (uint64, bool) { return a.Height, a.More },
		func(a *query.StakesAnswer) *[]query.StakeInfo { return &a.Stakes },
		func(s *query.StakeInfo) [32]byte { return s.ID })
	if err != nil {
		return nil, err
	}
	a.More = false
	return a, nil
}

// listing reads every page of q from one node (pages) and returns the first page holding
// every item (its caller clears its "more" flag): decode parses a page, meta gives its height and whether
// more follow, items its items and id an item's ID, which must ascend strictly across pages.
func listing[A any, T any](ctx context.Context, l *Ledger, q query.Query, what string, decode func([]byte) (*A, error),
	meta func(*A) (uint64, bool), items func(*A) *[]T, id func(*T) [32]byte) (*A, error) {
	ps, err := pages(ctx, l, q, func(b []byte) (*A, uint64, bool, [32]byte, error) {
		a, err := decode(b)
		if err != nil {
			return nil, 0, false, [32]byte{}, err
		}
		h, more := meta(a)
		var cur [32]byte
		if it := *items(a); len(it) > 0 {
			cur = id(&it[len(it)-1])
		} else if more {
			return nil, 0, false, cur, fmt.Errorf("%w: an empty page with more to come", query.ErrMalformed)
		}
		return a, h, more, cur, nil
	})
	if err != nil {
		return nil, err
	}
	all := ps[0]
	for _, p := range ps[1:] {
		have, next := *items(all), *items(p)
		if len(have) > 0 && len(next) > 0 {
			if last, first := id(&have[len(have)-1]), id(&next[0]); string(first[:]) <= string(last[:]) {
				return nil, fmt.Errorf("%w: %s pages out of order", query.ErrMalformed, what)
			}
		}
		*items(all) = append(have, next...)
	}
	return all, nil
}
