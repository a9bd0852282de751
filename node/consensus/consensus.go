package consensus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// Config configures the consensus actor. Zero fields get defaults in Validate.
type Config struct {
	// Ledger is the node's ledger actor. Required.
	Ledger *ledger.Ledger
	// Key is the node's BLS protocol key. Required; a node outside the committee follows
	// without voting.
	Key *bls.SecretKey
	// Scheme verifies votes (default tendermint.BLSScheme).
	Scheme tendermint.Scheme
	// Clock drives timeouts, ticks and checkpoint time (default actors.SystemClock).
	Clock actors.Clock
	// Datastore keeps the machine's crash-recovery snapshot (store.ConsensusState), so a
	// restarted node keeps its lock and never signs a conflicting message. Nil: nothing is
	// persisted (tests).
	Datastore ds.Datastore

	// Round timeouts: round r waits Base + r·Delta (Tendermint's growing timeouts).
	ProposeTimeout, PrevoteTimeout, PrecommitTimeout time.Duration
	TimeoutDelta                                     time.Duration
	// RebroadcastInterval re-sends own messages of the current height (liveness over a
	// lossy network, see epoch/tendermint).
	RebroadcastInterval time.Duration
	// TickInterval is how often the actor ticks the machine and checks the epoch clock.
	TickInterval time.Duration
	// TimeBound is how far a proposed checkpoint's time may be from our clock (docs/architecture.md §4).
	TimeBound time.Duration

	// MaxMempool and MaxMempoolBytes bound the mempool; MaxProposalBytes bounds the
	// transactions of one checkpoint (it must fit a gossip message, p2p.MaxGossipMessage).
	MaxMempool, MaxMempoolBytes, MaxProposalBytes int
	// Mailbox is the actor's mailbox size.
	Mailbox int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Validate checks c and fills defaults.
func (c *Config) Validate() error {
	if c.Ledger == nil || c.Key == nil {
		return errors.New("consensus: config needs Ledger and Key")
	}
	if c.Scheme == nil {
		c.Scheme = tendermint.BLSScheme{}
	}
	if _, ok := c.Scheme.(*cachedScheme); !ok {
		c.Scheme = newCachedScheme(c.Scheme)
	}
	if c.Clock == nil {
		c.Clock = actors.SystemClock{}
	}
	def := func(p *time.Duration, v time.Duration) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.ProposeTimeout, 3*time.Second)
	def(&c.PrevoteTimeout, time.Second)
	def(&c.PrecommitTimeout, time.Second)
	def(&c.TimeoutDelta, 500*time.Millisecond)
	def(&c.RebroadcastInterval, 2*time.Second)
	def(&c.TickInterval, 500*time.Millisecond)
	def(&c.TimeBound, 30*time.Second)
	if c.MaxMempool == 0 {
		c.MaxMempool = 10_000
	}
	if c.MaxMempoolBytes == 0 {
		c.MaxMempoolBytes = 16 << 20
	}
	if c.MaxProposalBytes == 0 {
		c.MaxProposalBytes = 3 << 20
	}
	if c.Mailbox == 0 {
		c.Mailbox = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	for _, d := range []time.Duration{c.ProposeTimeout, c.PrevoteTimeout, c.PrecommitTimeout, c.TimeoutDelta, c.RebroadcastInterval, c.TickInterval, c.TimeBound} {
		if d < 0 {
			return fmt.Errorf("consensus: negative duration %v", d)
		}
	}
	return nil
}

// Outbound is a message the actor wants published; the network side drains them (the actor
// never blocks on the network, docs/architecture.md §6).
type Outbound struct {
	Topic OutTopic
	Data  []byte
	// Peer is the recipient of an OutDirect message.
	Peer peer.ID
}

// OutTopic names the topic of an Outbound message.
type OutTopic uint8

// Outbound topics.
const (
	OutConsensus OutTopic = 1 + iota
	OutCheckpoints
	OutTxs
	// OutDirect is a local transaction sent straight to Peer, the proposer of a height
	// the transaction started, over the submit protocol (/walrus/tx/1).
	OutDirect
)

// Consensus is the handle of the consensus actor. Its methods are safe for concurrent use.
type Consensus struct {
	cfg     Config
	self    [32]byte
	ref     *actors.Ref[msg]
	out     chan Outbound
	sub     *ledger.Subscription
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}
	mempool atomic.Int64
	rounds  atomic.Int64
	hint    atomic.Pointer[func(peer.ID, uint64)]

	// Transactions reach the actor through their own bounded queue (txq), signalled by at
	// most one txReadyMsg in the mailbox at a time, so consensus messages, timeouts and
	// commits never wait behind, or are dropped because of, transactions.
	txq      chan txReq
	txSignal atomic.Bool
	// cache remembers successful BLS checks (staking.VerifyCache); pairing bounds the
	// goroutines doing them off the actor (verify.go).
	cache   *staking.VerifyCache
	pairing chan struct{}
}

