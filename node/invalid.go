package node

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/keyfile"
	"github.com/walrus-go/walrus-go/node/blobsync"
	"github.com/walrus-go/walrus-go/staking"
)

// Invalid blobs (docs/architecture.md §5 "Invalid blobs"): blob sync hands an inconsistency
// proof to the Invalidator, which collects f+1 shards' attestations over
// /walrus/inconsistency/1 (answered by the data plane) and gives the certificate to
// submitInvalid. That signs an `invalidate blob` transaction with the node's account key,
// adds it to this node's mempool and publishes it on the `certs` topic, so every node's
// mempool has it even if this one fails. Once committed, the ledger says "invalid" and
// garbage collection removes the blob's slivers on every node (node/gc).

// account is the node's ledger account and the nonce of its next transaction.
type account struct {
	key  ed25519.PrivateKey
	addr staking.Address

	mu   sync.Mutex
	next uint64 // nonce after the last transaction this node sent (0: none yet)
	// pending holds the transactions the mempool accepted that the ledger has not applied
	// yet, by operation (ownKey): a retry of the same operation offers the same transaction
	// again, which the mempool publishes again, rather than signing another one whose nonce
	// would wait behind it.
	pending map[string]ownTx
}

// ownTx is one of the node's own transactions still pending.
type ownTx struct {
	raw           []byte
	nonce, expiry uint64
}

// maxPendingOwn bounds account.pending: a node has only a few operations in flight (a
// sync done, invalid-blob certificates).
const maxPendingOwn = 256

// ownKey names an operation: its encoding in a transaction with no sender, nonce or expiry.
func ownKey(op staking.Op) string { return string((&staking.Tx{Op: op}).Encode()) }

// loadOrCreateAccount reads the account key at path, or creates one there.
func loadOrCreateAccount(path string) (*account, error) {
	k, err := keyfile.ReadAccountKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		_, k, err = ed25519.GenerateKey(rand.Reader)
		if err == nil {
			err = keyfile.WriteAccountKey(path, k)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("node: account key: %w", err)
	}
	return &account{key: k, addr: staking.AddressOf(k.Public().(ed25519.PublicKey))}, nil
}

// newInvalidator builds the invalid-blob flow over the node's host and keys.
func (n *Node) newInvalidator() (*blobsync.Invalidator, error) {
	outcomes := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "walrus_invalid_blobs_total",
		Help: "Invalid-blob certifications this node started since start, by outcome (submitted, failed, refused).",
	}, []string{"outcome"})
	if err := n.met.reg.Register(outcomes); err != nil {
		return nil, err
	}
	return blobsync.NewInvalidator(blobsync.InvalidatorConfig{
		Host: n.host, Params: n.ledger.Params(), Network: n.ledger.NetworkID(), Key: n.blsKey,
		Submit: n.submitInvalid, Logger: n.log,
		Done: func(outcome string) { outcomes.WithLabelValues(outcome).Inc() },
	})
}

// submitInvalid commits an invalid-blob certificate: an `invalidate blob` transaction from
// the node's account, into this node's mempool and onto the `certs` topic.
func (n *Node) submitInvalid(ctx context.Context, id codec.BlobID, cert *epoch.Certificate) error {
	raw, err := n.submitOwn(ctx, &staking.InvalidateBlob{BlobID: id, Cert: *cert})
	if err != nil {
		return fmt.Errorf("node: invalid-blob certificate: %w", err)
	}
	if raw == nil {
		return nil // already applied (or already in the mempool under another nonce)
	}
	if err := n.certs.Publish(ctx, raw); err != nil {
		n.log.Debug("publish invalid-blob certificate", "blob_id", id, "err", err)
	}
	return nil
}

// submitSyncDone submits the node's `sync done` (epochchange).
func (n *Node) submitSyncDone(ctx context.Context, op *staking.SyncDone) error {
	_, err := n.submitOwn(ctx, op)
	return err
}

// ownTxExpiryMargin is how many heights past the latest one the node's own transactions
// stay valid (the client's margin for transactions it does not sign again, node/client):
// one that no checkpoint includes by then can never execute later. A later submission
// whose nonce follows a dead one is refused as bad-nonce, and the next asks the ledger.
const ownTxExpiryMargin = 64

// submitOwn signs op with the node's account, the next nonce and an expiry height (the
// latest height plus ownTxExpiryMargin) and adds it to this node's mempool (which gossips
// it on the `txs` topic); an op the ledger already applied counts as done. While an earlier
// transaction for the same op is still pending, it offers that one again instead (the
// mempool publishes it again: the first publication may have reached no one). It returns
// the signed transaction, or nil if the ledger (or the mempool) already has the op's effect.
func (n *Node) submitOwn(ctx context.Context, op staking.Op) ([]byte, error) {
	a := n.account
	a.mu.Lock()
	defer a.mu.Unlock()
	v := n.ledger.View()
	applied := v.State().Account(a.addr).Nonce
	for k, p := range a.pending {
		if p.nonce < applied || p.expiry <= v.Height() {
			delete(a.pending, k) // applied, displaced or expired
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	key := ownKey(op)
	if p, ok := a.pending[key]; ok {
		rep, err := n.cons.SubmitTx(ctx, p.raw)
		if err == nil && rep.Accepted {
			return p.raw, nil
		}
		delete(a.pending, key) // no longer in the mempool (evicted, refused): sign anew
	}
	nonce := max(applied, a.next)
	expiry := v.Height() + ownTxExpiryMargin
	raw := staking.Sign(n.ledger.NetworkID(), a.key, staking.Tx{Nonce: nonce, Expiry: expiry, Op: op}).Encode()
	rep, err := n.cons.SubmitTx(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("submit %s: %w", op.Kind(), err)
	}
	switch {
	case rep.Accepted:
		a.next = nonce + 1
		if a.pending == nil {
			a.pending = make(map[string]ownTx)
		}
		if len(a.pending) < maxPendingOwn {
			a.pending[key] = ownTx{raw: raw, nonce: nonce, expiry: expiry}
		}
	case rep.Code == staking.CodeAlreadyDone: // the nonce stays unused; nothing to send
		return nil, nil
	default:
		if rep.Code == staking.CodeBadNonce {
			a.next = 0 // ask the ledger again next time
		}
		return nil, fmt.Errorf("%s refused: %s: %s", op.Kind(), rep.Code, rep.Message)
	}
	return raw, nil
}
