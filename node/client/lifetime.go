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
	if l.trust != nil {
		return l.provenBlobs(ctx, owner) // provenlist.go
	}
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

// DeletableObjects are the wallet's live, deletable objects of the blob ID: what
// DeleteBlob deletes. ErrPermanent if the wallet's objects are all permanent, ErrNotOwned
// if it owns none, ErrNotFound if the blob has no live object.
func (l *Ledger) DeletableObjects(ctx context.Context, id codec.BlobID) ([]staking.Blob, error) {
	mine, _, err := l.ownLive(ctx, id)
	if err != nil {
		return nil, err
	}
	mine = slices.DeleteFunc(mine, func(o staking.Blob) bool { return !o.Deletable })
	if len(mine) == 0 {
		return nil, fmt.Errorf("%w: blob %s was stored without --deletable", ErrPermanent, id)
	}
	return mine, nil
}

// DeletePlan is the transactions deleting objs sends: a delete blob each.
func DeletePlan(objs []staking.Blob) []PlannedTx {
	plan := make([]PlannedTx, len(objs))
	for i, o := range objs {
		plan[i] = PlannedTx{Op: &staking.DeleteBlob{Blob: o.ID}}
	}
	return plan
}

// DeleteBlob deletes every live, deletable object of the blob ID that the wallet owns and
// returns them (their storage resources come back to the wallet, from the current epoch
// on). ErrPermanent if the wallet's objects are all permanent, ErrNotOwned if it owns
// none, ErrNotFound if the blob has no live object, ErrInsufficientBalance (nothing sent)
// if the wallet cannot pay the fees. Other accounts' objects of the same blob are
// untouched, so the blob may stay readable.
func (l *Ledger) DeleteBlob(ctx context.Context, id codec.BlobID) ([]staking.Blob, error) {
	mine, err := l.DeletableObjects(ctx, id)
	if err != nil {
		return nil, err
	}
	c, err := l.EstimateTx(ctx, DeletePlan(mine)...)
	if err != nil {
		return nil, err
	}
	if err := c.Check("deleting"); err != nil {
		return nil, err
	}
	for i, o := range mine {
		if _, err := l.Submit(ctx, &staking.DeleteBlob{Blob: o.ID}); err != nil {
			return mine[:i], err
		}
	}
	return mine, nil
}

// DeleteBlobObject deletes one blob object the wallet owns (a deletable, live one) and
// waits for the commit; ErrInsufficientBalance (nothing sent) if the wallet cannot pay the
// fee.
func (l *Ledger) DeleteBlobObject(ctx context.Context, obj staking.ObjectID) (query.TxReceipt, error) {
	r, _, _, err := l.SubmitPlanned(ctx, "deleting", PlannedTx{Op: &staking.DeleteBlob{Blob: obj}})
	return r, err
}