type msg interface{ isMsg() }

type incomingMsg struct {
	m    tendermint.Message
	from peer.ID
}
type timeoutMsg struct{ t tendermint.Timeout }
type tickMsg struct{}
type committedMsg struct{ v *ledger.View }
type txReadyMsg struct{}

// txReq is a transaction queued for the actor; reply is nil for gossip.
type txReq struct {
	raw   []byte
	local bool
	reply chan txResult
}

type txResult struct {
	rep tx.Reply
	err error
}

func (incomingMsg) isMsg()  {}
func (timeoutMsg) isMsg()   {}
func (tickMsg) isMsg()      {}
func (committedMsg) isMsg() {}
func (txReadyMsg) isMsg()   {}

// ErrMempoolFull rejects a transaction while the mempool is at its bound.
var ErrMempoolFull = errors.New("consensus: mempool full")

// New spawns the consensus actor in sys, with its ticker and its ledger-event reader.
func New(sys *actors.System, cfg Config) (*Consensus, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Consensus{cfg: cfg, self: epoch.NodeIDOf(cfg.Key.PublicKey()), out: make(chan Outbound, 4096), done: make(chan struct{}),
		txq: make(chan txReq, txQueueSize), cache: staking.NewVerifyCache(txVerifyCacheSize),
		pairing: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
	c.ctx, c.cancel = context.WithCancel(sys.Context())
	ref, err := actors.Spawn(sys, "consensus", func(ctx context.Context) (actors.Actor[msg], error) {
		return c.newActor()
	}, actors.WithMailbox(cfg.Mailbox))
	if err != nil {
		c.cancel()
		return nil, err
	}
	c.ref = ref
	c.sub = cfg.Ledger.Subscribe(64)
	go c.background()
	return c, nil
}

// background ticks the actor and forwards ledger commits until Close or the system stops.
func (c *Consensus) background() {
	defer close(c.done)
	defer c.sub.Cancel()
	tick := c.cfg.Clock.After(c.cfg.TickInterval)
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.ref.Done():
			return
		case <-tick:
			_ = c.ref.Tell(tickMsg{}) // a full mailbox means the actor is busy; skip a tick
			tick = c.cfg.Clock.After(c.cfg.TickInterval)
		case ev := <-c.sub.C:
			if cc, ok := ev.(*ledger.CheckpointCommitted); ok {
				_ = c.ref.Send(c.ctx, committedMsg{v: cc.View})
			}
		}
	}
}

// Close stops the background goroutines. The actor itself stops with its system.
func (c *Consensus) Close() {
	c.cancel()
	<-c.done
}

// Out is the queue of messages to publish; the network side drains it.
func (c *Consensus) Out() <-chan Outbound { return c.out }

// SetHint installs the callback that asks the ledger to catch up from a peer that is at a
// later height (ledger.Net.Hint).
func (c *Consensus) SetHint(f func(peer.ID, uint64)) { c.hint.Store(&f) }

// Deliver hands a consensus message (already decoded and validated by the topic
// validator) to the actor. It never blocks; a full mailbox drops the message, which the
// senders' re-broadcast repairs.
func (c *Consensus) Deliver(m tendermint.Message, from peer.ID) error {
	return c.ref.Tell(incomingMsg{m: m, from: from})
}

