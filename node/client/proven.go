package client

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// Verified ledger answers (docs/architecture.md §4 "Light clients"). With a genesis
// (LedgerConfig.Genesis; Open always gives one) the client asks the proven query kinds and
// believes an answer only when its checkpoint's commit certificate verifies under a
// committee it trusts (trust.go), the checkpoint is of its genesis's network, and the facts
// are proven against that checkpoint's state root. Freshness is the highest verified height
// among the nodes asked, never a height a node claims. A node whose answer fails is named in
// a *VerifyError (logged, and passed to LedgerConfig.OnReject) and the client goes on with
// the others.

// ErrUnverified is wrapped by every answer that failed verification.
var ErrUnverified = query.ErrUnverified

// VerifyError is a node's answer that failed verification (or a node that cannot prove
// its answers).
type VerifyError struct {
	Node peer.ID
	Err  error
}

// Error names the node.
func (e *VerifyError) Error() string {
	return fmt.Sprintf("client: node %s: refused its answer: %v", e.Node, e.Err)
}

// Unwrap returns the cause (wrapping ErrUnverified when a check failed).
func (e *VerifyError) Unwrap() error { return e.Err }

// Verified reports whether the ledger client verifies answers (it was given a genesis).
func (l *Ledger) Verified() bool { return l.trust != nil }

// TrustedEpoch is the latest epoch whose committee the client trusts (0 when it does not
// verify).
func (l *Ledger) TrustedEpoch() uint32 {
	if l.trust == nil {
		return 0
	}
	return l.trust.Latest()
}

// reject reports a node's failed answer.
func (l *Ledger) reject(p peer.ID, err error) *VerifyError {
	ve := &VerifyError{Node: p, Err: err}
	l.cfg.Logger.Warn("ledger answer refused", "node", p, "err", err)
	if l.cfg.OnReject != nil {
		l.cfg.OnReject(p, err)
	}
	return ve
}

// committeeFor returns the trusted committee of epoch e, following epoch links served by
// node p from the latest trusted epoch when e is later.
func (l *Ledger) committeeFor(ctx context.Context, p peer.ID, e uint32) (*epoch.Committee, error) {
	t := l.trust
	if c := t.get(e); c != nil {
		return c, nil
	}
	t.follow.Lock()
	defer t.follow.Unlock()
	for {
		if c := t.get(e); c != nil {
			return c, nil
		}
		from := t.Latest()
		if e < from {
			return nil, fmt.Errorf("%w: certificate of epoch %d, before the trusted epoch %d (a stale state)", ErrUnverified, e, from)
		}
		q := &query.Query{Kind: query.QueryEpochLinks, FromEpoch: from}
		resp, err := p2p.Call(ctx, l.cfg.Host, p, query.Spec, q.Encode())
		if err != nil {
			return nil, fmt.Errorf("epoch links from epoch %d: %w", from, err)
		}
		a, err := query.DecodeEpochLinksAnswer(resp)
		if err != nil {
			return nil, fmt.Errorf("%w: epoch links: %v", ErrUnverified, err)
		}
		if len(a.Links) == 0 {
			return nil, fmt.Errorf("%w: no epoch link out of epoch %d toward epoch %d", ErrUnverified, from, e)
		}
		for i := range a.Links {
			if err := t.followLink(&a.Links[i]); err != nil {
				t.save() // keep what verified
				return nil, err
			}
			if t.Latest() >= e {
				break
			}
		}
		t.save()
	}
}

// verifyAt verifies a certified checkpoint from node p: its certificate under the trusted
// committee of its epoch (following links first if needed), and that it is at height.
func (l *Ledger) verifyAt(ctx context.Context, p peer.ID, height uint64, c *query.Certified) (*staking.Checkpoint, error) {
	com, err := l.committeeFor(ctx, p, c.Cert.Epoch)
	if err != nil {
		return nil, err
	}
	cp, err := l.trust.verify(com, c)
	if err != nil {
		return nil, err
	}
	if cp.Height != height {
		return nil, fmt.Errorf("%w: answer says height %d, its checkpoint is of height %d", ErrUnverified, height, cp.Height)
	}
	l.noteTip(cp.Height)
	return cp, nil
}

// proven is one verified answer.
type proven[T any] struct {
	v      T
	height uint64
	node   peer.ID
}