// ExtendResult is the outcome of an extension.
type ExtendResult struct {
	Object   staking.Blob // the object extended, as it was before
	OldEnd   uint32
	NewEnd   uint32
	Cost     uint64 // FROST paid for the storage
	Fee      uint64 // FROST paid in fees
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

// ExtendTarget is the wallet's live object of the blob ID that ExtendBlob extends: the
// certified one that lives longest, else the longest-lived registered one. ErrNotOwned if
// the wallet owns no live object of the blob, ErrNotFound if it has none at all.
func (l *Ledger) ExtendTarget(ctx context.Context, id codec.BlobID) (staking.Blob, error) {
	mine, _, err := l.ownLive(ctx, id)
	if err != nil {
		return staking.Blob{}, err
	}
	best := mine[0]
	for _, o := range mine[1:] {
		if (o.Certified && !best.Certified) || (o.Certified == best.Certified && o.Storage.End > best.Storage.End) {
			best = o
		}
	}
	return best, nil
}

// ExtendBlob adds epochs to the end epoch of the wallet's live object of the blob ID
// (ExtendTarget), paying for them, and waits for the commit. ErrNotOwned if the wallet
// owns no live object of the blob (someone else's blob cannot be extended), ErrNotFound if
// it has none at all.
func (l *Ledger) ExtendBlob(ctx context.Context, id codec.BlobID, epochs uint32) (*ExtendResult, error) {
	if epochs == 0 {
		return nil, errors.New("client: extend by at least 1 epoch")
	}
	best, err := l.ExtendTarget(ctx, id)
	if err != nil {
		return nil, err
	}
	return l.ExtendBlobObject(ctx, best, epochs)
}

// ExtendPlan is the transaction extending o by epochs sends at the prices of in, with the
// storage it pays (ExtendCost), and the new end epoch; an error if the end is beyond what
// the ledger sells now.
func ExtendPlan(in *query.Info, o staking.Blob, epochs uint32) (PlannedTx, uint32, error) {
	end := uint64(o.Storage.End) + uint64(epochs)
	limit := uint64(in.Epoch) + staking.MaxEpochsAhead
	if end > limit {
		return PlannedTx{}, 0, fmt.Errorf("client: end epoch %d is beyond what the ledger sells now (at most %d, %d epochs after the current %d): extend by at most %d",
			end, limit, staking.MaxEpochsAhead, in.Epoch, limit-min(limit, uint64(o.Storage.End)))
	}
	cost, ok := ExtendCost(in.Prices, o.Storage.Size, epochs)
	if !ok {
		return PlannedTx{}, 0, errors.New("client: extension cost overflows")
	}
	return PlannedTx{Op: &staking.ExtendBlob{Blob: o.ID, End: uint32(end)}, Spend: cost}, uint32(end), nil
}

// EstimateExtend is what extending o by epochs would cost the wallet now; nothing is sent.
func (l *Ledger) EstimateExtend(ctx context.Context, o staking.Blob, epochs uint32) (*Cost, uint32, error) {
	if l.cfg.Key == nil {
		return nil, 0, ErrNoWallet
	}
	in, err := l.Info(ctx)
	if err != nil {
		return nil, 0, err
	}
	t, end, err := ExtendPlan(in, o, epochs)
	if err != nil {
		return nil, 0, err
	}
	acc, err := l.Account(ctx, l.addr)
	if err != nil {
		return nil, 0, err
	}
	c, err := PlanCost(in, acc.Account.Balance, t)
	return c, end, err
}

// ExtendBlobObject adds epochs to the end epoch of one of the wallet's blob objects, as
// ExtendBlob does; ErrInsufficientBalance (nothing sent) if the wallet cannot pay the
// storage and the fee.
func (l *Ledger) ExtendBlobObject(ctx context.Context, o staking.Blob, epochs uint32) (*ExtendResult, error) {
	in, err := l.Info(ctx)
	if err != nil {
		return nil, err
	}
	t, end, err := ExtendPlan(in, o, epochs)
	if err != nil {
		return nil, err
	}
	r, _, c, err := l.SubmitPlanned(ctx, "extending", t)
	if err != nil {
		return nil, err
	}
	return &ExtendResult{Object: o, OldEnd: o.Storage.End, NewEnd: end, Cost: t.Spend, Fee: c.Fee, Receipt: r,
		Deadline: in.Epoch + staking.MaxEpochsAhead}, nil
}

// StoreEstimate is what storing a blob would take (`walrus store --dry-run`).
type StoreEstimate struct {
	BlobID          codec.BlobID `json:"blobId"`
	UnencodedLength uint64       `json:"unencodedLength"`
	EncodedLength   uint64       `json:"encodedLength"`
	Epochs          uint32       `json:"epochs"`
	EndEpoch        uint32       `json:"endEpoch"`
	Cost            uint64       `json:"cost"` // FROST: storage for Epochs epochs plus the write fee
	// Fee is the FROST the store's transactions (reserve, register, certify) pay in fees
	// under the schedule in force; Total is Cost + Fee. Both 0 when AlreadyCertified.
	Fee   uint64 `json:"fee"`
	Total uint64 `json:"total"`
	// AlreadyCertified: the blob is certified until at least EndEpoch; a store would
	// reuse it and cost nothing.
	AlreadyCertified bool `json:"alreadyCertified"`
}

// estimateBudget bounds the working memory of EstimateStore's encoding (past it the
// recovery cells spill to a temporary file).
const estimateBudget = 512 << 20

// EstimateStore encodes data (for its blob ID, within estimateBudget; data may be a file
// mapped with MapFile) and reports its encoded length, the cost of
// storing it for epochs epochs at the current prices and the fees of the store's three
// transactions, and whether a store would reuse a certified blob (which costs nothing;
// the costs are still those of a fresh store); nothing is sent to the ledger but queries.
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
	_, id, err := BlobMetadata(p, data, estimateBudget, "")
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
	fee, err := storeFee(in, uint64(len(data)), encLen, epochs, true, false)
	if err != nil {
		return nil, err
	}
	total, err := add(cost, fee)
	if err != nil {
		return nil, err
	}
	e := &StoreEstimate{BlobID: id, UnencodedLength: uint64(len(data)), EncodedLength: encLen, Epochs: epochs,
		EndEpoch: in.Epoch + epochs, Cost: cost, Fee: fee, Total: total}
	st, err := s.Ledger.BlobStatus(ctx, id)
	if err != nil {
		return nil, err
	}
	if st.Status.Kind == staking.StatusCertified && st.Status.EndEpoch >= e.EndEpoch {
		e.AlreadyCertified = true
	}
	return e, nil
}
