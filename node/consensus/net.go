package consensus

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// NetConfig configures the consensus actor's network side.
type NetConfig struct {
	Host   host.Host
	Gossip *p2p.Gossip
	// Checkpoints is the `checkpoints` topic, joined by the ledger's network side with its
	// validator; the consensus actor publishes its decisions there.
	Checkpoints *p2p.Topic
	Logger      *slog.Logger
}

// Net connects the consensus actor to the network: the `consensus` and `txs` topics (with
// validators), the /walrus/tx/1 submit protocol, and the publisher that drains Out.
type Net struct {
	c         *Consensus
	cfg       NetConfig
	consensus *p2p.Topic
	txs       *p2p.Topic
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	// hintChecks bounds the signature checks spent on far-ahead messages (sync hints).
	hintChecks *rate.Limiter
}

// Far-ahead messages checked for a sync hint: at most hintChecksPerSecond, in bursts of
// hintChecksBurst.
const (
	hintChecksPerSecond = 4
	hintChecksBurst     = 4
)

// publishTimeout bounds one publication; GossipSub's Publish only queues locally.
const publishTimeout = 5 * time.Second

// Direct sends (OutDirect: a local transaction to the proposer of the height it started)
// go one at a time, in order, each bounded by directTimeout; at most directQueue wait,
// further ones are dropped (the transaction still travels by gossip).
const (
	directTimeout = 2 * time.Second
	directQueue   = 64
)

// NewNet joins the topics and registers the submit protocol.
func NewNet(c *Consensus, cfg NetConfig) (*Net, error) {
	if cfg.Host == nil || cfg.Gossip == nil {
		return nil, errors.New("consensus: NetConfig needs Host and Gossip")
	}
	if cfg.Logger == nil {
		cfg.Logger = c.cfg.Logger
	}
	n := &Net{c: c, cfg: cfg, hintChecks: rate.NewLimiter(hintChecksPerSecond, hintChecksBurst)}
	var err error
	if n.consensus, err = cfg.Gossip.Join(p2p.TopicConsensus, n.ValidateConsensus); err != nil {
		return nil, err
	}
	if n.txs, err = cfg.Gossip.Join(p2p.TopicTxs, n.ValidateTx); err != nil {
		return nil, err
	}
	if err := p2p.Handle(cfg.Host, tx.Spec, n.serveTx, cfg.Logger); err != nil {
		return nil, err
	}
	return n, nil
}

// ConsensusTopic is the joined `consensus` topic (tests use it to inject messages).
func (n *Net) ConsensusTopic() *p2p.Topic { return n.consensus }

// TxsTopic is the joined `txs` topic (tests use it to wait for peers).
func (n *Net) TxsTopic() *p2p.Topic { return n.txs }

// Start runs the topic readers and the publisher until Close.
func (n *Net) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	csub, err := n.consensus.Subscribe()
	if err != nil {
		cancel()
		return err
	}
	tsub, err := n.txs.Subscribe()
	if err != nil {
		csub.Cancel()
		cancel()
		return err
	}
	direct := make(chan Outbound, directQueue)
	n.wg.Add(4)
	go func() {
		defer n.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case o := <-direct:
				n.sendDirect(ctx, o)
			}
		}
	}()
	go func() {
		defer n.wg.Done()
		defer csub.Cancel()
		for {
			m, err := csub.Next(ctx)
			if err != nil {
				return
			}
			if m.From == n.cfg.Host.ID() {
				continue // our own message; the machine already has it
			}
			if msg, err := DecodeWire(m.Data, n.maxValue()); err == nil {
				if n.c.Deliver(msg, m.ReceivedFrom) != nil {
					// Dropped (full mailbox): let a re-broadcast through the topic's
					// replay filter to repair it.
					n.consensus.Forget(m.Data)
				}
			}
		}
	}()
	go func() {
		defer n.wg.Done()
		defer tsub.Cancel()
		for {
			m, err := tsub.Next(ctx)
			if err != nil {
				return
			}
			if m.From == n.cfg.Host.ID() {
				continue
			}
			raw, err := TxOfWire(m.Data)
			if err == nil && errors.Is(n.c.GossipTx(raw), ErrMempoolFull) {
				n.txs.Forget(m.Data) // a later copy may find room
			}
		}
	}()
	go func() {
		defer n.wg.Done()
		// The `txs` sequence (wire.go) starts from the clock, so a restarted node does not
		// publish the bytes of its earlier life again.
		txSeq := uint64(time.Now().UnixNano())
		for {
			select {
			case <-ctx.Done():
				return
			case o := <-n.c.Out():
				if o.Topic == OutDirect {
					select {
					case direct <- o:
					default:
						n.cfg.Logger.Debug("direct transaction queue full, dropping", "peer_id", o.Peer)
					}
					continue
				}
				t, data := n.consensus, o.Data
				switch o.Topic {
				case OutTxs:
					txSeq++
					t, data = n.txs, EncodeTxWire(txSeq, o.Data)
				case OutCheckpoints:
					t = n.cfg.Checkpoints
				}
				if t == nil {
					continue
				}
				pctx, pcancel := context.WithTimeout(ctx, publishTimeout)
				if err := t.Publish(pctx, data); err != nil && ctx.Err() == nil {
					n.cfg.Logger.Debug("publish failed", "topic", t.Name(), "err", err)
				}
				pcancel()
			}
		}
	}()
	return nil
}

