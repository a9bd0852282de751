package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	ds "github.com/ipfs/go-datastore"
	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// Errors of Submit. Stale and gap are not faults of the sender: gossip delivers old
// checkpoints, and a node that fell behind learns of later ones before it can check them.
var (
	// ErrStale: the ledger already has this height.
	ErrStale = errors.New("ledger: checkpoint height already committed")
	// ErrGap: the checkpoint is beyond the next height; catch up first (sync).
	ErrGap = errors.New("ledger: checkpoint beyond the next height")
	// ErrBadCommit: the commit certificate does not verify against the committee the
	// ledger derived for that height, or the value is not a checkpoint that follows the
	// state. The sender is faulty or forging.
	ErrBadCommit = errors.New("ledger: invalid commit")
	// ErrTooManyWaiters: WaitTx is refused because too many waits are pending.
	ErrTooManyWaiters = errors.New("ledger: too many pending waits")
)

// TxHash names a transaction: Blake2b-256 of its signed canonical bytes.
func TxHash(raw []byte) [32]byte { return blake2b.Sum256(raw) }

// TxReceipt is the outcome of a committed transaction.
type TxReceipt = query.TxReceipt

// Config configures the ledger. Zero fields get defaults in Validate.
type Config struct {
	// Genesis is the decoded genesis file. Required.
	Genesis *staking.Genesis
	// Datastore holds checkpoints and snapshots. Required; the ledger does not close it.
	Datastore ds.Datastore
	// SnapshotEvery is K: a snapshot is written every K heights. Default 64.
	SnapshotEvery uint64
	// ReceiptHeights is N: receipts of the last N heights are kept for WaitTx. Default 256.
	ReceiptHeights uint64
	// MaxWaiters bounds pending WaitTx calls. Default 4096.
	MaxWaiters int
	// Scheme verifies commit certificates. Default tendermint.BLSScheme.
	Scheme tendermint.Scheme
	// Mailbox is the actor's mailbox size. Default 1024.
	Mailbox int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Validate checks c and fills defaults.
func (c *Config) Validate() error {
	if c.Genesis == nil || c.Datastore == nil {
		return errors.New("ledger: config needs Genesis and Datastore")
	}
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = 64
	}
	if c.ReceiptHeights == 0 {
		c.ReceiptHeights = 256
	}
	if c.MaxWaiters == 0 {
		c.MaxWaiters = 4096
	}
	if c.Scheme == nil {
		c.Scheme = tendermint.BLSScheme{}
	}
	if c.Mailbox == 0 {
		c.Mailbox = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Ledger is the handle of the ledger actor. Its methods are safe for concurrent use.
type Ledger struct {
	cfg     Config
	network epoch.NetworkID
	params  codec.Params
	ref     *actors.Ref[msg]
	view    atomic.Pointer[View]
	hub     hub
	recent  recentViews // the last published views, to prove answers at (proven.go)
}

type msg interface{ isMsg() }

type submitMsg struct {
	d *tendermint.Decision
	actors.Reply[uint64]
}

type waitMsg struct {
	hash  [32]byte
	after uint64
	actors.Reply[TxReceipt]
}

func (submitMsg) isMsg() {}
func (waitMsg) isMsg()   {}

// New loads the ledger from cfg.Datastore (snapshot plus later checkpoints, or genesis on
// first start) and spawns its actor in sys. Loading happens here, synchronously, so a
// corrupt data directory fails the node's start instead of a restart loop.
func New(sys *actors.System, cfg Config) (*Ledger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	params, err := codec.NewParams(cfg.Genesis.NShards)
	if err != nil {
		return nil, fmt.Errorf("ledger: genesis: %w", err)
	}
	l := &Ledger{cfg: cfg, network: cfg.Genesis.NetworkID(), params: params}
	first, err := l.load(context.Background())
	if err != nil {
		return nil, err
	}
	l.view.Store(first.publishView())
	loaded := first
	ref, err := actors.Spawn(sys, "ledger", func(ctx context.Context) (actors.Actor[msg], error) {
		if loaded != nil { // first incarnation: reuse what New loaded
			a := loaded
			loaded = nil
			return a, nil
		}
		a, err := l.load(ctx)
		if err != nil {
			return nil, err
		}
		l.view.Store(a.publishView())
		return a, nil
	}, actors.WithMailbox(cfg.Mailbox))
	if err != nil {
		return nil, err
	}
	l.ref = ref
	return l, nil
}

// View returns the latest published view.
func (l *Ledger) View() *View { return l.view.Load() }

// Height is the height of the last committed checkpoint.
func (l *Ledger) Height() uint64 { return l.View().Height() }

// Network is the network ID.
func (l *Ledger) Network() epoch.NetworkID { return l.network }

// NetworkID is Network, under the name the data plane's Ledger interface uses.
func (l *Ledger) NetworkID() epoch.NetworkID { return l.network }

// NetworkName is the genesis network name (the GossipSub and DHT namespace).
func (l *Ledger) NetworkName() string { return l.cfg.Genesis.Network }

// Params are the encoding parameters of the network.
func (l *Ledger) Params() codec.Params { return l.params }

// CurrentEpoch is the epoch of the latest committed state.
func (l *Ledger) CurrentEpoch() uint32 { return l.View().Epoch() }

// Committee returns the committee of epoch e if the ledger knows it (see View.Committee).
func (l *Ledger) Committee(e uint32) (*epoch.Committee, error) {
	if c, ok := l.View().Committee(e); ok {
		return c, nil
	}
	return nil, fmt.Errorf("ledger: committee of epoch %d unknown (current %d)", e, l.CurrentEpoch())
}

// BlobStatus is the blob ID's status at the latest committed height.
func (l *Ledger) BlobStatus(id codec.BlobID) staking.BlobStatus {
	return l.View().State().BlobStatus(id)
}

// BlobInfo returns the status of a blob ID and its live blob objects (registration data:
// length, root, encoding, resource, certification).
func (l *Ledger) BlobInfo(id codec.BlobID) (staking.BlobStatus, []staking.Blob) {
	st := l.View().State()
	var out []staking.Blob
	for _, oid := range st.BlobObjects(id) {
		if b, ok := st.Blob(oid); ok {
			out = append(out, b)
		}
	}
	return st.BlobStatus(id), out
}

// Account returns an account's balance and next nonce.
func (l *Ledger) Account(a staking.Address) staking.Account { return l.View().State().Account(a) }

// Subscribe returns a subscription to ledger events with a buffer of buf events.
func (l *Ledger) Subscribe(buf int) *Subscription { return l.hub.add(buf) }

// Submit hands a committed checkpoint (a Decision) to the ledger and waits until it is
// verified, applied and durably stored. It returns the new height, or ErrStale, ErrGap or
// an error wrapping ErrBadCommit.
func (l *Ledger) Submit(ctx context.Context, d *tendermint.Decision) (uint64, error) {
	if d.Height <= l.Height() {
		return 0, ErrStale
	}
	return actors.Ask(ctx, l.ref, func(r actors.Reply[uint64]) msg { return submitMsg{d: d, Reply: r} })
}

// WaitTx waits until the transaction with hash is committed and returns its receipt
// (successful or rejected). Receipts of the last ReceiptHeights heights are kept; older
// transactions are not found and WaitTx waits for ctx.
func (l *Ledger) WaitTx(ctx context.Context, hash [32]byte) (TxReceipt, error) {
	return l.WaitTxAfter(ctx, hash, 0)
}

// WaitTxAfter is WaitTx counting only a receipt from a checkpoint above height after (see
// Query.After). The same signed bytes may be committed more than once; a successful
// inclusion is what a receipt reports once there is one, else the latest failure.
func (l *Ledger) WaitTxAfter(ctx context.Context, hash [32]byte, after uint64) (TxReceipt, error) {
	return actors.Ask(ctx, l.ref, func(r actors.Reply[TxReceipt]) msg {
		return waitMsg{hash: hash, after: after, Reply: r}
	})
}

// Done is closed when the ledger actor has stopped (its system stopped or it escalated).
func (l *Ledger) Done() <-chan struct{} { return l.ref.Done() }

// ---- the actor ----

type waiter struct {
	reply actors.Reply[TxReceipt]
	since uint64
	after uint64 // only a receipt above this height answers (WaitTxAfter)
}

type actor struct {
	l        *Ledger
	st       *staking.State
	prev     *epoch.Committee
	receipts map[[32]byte]TxReceipt
	byHeight map[uint64][][32]byte
	waiters  map[[32]byte][]waiter
	nwait    int
	// snapshotAt is the height of the snapshot on disk (0: none).
	snapshotAt uint64
	// last is the committed decision of the state's height (nil at genesis): the
	// checkpoint and commit certificate that proven answers carry (proven.go).
	last *tendermint.Decision
}

func (a *actor) publishView() *View {
	v := &View{st: a.st.Clone(), prev: a.prev, params: a.l.params, name: a.l.cfg.Genesis.Network, commit: a.last}
	a.l.recent.add(v)
	return v
}

// load builds the actor state from the datastore (docs/architecture.md §4: state is a deterministic
// function of genesis + checkpoints; snapshots only shorten the replay).
func (l *Ledger) load(ctx context.Context) (*actor, error) {
	store := l.cfg.Datastore
	if b, err := store.Get(ctx, keyNetwork); err == nil {
		if string(b) != string(l.network[:]) {
			return nil, fmt.Errorf("ledger: data directory belongs to network %x, genesis is %x", b, l.network[:8])
		}
	} else if errors.Is(err, ds.ErrNotFound) {
		if err := store.Put(ctx, keyNetwork, l.network[:]); err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
	} else {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	a := &actor{l: l, receipts: map[[32]byte]TxReceipt{}, byHeight: map[uint64][][32]byte{}, waiters: map[[32]byte][]waiter{}}
	snapKey, snapH, ok, err := latestSnapshot(ctx, store)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	if ok {
		b, err := store.Get(ctx, snapKey)
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		if a.st, err = decodeSnapshot(b, l.network); err != nil {
			return nil, err
		}
		if a.last, err = certifiedSnapshot(ctx, store, a.st); err != nil {
			return nil, err
		}
		a.snapshotAt = snapH
	} else if a.st, err = staking.NewState(l.cfg.Genesis); err != nil {
		return nil, fmt.Errorf("ledger: genesis: %w", err)
	}
	from := a.st.Height()
	for {
		h := a.st.Height() + 1
		b, err := store.Get(ctx, CheckpointKey(h))
		if errors.Is(err, ds.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ledger: %w", err)
		}
		d, err := DecodeDecision(b, staking.MaxTxsPerCP*staking.MaxTxSize)
		if err != nil {
			return nil, fmt.Errorf("ledger: stored checkpoint %d: %w", h, err)
		}
		// Our own synced records were verified before they were written; the state root
		// check in ApplyCheckpoint still catches corruption.
		ep, com := a.st.Epoch(), a.st.Committee()
		if _, _, err := a.apply(d, false); err != nil {
			return nil, fmt.Errorf("ledger: replay checkpoint %d: %w", h, err)
		}
		if a.st.Epoch() != ep {
			a.prev = com
			if err := a.saveEpochLink(ctx, ep, d); err != nil {
				return nil, fmt.Errorf("ledger: %w", err)
			}
		}
	}
	if a.prev == nil && a.st.Epoch() > 0 {
		// The change happened before the snapshot: the committee was saved then.
		if b, err := store.Get(ctx, keyPrevCommittee); err == nil {
			if c, err := epoch.DecodeCommittee(b); err == nil && c.Index() == nil && c.Epoch+1 == a.st.Epoch() {
				a.prev = c
			}
		} else if !errors.Is(err, ds.ErrNotFound) {
			return nil, fmt.Errorf("ledger: %w", err)
		}
	}
	l.cfg.Logger.Info("ledger loaded", "height", a.st.Height(), "replayed", a.st.Height()-from, "epoch", a.st.Epoch())
	return a, nil
}

// Receive implements actors.Actor.
func (a *actor) Receive(ctx context.Context, m msg) error {
	switch m := m.(type) {
	case submitMsg:
		h, err := a.submit(ctx, m.d)
		if err != nil && !errors.Is(err, errPersist) {
			m.Fail(err)
			return nil
		}
		if err != nil {
			m.Fail(err)
			return err // the supervisor reloads from disk
		}
		m.Ok(h)
	case waitMsg:
		if r, ok := a.receipts[m.hash]; ok && r.Height > m.after {
			m.Ok(r)
			return nil
		}
		if a.nwait >= a.l.cfg.MaxWaiters {
			a.expireWaiters(true)
			if a.nwait >= a.l.cfg.MaxWaiters {
				m.Fail(ErrTooManyWaiters)
				return nil
			}
		}
		a.waiters[m.hash] = append(a.waiters[m.hash], waiter{reply: m.Reply, since: a.st.Height(), after: m.after})
		a.nwait++
	}
	return nil
}

var errPersist = errors.New("ledger: persist")

func (a *actor) submit(ctx context.Context, d *tendermint.Decision) (uint64, error) {
	h := a.st.Height()
	switch {
	case d.Height <= h:
		return h, ErrStale
	case d.Height > h+1:
		return h, fmt.Errorf("%w: %d, next is %d", ErrGap, d.Height, h+1)
	}
	prevEpoch := a.st.Epoch()
	prevCommittee := a.st.Committee()
	hadNext := a.st.NextCommittee() != nil
	prevView := a.l.view.Load() // the state before d, for events about objects d removes
	cp, res, err := a.apply(d, true)
	if err != nil {
		return h, err
	}
	if a.st.Epoch() != prevEpoch {
		// Saved before the checkpoint, so a restart that finds the checkpoint finds it too.
		b, err := prevCommittee.MarshalBinary()
		if err == nil {
			err = a.l.cfg.Datastore.Put(ctx, keyPrevCommittee, b)
		}
		if err != nil {
			return h, fmt.Errorf("%w: previous committee: %v", errPersist, err)
		}
	}
	if err := a.persist(ctx, d); err != nil {
		return h, fmt.Errorf("%w: checkpoint %d: %v", errPersist, d.Height, err)
	}
	if a.st.Epoch() != prevEpoch {
		// After the checkpoint: a crash in between leaves the link to the replay (load).
		if err := a.saveEpochLink(ctx, prevEpoch, d); err != nil {
			return h, fmt.Errorf("%w: epoch link: %v", errPersist, err)
		}
	}
	if a.st.Epoch() != prevEpoch {
		a.prev = prevCommittee
	}
	view := a.publishView()
	a.l.view.Store(view)
	evs := []Event{&CheckpointCommitted{Height: cp.Height, Hash: cp.Hash(), Checkpoint: cp, Receipts: res.Receipts, View: view}}
	if !hadNext && a.st.NextCommittee() != nil {
		evs = append(evs, &CommitteeSelected{Height: cp.Height, Committee: view.State().NextCommittee()})
	}
	if a.st.Epoch() != prevEpoch {
		evs = append(evs, &EpochChanged{Height: cp.Height, Epoch: a.st.Epoch(), Previous: prevCommittee, Committee: view.State().Committee()})
	}
	evs = append(evs, blobEvents(cp, res.Receipts, prevView)...)
	a.l.hub.publish(evs)
	a.notify(cp)
	a.l.cfg.Logger.Debug("checkpoint committed", "height", cp.Height, "txs", len(cp.Txs), "epoch", cp.Epoch)
	return cp.Height, nil
}

// persist makes a committed checkpoint durable before anyone is told (docs/architecture.md §7): the
// checkpoint with its certificate and the head height, synced; a snapshot every K heights,
// replacing the previous one.
func (a *actor) persist(ctx context.Context, d *tendermint.Decision) error {
	store := a.l.cfg.Datastore
	rec, err := EncodeDecision(d)
	if err != nil {
		return err
	}
	if err := store.Put(ctx, CheckpointKey(d.Height), rec); err != nil {
		return err
	}
	if err := store.Put(ctx, keyHead(), binary.BigEndian.AppendUint64(nil, d.Height)); err != nil {
		return err
	}
	if err := store.Sync(ctx, CheckpointKey(d.Height)); err != nil {
		return err
	}
	if d.Height%a.l.cfg.SnapshotEvery != 0 {
		return nil
	}
	key := snapshotKey(d.Height)
	if err := store.Put(ctx, key, encodeSnapshot(a.st)); err != nil {
		return err
	}
	if err := store.Sync(ctx, key); err != nil {
		return err
	}
	if a.snapshotAt != 0 {
		// Losing this delete to a crash only leaves an older snapshot that load skips.
		_ = store.Delete(ctx, snapshotKey(a.snapshotAt))
	}
	a.snapshotAt = d.Height
	return nil
}

// apply verifies (when verify is set) and applies a decision, recording receipts and
// answering waiters. On error the state is unchanged.
func (a *actor) apply(d *tendermint.Decision, verify bool) (*staking.Checkpoint, *staking.Result, error) {
	hash := tendermint.HashValue(d.Value)
	if verify {
		if err := tendermint.VerifyCommitWith(a.l.cfg.Scheme, a.st.Committee(), a.l.network, d.Height, hash, &d.Commit); err != nil {
			return nil, nil, fmt.Errorf("%w: height %d: %v", ErrBadCommit, d.Height, err)
		}
	}
	cp, err := staking.DecodeCheckpoint(d.Value)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadCommit, err)
	}
	if cp.Height != d.Height {
		return nil, nil, fmt.Errorf("%w: checkpoint height %d in decision of %d", ErrBadCommit, cp.Height, d.Height)
	}
	res, err := a.st.ApplyCheckpoint(cp)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadCommit, err)
	}
	a.record(cp, res)
	a.last = d
	return cp, res, nil
}

