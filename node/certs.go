package node

import (
	"context"
	"errors"
	"time"

	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// The `certs` topic (docs/architecture.md §5, "Store"): a writer publishes its signed certify-blob
// transaction there as well as submitting it, so the Point of Availability reaches the
// ledger even if the node it submitted to fails. Carrying the whole signed transaction
// (rather than a bare certificate) lets any node hand it to its mempool without an account
// key of its own; the nonce and fee stay the writer's. Invalid-blob certificates travel the
// same way (invalid.go).

// certPoolWait is how long the `certs` validator waits for a free BLS verification worker
// before it Ignores the message: gossip's validation goroutines must not queue behind a
// flood of certificates (one is ≈4.4 ms of pairings, docs/architecture.md §3). A writer
// also submits its certificate to nodes directly, so an Ignored one is only a lost relay.
const certPoolWait = 50 * time.Millisecond

// certNonceWindow is how far ahead of its sender's next nonce a certificate's transaction
// may be and still be forwarded: the `txs` validator's window (consensus.maxFutureGap).
const certNonceWindow = 16

// validateCert is the `certs` validator. It checks cheapest first, against the latest
// ledger view, and pays for a pairing only for a certificate that would change the ledger:
//   - size (the topic's cap, then a transaction's) and a strict decode, an operation that
//     is a certify-blob or invalidate-blob: Reject otherwise;
//   - the certificate's epoch is the current one: Ignore otherwise (this node may lag, or
//     the certificate is stale; neither is provably wrong);
//   - the blob is known and not done: a certify-blob whose blob object is not registered
//     here (yet) Ignore, whose object names another blob ID or persistence Reject, already
//     certified or expired Ignore; an invalidate-blob for a blob ID never registered here,
//     or already invalid, Ignore;
//   - the fee and the nonce window, as the `txs` validator: a sender with no account
//     Reject, one that cannot pay now Ignore; a used nonce (a duplicate) or one far ahead
//     Ignore;
//   - the Ed25519 signature: Reject;
//   - the certificate, n-f shards on the confirmation (f+1 on the invalid-blob message),
//     in the consensus's bounded BLS pool with its cache (so one certificate wrapped in
//     many transactions is verified once): Reject on failure, Ignore if no worker frees up
//     within certPoolWait.
//
// Replays of the same transaction never get here: the topic Ignores contents it accepted
// (p2p/replay.go).
func (n *Node) validateCert(ctx context.Context, m p2p.Message) p2p.Verdict {
	return n.validateCertWith(ctx, m, n.cons.VerifyBLS)
}

// validateCertWith is validateCert with the BLS check given (tests stand in a saturated pool).
func (n *Node) validateCertWith(ctx context.Context, m p2p.Message, verifyBLS func(context.Context, *staking.State, *staking.SignedTx) error) p2p.Verdict {
	if len(m.Data) > staking.MaxTxSize {
		return p2p.Reject
	}
	tx, err := staking.DecodeSignedTx(m.Data)
	if err != nil {
		return p2p.Reject
	}
	v := n.ledger.View()
	st := v.State()
	switch op := tx.Tx.Op.(type) {
	case *staking.CertifyBlob:
		if op.Cert.Epoch != st.Epoch() {
			return p2p.Ignore
		}
		b, ok := st.Blob(op.Blob)
		switch {
		case !ok:
			return p2p.Ignore
		case b.BlobID != op.BlobID || b.Deletable != op.Deletable:
			return p2p.Reject
		case b.Certified || b.Storage.End <= st.Epoch():
			return p2p.Ignore
		}
	case *staking.InvalidateBlob:
		if op.Cert.Epoch != st.Epoch() {
			return p2p.Ignore
		}
		if k := st.BlobStatus(op.BlobID).Kind; k == staking.StatusNonexistent || k == staking.StatusInvalid {
			return p2p.Ignore
		}
	default:
		return p2p.Reject
	}
	next, r := st.Precheck(tx, len(m.Data))
	switch {
	case r.Code == staking.CodeFee:
		if st.Account(staking.AddressOf(tx.Tx.Sender)) == (staking.Account{}) {
			return p2p.Reject
		}
		return p2p.Ignore
	case !r.OK():
		return p2p.Reject
	case tx.Tx.Nonce < next || tx.Tx.Nonce > next+certNonceWindow:
		return p2p.Ignore
	}
	if !tx.Verify(v.Network()) {
		return p2p.Reject
	}
	pctx, cancel := context.WithTimeout(ctx, certPoolWait)
	defer cancel()
	if err := verifyBLS(pctx, st, tx); err != nil {
		if pctx.Err() != nil {
			return p2p.Ignore
		}
		return p2p.Reject
	}
	return p2p.Accept
}

// relayCerts hands every validated certify or invalidate transaction from the `certs` topic to the
// consensus mempool (which dry-runs it and drops duplicates and already-certified blobs),
// until ctx ends.
func (n *Node) relayCerts(ctx context.Context, sub *p2p.Subscription) {
	defer sub.Cancel()
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return
		}
		if err := n.cons.GossipTx(m.Data); err != nil {
			n.log.Debug("certificate relay dropped", "err", err)
			if errors.Is(err, consensus.ErrMempoolFull) {
				n.certs.Forget(m.Data) // a later copy may find room
			}
		}
	}
}