// SubmitTx checks a signed transaction cheaply against the latest ledger view (expiry,
// fee, signature), performs its BLS check in the bounded verification pool (verify.go),
// then dry-runs it on the actor against the ledger state plus the mempool and, if it
// passes, adds it to the mempool (and queues it for the `txs` topic). A transaction
// already in the mempool is accepted again (idempotent). A full queue or mempool is
// ErrMempoolFull.
func (c *Consensus) SubmitTx(ctx context.Context, raw []byte) (tx.Reply, error) {
	if rep, ok := c.prepare(ctx, raw, true); !ok {
		return rep, nil
	}
	req := txReq{raw: raw, local: true, reply: make(chan txResult, 1)}
	if err := c.enqueue(req); err != nil {
		return tx.Reply{}, err
	}
	select {
	case r := <-req.reply:
		return r.rep, r.err
	case <-ctx.Done():
		return tx.Reply{}, ctx.Err()
	case <-c.ref.Done():
		return tx.Reply{}, errors.New("consensus: stopped")
	}
}

// gossipPrepareTimeout bounds how long a gossiped transaction waits for a verification
// worker before it is dropped.
const gossipPrepareTimeout = 2 * time.Second

// GossipTx adds a transaction received on the `txs` or `certs` topic, without an answer:
// the same cheap checks and pooled BLS check as SubmitTx (answered from the cache when the
// topic validator did it), then the actor's dry run. It never blocks on the actor.
func (c *Consensus) GossipTx(raw []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, gossipPrepareTimeout)
	defer cancel()
	if rep, ok := c.prepare(ctx, raw, false); !ok {
		return fmt.Errorf("consensus: transaction refused: %s: %s", rep.Code, rep.Message)
	}
	return c.enqueue(txReq{raw: raw})
}

// enqueue hands a transaction to the actor through txq, without blocking.
func (c *Consensus) enqueue(r txReq) error {
	select {
	case c.txq <- r:
	default:
		return ErrMempoolFull
	}
	c.signalTx()
	return nil
}

// signalTx puts one txReadyMsg in the mailbox unless one is already there. If the mailbox
// is full the tick drains the queue instead.
func (c *Consensus) signalTx() {
	if c.txSignal.CompareAndSwap(false, true) {
		if err := c.ref.Tell(txReadyMsg{}); err != nil {
			c.txSignal.Store(false)
		}
	}
}

// MempoolSize is the number of transactions waiting.
func (c *Consensus) MempoolSize() int { return int(c.mempool.Load()) }

// Rounds counts rounds started beyond round 0 (a health signal: many means trouble).
func (c *Consensus) Rounds() int64 { return c.rounds.Load() }

func (c *Consensus) emit(o Outbound) {
	select {
	case c.out <- o:
	default:
		c.cfg.Logger.Warn("consensus outbound queue full, dropping", "topic", o.Topic)
	}
}

func (c *Consensus) doHint(p peer.ID, h uint64) {
	if f := c.hint.Load(); f != nil {
		(*f)(p, h)
	}
}

func (c *Consensus) now() int64 { return c.cfg.Clock.Now().UnixMilli() }

// after delivers m to the actor once d has passed on the actor clock; the goroutine ends
// then or when the consensus stops.
func (c *Consensus) after(d time.Duration, m msg) {
	go func() {
		select {
		case <-c.cfg.Clock.After(d):
			_ = c.ref.Send(c.ctx, m)
		case <-c.ctx.Done():
		}
	}()
}

// ---- the actor ----