func (a *actor) record(cp *staking.Checkpoint, res *staking.Result) {
	hashes := make([][32]byte, len(cp.Txs))
	for i, raw := range cp.Txs {
		th := TxHash(raw)
		hashes[i] = th
		r := TxReceipt{Hash: th, Height: cp.Height, Index: uint32(i), Receipt: res.Receipts[i]}
		// The same bytes committed again: a success stands (a replay of it fails on its
		// nonce and changes nothing); a failure gives way to the later outcome.
		if old, dup := a.receipts[th]; !dup || !old.OK() {
			a.receipts[th] = r
		}
	}
	a.byHeight[cp.Height] = hashes
	if n := a.l.cfg.ReceiptHeights; cp.Height > n {
		old := cp.Height - n
		for _, th := range a.byHeight[old] {
			if r, ok := a.receipts[th]; ok && r.Height == old {
				delete(a.receipts, th)
			}
		}
		delete(a.byHeight, old)
	}
}

// notify answers the waiters of cp's transactions. It runs only once cp is durable and its
// view published, so a receipt never acknowledges what a crash could lose.
func (a *actor) notify(cp *staking.Checkpoint) {
	for _, th := range a.byHeight[cp.Height] {
		ws, ok := a.waiters[th]
		if !ok {
			continue
		}
		r := a.receipts[th]
		keep := ws[:0]
		for _, w := range ws {
			if r.Height <= w.after {
				keep = append(keep, w) // a lagging node caught up to an older inclusion
				continue
			}
			w.reply.Ok(r)
			a.nwait--
		}
		if len(keep) == 0 {
			delete(a.waiters, th)
		} else {
			a.waiters[th] = keep
		}
	}
	a.expireWaiters(false)
}

