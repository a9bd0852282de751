package client

import (
	"context"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// Lifetime and listing (docs/operating.md, "Managing blobs"): the wallet's blob objects,
// deleting deletable ones, extending their end epoch, and what a store would cost.

// Errors of the lifetime operations.
var (
	// ErrNotOwned: the blob has live objects, but none belongs to this wallet.
	ErrNotOwned = errors.New("client: the wallet owns no live object of this blob")
	// ErrPermanent: the wallet's objects of the blob are permanent (not deletable).
	ErrPermanent = errors.New("client: the blob is permanent and cannot be deleted")
)

// BlobsOf returns every blob object owner owns (live or expired, without attributes) in
// ascending object-ID order, read from one node's state page by page (`walrus list-blobs`).
// Epoch is that state's epoch: an object whose end epoch is not after it has expired.
func (l *Ledger) BlobsOf(ctx context.Context, owner staking.Address) (*query.BlobsAnswer, error) {
	a, err := listing(ctx, l, query.Query{Kind: query.QueryBlobs, Address: owner}, "blob", query.DecodeBlobsAnswer,
		func(a *query.BlobsAnswer) (uint64, bool) { return a.Height, a.More },
		func(a *query.BlobsAnswer) *[]staking.Blob { return &a.Blobs },
		func(b *staking.Blob) [32]byte { return b.ID })
	if err != nil {
		return nil, err
	}
	a.More = false
	return a, nil
}

// ownLive returns the wallet's live objects of a blob ID (end epoch after the current
// one), with the status answer; ErrNotFound if the blob has no live object at all,
// ErrNotOwned if none is the wallet's.
func (l *Ledger) ownLive(ctx context.Context, id codec.BlobID) ([]staking.Blob, uint32, error) {
	if l.cfg.Key == nil {
		return nil, 0, ErrNoWallet
	}
	in, err := l.Info(ctx)
	if err != nil {
		return nil, 0, err
	}
	st, err := l.BlobStatus(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	var live, mine []staking.Blob
	for _, o := range st.Objects {
		if o.Storage.End > in.Epoch {
			live = append(live, o)
			if o.Owner == l.addr {
				mine = append(mine, o)
			}
		}
	}
	switch {
	case len(live) == 0:
		return nil, 0, fmt.Errorf("%w: blob %s has no live object (status %s)", ErrNotFound, id, st.Status.Kind)
	case len(mine) == 0:
		return nil, 0, fmt.Errorf("%w: blob %s (%d live object(s) of other accounts)", ErrNotOwned, id, len(live))
	}
	return mine, in.Epoch, nil
}

// DeleteBlob deletes every live, deletable object of the blob ID that the wallet owns and
// returns them (their storage resources come back to the wallet, from the current epoch
// on). ErrPermanent if the wallet's objects are all permanent, ErrNotOwned if it owns
// none, ErrNotFound if the blob has no live object. Other accounts' objects of the same
// blob are untouched, so the blob may stay readable.
func (l *Ledger) DeleteBlob(ctx context.Context, id codec.BlobID) ([]staking.Blob, error) {
	mine, _, err := l.ownLive(ctx, id)
	if err != nil {
		return nil, err
	}
	mine = slices.DeleteFunc(mine, func(o staking.Blob) bool { return !o.Deletable })
	if len(mine) == 0 {
		return nil, fmt.Errorf("%w: blob %s was stored without --deletable", ErrPermanent, id)
	}
	for i, o := range mine {
		if _, err := l.DeleteBlobObject(ctx, o.ID); err != nil {
			return mine[:i], err
		}
	}
	return mine, nil
}

// DeleteBlobObject deletes one blob object the wallet owns (a deletable, live one) and
// waits for the commit.
func (l *Ledger) DeleteBlobObject(ctx context.Context, obj staking.ObjectID) (query.TxReceipt, error) {
	return l.Submit(ctx, &staking.DeleteBlob{Blob: obj})
}

// ExtendResult is the outcome of an extension.
type ExtendResult struct {
	Object   staking.Blob // the object extended, as it was before
	OldEnd   uint32
	NewEnd   uint32
	Cost     uint64 // FROST paid
	Receipt  query.TxReceipt
	Deadline uint32 // the latest end epoch the ledger sells now (current + 53)
}

// ExtendCost is what extending an object of storage size bytes by epochs costs: storage
// price × 1 MiB units × epochs (docs/protocol.md §11, extend blob).
func ExtendCost(prices staking.Prices, size uint64, epochs uint32) (uint64, bool) {
	units := size / staking.BillingUnit
	if size%staking.BillingUnit != 0 {
		units++
	}
	hi, perEpoch := bits.Mul64(prices.Storage, units)
	if hi != 0 {
		return 0, false
	}
	hi, total := bits.Mul64(perEpoch, uint64(epochs))
	return total, hi == 0
}

// ExtendBlob adds epochs to the end epoch of the wallet's live object of the blob ID (the
// certified one that lives longest; else the longest-lived registered one), paying for
// them, and waits for the commit. ErrNotOwned if the wallet owns no live object of the
// blob (someone else's blob cannot be extended), ErrNotFound if it has none at all.
func (l *Ledger) ExtendBlob(ctx context.Context, id codec.BlobID, epochs uint32) (*ExtendResult, error) {
	if epochs == 0 {
		return nil, errors.New("client: extend by at least 1 epoch")
	}
	mine, _, err := l.ownLive(ctx, id)
	if err != nil {
		return nil, err
	}
	best := mine[0]
	for _, o := range mine[1:] {
		if (o.Certified && !best.Certified) || (o.Certified == best.Certified && o.Storage.End > best.Storage.End) {
			best = o
		}
	}
	return l.ExtendBlobObject(ctx, best, epochs)
}

// ExtendBlobObject adds epochs to the end epoch of one of the wallet's blob objects, as
// ExtendBlob does.
func (l *Ledger) ExtendBlobObject(ctx context.Context, o staking.Blob, epochs uint32) (*ExtendResult, error) {
	in, err := l.Info(ctx)
	if err != nil {
		return nil, err
	}
	end := uint64(o.Storage.End) + uint64(epochs)
	limit := uint64(in.Epoch) + staking.MaxEpochsAhead
	if end > limit {
		return nil, fmt.Errorf("client: end epoch %d is beyond what the ledger sells now (at most %d, %d epochs after the current %d): extend by at most %d",
			end, limit, staking.MaxEpochsAhead, in.Epoch, limit-min(limit, uint64(o.Storage.End)))
	}
	cost, ok := ExtendCost(in.Prices, o.Storage.Size, epochs)
	if !ok {
		return nil, errors.New("client: extension cost overflows")
	}
	r, err := l.Submit(ctx, &staking.ExtendBlob{Blob: o.ID, End: uint32(end)})
	if err != nil {
		return nil, err
	}
	return &ExtendResult{Object: o, OldEnd: o.Storage.End, NewEnd: uint32(end), Cost: cost, Receipt: r, Deadline: uint32(limit)}, nil
}

// StoreEstimate is what storing a blob would take (`walrus store --dry-run`).
type StoreEstimate struct {
	BlobID          codec.BlobID `json:"blobId"`
	UnencodedLength uint64       `json:"unencodedLength"`
	EncodedLength   uint64       `json:"encodedLength"`
	Epochs          uint32       `json:"epochs"`
	EndEpoch        uint32       `json:"endEpoch"`
	Cost            uint64       `json:"cost"` // FROST: storage for Epochs epochs plus the write fee
	// AlreadyCertified: the blob is certified until at least EndEpoch; a store would
	// reuse it and cost nothing.
	AlreadyCertified bool `json:"alreadyCertified"`
}

// EstimateStore encodes data (for its blob ID) and reports its encoded length, the cost of
// storing it for epochs epochs at the current prices, and whether a store would reuse a
// certified blob; nothing is sent to the ledger but queries.
func (s *Session) EstimateStore(ctx context.Context, data []byte, epochs uint32) (*StoreEstimate, error) {
	if epochs == 0 || epochs > staking.MaxEpochsAhead {
		return nil, fmt.Errorf("client: epochs must be between 1 and %d", staking.MaxEpochsAhead)
	}
	p := s.Client.cfg.Params
	if max := p.MaxBlobSize(); uint64(len(data)) > max {
		return nil, fmt.Errorf("client: blob of %d bytes exceeds the maximum of %d for %d shards", len(data), max, p.N)
	}
	in, err := s.Ledger.Info(ctx)
	if err != nil {
		return nil, err
	}
	if uint64(len(data)) > in.MaxBlobSize {
		return nil, fmt.Errorf("client: blob of %d bytes exceeds the network's maximum of %d", len(data), in.MaxBlobSize)
	}
	_, id, err := codec.ComputeMetadata(p, data)
	if err != nil {
		return nil, err
	}
	encLen, err := p.EncodedLength(uint64(len(data)))
	if err != nil {
		return nil, err
	}
	cost, ok := staking.StorageCost(in.Prices, encLen, epochs)
	if !ok {
		return nil, errors.New("client: storage cost overflows")
	}
	e := &StoreEstimate{BlobID: id, UnencodedLength: uint64(len(data)), EncodedLength: encLen, Epochs: epochs,
		EndEpoch: in.Epoch + epochs, Cost: cost}
	st, err := s.Ledger.BlobStatus(ctx, id)
	if err != nil {
		return nil, err
	}
	if st.Status.Kind == staking.StatusCertified && st.Status.EndEpoch >= e.EndEpoch {
		e.AlreadyCertified = true
	}
	return e, nil
}