// queryProven asks every node (first only `first` when set, falling back to all if its
// answer does not verify or is stale) and returns the verified answer of the highest
// verified height. Answers are verified in the order of the heights they claim, highest
// first, stopping at the first that verifies: a lying node costs one failed verification,
// never a choice. first's answer is stale when its verified height is below the highest
// height this client had verified before asking (Ledger.tip): a genuine but old state (a
// lagging node, or one that serves an old checkpoint on purpose) never overrides what the
// client already knows to be newer — the freshest verified answer among all nodes does.
func queryProven[T any](ctx context.Context, l *Ledger, q *query.Query, first peer.ID,
	verify func(ctx context.Context, p peer.ID, b []byte) (T, uint64, error)) (proven[T], error) {
	var errs []error
	if first != "" {
		floor := l.tip.Load()
		b, err := p2p.Call(ctx, l.cfg.Host, first, query.Spec, q.Encode())
		if err == nil {
			v, h, verr := verify(ctx, first, b)
			switch {
			case verr == nil && h >= floor:
				return proven[T]{v, h, first}, nil
			case verr == nil:
				// Genuine, so not refused (no VerifyError), but not taken either.
				l.cfg.Logger.Debug("stale ledger answer, asking every node", "node", first, "height", h, "verified", floor)
				errs = append(errs, fmt.Errorf("%s: answer of height %d, below the verified height %d (stale)", first.ShortString(), h, floor))
			default:
				errs = append(errs, l.reject(first, verr))
			}
		} else if ctx.Err() != nil {
			return proven[T]{}, ctx.Err()
		}
	}
	type ans struct {
		b   []byte
		p   peer.ID
		err error
	}
	ch := make(chan ans, len(l.peers))
	cctx, cancel := context.WithTimeout(ctx, bestQueryTimeout)
	defer cancel()
	body := q.Encode()
	for _, p := range l.peers {
		go func() {
			b, err := p2p.Call(cctx, l.cfg.Host, p, query.Spec, body)
			ch <- ans{b, p, err}
		}()
	}
	var got []ans
	for range l.peers {
		a := <-ch
		if a.err != nil {
			var se *p2p.StatusError
			if errors.As(a.err, &se) && se.Code == p2p.CodeBadRequest {
				errs = append(errs, l.reject(a.p, fmt.Errorf("cannot prove its answers (a node older than the proven queries?): %w", a.err)))
			} else {
				errs = append(errs, fmt.Errorf("%s: %w", a.p.ShortString(), a.err))
			}
			continue
		}
		got = append(got, a)
	}
	claimed := func(b []byte) uint64 {
		if len(b) < 8 {
			return 0
		}
		return binary.LittleEndian.Uint64(b)
	}
	slices.SortStableFunc(got, func(x, y ans) int { return cmp.Compare(claimed(y.b), claimed(x.b)) })
	for _, a := range got {
		v, h, err := verify(ctx, a.p, a.b)
		if err == nil {
			return proven[T]{v, h, a.p}, nil
		}
		if ctx.Err() != nil {
			return proven[T]{}, ctx.Err()
		}
		errs = append(errs, l.reject(a.p, err))
	}
	if ctx.Err() != nil {
		return proven[T]{}, ctx.Err()
	}
	return proven[T]{}, fmt.Errorf("%w: no node gave a verifiable answer (%d asked): %w", ErrNoNode, len(l.peers), oneLine(errs))
}

// lineErrs is several errors on one line (a CLI error is one line), each still matchable
// with errors.Is and errors.As.
type lineErrs []error

func (e lineErrs) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = strings.ReplaceAll(err.Error(), "\n", " ")
	}
	return strings.Join(s, "; ")
}

func (e lineErrs) Unwrap() []error { return e }

func oneLine(errs []error) error {
	if len(errs) == 0 {
		return errors.New("no answer")
	}
	return lineErrs(errs)
}

// provenBlobStatus is BlobStatus, verified.
func (l *Ledger) provenBlobStatus(ctx context.Context, id codec.BlobID) (*query.BlobAnswer, error) {
	r, err := queryProven(ctx, l, &query.Query{Kind: query.QueryProvenBlobStatus, BlobID: id}, "",
		func(ctx context.Context, p peer.ID, b []byte) (*query.BlobAnswer, uint64, error) {
			a, err := query.DecodeProvenBlobAnswer(b)
			if err != nil {
				return nil, 0, fmt.Errorf("%w: %v", ErrUnverified, err)
			}
			cp, err := l.verifyAt(ctx, p, a.Height, &a.At)
			if err != nil {
				return nil, 0, err
			}
			st, objs, err := query.VerifyBlob(cp, id, &a.Proof)
			if err != nil {
				return nil, 0, err
			}
			return &query.BlobAnswer{Height: cp.Height, Epoch: cp.Epoch, Status: st, Objects: objs, Proven: true}, cp.Height, nil
		})
	return r.v, err
}

