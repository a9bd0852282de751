package node

import (
	"context"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// The `certs` topic (docs/architecture.md §5, "Store"): a writer publishes its signed certify-blob
// transaction there as well as submitting it, so the Point of Availability reaches the
// ledger even if the node it submitted to fails. Carrying the whole signed transaction
// (rather than a bare certificate) lets any node hand it to its mempool without an account
// key of its own; the nonce and fee stay the writer's. Invalid-blob certificates travel the
// same way (invalid.go).

// validateCert is the `certs` validator: Reject what is not a correctly signed certify-blob
// transaction with a certificate of the current committee worth n-f shards on the
// confirmation message it names, or an invalidate-blob transaction with a certificate worth
// f+1 shards on the invalid-blob message (a forgery); Ignore certificates of another epoch
// (this node may lag, or the certificate is stale) since they are not provably wrong.
func (n *Node) validateCert(_ context.Context, m p2p.Message) p2p.Verdict {
	tx, err := staking.DecodeSignedTx(m.Data)
	if err != nil || !tx.Verify(n.ledger.Network()) {
		return p2p.Reject
	}
	var (
		cert *epoch.Certificate
		msg  func(ep uint32) []byte
		th   epoch.Threshold
	)
	switch op := tx.Tx.Op.(type) {
	case *staking.CertifyBlob:
		cert, th = &op.Cert, epoch.ThresholdQuorum
		msg = func(ep uint32) []byte {
			return staking.ConfirmationMessage(n.ledger.Network(), ep, op.BlobID, op.Deletable, op.Blob)
		}
	case *staking.InvalidateBlob:
		cert, th = &op.Cert, epoch.ThresholdValidity
		msg = func(ep uint32) []byte { return staking.InvalidBlobMessage(n.ledger.Network(), ep, op.BlobID) }
	default:
		return p2p.Reject
	}
	ep := n.ledger.CurrentEpoch()
	if cert.Epoch != ep {
		return p2p.Ignore
	}
	com, err := n.ledger.Committee(ep)
	if err != nil {
		return p2p.Ignore
	}
	if err := com.VerifyCertificate(msg(ep), cert, th); err != nil {
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
		}
	}
}