// expireWaiters fails waits older than ReceiptHeights heights (half that when forced by a
// full waiter table: whether an asker already gave up is unknowable, so age decides).
func (a *actor) expireWaiters(force bool) {
	h := a.st.Height()
	limit := a.l.cfg.ReceiptHeights
	if force {
		limit /= 2
	}
	for th, ws := range a.waiters {
		kept := ws[:0]
		for _, w := range ws {
			if h-w.since > limit {
				w.reply.Fail(fmt.Errorf("ledger: transaction %x not committed within %d heights", th[:8], h-w.since))
				a.nwait--
				continue
			}
			kept = append(kept, w)
		}
		if len(kept) == 0 {
			delete(a.waiters, th)
		} else {
			a.waiters[th] = kept
		}
	}
}

// blobEvents derives blob lifecycle events from the successful transactions of cp; prev is
// the view before cp (nil: unknown), where a deleted blob object's blob ID is looked up.
func blobEvents(cp *staking.Checkpoint, rs []staking.Receipt, prev *View) []Event {
	var evs []Event
	for i, raw := range cp.Txs {
		if !rs[i].OK() {
			continue
		}
		tx, err := staking.DecodeSignedTx(raw)
		if err != nil {
			continue
		}
		switch op := tx.Tx.Op.(type) {
		case *staking.RegisterBlob:
			sender := staking.AddressOf(tx.Tx.Sender)
			evs = append(evs, &BlobRegistered{Height: cp.Height, BlobID: op.BlobID, Object: staking.DeriveObjectID(sender, tx.Tx.Nonce, 0)})
		case *staking.CertifyBlob:
			evs = append(evs, &BlobCertified{Height: cp.Height, BlobID: op.BlobID, Object: op.Blob})
		case *staking.InvalidateBlob:
			evs = append(evs, &BlobInvalidated{Height: cp.Height, BlobID: op.BlobID})
		case *staking.DeleteBlob:
			if prev != nil {
				if b, ok := prev.State().Blob(op.Blob); ok {
					evs = append(evs, &BlobDeleted{Height: cp.Height, BlobID: b.BlobID, Object: op.Blob})
				}
			}
		}
	}
	return evs
}

// defaultAskTimeout bounds internal asks made by the network glue.
const defaultAskTimeout = 10 * time.Second
