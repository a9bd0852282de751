package dataplane

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/blobstatus"
	"github.com/walrus-go/walrus-go/p2p/protocol/confirm"
	"github.com/walrus-go/walrus-go/p2p/protocol/inconsistency"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
	"github.com/walrus-go/walrus-go/p2p/protocol/shardsync"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
	"github.com/walrus-go/walrus-go/staking"
)

// Ledger is what the data plane needs from the node's ledger view (docs/architecture.md §4). The node
// composition root passes its ledger (node/ledger.Ledger satisfies it); tests pass a fake.
type Ledger interface {
	// Params is the network's encoding geometry.
	Params() codec.Params
	// NetworkID binds every signed message to the network (docs/architecture.md §3).
	NetworkID() epoch.NetworkID
	// CurrentEpoch is the epoch at the latest committed checkpoint.
	CurrentEpoch() uint32
	// Committee returns the committee of epoch e.
	Committee(e uint32) (*epoch.Committee, error)
	// BlobInfo returns the aggregate status of a blob ID and its live blob objects.
	BlobInfo(id codec.BlobID) (staking.BlobStatus, []staking.Blob)
}

// Config configures a Service.
type Config struct {
	// Host serves the protocols. Required.
	Host host.Host
	// Store holds the node's metadata and slivers. Required; its Params must be the
	// ledger's.
	Store *blobstore.Store
	// Ledger is the node's ledger view. Required.
	Ledger Ledger
	// Key is the node's BLS key, which signs storage confirmations. Required.
	Key *bls.SecretKey
	// System supervises the service's actor and worker pool. Required.
	System *actors.System
	// Workers is the number of verification/storage workers (default GOMAXPROCS).
	Workers int
	// Queue is the worker pool's queue length (default 4·Workers); a full queue answers
	// CodeUnavailable instead of buffering without bound (docs/architecture.md §6).
	Queue int
	// RecoveryPerPeer bounds the recovery-symbol requests (/walrus/recovery-symbol/1 and
	// /2 together) one peer may have in flight here, queued or served (default
	// DefaultRecoveryPerPeer); beyond it a request is refused with CodeUnavailable, so one
	// peer cannot occupy the whole worker pool.
	RecoveryPerPeer int
	// Logger receives structured logs (default slog.Default()).
	Logger *slog.Logger
}