type actor struct {
	c *Consensus
	m *tendermint.Machine
	// follow is a machine that votes nothing, used at height abstain (wal.go): the height
	// whose snapshot could not be read, where we may already have signed.
	follow  *tendermint.Machine
	abstain uint64
	// cstate is the latest view's state with the verify cache; proposals and validation
	// run on clones of it.
	cstate  *staking.State
	base    *ledger.View
	started uint64 // height started in the machine, 0 before the first
	lastRnd int32
	peerAt  bool // a peer sent a message for base+1
	pool    *mempool
	future  map[[32]byte]futureTx // gossiped transactions waiting for a nonce gap (future.go)
	// published is when each local transaction still in the mempool was last published.
	published map[[32]byte]int64
	scratch   *staking.State // base + mempool, for dry runs
	saved     snapKey        // what the persisted snapshot holds
	seq       uint64         // last consensus-topic sequence number (wire.go)
	// early holds peers' messages for base+2 and base+3 that the machine cannot take yet
	// (early.go); peerNext is the height of the last peer message handed to the machine's
	// own buffer (base+2 while base+1 runs). Either makes the actor start that height as
	// soon as its base reaches the one before.
	early    earlyBuffer
	peerNext uint64
}

func (c *Consensus) newActor() (*actor, error) {
	a := &actor{c: c, pool: newMempool(c.cfg.MaxMempool, c.cfg.MaxMempoolBytes), early: earlyBuffer{maxBytes: c.earlyBytes()}}
	m, err := a.newMachine(c.self)
	if err != nil {
		return nil, err
	}
	a.m = m
	a.setBase(c.cfg.Ledger.View())
	snap, err := a.loadSnapshot(c.ctx)
	if err != nil {
		// We may have signed at the height the snapshot was for, and cannot know what:
		// starting afresh could sign a conflicting vote. Abstain at the next height (follow
		// it without proposing or voting); the honest rest of the committee decides it.
		a.abstain = a.base.Height() + 1
		c.cfg.Logger.Error("consensus snapshot unreadable; abstaining at the next height", "height", a.abstain, "err", err)
	}
	if snap != nil && snap.Height == a.base.Height()+1 {
		// We crashed (or were restarted) in the middle of this height: resume it.
		now := c.now()
		effs, err := a.m.Step(now, tendermint.Resume{Committee: a.base.SigningCommittee(), Snapshot: snap})
		if err != nil {
			return nil, err
		}
		a.started, a.saved = snap.Height, keyOf(snap)
		c.cfg.Logger.Info("consensus resumed", "height", snap.Height, "round", snap.Round, "locked_round", snap.LockedRound)
		a.run(effs)
		a.feedEarly(now)
		return a, nil
	}
	a.maybeStart(c.now())
	return a, nil
}

// newMachine builds a Tendermint machine for member self (a zero ID never is one).
func (a *actor) newMachine(self epoch.NodeID) (*tendermint.Machine, error) {
	c := a.c
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	return tendermint.New(tendermint.Config{
		Network:             c.cfg.Ledger.Network(),
		Self:                self,
		Signer:              c.cfg.Key,
		Scheme:              c.cfg.Scheme,
		App:                 app{a},
		ProposeBase:         ms(c.cfg.ProposeTimeout),
		ProposeDelta:        ms(c.cfg.TimeoutDelta),
		PrevoteBase:         ms(c.cfg.PrevoteTimeout),
		PrevoteDelta:        ms(c.cfg.TimeoutDelta),
		PrecommitBase:       ms(c.cfg.PrecommitTimeout),
		PrecommitDelta:      ms(c.cfg.TimeoutDelta),
		RebroadcastInterval: ms(c.cfg.RebroadcastInterval),
		MaxValueSize:        c.maxValue(),
	})
}

// machine is the machine running the current height: the follower at the abstain height.
func (a *actor) machine() *tendermint.Machine {
	if a.abstain != 0 && a.started == a.abstain && a.follow != nil {
		return a.follow
	}
	return a.m
}

func (c *Consensus) maxValue() int { return c.cfg.MaxProposalBytes + 1<<16 }

// earlyBytes bounds the bytes of early messages (early.go): maxEarlyBytes, or four
// maximal proposals if more.
func (c *Consensus) earlyBytes() int { return max(maxEarlyBytes, 4*(c.maxValue()+earlyOverhead)) }

