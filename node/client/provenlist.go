package client

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// Verified listings and receipts (docs/architecture.md §4 "Light clients"): with a genesis,
// Candidates, StakesOf and BlobsOf read the proven listing kinds and wait reads proven
// receipts. A listing's first page comes from the node whose answer verifies at the highest
// height (queryProven); the following pages are asked at that same height, from that node
// first and from the others if it fails or lies (every honest node has the same state at
// one height, and keeps the last ledger.RecentViews of them). Each page is proven complete
// against the certified checkpoint, so the listing is the whole truth of one state.

// maxListPages bounds the pages of one listing (each page moves the cursor strictly
// forward, so this only guards against an endless walk).
const maxListPages = 1 << 16

// pageVerifier verifies one page answer b from node p for the page after cursor and
// returns the page, its verified height, whether more follow and the next cursor.
type pageVerifier[P any] func(ctx context.Context, p peer.ID, b []byte, cursor [32]byte) (P, uint64, bool, [32]byte, error)

type verifiedPage[P any] struct {
	page P
	more bool
	next [32]byte
}

// provenPages reads every page of the proven listing q.
func provenPages[P any](ctx context.Context, l *Ledger, q query.Query, verify pageVerifier[P]) ([]P, uint64, error) {
	q.Cursor, q.At = [32]byte{}, 0
	first, err := queryProven(ctx, l, &q, "", func(ctx context.Context, p peer.ID, b []byte) (verifiedPage[P], uint64, error) {
		page, h, more, next, err := verify(ctx, p, b, [32]byte{})
		return verifiedPage[P]{page, more, next}, h, err
	})
	if err != nil {
		return nil, 0, err
	}
	out := []P{first.v.page}
	cur, from := first.v, first.node
	q.At = first.height
	for n := 1; cur.more; n++ {
		if n >= maxListPages {
			return nil, 0, fmt.Errorf("client: a listing of more than %d pages", maxListPages)
		}
		q.Cursor = cur.next
		if cur, from, err = pageAt(ctx, l, &q, from, verify); err != nil {
			return nil, 0, err
		}
		out = append(out, cur.page)
	}
	return out, q.At, nil
}

// pageAt asks for the page q (at height q.At) from first, then from the other nodes, and
// returns the first answer that verifies at that height.
func pageAt[P any](ctx context.Context, l *Ledger, q *query.Query, first peer.ID, verify pageVerifier[P]) (verifiedPage[P], peer.ID, error) {
	body := q.Encode()
	var errs []error
	for _, p := range append([]peer.ID{first}, slices.DeleteFunc(slices.Clone(l.peers), func(x peer.ID) bool { return x == first })...) {
		b, err := p2p.Call(ctx, l.cfg.Host, p, query.Spec, body)
		if err != nil {
			if ctx.Err() != nil {
				return verifiedPage[P]{}, "", ctx.Err()
			}
			errs = append(errs, fmt.Errorf("%s: %w", p.ShortString(), err))
			continue
		}
		page, h, more, next, err := verify(ctx, p, b, q.Cursor)
		if err == nil && h != q.At {
			err = fmt.Errorf("%w: a page of height %d, asked at %d", ErrUnverified, h, q.At)
		}
		if err != nil {
			if ctx.Err() != nil {
				return verifiedPage[P]{}, "", ctx.Err()
			}
			errs = append(errs, l.reject(p, err))
			continue
		}
		return verifiedPage[P]{page, more, next}, p, nil
	}
	return verifiedPage[P]{}, "", fmt.Errorf("%w: no node gave a verifiable page at height %d (%d asked): %w", ErrNoNode, q.At, len(l.peers), oneLine(errs))
}

// verifiedPageOf decodes a proven page answer and verifies its checkpoint.
func verifiedPageOf(ctx context.Context, l *Ledger, p peer.ID, b []byte) (*query.ProvenPageAnswer, *staking.Checkpoint, error) {
	a, err := query.DecodeProvenPageAnswer(b)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrUnverified, err)
	}
	cp, err := l.verifyAt(ctx, p, a.Height, &a.At)
	if err != nil {
		return nil, nil, err
	}
	return a, cp, nil
}