// sendDirect submits o's transaction to o.Peer over /walrus/tx/1. The answer changes
// nothing here: the transaction is in our mempool and on the `txs` topic either way.
func (n *Net) sendDirect(ctx context.Context, o Outbound) {
	if o.Peer == "" || o.Peer == n.cfg.Host.ID() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, directTimeout)
	defer cancel()
	if _, err := p2p.Call(ctx, n.cfg.Host, o.Peer, tx.Spec, o.Data); err != nil && ctx.Err() == nil {
		n.cfg.Logger.Debug("direct transaction to the proposer failed", "peer_id", o.Peer, "err", err)
	}
}

// Close stops the readers and the publisher and unregisters the submit protocol.
func (n *Net) Close() {
	n.cfg.Host.RemoveStreamHandler(tx.Spec.ID)
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
}

func (n *Net) maxValue() int { return n.c.maxValue() }

// ValidateConsensus is the `consensus` topic validator: Reject what does not decode or
// carries a bad signature from the committee that signs the next height, Ignore other
// heights (asking the ledger to catch up when they are ahead). The committee of the height
// after next is not known before the next height is applied: it is the current committee,
// or the selected next one if the next checkpoint crosses the epoch end. A message for it
// is accepted if it verifies against either (the machine checks it again, against the
// height's own committee, when it starts that height), and ignored rather than rejected
// otherwise. Without the second candidate every message of the first height of a new
// epoch would be dropped by the nodes still applying the last height of the old one (the
// signed bytes carry the epoch), and that height would wait for re-broadcasts.
func (n *Net) ValidateConsensus(_ context.Context, m p2p.Message) p2p.Verdict {
	if m.From == n.cfg.Host.ID() {
		return p2p.Accept
	}
	msg, err := DecodeWire(m.Data, n.maxValue())
	if err != nil {
		return p2p.Reject
	}
	v := n.c.cfg.Ledger.View()
	h := msg.MsgHeight()
	switch {
	case h <= v.Height():
		return p2p.Ignore
	case h > v.Height()+2:
		// Too far ahead to judge (the committee may have changed since): ignored, and a
		// catch-up hint only if it verifies under a committee the node knows — a sync hint
		// never comes from an unverified message — and only for a few such checks a second
		// (hintChecks), so far-ahead junk costs no more; the periodic sync catches up anyway.
		if n.hintChecks.Allow() && n.verifiesKnown(v, msg) {
			n.c.doHint(m.ReceivedFrom, h-1)
		}
		return p2p.Ignore
	}
	err = verifyMessage(n.c.cfg.Scheme, v.SigningCommittee(), v.Network(), msg)
	if next := v.State().NextCommittee(); err != nil && h == v.Height()+2 && next != nil {
		err = verifyMessage(n.c.cfg.Scheme, next, v.Network(), msg)
	}
	switch {
	case err == nil:
		if h == v.Height()+2 {
			n.c.doHint(m.ReceivedFrom, h-1)
		}
		return p2p.Accept
	case h == v.Height()+2:
		return p2p.Ignore
	}
	return p2p.Reject
}

// verifiesKnown reports whether msg verifies under the signing committee of view v or the
// next committee, once selected.
func (n *Net) verifiesKnown(v *ledger.View, msg tendermint.Message) bool {
	if verifyMessage(n.c.cfg.Scheme, v.SigningCommittee(), v.Network(), msg) == nil {
		return true
	}
	next := v.State().NextCommittee()
	return next != nil && verifyMessage(n.c.cfg.Scheme, next, v.Network(), msg) == nil
}