// Receive implements actors.Actor.
func (a *actor) Receive(_ context.Context, m msg) error {
	now := a.c.now()
	switch m := m.(type) {
	case incomingMsg:
		h := m.m.MsgHeight()
		if v := a.c.cfg.Ledger.View(); h > a.base.Height()+1 && v.Height() > a.base.Height() {
			// The validator judged the message against the ledger's latest view, which may
			// be ahead of our base (its commit events still queued): move there first.
			a.newBase(v)
		}
		next := a.base.Height() + 1
		switch {
		case h < next:
			return nil
		case h > next+2:
			a.c.doHint(m.from, h-1)
			return nil
		case h > next:
			// Peers finished next (and next+1, for next+2) before our ledger reported it.
			// The replay cache Ignores every later copy of this message, re-broadcasts
			// included (early.go), so it is kept: by the machine's own buffer if it runs
			// next, else by ours, until we start its height.
			if h == next+2 {
				a.c.doHint(m.from, h-1)
			}
			if h == next+1 && a.started == next {
				a.step(now, m.m)
				a.peerNext = h
				return nil
			}
			a.early.add(m.m)
			return nil
		}
		if a.started != next {
			a.peerAt = true
			a.maybeStart(now)
		}
		a.step(now, m.m)
	case timeoutMsg:
		a.step(now, m.t)
	case tickMsg:
		if v := a.c.cfg.Ledger.View(); v.Height() > a.base.Height() {
			a.newBase(v) // a commit event was dropped; the view is the truth
		}
		a.drainTxs() // in case a txReadyMsg did not fit the mailbox
		a.maybeStart(now)
		if a.started > 0 {
			a.step(now, tendermint.Tick{})
		}
	case committedMsg:
		if m.v.Height() > a.base.Height() {
			a.newBase(m.v)
		}
	case txReadyMsg:
		a.c.txSignal.Store(false)
		a.drainTxs()
	}
	return nil
}

// txBatch is how many queued transactions the actor takes per txReadyMsg before it lets
// the mailbox (consensus messages) go first again.
const txBatch = 256

// txQueueSize bounds the transactions waiting for the actor.
const txQueueSize = 4096

func (a *actor) drainTxs() {
	for range txBatch {
		select {
		case r := <-a.c.txq:
			rep, err := a.addTx(r.raw, r.local)
			if r.reply != nil {
				r.reply <- txResult{rep, err}
			}
		default:
			return
		}
	}
	if len(a.c.txq) > 0 {
		a.c.signalTx()
	}
}

func (a *actor) step(now int64, ev tendermint.Event) {
	if a.started == 0 {
		return
	}
	effs, err := a.machine().Step(now, ev)
	if err != nil {
		a.c.cfg.Logger.Debug("consensus event refused", "err", err)
	}
	a.run(effs)
}

func (a *actor) run(effs []tendermint.Effect) {
	for _, e := range effs {
		if b, ok := e.(tendermint.Broadcast); ok && !isDecision(b.Msg) {
			// Own proposal or vote: durable before it leaves the node (wal.go).
			if err := a.saveSnapshot(); err != nil {
				a.c.cfg.Logger.Error("consensus snapshot not saved; holding our messages back", "err", err)
				effs = dropOwn(effs)
			}
			break
		}
	}
	for _, e := range effs {
		switch e := e.(type) {
		case tendermint.Broadcast:
			b, err := tendermint.Encode(e.Msg)
			if err != nil {
				a.c.cfg.Logger.Error("encode consensus message", "err", err)
				continue
			}
			// A fresh sequence number per publication (wire.go); clock-based so that a
			// restarted node does not repeat its earlier publications either.
			a.seq = max(a.seq+1, uint64(a.c.cfg.Clock.Now().UnixNano()))
			a.c.emit(Outbound{Topic: OutConsensus, Data: EncodeWire(a.seq, b)})
		case tendermint.ScheduleTimeout:
			a.c.after(time.Duration(e.Duration)*time.Millisecond, timeoutMsg{t: e.Timeout})
			if e.Kind == tendermint.TimeoutPropose && e.Round > a.lastRnd {
				a.c.rounds.Add(int64(e.Round - a.lastRnd))
				a.lastRnd = e.Round
			}
		case tendermint.Commit:
			a.c.cfg.Logger.Debug("height decided", "height", e.Height, "round", e.Commit.Round)
			d := &tendermint.Decision{Height: e.Height, Value: e.Value, Commit: e.Commit}
			if b, err := tendermint.Encode(d); err == nil {
				a.c.emit(Outbound{Topic: OutCheckpoints, Data: b})
			}
			// The ledger verifies and stores it, then reports the new state (committedMsg);
			// asking from a goroutine keeps this actor free meanwhile.
			go func() {
				ctx, cancel := context.WithTimeout(a.c.ctx, 30*time.Second)
				defer cancel()
				if _, err := a.c.cfg.Ledger.Submit(ctx, d); err != nil && !errors.Is(err, ledger.ErrStale) && a.c.ctx.Err() == nil {
					a.c.cfg.Logger.Error("ledger refused our own commit", "height", d.Height, "err", err)
				}
			}()
		case tendermint.Evidence:
			a.c.cfg.Logger.Warn("equivocation", "member", e.Member, "height", e.First.MsgHeight())
		}
	}
}

