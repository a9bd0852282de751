package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	ds "github.com/ipfs/go-datastore"

	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// Proven answers (docs/architecture.md §4 "Light clients"): the query server proves what it
// says against the state root of a committed checkpoint and sends that checkpoint with its
// commit certificate. The ledger keeps the last RecentViews published views (states share
// their tree, so each costs its buffers, not a copy) to prove at a height a client names,
// and, for every epoch change, the link a light client follows to trust the new committee:
// the changing checkpoint's decision and the new committee proven against its state root.

// RecentViews is how many published views the ledger keeps to prove answers at.
const RecentViews = 64

// recentViews is a ring of the last published views.
type recentViews struct {
	mu    sync.Mutex
	views [RecentViews]*View
}

func (r *recentViews) add(v *View) {
	r.mu.Lock()
	r.views[v.Height()%RecentViews] = v
	r.mu.Unlock()
}

// ViewAt returns the published view of height h if the ledger still keeps it.
func (l *Ledger) ViewAt(h uint64) (*View, bool) {
	l.recent.mu.Lock()
	v := l.recent.views[h%RecentViews]
	l.recent.mu.Unlock()
	if v == nil || v.Height() != h {
		return nil, false
	}
	return v, true
}

// Commit returns the committed decision of the view's height (the checkpoint bytes and the
// commit certificate), or nil at genesis.
func (v *View) Commit() *tendermint.Decision { return v.commit }

// keyEpochLink holds the link out of epoch e (signed by e's committee): u32 new epoch |
// query.EncodeEpochLink. TODO(node/store): add it to the layout table.
func keyEpochLink(e uint32) ds.Key { return ds.NewKey(fmt.Sprintf("/ledger/epoch-link/%08x", e)) }

func certifiedOf(d *tendermint.Decision) query.Certified {
	return query.Certified{Checkpoint: d.Value, Round: d.Commit.Round, Cert: d.Commit.Cert}
}

// saveEpochLink stores the link out of epoch from: d changed the epoch and a.st is the
// state after it.
func (a *actor) saveEpochLink(ctx context.Context, from uint32, d *tendermint.Decision) error {
	val, pr := a.st.Prove(staking.CommitteeKey(false))
	link := query.EpochLink{At: certifiedOf(d), Committee: query.ProvenEntry{Value: val, Proof: pr}}
	b := binary.LittleEndian.AppendUint32(nil, a.st.Epoch())
	return a.l.cfg.Datastore.Put(ctx, keyEpochLink(from), append(b, query.EncodeEpochLink(&link)...))
}

// certifiedSnapshot returns the stored decision of a restored snapshot's height and checks
// the snapshot's state root against that committed checkpoint's: a snapshot is believed
// only as far as the certified root vouches for it.
func certifiedSnapshot(ctx context.Context, store ds.Datastore, st *staking.State) (*tendermint.Decision, error) {
	if st.Height() == 0 {
		return nil, nil
	}
	b, err := store.Get(ctx, CheckpointKey(st.Height()))
	if errors.Is(err, ds.ErrNotFound) {
		return nil, fmt.Errorf("ledger: snapshot at height %d without its committed checkpoint", st.Height())
	}
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	d, err := DecodeDecision(b, staking.MaxTxsPerCP*staking.MaxTxSize)
	if err != nil {
		return nil, fmt.Errorf("ledger: stored checkpoint %d: %w", st.Height(), err)
	}
	cp, err := staking.DecodeCheckpoint(d.Value)
	if err != nil {
		return nil, fmt.Errorf("ledger: stored checkpoint %d: %w", st.Height(), err)
	}
	if cp.Height != st.Height() || cp.StateRoot != st.Root() {
		return nil, fmt.Errorf("ledger: snapshot at height %d does not match the certified state root", st.Height())
	}
	return d, nil
}

// provenView is the view a proven answer is proven at: the latest when at is 0, else the
// kept view of height at (not found otherwise), with its commit decision (not found before
// the first commit).
func (n *Net) provenView(at uint64) (*View, *tendermint.Decision, error) {
	v := n.l.View()
	if at != 0 && at != v.Height() {
		var ok bool
		if v, ok = n.l.ViewAt(at); !ok {
			return nil, nil, p2p.Errorf(p2p.CodeNotFound, "height %d is not kept (latest %d)", at, n.l.Height())
		}
	}
	d := v.Commit()
	if d == nil {
		return nil, nil, p2p.Errorf(p2p.CodeNotFound, "no committed checkpoint yet")
	}
	return v, d, nil
}

// serveProven answers the proven kinds.
func (n *Net) serveProven(ctx context.Context, q *query.Query) ([]byte, error) {
	if q.Kind == query.QueryEpochLinks {
		return n.serveLinks(ctx, q.FromEpoch)
	}
	v, d, err := n.provenView(q.At)
	if err != nil {
		return nil, err
	}
	st, at := v.State(), certifiedOf(d)
	switch q.Kind {
	case query.QueryProvenBlobStatus:
		_, bp := st.ProveBlobStatus(q.BlobID)
		return query.EncodeProvenBlobAnswer(&query.ProvenBlobAnswer{Height: v.Height(), At: at, Proof: *bp}), nil
	case query.QueryProvenAccount:
		val, pr := st.Prove(staking.AccountKey(q.Address))
		return query.EncodeProvenAccountAnswer(&query.ProvenAccountAnswer{Height: v.Height(), At: at,
			Account: query.ProvenEntry{Value: val, Proof: pr}}), nil
	case query.QueryProvenInfo:
		a := &query.ProvenInfoAnswer{Height: v.Height(), At: at, Previous: st.Epoch() > 0 && !st.SyncDone()}
		a.Params.Value, a.Params.Proof = st.Prove(staking.ParamsKey())
		a.Committee.Value, a.Committee.Proof = st.Prove(staking.CommitteeKey(false))
		com := st.Committee()
		a.Stakes = make([]uint64, len(com.Members))
		for i := range com.Members {
			a.Stakes[i] = st.StakeOf(com.Members[i].Node, st.Epoch())
		}
		return query.EncodeProvenInfoAnswer(a), nil
	}
	return nil, p2p.Errorf(p2p.CodeBadRequest, "unknown query")
}

// serveLinks answers QueryEpochLinks from the stored links: from's, then the next epoch's,
// while there are some, at most a page, within the response cap.
func (n *Net) serveLinks(ctx context.Context, from uint32) ([]byte, error) {
	a := &query.EpochLinksAnswer{Height: n.l.Height()}
	size := 0
	for e := from; len(a.Links) < query.MaxLinksPerPage; {
		b, err := n.l.cfg.Datastore.Get(ctx, keyEpochLink(e))
		if errors.Is(err, ds.ErrNotFound) {
			break
		}
		if err != nil || len(b) < 4 {
			return nil, p2p.Errorf(p2p.CodeInternal, "read epoch link %d", e)
		}
		next := binary.LittleEndian.Uint32(b)
		link, err := query.DecodeEpochLink(b[4:])
		if err != nil || next <= e {
			return nil, p2p.Errorf(p2p.CodeInternal, "stored epoch link %d: next %d: %v", e, next, err)
		}
		if size += len(b); size > query.Spec.MaxResponse/2 && len(a.Links) > 0 {
			break
		}
		a.Links = append(a.Links, *link)
		e = next
	}
	return query.EncodeEpochLinksAnswer(a), nil
}
