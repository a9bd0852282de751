package consensus

import "github.com/walrus-go/walrus-go/staking"

// Gossip does not keep one sender's order: a client submits a reservation (nonce k) and
// then a registration (nonce k+1) to one node, which publishes both on the `txs` topic,
// and another node may validate the second first. Its dry run then fails on the nonce and,
// dropped, the registration would reach a checkpoint only when the origin node proposes or
// the client resubmits it (measured: a 2.7 s registration in make bench-e2e). So a gossiped
// transaction whose nonce is just ahead of its sender's next one waits in a small, bounded
// side pool and joins the mempool as soon as the gap is filled (by gossip or by a commit).
const (
	// maxFuture bounds the side pool; its transactions' signatures are verified and their
	// fees covered by their senders' balances (the nonce check comes after both), and only
	// senders that exist are taken, so filling it takes real, funded accounts.
	maxFuture = 1024
	// maxFutureGap is how far ahead of the sender's next nonce a transaction may be; it is
	// also the most transactions one sender may have waiting.
	maxFutureGap = 16
	// futureHeights is how many committed heights a waiting transaction is kept.
	futureHeights = 20
)

// futureTx is a transaction waiting for its predecessors.
type futureTx struct {
	raw    []byte
	sender staking.Address
	nonce  uint64
	height uint64 // base height when it arrived
}

// park keeps a gossiped transaction that failed the dry run only on its nonce because the
// nonce is ahead of the sender's next one (by at most maxFutureGap). It reports whether
// the transaction was kept.
func (a *actor) park(h [32]byte, raw []byte, r staking.Receipt) bool {
	if r.Code != staking.CodeBadNonce || len(a.future) >= maxFuture {
		return false
	}
	if _, ok := a.future[h]; ok {
		return true
	}
	tx, err := staking.DecodeSignedTx(raw)
	if err != nil {
		return false
	}
	sender := staking.AddressOf(tx.Tx.Sender)
	// Only senders that exist: the dry run's fee check (before the nonce) showed the
	// balance covers the fee, but under a zero fee schedule that holds for any fresh key,
	// which must not be able to fill the side pool for free.
	if !a.scratch.HasAccount(sender) {
		return false
	}
	next := a.scratch.Account(sender).Nonce
	if tx.Tx.Nonce <= next || tx.Tx.Nonce > next+maxFutureGap {
		return false
	}
	// Per sender, a bounded number: a fresh key cannot take the whole side pool (its fee
	// was payable, or the dry run would have said so before the nonce).
	waiting := 0
	for _, f := range a.future {
		if f.sender == sender {
			waiting++
		}
	}
	if waiting >= maxFutureGap {
		return false
	}
	if a.future == nil {
		a.future = make(map[[32]byte]futureTx)
	}
	a.future[h] = futureTx{raw: raw, sender: sender, nonce: tx.Tx.Nonce, height: a.base.Height()}
	return true
}

// promote moves waiting transactions whose turn has come into the mempool (dry-run on
// the scratch state like any other), repeating while that fills further gaps, and drops
// the ones that can no longer apply: nonce already used, or kept for futureHeights.
func (a *actor) promote() {
	for moved := true; moved && len(a.future) > 0; {
		moved = false
		for h, f := range a.future {
			next := a.scratch.Account(f.sender).Nonce
			switch {
			case f.nonce < next || a.base.Height() > f.height+futureHeights || a.pool.has(h):
				delete(a.future, h)
			case f.nonce == next:
				delete(a.future, h)
				if a.pool.full(len(f.raw)) || a.pool.senderFull(f.sender) {
					continue
				}
				r := a.dryRun(f.raw)
				if !r.OK() {
					continue
				}
				a.pool.add(h, f.raw, f.sender, f.nonce, r.Fee)
				moved = true
			}
		}
	}
	a.c.mempool.Store(int64(a.pool.len()))
}