// newBase moves to the ledger's new state: drop committed and now-invalid transactions,
// then start the next height if needed.
func (a *actor) newBase(v *ledger.View) {
	a.setBase(v)
	// Peers' messages for the new next height arrived early (early.go): a peer is working
	// on it, as if the messages were delivered now.
	next := v.Height() + 1
	a.peerAt = a.peerNext == next || a.early.has(next)
	a.maybeStart(a.c.now())
}

func (a *actor) setBase(v *ledger.View) {
	a.base = v
	a.peerAt = false
	a.early.dropThrough(v.Height())
	a.cstate = v.State().Clone()
	a.cstate.SetVerifyCache(a.c.cache)
	a.refilter()
	for h := range a.published {
		if !a.pool.has(h) {
			delete(a.published, h)
		}
	}
	a.promote()
}

// regossip publishes a local transaction on the `txs` topic unless it was published less
// than RebroadcastInterval ago. published only holds transactions still in the mempool.
func (a *actor) regossip(h [32]byte, raw []byte) {
	now := a.c.now()
	if last, ok := a.published[h]; ok && now-last < a.c.cfg.RebroadcastInterval.Milliseconds() {
		return
	}
	if a.published == nil {
		a.published = make(map[[32]byte]int64)
	}
	a.published[h] = now
	a.c.emit(Outbound{Topic: OutTxs, Data: raw})
}

// maybeStart starts height base+1 when something needs a checkpoint (package doc).
func (a *actor) maybeStart(now int64) {
	next := a.base.Height() + 1
	if a.started >= next {
		return
	}
	st := a.base.State()
	cfg := st.Config()
	epochDue := (st.NextCommittee() == nil && now >= cfg.MidEpoch(st.Epoch())) || now >= cfg.EpochStart(st.Epoch()+1)
	if !(a.base.Height() == 0 || a.pool.len() > 0 || a.peerAt || epochDue) {
		return
	}
	m := a.m
	if next == a.abstain {
		if a.follow == nil {
			f, err := a.newMachine(epoch.NodeID{})
			if err != nil {
				a.c.cfg.Logger.Error("follower machine", "err", err)
				return
			}
			a.follow = f
		}
		m = a.follow
		a.c.cfg.Logger.Warn("abstaining at this height (unreadable consensus snapshot)", "height", next)
	} else if a.abstain != 0 && next > a.abstain {
		a.abstain, a.follow = 0, nil
	}
	effs, err := m.Step(now, tendermint.StartHeight{Height: next, Committee: a.base.SigningCommittee()})
	if err != nil {
		a.c.cfg.Logger.Error("start height", "height", next, "err", err)
		return
	}
	a.started, a.lastRnd = next, 0
	a.c.cfg.Logger.Debug("height started", "height", next, "mempool", a.pool.len(), "peer_started", a.peerAt, "epoch_due", epochDue)
	a.run(effs)
	if !a.peerAt && m == a.m {
		a.nudgeProposer(m)
	}
	a.feedEarly(now)
}

// maxNudgeTxs bounds the local transactions one height start sends to its proposer.
const maxNudgeTxs = 16

