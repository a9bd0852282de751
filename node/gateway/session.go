package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
)

// Session is the Reader and Publisher of a light-client session (node/client.Session): the
// gateway embeds the light client, not a storage node. Close waits for the background
// uploads of forced stores; the caller closes the client session itself afterwards
// (client.Session.Close waits for those of ordinary stores).
type Session struct {
	s  *client.Session
	wg sync.WaitGroup // background uploads of forced stores
	// ReadWindow bounds the sliver bytes one streaming read holds (default
	// DefaultReadWindow); set before serving.
	ReadWindow int
	// epochMs is the network's epoch duration in ms once known (a genesis constant).
	epochMs atomic.Int64
}

// NewSession wraps an open client session.
func NewSession(s *client.Session) *Session { return &Session{s: s} }

var (
	_ Reader         = (*Session)(nil)
	_ Publisher      = (*Session)(nil)
	_ EpochDefaulter = (*Session)(nil)
)

// Close waits for the uploads that forced stores continue in the background (each bounded
// by the client's BackgroundTimeout).
func (g *Session) Close() { g.wg.Wait() }

// Params is the network's encoding geometry.
func (g *Session) Params() codec.Params { return g.s.Client.Params() }

// DefaultEpochs is how many epochs a store with no `epochs` buys: client.DefaultEpochs of
// the network's epoch duration (asked of the ledger once), so that the blob lives at least
// a day.
func (g *Session) DefaultEpochs(ctx context.Context) (uint32, error) {
	ms := g.epochMs.Load()
	if ms <= 0 {
		in, err := g.s.Ledger.Info(ctx)
		if err != nil {
			return 0, err
		}
		ms = in.EpochDuration
		g.epochMs.Store(ms)
	}
	return client.DefaultEpochs(time.Duration(ms) * time.Millisecond), nil
}

// readHandle is BlobInfo.Handle of a Session: what a read of the blob needs.
type readHandle struct {
	com  *epoch.Committee
	meta *codec.Metadata
}

// Stat asks the ledger for the blob's status (only a certified blob is readable), then
// fetches its metadata from the committee, verified against id: the blob's length, and
// every sliver's hash for the reads that follow.
func (g *Session) Stat(ctx context.Context, id codec.BlobID) (BlobInfo, error) {
	st, err := g.s.Ledger.BlobStatus(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return BlobInfo{}, ctx.Err()
		}
		return BlobInfo{}, fmt.Errorf("%w: blob status: %w", ErrNetworkUnavailable, err)
	}
	switch st.Status.Kind {
	case staking.StatusCertified:
	case staking.StatusRegistered:
		return BlobInfo{}, fmt.Errorf("%w: blob %s is registered but not certified yet", ErrBlobUnavailable, id)
	case staking.StatusInvalid:
		return BlobInfo{}, fmt.Errorf("%w: blob %s was found inconsistently encoded", ErrBlobInvalid, id)
	case staking.StatusExpired:
		return BlobInfo{}, fmt.Errorf("%w: blob %s has expired", ErrBlobNotFound, id)
	default:
		return BlobInfo{}, fmt.Errorf("%w: the ledger knows no blob %s", ErrBlobNotFound, id)
	}
	certified := false
	for _, o := range st.Objects {
		certified = certified || (o.Certified && o.BlobID == id)
	}
	if !certified {
		// Certified, yet no certified object listed: a ledger view in between; ask again.
		return BlobInfo{}, fmt.Errorf("%w: blob %s lists no certified object", ErrBlobUnavailable, id)
	}
	// The committee holding the blob: the previous one during an epoch change for a blob
	// certified before it (docs/protocol.md §7).
	com, err := g.s.Ledger.ReadCommittee(ctx, st)
	if err != nil {
		if ctx.Err() != nil {
			return BlobInfo{}, ctx.Err()
		}
		return BlobInfo{}, fmt.Errorf("%w: committee: %w", ErrNetworkUnavailable, err)
	}
	meta, err := g.s.Client.Metadata(ctx, com, id)
	if err != nil {
		return BlobInfo{}, g.readErr(ctx, err)
	}
	return BlobInfo{Size: meta.UnencodedLength, Handle: &readHandle{com: com, meta: &meta}}, nil
}