// verifyMessage checks a consensus message's signature (or commit certificate) against
// committee c.
func verifyMessage(s tendermint.Scheme, c *epoch.Committee, network epoch.NetworkID, msg tendermint.Message) error {
	member := func(i uint32) (*epoch.Member, error) {
		if int64(i) >= int64(len(c.Members)) {
			return nil, tendermint.ErrNotMember
		}
		return &c.Members[i], nil
	}
	switch m := msg.(type) {
	case *tendermint.Proposal:
		mem, err := member(m.Proposer)
		if err != nil {
			return err
		}
		return s.Verify(mem.BLSKey, tendermint.ProposalSignBytes(network, c.Epoch, m.Height, m.Round, m.ValidRound, tendermint.HashValue(m.Value)), m.Signature)
	case *tendermint.Vote:
		mem, err := member(m.Validator)
		if err != nil {
			return err
		}
		return s.Verify(mem.BLSKey, tendermint.VoteSignBytes(network, c.Epoch, m.Type, m.Height, m.Round, m.Value), m.Signature)
	case *tendermint.Decision:
		return tendermint.VerifyCommitWith(s, c, network, m.Height, tendermint.HashValue(m.Value), &m.Commit)
	}
	return tendermint.ErrMalformed
}

// ValidateTx is the `txs` topic validator. It checks cheapest first, against the latest
// ledger view, and only what passes is forwarded and reaches the mempool:
//   - size (the topic cap) and a strict decode: Reject;
//   - expiry height passed: Reject;
//   - the fee: a sender with no account at all cannot pay and no honest node would relay
//     it: Reject; an existing account that cannot pay now (its funding may still be in a
//     mempool): Ignore;
//   - the nonce window: below the sender's next nonce (already used, a replay): Ignore;
//     more than maxFutureGap ahead: Ignore (not forwarded; a pipelining client's node may
//     legitimately hold it);
//   - the Ed25519 signature: Reject;
//   - the BLS check (proof of possession, certificate, sync done, challenge results) in the
//     bounded verification pool, cached: Reject on failure, Ignore if no worker is free.
//
// Our own publications are accepted (they passed the dry run).
func (n *Net) ValidateTx(ctx context.Context, m p2p.Message) p2p.Verdict {
	return n.validateTx(ctx, m, n.c.verifyBLS)
}

// validateTx is ValidateTx with verifyBLS as the BLS check (tests count its calls).
func (n *Net) validateTx(ctx context.Context, m p2p.Message, verifyBLS func(context.Context, *staking.State, *staking.SignedTx) error) p2p.Verdict {
	if m.From == n.cfg.Host.ID() {
		return p2p.Accept
	}
	raw, err := TxOfWire(m.Data)
	if err != nil || len(raw) > staking.MaxTxSize {
		return p2p.Reject
	}
	stx, err := staking.DecodeSignedTx(raw)
	if err != nil {
		return p2p.Reject
	}
	v := n.c.cfg.Ledger.View()
	st := v.State()
	next, r := st.Precheck(stx, len(raw))
	switch {
	case r.Code == staking.CodeFee:
		if st.Account(staking.AddressOf(stx.Tx.Sender)) == (staking.Account{}) {
			return p2p.Reject
		}
		return p2p.Ignore
	case !r.OK():
		return p2p.Reject
	case stx.Tx.Nonce < next || stx.Tx.Nonce > next+maxFutureGap:
		return p2p.Ignore
	}
	if !stx.Verify(v.Network()) {
		return p2p.Reject
	}
	if err := verifyBLS(ctx, st, stx); err != nil {
		if ctx.Err() != nil {
			return p2p.Ignore
		}
		return p2p.Reject
	}
	return p2p.Accept
}

func (n *Net) serveTx(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
	if _, err := staking.DecodeSignedTx(req); err != nil {
		return nil, p2p.Errorf(p2p.CodeBadRequest, "%v", err)
	}
	rep, err := n.c.SubmitTx(ctx, req)
	if errors.Is(err, ErrMempoolFull) {
		return nil, p2p.Errorf(p2p.CodeUnavailable, "%v", err)
	}
	if err != nil {
		return nil, err
	}
	return (&rep).Encode(), nil
}