// nudgeProposer sends the local transactions in the mempool straight to the proposer of
// round 0 of the height we just started on their account, unless that is us. Nothing
// else would start the proposer's height: a node that is not proposing sends nothing in
// round 0, so a proposer that missed the transactions' gossip would learn of the height
// only from the others' nil prevotes once the propose timeout (3 s) has passed, decide it
// without them, and leave them for a later height. The proposer's submit handler takes a
// transaction it already holds as a no-op.
func (a *actor) nudgeProposer(m *tendermint.Machine) {
	c := a.base.SigningCommittee()
	p := m.Proposer(0)
	if c == nil || p < 0 || p >= len(c.Members) || p == c.MemberIndex(a.c.self) {
		return
	}
	to := peer.ID(c.Members[p].PeerID)
	if to == "" {
		return
	}
	// In arrival order, which keeps each sender's nonces in order: the proposer refuses a
	// direct submission whose predecessor it does not hold.
	var txs []*poolTx
	for h := range a.published {
		if t, ok := a.pool.txs[h]; ok {
			txs = append(txs, t)
		}
	}
	slices.SortFunc(txs, func(x, y *poolTx) int { return cmp.Compare(x.seq, y.seq) })
	for _, t := range txs[:min(len(txs), maxNudgeTxs)] {
		a.c.emit(Outbound{Topic: OutDirect, Data: t.raw, Peer: to})
	}
}

// feedEarly hands the machine the early messages (early.go) for the height it just
// started, in arrival order.
func (a *actor) feedEarly(now int64) {
	for _, m := range a.early.take(a.started) {
		a.step(now, m)
	}
}

func (a *actor) addTx(raw []byte, local bool) (tx.Reply, error) {
	h := ledger.TxHash(raw)
	rep := tx.Reply{Hash: h, Height: a.base.Height()}
	if a.pool.has(h) {
		rep.Accepted = true
		if local {
			// A client offering a transaction we already hold is still waiting for it: the
			// first publication may have reached nobody (no peers yet, a partition), so
			// publish it again, at most once per RebroadcastInterval.
			a.regossip(h, raw)
		}
		return rep, nil
	}
	stx, err := staking.DecodeSignedTx(raw)
	if err != nil {
		rep.Code, rep.Message = staking.CodeMalformed, err.Error()
		return rep, nil
	}
	sender := staking.AddressOf(stx.Tx.Sender)
	if a.pool.senderFull(sender) {
		return rep, ErrMempoolFull
	}
	// A full mempool makes room for a transaction paying more per byte than the
	// lowest-paying senders' last transactions by evicting those (mempool.evictFor) once its
	// dry run passes; its fee is known from the cheap check, before any dry run.
	var evict []*poolTx
	if a.pool.full(len(raw)) {
		if _, pr := a.scratch.Precheck(stx, len(raw)); pr.OK() {
			evict = a.pool.evictFor(len(raw), feeRate(pr.Fee, len(raw)), sender)
		}
		if evict == nil {
			return rep, ErrMempoolFull
		}
	}
	// Dry run on the scratch state (base + mempool): a transaction that fails now would
	// not be worth proposing (staking package doc). BLS checks were done off the actor
	// (prepare) and are answered from the cache.
	r := a.dryRun(raw)
	if !r.OK() {
		rep.Code, rep.Message = r.Code, r.Message
		if !local {
			a.park(h, raw, r) // its predecessor may still be on its way (future.go)
		}
		return rep, nil
	}
	if evict != nil {
		// The scratch state keeps the evicted transactions' effects until the next commit
		// rebuilds it (refilter): their nonces stay used and their funds spent, so it only
		// errs towards refusing. Rebuilding now would re-apply the whole mempool for every
		// eviction, work a sender could buy for one fee above the lowest.
		a.pool.remove(evict)
		a.c.cfg.Logger.Debug("mempool full: evicted lower-paying transactions", "evicted", len(evict), "fee", r.Fee)
	}
	a.pool.add(h, raw, sender, stx.Tx.Nonce, r.Fee)
	a.promote()
	rep.Accepted = true
	if local {
		a.regossip(h, raw)
	}
	a.maybeStart(a.c.now())
	return rep, nil
}