// provenAccount is Account, verified; first is asked first when set.
func (l *Ledger) provenAccount(ctx context.Context, a staking.Address, first peer.ID) (*query.AccountAnswer, peer.ID, error) {
	r, err := queryProven(ctx, l, &query.Query{Kind: query.QueryProvenAccount, Address: a}, first,
		func(ctx context.Context, p peer.ID, b []byte) (*query.AccountAnswer, uint64, error) {
			ans, err := query.DecodeProvenAccountAnswer(b)
			if err != nil {
				return nil, 0, fmt.Errorf("%w: %v", ErrUnverified, err)
			}
			cp, err := l.verifyAt(ctx, p, ans.Height, &ans.At)
			if err != nil {
				return nil, 0, err
			}
			acc, err := query.VerifyAccount(cp, a, &ans.Account)
			if err != nil {
				return nil, 0, err
			}
			return &query.AccountAnswer{Height: cp.Height, Account: acc, Proven: true}, cp.Height, nil
		})
	if err == nil && a == l.addr && l.cfg.Key != nil {
		l.nb.note(r.v.Height, r.v.Account.Nonce) // the basis of nonce recovery (nonceproof.go)
	}
	return r.v, r.node, err
}

// provenInfo is Info, verified; first is asked first when set. The committee it proves
// is trusted from then on.
func (l *Ledger) provenInfo(ctx context.Context, first peer.ID) (*query.Info, error) {
	type info struct {
		in         *query.Info
		inProgress bool // the node's word: the change into this epoch is not complete
	}
	r, err := queryProven(ctx, l, &query.Query{Kind: query.QueryProvenInfo}, first,
		func(ctx context.Context, p peer.ID, b []byte) (info, uint64, error) {
			a, err := query.DecodeProvenInfoAnswer(b)
			if err != nil {
				return info{}, 0, fmt.Errorf("%w: %v", ErrUnverified, err)
			}
			cp, err := l.verifyAt(ctx, p, a.Height, &a.At)
			if err != nil {
				return info{}, 0, err
			}
			par, err := query.VerifyParams(cp, &a.Params)
			if err != nil {
				return info{}, 0, err
			}
			com, err := query.VerifyCommittee(cp, &a.Committee, l.trust.nShards)
			if err != nil {
				return info{}, 0, err
			}
			params, err := codec.NewParams(par.Config.NShards)
			if err != nil || par.Config.NShards != l.trust.nShards {
				return info{}, 0, fmt.Errorf("%w: parameters of %d shards", ErrUnverified, par.Config.NShards)
			}
			in := &query.Info{Height: cp.Height, Network: par.Network, NetworkName: l.cfg.Genesis.Network, Epoch: par.Epoch,
				Time: par.Time, NShards: par.Config.NShards, EpochDuration: par.Config.EpochDuration,
				GenesisTime: par.Config.GenesisTime, Prices: par.Prices, MaxBlobSize: params.MaxBlobSize(),
				Committee: com, Proven: true}
			if len(a.Stakes) == len(com.Members) {
				in.Stakes = a.Stakes
			}
			return info{in, a.Previous}, cp.Height, nil
		})
	if err != nil {
		return nil, err
	}
	in := r.v.in
	l.trust.learn(in.Committee)
	if in.Epoch > 0 && r.v.inProgress {
		// The previous committee comes from the client's own verified chain; the node only
		// says whether the change is still in progress (read routing, not a fact believed).
		in.Previous = l.trust.get(in.Epoch - 1)
	}
	return in, nil
}

// confirmCertified re-derives a certify transaction's outcome from the proven blob status:
// a receipt is a node's word, the certified status is a proven fact. It polls until the
// blob is proven certified or ReceiptTimeout passes.
func (l *Ledger) confirmCertified(ctx context.Context, id codec.BlobID, p *pending) error {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ReceiptTimeout)
	defer cancel()
	for delay := 50 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		st, err := l.provenBlobStatus(ctx, id)
		if err == nil && st.Status.Kind == staking.StatusCertified {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			if err == nil {
				err = fmt.Errorf("proven status %s at height %d", st.Status.Kind, st.Height)
			}
			return fmt.Errorf("%w: node %s reported the certify transaction %x committed, but no verified answer shows blob %s certified: %v",
				ErrUnverified, p.to, p.hash[:8], id, err)
		case <-t.C:
		}
	}
}