// readErr maps a light-client read error.
func (g *Session) readErr(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, client.ErrInvalidBlob):
		return fmt.Errorf("%w: %w", ErrBlobInvalid, err)
	default:
		// Certified (the ledger said so), yet too few nodes served verified metadata or
		// slivers.
		return fmt.Errorf("%w: %w", ErrBlobUnavailable, err)
	}
}

func handleOf(info BlobInfo) (*readHandle, error) {
	h, ok := info.Handle.(*readHandle)
	if !ok || h == nil {
		return nil, errors.New("gateway: a read without its Stat")
	}
	return h, nil
}

// ReadRangeTo streams bytes [off, off+n) of the blob to w (client.Client.ReadRangeTo with
// the metadata Stat fetched): only the primary slivers whose rows hold them are fetched,
// at most ReadWindow bytes of them at a time, each verified before its bytes are written;
// a decode of the whole blob if one cannot be had.
func (g *Session) ReadRangeTo(ctx context.Context, id codec.BlobID, info BlobInfo, off, n uint64, w io.Writer) (int64, error) {
	h, err := handleOf(info)
	if err != nil {
		return 0, err
	}
	if off > math.MaxInt64 || n > math.MaxInt64-off {
		return 0, fmt.Errorf("gateway: range [%d, +%d) overflows", off, n)
	}
	written, err := g.s.Client.ReadRangeTo(ctx, h.com, id, int64(off), int64(n), w, client.ReadOptions{Metadata: h.meta, WindowBytes: g.window()})
	if err != nil && !errors.Is(err, errWrite) {
		err = g.readErr(ctx, err)
	}
	return written, err
}

// ReadSecondarySlivers fetches secondary slivers cols, each from its holder and verified
// against the metadata Stat fetched (client.Client.ReadSecondarySlivers).
func (g *Session) ReadSecondarySlivers(ctx context.Context, id codec.BlobID, info BlobInfo, cols []int) (map[int][]byte, error) {
	h, err := handleOf(info)
	if err != nil {
		return nil, err
	}
	got, err := g.s.Client.ReadSecondarySlivers(ctx, h.com, id, h.meta, cols)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return got, err
}

// DefaultReadWindow bounds the slivers one streaming read holds (client.ReadOptions
// .WindowBytes): with DefaultMaxConcurrentReads reads, 512 MiB at most.
const DefaultReadWindow = 16 << 20

func (g *Session) window() int {
	if g.ReadWindow > 0 {
		return g.ReadWindow
	}
	return DefaultReadWindow
}

// Store stores data through the session's wallet: the light client's store flow, which
// reuses a blob already certified for long enough (alreadyCertified), or, with Force, a
// new reservation and registration whatever the blob's status.
func (g *Session) Store(ctx context.Context, data []byte, req StoreRequest) (*StoreResult, error) {
	if req.Epochs == 0 || req.Epochs > staking.MaxEpochsAhead {
		return nil, fmt.Errorf("gateway: epochs %d out of 1..%d", req.Epochs, staking.MaxEpochsAhead)
	}
	in, err := g.s.Ledger.Info(ctx)
	if err != nil {
		return nil, storeError(ctx, err)
	}
	max := min(in.MaxBlobSize, g.s.Client.Params().MaxBlobSize())
	if uint64(len(data)) > max {
		return nil, fmt.Errorf("%w: %d bytes, the network's maximum is %d", ErrTooLarge, len(data), max)
	}
	if req.Force {
		return g.storeForced(ctx, data, req)
	}
	sum, err := g.s.Store(ctx, data, client.StoreOptions{Epochs: req.Epochs, Deletable: req.Deletable})
	if err != nil {
		return nil, storeError(ctx, err)
	}
	res := &StoreResult{
		BlobID: sum.BlobID, AlreadyCertified: sum.AlreadyCertified, EndEpoch: sum.EndEpoch,
		Cost: sum.Cost, EncodedLength: sum.EncodedLength, EpochsAhead: req.Epochs,
		ReusedRegistration: !sum.AlreadyCertified && sum.Cost == 0,
	}
	owner := g.s.Ledger.Address()
	var pick func(o *staking.Blob) bool
	if sum.AlreadyCertified {
		pick = func(o *staking.Blob) bool { return o.Certified && o.Storage.End == sum.EndEpoch }
	} else {
		// Ours, with the store's lifetime and persistence. Usually certified by this store;
		// not when someone else certified the blob first (the light client counts that as
		// success), and the answer then says certifiedEpoch null.
		pick = func(o *staking.Blob) bool {
			return o.Owner == owner && o.Storage.End == sum.EndEpoch && o.Deletable == req.Deletable
		}
	}
	obj, err := g.findObject(ctx, sum.BlobID, pick)
	if err != nil {
		return nil, err
	}
	res.Object = obj
	return res, nil
}