// refilter rebuilds the scratch state as the base plus the mempool, dropping what no longer
// applies: committed transactions fail the nonce check now, and so do those they displaced.
// A transaction still admitted whose operation the new state refuses (its reservation's
// epoch passed, say) is kept: committed, it pays its fee and uses its nonce, and its sender
// gets the refusal as a receipt. Dropping it would leave a gap in the sender's nonces that
// stalls every later transaction of the account until they expire from the client's wait.
func (a *actor) refilter() {
	a.scratch = a.cstate.Clone()
	a.pool.filter(func(_ [32]byte, raw []byte) bool {
		r := a.scratch.Apply(raw)
		return r.OK() || r.Code.Proposable()
	})
}

// dryRun applies raw to the scratch state (base + mempool) if it succeeds. A transaction
// admitted but whose operation is refused would still pay its fee on the scratch state, so
// the dry run goes to a clone that is kept only on success.
func (a *actor) dryRun(raw []byte) staking.Receipt {
	probe := a.scratch.Clone()
	r := probe.Apply(raw)
	if r.OK() {
		a.scratch = probe
	}
	return r
}

func isDecision(m tendermint.Message) bool {
	_, ok := m.(*tendermint.Decision)
	return ok
}

// dropOwn removes the broadcasts of own proposals and votes: unsaved, they must not leave.
func dropOwn(effs []tendermint.Effect) []tendermint.Effect {
	out := effs[:0:0]
	for _, e := range effs {
		if b, ok := e.(tendermint.Broadcast); ok && !isDecision(b.Msg) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// app is the tendermint.App of the ledger (package doc).
type app struct{ a *actor }

// errNotOurHeight is returned when the machine asks about a height other than base+1
// (cannot happen while heights start only from newBase; kept as a guard).
var errNotOurHeight = errors.New("consensus: value for a height we are not at")

// Propose builds the next checkpoint from the mempool on the latest ledger view; its time is
// our clock, but always after the previous checkpoint's (docs/architecture.md §4).
func (p app) Propose(height uint64, _ int32, now int64) ([]byte, error) {
	a := p.a
	if height != a.base.Height()+1 {
		return nil, errNotOurHeight
	}
	st := a.cstate
	t := max(now, st.Time()+1)
	// By fee, each sender's in nonce order; BuildProposal leaves out whatever would make
	// the proposal invalid (CheckProposal), e.g. a transaction reordering left unpayable.
	txs := a.pool.take(a.c.cfg.MaxProposalBytes, staking.MaxTxsPerCP)
	cp, _, dropped, err := st.BuildProposal(t, txs)
	if err != nil {
		return nil, err
	}
	if dropped > 0 {
		a.c.cfg.Logger.Debug("proposal left out transactions", "height", height, "dropped", dropped)
	}
	return cp.Encode(), nil
}

// Validate accepts a checkpoint for our vote: it decodes, is for this height, its time is
// within TimeBound of our clock, it applies on a clone of the latest view (previous hash,
// time after the previous checkpoint, transactions, state root: staking.ApplyCheckpoint),
// and every transaction in it was admitted and passed its BLS checks
// (staking.CheckProposal): a proposal of junk gets no prevote.
func (p app) Validate(height uint64, value []byte, now int64) error {
	a := p.a
	if height != a.base.Height()+1 {
		return errNotOurHeight
	}
	cp, err := staking.DecodeCheckpoint(value)
	if err != nil {
		return err
	}
	if cp.Height != height {
		return fmt.Errorf("consensus: checkpoint of height %d proposed for %d", cp.Height, height)
	}
	bound := a.c.cfg.TimeBound.Milliseconds()
	if cp.Time > now+bound || cp.Time < now-bound {
		return fmt.Errorf("consensus: checkpoint time %d more than %d ms from our clock %d", cp.Time, bound, now)
	}
	res, err := a.cstate.Clone().ApplyCheckpoint(cp)
	if err != nil {
		return err
	}
	return staking.CheckProposal(res)
}
