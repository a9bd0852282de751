package dataplane

import (
	"context"
	"errors"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/inconsistency"
	"github.com/walrus-go/walrus-go/staking"
)

// handleInconsistency answers /walrus/inconsistency/1 (docs/protocol.md §4 and §9.12): it
// signs InvalidBlob(blob_id) for the current epoch when, and only when, the request's
// metadata is the blob's (it hashes to the blob ID) and its proof verifies against that
// metadata (codec.VerifyInconsistencyProof: the symbols are authenticated and decode to a
// sliver whose hash is not the committed one). A consistent blob has no such proof, so no
// honest node ever attests against one. Cheap checks come first (shape, epoch, membership,
// the blob's ledger status, the metadata hash); the decode runs on the worker pool, which
// bounds the work a flood of proofs can cause.
func (s *Service) handleInconsistency(ctx context.Context, from peer.ID, body []byte) ([]byte, error) {
	p := s.cfg.Ledger.Params()
	req, err := inconsistency.DecodeRequest(p, body)
	if err != nil {
		return nil, classify(err)
	}
	ep, held, err := s.shardsHeld()
	if err != nil {
		return nil, err
	}
	if req.Epoch != ep {
		return nil, p2p.Errorf(p2p.CodeUnavailable, "attestation for epoch %d asked, node is in epoch %d", req.Epoch, ep)
	}
	if len(held) == 0 {
		return nil, p2p.Errorf(p2p.CodeForbidden, "node is not in the committee of epoch %d", ep)
	}
	switch st, _ := s.cfg.Ledger.BlobInfo(req.BlobID); st.Kind {
	case staking.StatusRegistered, staking.StatusCertified, staking.StatusInvalid:
	default:
		return nil, p2p.Errorf(p2p.CodeForbidden, "blob %s is %s", req.BlobID, st.Kind)
	}
	if req.Metadata.BlobID() != req.BlobID {
		return nil, p2p.Errorf(p2p.CodeBadRequest, "metadata is not that of blob %s", req.BlobID)
	}
	return s.ask(ctx, func(context.Context) ([]byte, error) {
		if err := codec.VerifyInconsistencyProof(p, &req.Metadata, &req.Proof); err != nil {
			if errors.Is(err, codec.ErrProofNotInconsistent) {
				s.cfg.Logger.Warn("refused an inconsistency proof of a consistent sliver", "blob_id", req.BlobID,
					"peer_id", from, "target", req.Proof.Target, "index", req.Proof.TargetIndex)
			}
			return nil, p2p.Errorf(p2p.CodeBadRequest, "%v", err)
		}
		sig := s.cfg.Key.Sign(staking.InvalidBlobMessage(s.cfg.Ledger.NetworkID(), ep, req.BlobID))
		s.cfg.Logger.Info("attested an invalid blob", "blob_id", req.BlobID, "peer_id", from, "epoch", ep)
		a := inconsistency.Response{Epoch: ep, Signature: sig}
		return a.Encode(), nil
	})
}
