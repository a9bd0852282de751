package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/ledgersync"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
)

// maxSyncBytes bounds one sync answer well under the protocol's response cap, so a batch
// of large checkpoints is cut short rather than refused.
const maxSyncBytes = 32 << 20

// NetConfig configures the ledger's network side.
type NetConfig struct {
	// Host is the node's libp2p host. Required.
	Host host.Host
	// SyncInterval is how often the node asks a peer for checkpoints it may have missed
	// even without a hint (a lost gossip message, a healed partition with an idle ledger).
	// Default 5 s.
	SyncInterval time.Duration
	// Logger defaults to the ledger's.
	Logger *slog.Logger
}

// Net is the ledger's network side (docs/architecture.md §4 followers): the /walrus/ledger-sync/1
// server, the /walrus/query/1 server, the catch-up client, and the `checkpoints` topic validator and reader. Create it
// with NewNet, join the topic with ValidateCheckpoint, then Start.
type Net struct {
	l     *Ledger
	cfg   NetConfig
	hints chan hint
	// hintChecks bounds the certificate checks spent on far-ahead checkpoints (sync hints):
	// four a second.
	hintChecks *rate.Limiter

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type hint struct {
	from   peer.ID
	height uint64
}

// NewNet prepares the network side of l and registers the sync server on the host.
func NewNet(l *Ledger, cfg NetConfig) (*Net, error) {
	if cfg.Host == nil {
		return nil, errors.New("ledger: NetConfig.Host is required")
	}
	if cfg.SyncInterval == 0 {
		cfg.SyncInterval = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = l.cfg.Logger
	}
	n := &Net{l: l, cfg: cfg, hints: make(chan hint, 16), hintChecks: rate.NewLimiter(4, 4)}
	if err := p2p.Handle(cfg.Host, ledgersync.Spec, n.serveSync, cfg.Logger); err != nil {
		return nil, err
	}
	if err := p2p.Handle(cfg.Host, query.Spec, n.serveQuery, cfg.Logger); err != nil {
		return nil, err
	}
	return n, nil
}

// Start reads the checkpoints topic (joined with ValidateCheckpoint) and runs the catch-up
// loop until Close. A nil topic runs catch-up only.
func (n *Net) Start(topic *p2p.Topic) error {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	if topic != nil {
		sub, err := topic.Subscribe()
		if err != nil {
			cancel()
			return err
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer sub.Cancel()
			n.follow(ctx, sub)
		}()
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.syncLoop(ctx)
	}()
	return nil
}

// Close stops the reader and the catch-up loop and waits for them.
func (n *Net) Close() {
	n.cfg.Host.RemoveStreamHandler(ledgersync.Spec.ID)
	n.cfg.Host.RemoveStreamHandler(query.Spec.ID)
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
}

// Hint tells the catch-up loop that peer from has height (e.g. it sent a message of a later
// height). It never blocks; hints beyond the queue are dropped (the periodic sync covers).
func (n *Net) Hint(from peer.ID, height uint64) {
	if height <= n.l.Height() {
		return
	}
	select {
	case n.hints <- hint{from: from, height: height}:
	default:
	}
}

// ValidateCheckpoint is the `checkpoints` topic validator: Reject what does not decode or
// whose certificate fails against the committee we derived for its height, Ignore stale
// heights and heights we cannot check yet (those trigger catch-up from the sender), Accept
// the next height with a valid certificate. Our own publications are accepted as they are:
// the consensus actor publishes what its machine decided, which the ledger may already have
// applied by then.
func (n *Net) ValidateCheckpoint(_ context.Context, m p2p.Message) p2p.Verdict {
	if m.From == n.cfg.Host.ID() {
		return p2p.Accept
	}
	d, err := DecodeDecision(m.Data, p2p.MaxGossipMessage)
	if err != nil {
		return p2p.Reject
	}
	v := n.l.View()
	switch {
	case d.Height <= v.Height():
		return p2p.Ignore
	case d.Height > v.Height()+1:
		// Too far ahead to apply: ignored, and a catch-up hint only if its commit certificate
		// verifies under the committee the node knows (a sync hint never comes from an
		// unverified message), for a few such checks a second; the periodic sync covers the
		// rest, including a node behind an epoch change.
		if n.hintChecks.Allow() && tendermint.VerifyCommitWith(n.l.cfg.Scheme, v.SigningCommittee(), n.l.network,
			d.Height, tendermint.HashValue(d.Value), &d.Commit) == nil {
			n.Hint(m.ReceivedFrom, d.Height)
		}
		return p2p.Ignore
	}
	if err := tendermint.VerifyCommitWith(n.l.cfg.Scheme, v.SigningCommittee(), n.l.network, d.Height, tendermint.HashValue(d.Value), &d.Commit); err != nil {
		return p2p.Reject
	}
	return p2p.Accept
}

func (n *Net) follow(ctx context.Context, sub *p2p.Subscription) {
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return
		}
		d, err := DecodeDecision(m.Data, p2p.MaxGossipMessage)
		if err != nil {
			continue
		}
		actx, cancel := context.WithTimeout(ctx, defaultAskTimeout)
		_, err = n.l.Submit(actx, d)
		cancel()
		switch {
		case err == nil, errors.Is(err, ErrStale):
		case errors.Is(err, ErrGap):
			n.Hint(m.ReceivedFrom, d.Height)
		default:
			n.cfg.Logger.Debug("gossiped checkpoint refused", "height", d.Height, "peer_id", m.ReceivedFrom, "err", err)
		}
	}
}