// findObject looks for the blob object pick selects (the latest registered if several),
// asking the ledger a few times: the node answering may be a checkpoint behind the one
// that committed the certificate.
func (g *Session) findObject(ctx context.Context, id codec.BlobID, pick func(o *staking.Blob) bool) (staking.Blob, error) {
	const tries = 10
	var last error
	for i := 0; i < tries; i++ {
		st, err := g.s.Ledger.BlobStatus(ctx, id)
		if err == nil {
			found := -1
			for j := range st.Objects {
				if pick(&st.Objects[j]) && (found < 0 || st.Objects[j].Registered > st.Objects[found].Registered) {
					found = j
				}
			}
			if found >= 0 {
				return st.Objects[found], nil
			}
			last = fmt.Errorf("the ledger lists no matching object of blob %s yet", id)
		} else {
			last = err
		}
		t := time.NewTimer(200 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return staking.Blob{}, storeError(ctx, ctx.Err())
		case <-t.C:
		}
	}
	return staking.Blob{}, fmt.Errorf("gateway: stored blob %s, but its object could not be read back: %w", id, last)
}

// storeForced buys new storage and registers a new blob object, then uploads and
// certifies (Walrus's force=true: a new Blob object even when the blob is certified).
func (g *Session) storeForced(ctx context.Context, data []byte, req StoreRequest) (*StoreResult, error) {
	// The wallet must pay the new storage and the three transactions' fees: checked before
	// anything is sent, as the unforced path (client.Session.Store) does.
	if err := g.checkForcedCost(ctx, uint64(len(data)), req.Epochs); err != nil {
		return nil, err
	}
	h := &forceHooks{g: g, l: g.s.Ledger}
	r, err := g.s.Client.Store(ctx, data, h, client.StoreOptions{Epochs: req.Epochs, Deletable: req.Deletable})
	if err != nil {
		return nil, storeError(ctx, err)
	}
	if r.Upload != nil {
		g.wg.Add(1)
		go func() { defer g.wg.Done(); <-r.Upload.Done() }()
	}
	res := &StoreResult{BlobID: r.BlobID, EndEpoch: h.end, Cost: h.cost, EncodedLength: h.encLen, EpochsAhead: req.Epochs}
	obj, err := g.findObject(ctx, r.BlobID, func(o *staking.Blob) bool { return o.ID == h.object && o.Certified })
	if err != nil {
		return nil, err
	}
	res.Object = obj
	return res, nil
}

// forceHooks are the ledger steps of a forced store: always a new reservation and a new
// registration (client.Ledger.RegisterBlob would reuse a certified blob).
type forceHooks struct {
	g *Session
	l *client.Ledger
	// Learned by RegisterBlob for the result.
	object   staking.ObjectID
	end      uint32
	cost     uint64
	encLen   uint64
	prepared bool
}

func (h *forceHooks) Committee(ctx context.Context) (*epoch.Committee, error) {
	return h.l.Committee(ctx)
}