// Validate checks c and fills defaults.
func (c *Config) Validate() error {
	switch {
	case c.Host == nil:
		return errors.New("dataplane: Config.Host is required")
	case c.Store == nil:
		return errors.New("dataplane: Config.Store is required")
	case c.Ledger == nil:
		return errors.New("dataplane: Config.Ledger is required")
	case c.Key == nil:
		return errors.New("dataplane: Config.Key is required")
	case c.System == nil:
		return errors.New("dataplane: Config.System is required")
	}
	if c.Store.Params() != c.Ledger.Params() {
		return fmt.Errorf("dataplane: store geometry %+v differs from ledger's %+v", c.Store.Params(), c.Ledger.Params())
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.Queue <= 0 {
		c.Queue = 4 * c.Workers
	}
	if c.RecoveryPerPeer <= 0 {
		c.RecoveryPerPeer = DefaultRecoveryPerPeer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// DefaultRecoveryPerPeer is Config.RecoveryPerPeer's default. An honest node with the
// default settings asks one peer for recovery symbols at most three at a time (one per
// blob-sync worker, blob_sync.workers = 2, and one for an epoch change's repair), each of
// its requests to that peer one after the other, so it is never refused.
const DefaultRecoveryPerPeer = 4

// Service is a storage node's data plane: the metadata, sliver, confirmation, status,
// recovery-symbol, inconsistency and shard-sync protocols, served by one actor that owns the
// confirmation state and hands verification and storage to a bounded worker pool
// (docs/architecture.md §6).
type Service struct {
	cfg    Config
	node   epoch.NodeID
	sys    *actors.System
	ref    *actors.Ref[msg]
	pool   *actors.Pool
	protos [8]p2p.Protocol

	// lastForeground is when (unix ns) the node last served a sliver read or write:
	// background work (the scrubber) slows down while the node is serving users.
	lastForeground atomic.Int64

	// writes is when each blob last had slivers written here by a writer (bounded by
	// maxWriteTracks): blob sync waits while a writer is still uploading a blob.
	writesMu sync.Mutex
	writes   map[codec.BlobID]time.Time

	// recovering counts each peer's recovery-symbol requests in flight (at most
	// Config.RecoveryPerPeer each; a peer at zero has no entry, so the map is bounded by the
	// streams libp2p lets in).
	recoveringMu sync.Mutex
	recovering   map[peer.ID]int
}

// admitRecovery counts a recovery-symbol request from peer from, or refuses it with
// CodeUnavailable when that peer already has Config.RecoveryPerPeer in flight; done
// uncounts an admitted one.
func (s *Service) admitRecovery(from peer.ID) (done func(), err error) {
	s.recoveringMu.Lock()
	defer s.recoveringMu.Unlock()
	if n := s.recovering[from]; n >= s.cfg.RecoveryPerPeer {
		return nil, p2p.Errorf(p2p.CodeUnavailable, "busy: %d recovery-symbol requests from this peer in flight, at most %d",
			n, s.cfg.RecoveryPerPeer)
	}
	if s.recovering == nil {
		s.recovering = make(map[peer.ID]int)
	}
	s.recovering[from]++
	return func() {
		s.recoveringMu.Lock()
		defer s.recoveringMu.Unlock()
		if s.recovering[from]--; s.recovering[from] <= 0 {
			delete(s.recovering, from)
		}
	}, nil
}

// maxWriteTracks bounds Service.writes; past it, entries older than a minute go, and if
// none is that old the newest write is not tracked (blob sync then just does not wait).
const maxWriteTracks = 4096

// Busy reports whether the node served a sliver read or write within the last window:
// background jobs yield to users while it does.
func (s *Service) Busy(window time.Duration) bool {
	return time.Since(time.Unix(0, s.lastForeground.Load())) < window
}

// Receiving reports whether a writer wrote slivers of blob id to this node within the last
// window: its upload is still under way, so blob sync leaves the blob to it for now (the
// reserve nodes' uploads go on after the certificate, for minutes at gigabytes).
func (s *Service) Receiving(id codec.BlobID, window time.Duration) bool {
	s.writesMu.Lock()
	defer s.writesMu.Unlock()
	at, ok := s.writes[id]
	return ok && time.Since(at) < window
}

// noteWrite records that a writer is uploading blob id now.
func (s *Service) noteWrite(id codec.BlobID, now time.Time) {
	s.writesMu.Lock()
	defer s.writesMu.Unlock()
	if s.writes == nil {
		s.writes = make(map[codec.BlobID]time.Time)
	}
	if _, ok := s.writes[id]; !ok && len(s.writes) >= maxWriteTracks {
		for k, at := range s.writes {
			if now.Sub(at) > time.Minute {
				delete(s.writes, k)
			}
		}
		if len(s.writes) >= maxWriteTracks {
			return
		}
	}
	s.writes[id] = now
}

// New starts the service: it spawns its actor and pool in a child of cfg.System and
// registers the stream handlers on cfg.Host. Close undoes both.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	sys, err := cfg.System.Child("dataplane")
	if err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, node: epoch.NodeIDOf(cfg.Key.PublicKey()), sys: sys}
	s.pool, err = actors.NewPool(sys, "verify", cfg.Workers, cfg.Queue)
	if err != nil {
		_ = sys.Stop()
		return nil, err
	}
	s.ref, err = actors.Spawn(sys, "service", func(context.Context) (actors.Actor[msg], error) {
		return &actor{s: s, confirmed: make(map[confirmKey]bls.Signature)}, nil
	})
	if err != nil {
		_ = sys.Stop()
		return nil, err
	}
	p := cfg.Ledger.Params()
	s.protos = [8]p2p.Protocol{metadata.Spec(p), sliver.Spec(p), confirm.Spec, blobstatus.Spec, recovery.Spec(p),
		inconsistency.Spec(p), shardsync.Spec(p), recovery.Spec2(p)}
	handlers := []p2p.ReleasingHandler{p2p.Plain(s.handleMetadata), s.handleSliver, p2p.Plain(s.handleConfirmation),
		p2p.Plain(s.handleStatus), p2p.Plain(s.handleRecovery), p2p.Plain(s.handleInconsistency), p2p.Plain(s.handleShardSync),
		p2p.Plain(s.handleRecovery2)}
	for i, pr := range s.protos {
		if err := p2p.HandleReleasing(cfg.Host, pr, handlers[i], cfg.Logger); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// NodeID is the node's registry ID (from its BLS key).
func (s *Service) NodeID() epoch.NodeID { return s.node }

// Close removes the stream handlers and stops the actor and its workers.
func (s *Service) Close() {
	for _, pr := range s.protos {
		if pr.ID != "" {
			s.cfg.Host.RemoveStreamHandler(pr.ID)
		}
	}
	_ = s.sys.Stop()
}

// shardsHeld returns the shards this node holds in the current epoch.
func (s *Service) shardsHeld() (uint32, []uint16, error) {
	ep := s.cfg.Ledger.CurrentEpoch()
	c, err := s.cfg.Ledger.Committee(ep)
	if err != nil {
		return ep, nil, p2p.Errorf(p2p.CodeUnavailable, "committee of epoch %d: %v", ep, err)
	}
	i := c.MemberIndex(s.node)
	if i < 0 {
		return ep, nil, nil
	}
	return ep, c.Members[i].Shards, nil
}

// heldBefore reports whether this node held shard in the epoch before ep (and so has
// left it at ep: a put for it comes from a writer still using the old committee). A
// shard it never held is refused as forbidden instead, which a writer retries: the node
// may be the one behind, not yet in the epoch that gives it the shard.
func (s *Service) heldBefore(ep uint32, shard uint16) bool {
	if ep == 0 {
		return false
	}
	c, err := s.cfg.Ledger.Committee(ep - 1)
	if err != nil {
		return false
	}
	i := c.MemberIndex(s.node)
	return i >= 0 && slices.Contains(c.Members[i].Shards, shard)
}

// writable reports why a blob may not take writes or confirmations: it must be registered
// or certified on the ledger (not nonexistent, invalid or expired), so a hostile peer
// cannot fill the node with unpaid data (docs/protocol.md §6).
func (s *Service) writable(id codec.BlobID) error {
	st, _ := s.cfg.Ledger.BlobInfo(id)
	switch st.Kind {
	case staking.StatusRegistered, staking.StatusCertified:
		return nil
	default:
		return p2p.Errorf(p2p.CodeForbidden, "blob %s is %s", id, st.Kind)
	}
}

// classify maps storage and codec failures to wire codes: anything the peer sent that does
// not verify is its fault (CodeBadRequest), missing data is CodeNotFound.
func classify(err error) error {
	var se *p2p.StatusError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return err
	case errors.Is(err, blobstore.ErrNotFound):
		return p2p.Errorf(p2p.CodeNotFound, "%v", err)
	case errors.Is(err, blobstore.ErrNoMetadata):
		return p2p.Errorf(p2p.CodeNotFound, "%v", err)
	case errors.Is(err, blobstore.ErrShardNotWritable):
		return p2p.Errorf(p2p.CodeUnavailable, "%v", err)
	case errors.Is(err, blobstore.ErrWrongPair), errors.Is(err, blobstore.ErrBadShard),
		errors.Is(err, wire.ErrInvalid):
		return p2p.Errorf(p2p.CodeBadRequest, "%v", err)
	case errors.Is(err, actors.ErrPoolFull), errors.Is(err, actors.ErrMailboxFull):
		return p2p.Errorf(p2p.CodeUnavailable, "node busy")
	}
	return err
}

// ask runs fn on the worker pool through the actor and returns its answer.
func (s *Service) ask(ctx context.Context, fn func(context.Context) ([]byte, error)) ([]byte, error) {
	out, err := actors.Ask(ctx, s.ref, func(r actors.Reply[[]byte]) msg {
		return &workMsg{Reply: r, fn: fn}
	})
	return out, classify(err)
}

func (s *Service) handleMetadata(ctx context.Context, from peer.ID, body []byte) ([]byte, error) {
	req, err := metadata.DecodeRequest(body)
	if err != nil {
		return nil, classify(err)
	}
	p := s.cfg.Ledger.Params()
	if req.Op == metadata.OpGet {
		return s.ask(ctx, func(ctx context.Context) ([]byte, error) {
			return s.cfg.Store.MetadataBytes(ctx, req.BlobID)
		})
	}
	if err := s.writable(req.BlobID); err != nil {
		return nil, err
	}
	m, err := codec.UnmarshalMetadataBCS(p, req.Metadata)
	if err != nil {
		return nil, classify(err)
	}
	return s.ask(ctx, func(ctx context.Context) ([]byte, error) {
		if err := s.cfg.Store.PutMetadata(ctx, req.BlobID, &m); err != nil {
			return nil, err
		}
		s.cfg.Logger.Debug("stored metadata", "blob_id", req.BlobID, "peer_id", from)
		return nil, nil
	})
}

func (s *Service) handleSliver(ctx context.Context, from peer.ID, body []byte) ([][]byte, func(), error) {
	p := s.cfg.Ledger.Params()
	req, err := sliver.DecodeRequest(p, body)
	if err != nil {
		return nil, nil, classify(err)
	}
	s.lastForeground.Store(time.Now().UnixNano())
	if req.Op == sliver.OpGet {
		// The response is sent from the store's own memory (see getSlivers); the lease is
		// given back once the stream has sent it, or at once if the exchange is abandoned.
		l := new(lease)
		var parts [][]byte
		_, err := s.ask(ctx, func(ctx context.Context) ([]byte, error) {
			ps, release := s.getSlivers(ctx, &req)
			if !l.hold(release) {
				return nil, ctx.Err()
			}
			parts = ps
			return nil, nil
		})
		if err != nil {
			l.abandon()
			return nil, nil, err
		}
		return parts, l.abandon, nil
	}
	if err := s.writable(req.BlobID); err != nil {
		return nil, nil, err
	}
	out, err := s.ask(ctx, func(ctx context.Context) ([]byte, error) {
		return s.putPairs(ctx, from, &req)
	})
	return [][]byte{out}, nil, err
}

// lease hands a release function from the worker that acquired it to the handler that will
// call it, safely when the handler gives up first: whichever side comes second calls it.
type lease struct {
	mu        sync.Mutex
	release   func()
	abandoned bool
}

// hold takes release; if the exchange is already abandoned it calls release at once and
// reports false.
func (l *lease) hold(release func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.abandoned {
		release()
		return false
	}
	l.release = release
	return true
}

// abandon calls the held release, if any, and makes any later hold release at once.
func (l *lease) abandon() {
	l.mu.Lock()
	r := l.release
	l.release, l.abandoned = nil, true
	l.mu.Unlock()
	if r != nil {
		r()
	}
}

// putPairs verifies and stores each pair on the shard it maps to (docs/protocol.md §2), after
// checking this node holds that shard. Pairs are independent: a bad one is reported in its
// item result and does not stop the others.
func (s *Service) putPairs(ctx context.Context, from peer.ID, req *sliver.Request) ([]byte, error) {
	p := s.cfg.Ledger.Params()
	ep, held, err := s.shardsHeld()
	if err != nil {
		return nil, err
	}
	if has, err := s.cfg.Store.HasMetadata(ctx, req.BlobID); err != nil {
		return nil, err
	} else if !has {
		return nil, p2p.Errorf(p2p.CodeNotFound, "metadata of %s not stored; send it first", req.BlobID)
	}
	results := make([]sliver.ItemResult, len(req.Pairs))
	var firstErr error
	fail := func(i int, err error) {
		results[i].Code = p2p.CodeOf(err)
		if firstErr == nil {
			firstErr = err
		}
	}
	writes := make([]blobstore.PairWrite, 0, len(req.Pairs))
	index := make([]int, 0, len(req.Pairs)) // writes[j] is req.Pairs[index[j]]
	for i := range req.Pairs {
		pr, se := &req.Pairs[i][0], &req.Pairs[i][1]
		shard := p.ShardForPair(req.BlobID, int(pr.Index))
		if _, ok := slices.BinarySearch(held, uint16(shard)); !ok {
			if s.heldBefore(ep, uint16(shard)) {
				// The writer's committee is older than ours: the shard has moved on, and
				// retrying here would wait in vain; it must store for the new committee.
				fail(i, p2p.Errorf(p2p.CodeStaleEpoch, "pair %d of %s maps to shard %d, which this node left at epoch %d", pr.Index, req.BlobID, shard, ep))
			} else {
				fail(i, p2p.Errorf(p2p.CodeForbidden, "pair %d of %s maps to shard %d, not held here", pr.Index, req.BlobID, shard))
			}
			continue
		}
		writes = append(writes, blobstore.PairWrite{Shard: shard, Primary: pr, Secondary: se,
			PrimaryBCS: req.Raw[i][0], SecondaryBCS: req.Raw[i][1]})
		index = append(index, i)
	}
	// One batch and one sync for all of the request's pairs.
	errs, err := s.cfg.Store.PutPairs(ctx, req.BlobID, writes)
	if err != nil {
		return nil, classify(err)
	}
	stored := false
	for j, e := range errs {
		if e != nil {
			fail(index[j], classify(e))
		} else {
			stored = true
		}
	}
	if stored { // verified pairs: a writer really is uploading this blob
		s.noteWrite(req.BlobID, time.Now())
	}
	if firstErr != nil {
		// The whole request fails with the first item's error so a caller that only looks
		// at the status learns something went wrong; the other items may have been stored,
		// which a retry finds harmless.
		s.cfg.Logger.Debug("sliver put refused", "blob_id", req.BlobID, "peer_id", from, "err", firstErr)
		return nil, firstErr
	}
	return sliver.EncodeItemResults(results), nil
}

// getSlivers answers each ref from the shard that holds its pair. Serving does not require
// the shard to be held this epoch: a lost shard keeps serving reads until the epoch change
// completes (docs/architecture.md §5).
// The parts are in sliver.EncodeItemResults's layout, each sliver lent by the store (no copy); the
// returned release gives them all back.
func (s *Service) getSlivers(ctx context.Context, req *sliver.Request) ([][]byte, func()) {
	p := s.cfg.Ledger.Params()
	budget := sliver.BatchCap(p) - 2
	hdrs := make([]byte, 2, 2+5*len(req.Refs)) // the count, then each item's code and length
	binary.LittleEndian.PutUint16(hdrs, uint16(len(req.Refs)))
	parts := make([][]byte, 0, 1+2*len(req.Refs))
	var releases []func()
	start := 0 // hdrs[start:] is not in parts yet
	for _, ref := range req.Refs {
		shard := blobstore.ShardForSliver(p, req.BlobID, ref.Axis, int(ref.Index))
		b, release, err := s.cfg.Store.LendSliver(ctx, req.BlobID, shard, ref.Axis)
		switch {
		case err != nil:
			hdrs = append(hdrs, byte(p2p.CodeOf(classify(err))))
			budget--
		case len(b)+5 > budget:
			release() // the response would exceed its cap: the caller asks again for the rest
			hdrs = append(hdrs, byte(p2p.CodeUnavailable))
			budget--
		default:
			budget -= len(b) + 5
			hdrs = append(hdrs, 0)
			hdrs = binary.LittleEndian.AppendUint32(hdrs, uint32(len(b)))
			parts = append(parts, hdrs[start:], b)
			start = len(hdrs)
			releases = append(releases, release)
		}
	}
	if start < len(hdrs) {
		parts = append(parts, hdrs[start:])
	}
	return parts, func() {
		for _, r := range releases {
			r()
		}
	}
}

func (s *Service) handleConfirmation(ctx context.Context, from peer.ID, body []byte) ([]byte, error) {
	req, err := confirm.DecodeRequest(body)
	if err != nil {
		return nil, classify(err)
	}
	out, err := actors.Ask(ctx, s.ref, func(r actors.Reply[[]byte]) msg {
		return &confirmMsg{Reply: r, req: req}
	})
	return out, classify(err)
}

// confirm checks everything a storage confirmation promises (docs/protocol.md §5) and signs:
// the request is for the current epoch; the ledger has a live registration of the blob with
// exactly that persistence; the node is in the committee; and every shard it holds has
// both verified slivers, durably stored (blobstore syncs before acknowledging a put).
func (s *Service) confirm(ctx context.Context, req confirm.Request) (bls.Signature, error) {
	ep, held, err := s.shardsHeld()
	if err != nil {
		return bls.Signature{}, err
	}
	switch {
	case req.Epoch < ep:
		// The writer's committee is over: waiting will not help, it must store again for
		// this epoch's committee.
		return bls.Signature{}, p2p.Errorf(p2p.CodeStaleEpoch, "confirmation for epoch %d asked, node is in epoch %d", req.Epoch, ep)
	case req.Epoch > ep:
		return bls.Signature{}, p2p.Errorf(p2p.CodeUnavailable, "confirmation for epoch %d asked, node is in epoch %d", req.Epoch, ep)
	}
	if len(held) == 0 {
		return bls.Signature{}, p2p.Errorf(p2p.CodeForbidden, "node is not in the committee of epoch %d", ep)
	}
	st, objs := s.cfg.Ledger.BlobInfo(req.BlobID)
	if st.Kind != staking.StatusRegistered && st.Kind != staking.StatusCertified {
		return bls.Signature{}, p2p.Errorf(p2p.CodeForbidden, "blob %s is %s", req.BlobID, st.Kind)
	}
	if !slices.ContainsFunc(objs, func(b staking.Blob) bool {
		return b.BlobID == req.BlobID && b.Storage.End > ep && b.Deletable == req.Deletable &&
			(!req.Deletable || b.ID == req.Object)
	}) {
		return bls.Signature{}, p2p.Errorf(p2p.CodeForbidden, "no live registration of %s with that persistence", req.BlobID)
	}
	missing, err := s.cfg.Store.MissingShards(ctx, req.BlobID, held)
	if err != nil {
		return bls.Signature{}, err
	}
	if len(missing) > 0 {
		return bls.Signature{}, p2p.Errorf(p2p.CodeNotFound, "%d of %d shards lack slivers of %s (first: %d)",
			len(missing), len(held), req.BlobID, missing[0])
	}
	return s.cfg.Key.Sign(req.Message(s.cfg.Ledger.NetworkID())), nil
}

func (s *Service) handleStatus(ctx context.Context, from peer.ID, body []byte) ([]byte, error) {
	id, flags, err := blobstatus.DecodeRequestFlags(body)
	if err != nil {
		return nil, classify(err)
	}
	return s.ask(ctx, func(ctx context.Context) ([]byte, error) {
		st, _ := s.cfg.Ledger.BlobInfo(id)
		ep, held, err := s.shardsHeld()
		if err != nil {
			return nil, err
		}
		out := blobstatus.Status{Kind: st.Kind, EndEpoch: st.EndEpoch, Epoch: ep, ShardsHeld: uint16(len(held))}
		if out.HasMetadata, err = s.cfg.Store.HasMetadata(ctx, id); err != nil {
			return nil, err
		}
		missing, err := s.cfg.Store.MissingShards(ctx, id, held)
		if err != nil {
			return nil, err
		}
		out.ShardsStored = uint16(len(held) - len(missing))
		if flags&blobstatus.FlagMissing != 0 {
			// Bounded by the shards held: a resumed upload sends only these.
			out.Detail, out.Missing = true, missing
		}
		return out.Encode(), nil
	})
}