func (n *Net) serveSync(ctx context.Context, from peer.ID, req []byte) ([]byte, error) {
	r, err := ledgersync.DecodeRequest(req)
	if err != nil {
		return nil, p2p.Errorf(p2p.CodeBadRequest, "%v", err)
	}
	if r.From == 0 {
		return nil, p2p.Errorf(p2p.CodeBadRequest, "heights start at 1")
	}
	top := n.l.Height()
	limit := uint64(min(max(r.Max, 1), ledgersync.MaxBatch))
	var recs [][]byte
	size := 0
	for h := r.From; h <= top && uint64(len(recs)) < limit; h++ {
		b, err := n.l.cfg.Datastore.Get(ctx, CheckpointKey(h))
		if errors.Is(err, ds.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, p2p.Errorf(p2p.CodeInternal, "read checkpoint %d", h)
		}
		if size+len(b) > maxSyncBytes && len(recs) > 0 {
			break
		}
		size += len(b) + 4
		recs = append(recs, b)
	}
	return ledgersync.EncodeBatch(recs), nil
}

// SyncFrom fetches and applies checkpoints from peer p until p has nothing newer; it
// returns how many were applied. Every checkpoint is verified by Submit as if it came from
// gossip: the peer is not trusted.
func (n *Net) SyncFrom(ctx context.Context, p peer.ID) (int, error) {
	applied := 0
	for {
		req := ledgersync.Request{From: n.l.Height() + 1, Max: ledgersync.MaxBatch}
		resp, err := p2p.Call(ctx, n.cfg.Host, p, ledgersync.Spec, req.Encode())
		if err != nil {
			return applied, err
		}
		recs, err := ledgersync.DecodeBatch(resp)
		if err != nil {
			return applied, err
		}
		for _, rec := range recs {
			d, err := DecodeDecision(rec, p2p.MaxGossipMessage)
			if err != nil {
				return applied, fmt.Errorf("ledger: sync from %s: %w", p, err)
			}
			if _, err := n.l.Submit(ctx, d); err != nil && !errors.Is(err, ErrStale) {
				return applied, fmt.Errorf("ledger: sync from %s: %w", p, err)
			}
			applied++
		}
		if len(recs) < ledgersync.MaxBatch {
			return applied, nil
		}
	}
}

func (n *Net) syncLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.SyncInterval)
	defer t.Stop()
	next := 0 // rotates the periodic sync over connected peers
	for {
		var prefer peer.ID
		var target uint64
		select {
		case <-ctx.Done():
			return
		case h := <-n.hints:
			prefer, target = h.from, h.height
		case <-t.C:
		}
		if target != 0 && n.l.Height() >= target {
			continue // caught up meanwhile (usually by the consensus actor or gossip)
		}
		peers := n.cfg.Host.Network().Peers()
		if len(peers) == 0 {
			continue
		}
		order := make([]peer.ID, 0, len(peers)+1)
		if prefer != "" && prefer != n.cfg.Host.ID() {
			order = append(order, prefer)
		}
		if target == 0 {
			// Periodic: one peer per tick is enough to notice we fell behind.
			next++
			order = append(order, peers[next%len(peers)])
		} else {
			order = append(order, peers...)
		}
		for _, p := range order {
			if ctx.Err() != nil {
				return
			}
			cctx, cancel := context.WithTimeout(ctx, ledgersync.Spec.Timeout)
			got, err := n.SyncFrom(cctx, p)
			cancel()
			if err != nil {
				n.cfg.Logger.Debug("ledger sync failed", "peer_id", p, "err", err)
			} else if got > 0 {
				n.cfg.Logger.Info("ledger caught up", "peer_id", p, "applied", got, "height", n.l.Height())
			}
			if target == 0 || n.l.Height() >= target {
				break
			}
		}
	}
}
