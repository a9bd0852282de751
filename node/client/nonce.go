package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// Many writers, one wallet (docs/operating.md, "Many stores at once"). An account's
// transactions must carry consecutive nonces, and several writers may share one wallet:
// goroutines of one process (one Ledger) and processes (one Ledger each). The ledger
// client keeps them all working without coordination between processes:
//
//   - In one process, Ledger.sendLocked hands out consecutive nonces under l.mu and
//     submits at once, without waiting for the commit of the previous transaction: a
//     node dry-runs a submission against its committed state plus its mempool, so
//     transactions k, k+1, k+2 sent to one node chain (pipelining).
//   - Every writer of a wallet sends to the same node, the wallet's home: the bootstrap
//     node that rendezvous hashing of (address, peer ID) ranks first (homeRank), then the
//     next in that ranking if it does not answer. All processes of one wallet with one
//     bootstrap list so meet at one mempool, which serialises their nonces.
//   - When a node refuses a submission because its nonce is taken (bad-nonce "nonce k,
//     want m" with m > k: another writer's transactions hold k..m-1 there), the client
//     re-signs with m and submits again at once. When every node answers m < k, the
//     client's earlier transactions k'..k-1 are in no mempool (lost, see below): it
//     re-signs from m. With a genesis both refusals are only the node's word (it may keep
//     the refused bytes and commit them later): the bytes stay pending, accepted nowhere,
//     and the operation is signed again only once they are proven lost (a fresh nonce)
//     or dead at their expiry (the proven account's nonce, its own in the usual case);
//     when every node says "behind", the gap is filled with one-FROST transfers to the
//     wallet itself and the same bytes offered again (settleLocked, fillLocked in
//     nonceproof.go).
//   - A transaction can still lose its nonce after acceptance (two writers that reached
//     different nodes while the home was down; a mempool purge): wait notices that the
//     nonce was consumed by a commit that holds no receipt of ours and reports
//     errTxLost, and the callers sign the operation again with a fresh nonce. With a
//     genesis both facts are proven (nonceproof.go), so that no node can make one
//     operation execute twice.

// maxResign bounds how often one submission re-signs because other writers took its
// nonce first (each round costs one round trip; 64 contending processes need ~64).
const maxResign = 1024

// maxLostRetries bounds how often one operation is signed again after its transaction
// lost its nonce.
const maxLostRetries = 8

// errTxLost: the transaction's nonce was consumed by another transaction of the same
// account, so it can never commit; the operation must be signed again with a new nonce.
var errTxLost = errors.New("client: transaction lost its nonce to another of the wallet's transactions")

// wantNonce extracts the nonce a node expects from a bad-nonce refusal. The message is
// staking's "nonce %d, want %d" (staking/apply.go; TestWantNonceMatchesStaking pins it).
func wantNonce(msg string) (uint64, bool) {
	_, w, ok := strings.Cut(msg, "want ")
	if !ok {
		return 0, false
	}
	end := 0
	for end < len(w) && w[end] >= '0' && w[end] <= '9' {
		end++
	}
	v, err := strconv.ParseUint(w[:end], 10, 64)
	return v, err == nil
}

// homeRank orders the bootstrap peers for the wallet addr by rendezvous hashing:
// Blake2b-256(address || peer ID), highest first. Every process with the same wallet and
// bootstrap list computes the same order, so they all submit to the same node first and
// fail over to the same next one.
func homeRank(addr staking.Address, peers []peer.ID) []peer.ID {
	type scored struct {
		p peer.ID
		s [32]byte
	}
	sc := make([]scored, len(peers))
	for i, p := range peers {
		sc[i] = scored{p, blake2b.Sum256(append(append([]byte(nil), addr[:]...), p...))}
	}
	slices.SortStableFunc(sc, func(a, b scored) int { return -bytes.Compare(a.s[:], b.s[:]) })
	out := make([]peer.ID, len(sc))
	for i := range sc {
		out[i] = sc[i].p
	}
	return out
}

// txOrder returns the peers to submit to: the preferred one (the node our last accepted
// transaction went to), then the wallet's home ranking.
func (l *Ledger) txOrder() []peer.ID {
	out := make([]peer.ID, 0, len(l.home))
	if l.preferred != "" {
		out = append(out, l.preferred)
	}
	for _, p := range l.home {
		if p != l.preferred {
			out = append(out, p)
		}
	}
	return out
}

// checkLost is called when a node says of a pending transaction that it does not hold it
// and that its nonce is behind the sender's next one there. With a genesis the decision
// is proven (provenLost). Without one, the node's word is taken: if that node's committed
// state has used the nonce and holds no receipt of the transaction, the transaction can
// never commit: errTxLost. If the receipt is there after all, it is returned. Otherwise
// (the nonce is taken only by a pending transaction) the caller keeps waiting: the next
// commit decides. Both questions go to the same node, account first: its state only moves
// forward, so a nonce used by the first answer's height and no receipt in the second
// means the nonce went to another transaction.
func (l *Ledger) checkLost(ctx context.Context, to peer.ID, p *pending) (*query.TxReceipt, error) {
	if l.trust != nil {
		return l.provenLost(ctx, to, p)
	}
	b, err := p2p.Call(ctx, l.cfg.Host, to, query.Spec, (&query.Query{Kind: query.QueryAccount, Address: l.addr}).Encode())
	if err != nil {
		return nil, nil
	}
	acc, err := query.DecodeAccountAnswer(b)
	if err != nil || acc.Account.Nonce <= p.nonce {
		return nil, nil
	}
	q := &query.Query{Kind: query.QueryWaitTx, TxHash: p.hash, Wait: 1, After: p.after}
	b, err = p2p.Call(ctx, l.cfg.Host, to, query.Spec, q.Encode())
	if err == nil {
		a, err := query.DecodeWaitAnswer(b)
		if err != nil {
			return nil, err
		}
		return &a.Receipt, nil
	}
	var se *p2p.StatusError
	if errors.As(err, &se) && se.Code == p2p.CodeNotFound {
		l.cfg.Logger.Debug("transaction lost its nonce", "kind", p.kind, "nonce", p.nonce, "account_nonce", acc.Account.Nonce)
		return nil, fmt.Errorf("%w: %s with nonce %d", errTxLost, p.kind, p.nonce)
	}
	return nil, nil
}

// sendWait signs op, submits it and waits for its commit, signing it again with a fresh
// nonce if the transaction lost its nonce (at most maxLostRetries times). It returns the
// receipt and the pending transaction that committed. exp chooses its expiry height.
func (l *Ledger) sendWait(ctx context.Context, op staking.Op, exp expiry) (query.TxReceipt, *pending, error) {
	for i := 0; ; i++ {
		l.mu.Lock()
		p, err := l.sendLocked(ctx, op, exp)
		l.mu.Unlock()
		if err != nil {
			return query.TxReceipt{}, nil, err
		}
		r, err := l.wait(ctx, p)
		if errors.Is(err, errTxLost) && i < maxLostRetries {
			continue
		}
		if err != nil {
			l.resetNonce()
		}
		return r, p, err
	}
}