func (h *forceHooks) RegisterBlob(ctx context.Context, enc *codec.EncodedBlob, opts client.StoreOptions) (client.Registration, bool, error) {
	if h.prepared {
		return client.Registration{}, false, errors.New("gateway: forced registration attempted twice")
	}
	h.prepared = true
	in, err := h.l.Info(ctx)
	if err != nil {
		return client.Registration{}, false, err
	}
	length := enc.Metadata.UnencodedLength
	if length > in.MaxBlobSize {
		return client.Registration{}, false, fmt.Errorf("%w: %d bytes, the network's maximum is %d", ErrTooLarge, length, in.MaxBlobSize)
	}
	encLen, err := enc.Params.EncodedLength(length)
	if err != nil {
		return client.Registration{}, false, err
	}
	cost, ok := staking.StorageCost(in.Prices, encLen, opts.Epochs)
	if !ok {
		return client.Registration{}, false, errors.New("gateway: storage cost overflows")
	}
	want := in.Epoch + opts.Epochs
	storage, err := h.reserve(ctx, &staking.ReserveStorage{Size: encLen, Start: in.Epoch, End: want})
	if err != nil {
		return client.Registration{}, false, err
	}
	if _, err := h.l.Submit(ctx, &staking.RegisterBlob{
		Storage: storage, BlobID: enc.BlobID, Root: enc.Metadata.Root(), Length: length,
		Encoding: enc.Metadata.EncodingType, Deletable: opts.Deletable,
	}); err != nil {
		return client.Registration{}, false, err
	}
	owner := h.l.Address()
	obj, err := h.g.findObject(ctx, enc.BlobID, func(o *staking.Blob) bool {
		return o.Owner == owner && o.Storage.ID == storage && !o.Certified
	})
	if err != nil {
		return client.Registration{}, false, err
	}
	h.object, h.end, h.cost, h.encLen = obj.ID, want, cost, encLen
	return client.Registration{Deletable: opts.Deletable, Object: obj.ID}, false, nil
}

// reserve submits the reservation and returns the storage resource it created, named by
// the nonce the ledger actually committed it under (Ledger.SubmitCreating: other writers of
// the same wallet may take nonces in between).
func (h *forceHooks) reserve(ctx context.Context, op *staking.ReserveStorage) (staking.ObjectID, error) {
	_, id, err := h.l.SubmitCreating(ctx, op)
	return id, err
}

func (h *forceHooks) CertifyBlob(ctx context.Context, id codec.BlobID, reg client.Registration, res *client.UploadResult) error {
	return h.l.CertifyBlob(ctx, id, reg, res)
}

// storeError maps the light client's store errors to the gateway's.
func storeError(ctx context.Context, err error) error {
	var te *client.TxError
	switch {
	case errors.Is(err, ErrTooLarge):
		return err
	case errors.Is(err, client.ErrNoQuorum):
		return fmt.Errorf("%w: %w", ErrNoQuorum, err)
	case errors.Is(err, client.ErrReceiptTimeout), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %w", ErrStoreTimeout, err)
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &te):
		return fmt.Errorf("%w: %w", ErrLedgerRejected, err)
	case errors.Is(err, client.ErrNoNode):
		return fmt.Errorf("%w: %w", ErrNetworkUnavailable, err)
	}
	return err
}

// checkForcedCost refuses a forced store the wallet cannot pay (storage, write fee and the
// fees of reserve, register and certify), with the shortfall named.
func (g *Session) checkForcedCost(ctx context.Context, length uint64, epochs uint32) error {
	in, err := g.s.Ledger.Info(ctx)
	if err != nil {
		return storeError(ctx, err)
	}
	encLen, err := g.s.Client.Params().EncodedLength(length)
	if err != nil {
		return err
	}
	acc, err := g.s.Ledger.Account(ctx, g.s.Ledger.Address())
	if err != nil {
		return storeError(ctx, err)
	}
	c, err := client.PlanCost(in, acc.Account.Balance, client.StorePlan(in, length, encLen, epochs)...)
	if err != nil {
		return err
	}
	return c.Check("storing")
}