// provenList reads every page of one proven listing (kind q.Kind), each checked by verify
// against its verified checkpoint, and joins their items (items: a page's slice), sorted by
// key; more reports a page's "more" flag.
func provenList[A any, T any](ctx context.Context, l *Ledger, q query.Query,
	verify func(cp *staking.Checkpoint, cursor [32]byte, a *query.ProvenPageAnswer) (*A, [32]byte, error),
	more func(*A) *bool, items func(*A) *[]T, key func(*T) []byte) (*A, error) {
	ps, _, err := provenPages(ctx, l, q,
		func(ctx context.Context, p peer.ID, b []byte, cursor [32]byte) (*A, uint64, bool, [32]byte, error) {
			a, cp, err := verifiedPageOf(ctx, l, p, b)
			if err != nil {
				return nil, 0, false, [32]byte{}, err
			}
			page, next, err := verify(cp, cursor, a)
			if err != nil {
				return nil, 0, false, [32]byte{}, err
			}
			return page, cp.Height, *more(page), next, nil
		})
	if err != nil {
		return nil, err
	}
	all := ps[0]
	for _, p := range ps[1:] {
		*items(all) = append(*items(all), *items(p)...)
	}
	slices.SortFunc(*items(all), func(a, b T) int { return bytes.Compare(key(&a), key(&b)) })
	*more(all) = false
	return all, nil
}

// provenCandidates is Candidates, verified: every registered node, proven; pools are the
// answering node's word.
func (l *Ledger) provenCandidates(ctx context.Context) (*query.CommitteeAnswer, error) {
	return provenList(ctx, l, query.Query{Kind: query.QueryProvenCommittee},
		func(cp *staking.Checkpoint, cursor [32]byte, a *query.ProvenPageAnswer) (*query.CommitteeAnswer, [32]byte, error) {
			return query.VerifyCommitteePage(cp, cursor, l.trust.nShards, a)
		},
		func(a *query.CommitteeAnswer) *bool { return &a.More },
		func(a *query.CommitteeAnswer) *[]query.Candidate { return &a.Candidates },
		func(c *query.Candidate) []byte { return c.Node[:] })
}

// provenStakes is StakesOf, verified.
func (l *Ledger) provenStakes(ctx context.Context, owner staking.Address) (*query.StakesAnswer, error) {
	return provenList(ctx, l, query.Query{Kind: query.QueryProvenStakes, Address: owner},
		func(cp *staking.Checkpoint, cursor [32]byte, a *query.ProvenPageAnswer) (*query.StakesAnswer, [32]byte, error) {
			return query.VerifyStakesPage(cp, owner, cursor, a)
		},
		func(a *query.StakesAnswer) *bool { return &a.More },
		func(a *query.StakesAnswer) *[]query.StakeInfo { return &a.Stakes },
		func(s *query.StakeInfo) []byte { return s.ID[:] })
}

// provenBlobs is BlobsOf, verified.
func (l *Ledger) provenBlobs(ctx context.Context, owner staking.Address) (*query.BlobsAnswer, error) {
	return provenList(ctx, l, query.Query{Kind: query.QueryProvenBlobs, Address: owner},
		func(cp *staking.Checkpoint, cursor [32]byte, a *query.ProvenPageAnswer) (*query.BlobsAnswer, [32]byte, error) {
			return query.VerifyBlobsPage(cp, owner, cursor, a)
		},
		func(a *query.BlobsAnswer) *bool { return &a.More },
		func(a *query.BlobsAnswer) *[]staking.Blob { return &a.Blobs },
		func(b *staking.Blob) []byte { return b.ID[:] })
}

// verifyReceipt checks a QueryProvenWaitTx answer from node to for the pending
// transaction p.
func (l *Ledger) verifyReceipt(ctx context.Context, to peer.ID, p *pending, b []byte) (query.TxReceipt, error) {
	a, err := query.DecodeProvenWaitAnswer(b)
	if err != nil {
		return query.TxReceipt{}, fmt.Errorf("%w: %v", ErrUnverified, err)
	}
	cp, err := l.verifyAt(ctx, to, a.Height, &a.At)
	if err != nil {
		return query.TxReceipt{}, err
	}
	return query.VerifyReceipt(cp, p.hash, p.after, a)
}
