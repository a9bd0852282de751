package blobsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/inconsistency"
	"github.com/walrus-go/walrus-go/staking"
)

// ErrNoAttestations: too few shards' owners attested that a blob is invalid (they are
// down, in another epoch, or the proof did not convince them).
var ErrNoAttestations = errors.New("blobsync: not enough invalid-blob attestations")

// InvalidatorConfig configures an Invalidator.
type InvalidatorConfig struct {
	// Host opens the streams. Required.
	Host host.Host
	// Params is the network's encoding geometry.
	Params codec.Params
	// Network binds the attestations to the network.
	Network epoch.NetworkID
	// Key is this node's BLS key: its own attestation counts when it is a member. Required.
	Key *bls.SecretKey
	// Submit commits the certificate (an `invalidate blob` transaction). Required.
	Submit func(ctx context.Context, id codec.BlobID, cert *epoch.Certificate) error
	// Parallel is how many members are asked at once (default 8).
	Parallel int
	// Logger receives progress (default: discarded).
	Logger *slog.Logger
	// Done, if not nil, is told how each Invalidate ended: "submitted", "failed" or
	// "refused" (the proof does not verify: it never leaves this node).
	Done func(outcome string)
}

// Invalidator turns an inconsistency proof into an invalid-blob certificate and commits it
// (docs/architecture.md §5 "Invalid blobs"): it checks the proof itself, signs its own
// attestation, asks the other committee members (heaviest first) for theirs over
// /walrus/inconsistency/1 until f+1 shards attest, aggregates them and submits the
// certificate. Every answer is verified against the member's key before it counts, so a
// lying member costs only its request. One blob is worked on at most once at a time.
type Invalidator struct {
	cfg  InvalidatorConfig
	self epoch.NodeID

	mu   sync.Mutex
	busy map[codec.BlobID]bool
}

// NewInvalidator returns an Invalidator.
func NewInvalidator(cfg InvalidatorConfig) (*Invalidator, error) {
	if cfg.Host == nil || cfg.Key == nil || cfg.Submit == nil {
		return nil, errors.New("blobsync: Invalidator needs Host, Key and Submit")
	}
	if cfg.Parallel <= 0 {
		cfg.Parallel = 8
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Invalidator{cfg: cfg, self: epoch.NodeIDOf(cfg.Key.PublicKey()), busy: make(map[codec.BlobID]bool)}, nil
}

// Invalidate certifies that blob id (whose metadata meta was verified against id) is
// invalid, by proof, in committee com's epoch, and submits the certificate.
func (iv *Invalidator) Invalidate(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta *codec.Metadata, proof *codec.InconsistencyProof) (err error) {
	iv.mu.Lock()
	if iv.busy[id] {
		iv.mu.Unlock()
		return nil
	}
	iv.busy[id] = true
	iv.mu.Unlock()
	defer func() {
		iv.mu.Lock()
		delete(iv.busy, id)
		iv.mu.Unlock()
	}()
	outcome := "submitted"
	defer func() {
		if iv.cfg.Done != nil {
			iv.cfg.Done(outcome)
		}
	}()
	if err := codec.VerifyInconsistencyProof(iv.cfg.Params, meta, proof); err != nil {
		outcome = "refused"
		return fmt.Errorf("blobsync: own inconsistency proof of %s does not verify: %w", id, err)
	}
	cert, err := iv.collect(ctx, com, id, meta, proof)
	if err == nil {
		err = iv.cfg.Submit(ctx, id, cert)
	}
	if err != nil {
		outcome = "failed"
		return err
	}
	iv.cfg.Logger.Info("invalid-blob certificate submitted", "blob_id", id, "epoch", cert.Epoch)
	return nil
}

// collect gathers attestations until f+1 shards' worth verify.
func (iv *Invalidator) collect(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta *codec.Metadata, proof *codec.InconsistencyProof) (*epoch.Certificate, error) {
	msg := staking.InvalidBlobMessage(iv.cfg.Network, com.Epoch, id)
	cb := epoch.NewCertBuilder(com, msg, epoch.ThresholdValidity)
	if com.MemberIndex(iv.self) >= 0 {
		if _, err := cb.Add(iv.self, iv.cfg.Key.Sign(msg)); err != nil {
			return nil, err
		}
	}
	var order []int
	for i := range com.Members {
		if com.Members[i].Node != iv.self {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return com.Members[b].Weight() - com.Members[a].Weight() })
	body := (&inconsistency.Request{BlobID: id, Epoch: com.Epoch, Metadata: *meta, Proof: *proof}).Encode()
	spec := inconsistency.Spec(iv.cfg.Params)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		member int
		resp   inconsistency.Response
		err    error
	}
	answers := make(chan answer)
	ask := func(m int) {
		a := answer{member: m}
		defer func() { answers <- a }()
		to, err := p2p.MemberPeer(iv.cfg.Host, &com.Members[m])
		if err != nil {
			a.err = err
			return
		}
		out, err := p2p.Call(ctx, iv.cfg.Host, to, spec, body)
		if err != nil {
			a.err = err
			return
		}
		a.resp, a.err = inconsistency.DecodeResponse(out)
	}
	next, running := 0, 0
	var errs []error
	for !cb.Reached() {
		for running < iv.cfg.Parallel && next < len(order) {
			go ask(order[next])
			next++
			running++
		}
		if running == 0 {
			break
		}
		a := <-answers
		running--
		m := &com.Members[a.member]
		switch {
		case a.err != nil:
		case a.resp.Epoch != com.Epoch:
			a.err = fmt.Errorf("attested for epoch %d, not %d", a.resp.Epoch, com.Epoch)
		default:
			_, a.err = cb.Add(m.Node, a.resp.Signature)
		}
		if a.err != nil {
			errs = append(errs, fmt.Errorf("node %x: %w", m.Node[:4], a.err))
			iv.cfg.Logger.Debug("no invalid-blob attestation", "blob_id", id, "node", fmt.Sprintf("%x", m.Node[:4]), "err", a.err)
		}
	}
	// Stop the rest and drain them: no goroutine outlives the call.
	cancel()
	for ; running > 0; running-- {
		<-answers
	}
	if !cb.Reached() {
		return nil, fmt.Errorf("%w: %s: %d of %d shards: %w", ErrNoAttestations, id, cb.Weight(), com.NShards, errors.Join(errs...))
	}
	return cb.Certificate()
}
