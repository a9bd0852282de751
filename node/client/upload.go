package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/client/sched"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/confirm"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
	"github.com/walrus-go/walrus-go/staking"
)

// Registration is what the ledger step of a store yields and a confirmation names
// (docs/protocol.md §5): the persistence of the registered blob object.
type Registration struct {
	// Deletable blobs' confirmations name their blob object; permanent ones do not.
	Deletable bool
	// Object is the registered blob object (staking.Blob.ID).
	Object staking.ObjectID
}

// Progress reports an upload's state to the caller's callback.
type Progress struct {
	// BytesSent counts metadata and sliver bytes acknowledged by nodes; BytesTotal is what
	// a complete upload to every node sends.
	BytesSent, BytesTotal int64
	// NodesConfirmed counts members whose verified confirmation is in; Nodes is the
	// committee size; NodesFailed counts members that gave up.
	NodesConfirmed, NodesFailed, Nodes int
	// ShardsConfirmed is the confirmed weight; Quorum reports whether it reached n-f.
	ShardsConfirmed int
	Quorum          bool

	// The fields below are set by the streaming store (Client.StoreStream); Upload
	// leaves them zero.

	// Phase is the store's current step: PhaseEncode, PhaseRegister, PhaseUpload,
	// PhaseCertify or PhaseDone.
	Phase string
	// BytesEncoded counts the blob bytes through the encoding's metadata pass, out of
	// EncodeTotal (the padded blob): the part of the encoding before anything can be sent.
	BytesEncoded, EncodeTotal int64
	// BytesSkipped is what a resumed store did not send because the nodes already held it
	// (part of BytesTotal, and counted in BytesSent too, so the bar shows the whole);
	// ConfirmationsReused counts members whose cached confirmation was used again.
	BytesSkipped        int64
	ConfirmationsReused int
	// BytesConfirmed counts the bytes of members whose confirmation is in.
	BytesConfirmed int64
}

// The phases of a streaming store, in order (Progress.Phase).
const (
	PhaseEncode   = "encode"
	PhaseRegister = "register"
	PhaseUpload   = "upload"
	PhaseCertify  = "certify"
	PhaseDone     = "done"
)

// UploadResult is the outcome of a successful Upload.
type UploadResult struct {
	// BlobID is the uploaded blob.
	BlobID codec.BlobID
	// Message is the confirmation message the certificate signs.
	Message []byte
	// Certificate aggregates confirmations worth at least n-f shards (the Point of
	// Availability once the ledger accepts it, docs/protocol.md §5).
	Certificate *epoch.Certificate
	done        chan struct{}
	certified   func()
}

// Certified tells the upload that its certificate is on the ledger (or that the caller
// is done trying): the members held back until then (Config.ReserveHold) get their
// slivers now. Safe to call more than once.
func (r *UploadResult) Certified() {
	if r.certified != nil {
		r.certified()
	}
}

// Done is closed once the uploads that continued in the background after the certificate
// (docs/architecture.md §5 "uploads continue to the remaining nodes") have finished or timed out.
func (r *UploadResult) Done() <-chan struct{} { return r.done }

// nodeResult is one member's outcome, sent exactly once per member.
type nodeResult struct {
	member int
	conf   confirm.Confirmation
	err    error
}

// Upload sends an encoded blob to every member of committee c (metadata, then all of each
// member's sliver pairs in few batched requests, members in parallel up to
// Config.Concurrency; the heaviest members worth n-f shards first, the others once one of
// those fails, all are through, or the upload stalls for Config.HedgeDelay), collects and verifies signed confirmations for reg in c's epoch,
// and returns a certificate as soon as confirmations worth n-f shards are in. The
// remaining uploads continue in the background, bounded by Config.BackgroundTimeout;
// UploadResult.Done reports their end. If ctx ends before the quorum, everything stops.
// progress, if not nil, is called (serially, never concurrently) after every acknowledged
// batch and every node's outcome, including from the background uploads after Upload has
// returned, until Done.
//
// The blob must already be registered on the ledger (nodes refuse unregistered blobs); see
// Store for the whole flow.
func (c *Client) Upload(ctx context.Context, com *epoch.Committee, enc *codec.EncodedBlob, reg Registration, progress func(Progress)) (*UploadResult, error) {
	p := c.cfg.Params
	if err := c.CheckCommittee(com); err != nil {
		return nil, err
	}
	if enc.Params != p {
		return nil, fmt.Errorf("client: blob geometry n=%d, client n=%d", enc.Params.N, p.N)
	}
	req := confirm.Request{BlobID: enc.BlobID, Epoch: com.Epoch, Deletable: reg.Deletable, Object: reg.Object}
	msg := req.Message(c.cfg.Network)
	builder := epoch.NewCertBuilder(com, msg, epoch.ThresholdQuorum)
	meta := enc.Metadata.MarshalBCS()

	var total int64
	for i := range com.Members {
		total += int64(len(meta))
		total += int64(len(com.Members[i].Shards)) * int64(p.PrimarySliverSize(enc.SymbolSize)+p.SecondarySliverSize(enc.SymbolSize))
	}

	schedule, err := sched.NewUpload(sched.UploadConfig{
		Weights:     weights(com),
		Shards:      p.N,
		Quorum:      p.QuorumNF(),
		Concurrency: c.cfg.Concurrency,
		HedgeDelay:  c.cfg.HedgeDelay,
		ReserveHold: c.cfg.ReserveHold,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoQuorum, err)
	}

	// The upload's own lifetime: not the caller's ctx, because it outlives the call once
	// the quorum is in; cancelled early if the caller gives up before that.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.BackgroundTimeout)
	var quorum atomic.Bool
	stopWatch := context.AfterFunc(ctx, func() {
		if !quorum.Load() {
			cancel()
		}
	})

	var (
		mu   sync.Mutex
		prog = Progress{BytesTotal: total, Nodes: len(com.Members)}
	)
	report := func(update func(*Progress)) {
		mu.Lock()
		defer mu.Unlock()
		update(&prog)
		if progress != nil {
			progress(prog)
		}
	}

	// Quorum first: the heaviest members that together hold n-f shards are uploaded to
	// first and the reserve only once one of them fails, all of them are done, or the
	// upload stalls for Config.HedgeDelay. The certificate needs just the first group, and
	// the reserve would otherwise compete with it for the client's bandwidth and CPU (on
	// one machine also for the nodes' CPU): measured in make bench-e2e. The reserve still
	// gets every sliver, in the background after the certificate if need be
	// (docs/architecture.md §5). Once the first group is through, the certificate is in
	// hand: the rest waits until it is committed (UploadResult.Certified) or ReserveHold
	// passes, so the Point of Availability does not share the client's CPU and uplink with
	// the background uploads. The schedule is sched.Upload's; the loop below carries it out.
	certified := make(chan struct{})
	var certifiedOnce sync.Once
	markCertified := func() { certifiedOnce.Do(func() { close(certified) }) }
	activity := make(chan struct{}, 1) // a batch was acknowledged
	results := make(chan nodeResult, len(com.Members))
	var wg sync.WaitGroup
	start := func(i int) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conf, err := c.uploadTo(bg, &com.Members[i], enc, meta, &req, func(n int64) {
				select {
				case activity <- struct{}{}:
				default:
				}
				report(func(p *Progress) { p.BytesSent += n })
			})
			results <- nodeResult{member: i, conf: conf, err: err}
		}()
	}

	certCh := make(chan *epoch.Certificate, 1)
	failCh := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		// The upload's loop, the schedule's one owner: it feeds it acknowledged batches,
		// members' outcomes, the certificate's commit, the end of bg and its wake-ups,
		// and starts the members it names.
		defer close(done)
		defer cancel()
		defer stopWatch()
		defer wg.Wait()
		wake := time.NewTimer(time.Hour)
		wake.Stop()
		defer wake.Stop()
		var errs []error
		failedWeight := 0
		failed := func(i int, err error) {
			m := &com.Members[i]
			failedWeight += m.Weight()
			errs = append(errs, fmt.Errorf("node %x (%d shards): %w", m.Node[:4], m.Weight(), err))
			c.cfg.Logger.Debug("upload to node failed", "blob_id", enc.BlobID, "node", fmt.Sprintf("%x", m.Node[:4]), "err", err)
			report(func(p *Progress) { p.NodesFailed++ })
		}
		bgDone, certifiedC := bg.Done(), (<-chan struct{})(certified)
		var ev sched.UploadEvent = sched.Start{}
		for {
			out := schedule.Step(time.Now(), ev)
			for _, i := range out.Start {
				start(i)
			}
			for _, i := range out.Abandon {
				failed(i, bg.Err()) // bg ended before its turn
			}
			switch out.Verdict {
			case sched.Quorum:
				cert, err := builder.Certificate()
				if err != nil {
					failCh <- err
				} else {
					quorum.Store(true)
					certCh <- cert
				}
			case sched.OutOfReach:
				// Quorum is out of reach: fail now rather than wait for the stragglers.
				failCh <- fmt.Errorf("%w: %d of %d shards failed: %w", ErrNoQuorum, failedWeight, p.N, errors.Join(errs...))
				cancel()
			case sched.NoQuorum:
				failCh <- fmt.Errorf("%w: %w", ErrNoQuorum, errors.Join(errs...))
			}
			if out.Done {
				return
			}
			wake.Stop()
			if !out.Wake.IsZero() {
				wake.Reset(time.Until(out.Wake))
			}
			select {
			case r := <-results:
				m := &com.Members[r.member]
				err := r.err
				if err == nil && r.conf.Epoch != com.Epoch {
					err = fmt.Errorf("confirmation for epoch %d, want %d", r.conf.Epoch, com.Epoch)
				}
				if err == nil {
					// Add verifies the BLS signature on msg: a forged or misdirected
					// confirmation is dropped here and never spoils the aggregate.
					_, err = builder.Add(m.Node, r.conf.Signature)
				}
				if err != nil {
					failed(r.member, err)
				} else {
					w := builder.Weight()
					report(func(p *Progress) {
						p.NodesConfirmed++
						p.ShardsConfirmed = w
						p.Quorum = builder.Reached()
					})
				}
				ev = sched.Finished{Member: r.member, OK: err == nil}
			case <-activity:
				ev = sched.Acked{}
			case <-certifiedC:
				certifiedC, ev = nil, sched.Certified{}
			case <-bgDone:
				bgDone, ev = nil, sched.Cancelled{} // the members not started are abandoned
			case <-wake.C:
				ev = sched.Tick{}
			}
		}
	}()

	select {
	case cert := <-certCh:
		return &UploadResult{BlobID: enc.BlobID, Message: msg, Certificate: cert, done: done, certified: markCertified}, nil
	case err := <-failCh:
		cancel()
		<-done
		return nil, err
	case <-ctx.Done():
		// The watcher cancelled bg unless the quorum raced in; either way, wait for a
		// clean end so no goroutine outlives a failed call.
		cancel()
		<-done
		select {
		case cert := <-certCh:
			return &UploadResult{BlobID: enc.BlobID, Message: msg, Certificate: cert, done: done, certified: markCertified}, nil
		default:
		}
		return nil, ctx.Err()
	}
}

// retryable reports whether a node's failure may go away by itself: the ledger view lags
// (forbidden: not yet registered), the confirmation is not ready (not found), or the node
// is busy (unavailable).
func retryable(err error) bool {
	var se *p2p.StatusError
	if !errors.As(err, &se) {
		return false
	}
	return se.Code == p2p.CodeUnavailable || se.Code == p2p.CodeNotFound || se.Code == p2p.CodeForbidden
}

// callRetry calls pr on to with the request body given as parts to concatenate (see
// p2p.CallParts), retrying retryable failures with exponential backoff.
func (c *Client) callRetry(ctx context.Context, to peer.ID, pr p2p.Protocol, body ...[]byte) ([]byte, error) {
	delay := c.cfg.RetryDelay
	for attempt := 0; ; attempt++ {
		resp, err := p2p.CallParts(ctx, c.cfg.Host, to, pr, body)
		if err == nil || attempt >= c.cfg.Retries || !retryable(err) {
			return resp, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		delay *= 2
	}
}

// uploadTo sends the blob's metadata and the member's sliver pairs, then asks for its
// confirmation. sent is called with the bytes of every acknowledged request.
func (c *Client) uploadTo(ctx context.Context, m *epoch.Member, enc *codec.EncodedBlob, meta []byte,
	req *confirm.Request, sent func(int64)) (confirm.Confirmation, error) {
	p := c.cfg.Params
	pid, err := c.memberPeer(m)
	if err != nil {
		return confirm.Confirmation{}, err
	}
	if len(m.Shards) == 0 {
		return confirm.Confirmation{}, errors.New("member holds no shards")
	}
	mreq := metadata.Request{Op: metadata.OpPut, BlobID: enc.BlobID, Metadata: meta}
	if _, err := c.callRetry(ctx, pid, c.metaProto, mreq.Encode()); err != nil {
		return confirm.Confirmation{}, fmt.Errorf("metadata: %w", err)
	}
	sent(int64(len(meta)))

	// Batch the member's pairs (UploadBatchBytes each, under the protocol cap) and keep
	// up to UploadDepth batches in flight; the first failure stops the rest.
	pairSize := p.PrimarySliverSize(enc.SymbolSize) + p.SecondarySliverSize(enc.SymbolSize)
	perReq := sliver.PairsPerRequest(p, pairSize, c.cfg.UploadBatchBytes)
	bctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	depth := make(chan struct{}, c.cfg.UploadDepth)
	for start := 0; start < len(m.Shards); start += perReq {
		select {
		case depth <- struct{}{}:
		case <-bctx.Done():
		}
		if bctx.Err() != nil {
			break
		}
		shards := m.Shards[start:min(start+perReq, len(m.Shards))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-depth }()
			pairs := make([][2]*codec.Sliver, len(shards))
			var bytes int64
			for i, s := range shards {
				pr, se := enc.Pair(p.PairIndexForShard(enc.BlobID, int(s)))
				pairs[i] = [2]*codec.Sliver{pr, se}
				bytes += int64(len(pr.Data) + len(se.Data))
			}
			resp, err := c.callRetry(bctx, pid, c.sliverProto, sliver.PutPairsParts(enc.BlobID, pairs)...)
			if err == nil {
				_, err = sliver.DecodeItemResults(resp, len(pairs), false)
			}
			if err != nil {
				fail(fmt.Errorf("slivers: %w", err))
				return
			}
			sent(bytes)
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return confirm.Confirmation{}, firstErr
	}
	if err := ctx.Err(); err != nil {
		return confirm.Confirmation{}, err
	}

	resp, err := c.callRetry(ctx, pid, c.confirmProto, req.Encode())
	if err != nil {
		return confirm.Confirmation{}, fmt.Errorf("confirmation: %w", err)
	}
	return confirm.Decode(resp)
}

// LedgerHooks are the ledger steps of a store (docs/architecture.md §5 "Store"), implemented by the
// ledger client: the data path calls them in order and knows nothing of transactions.
type LedgerHooks interface {
	// Committee returns the current committee, whose members receive the slivers and
	// whose epoch the confirmations name.
	Committee(ctx context.Context) (*epoch.Committee, error)
	// RegisterBlob reserves storage (or reuses a resource) and registers the blob, waiting
	// until the ledger commits. alreadyCertified reports a blob that is certified already
	// with a sufficient lifetime, so the upload is skipped (docs/architecture.md §5: reuse it).
	RegisterBlob(ctx context.Context, enc *codec.EncodedBlob, opts StoreOptions) (reg Registration, alreadyCertified bool, err error)
	// CertifyBlob publishes the certificate on the certs topic and submits the certify-blob
	// transaction, waiting until the ledger commits it (the Point of Availability).
	CertifyBlob(ctx context.Context, id codec.BlobID, reg Registration, res *UploadResult) error
}

// StoreOptions are the user's choices for a store.
type StoreOptions struct {
	// Epochs is how many epochs ahead to store the blob.
	Epochs uint32
	// Deletable makes the blob deletable by its owner (docs/protocol.md §6).
	Deletable bool
	// Progress, if not nil, receives upload progress.
	Progress func(Progress)
	// MemoryBudget bounds the streaming store's resident memory in bytes (Client.StoreStream;
	// 0: the encoding's default of two windows, about 1.6× the blob at n = 1000): 64 MiB for
	// the process, an eighth of the rest for the pairs queued or in flight, the rest for the
	// encoder. A blob from MapFile counts for nothing: the encoder reads the file with pread.
	MemoryBudget int64
	// SpillDir is where the streaming store puts the encoding's spill file when the
	// budget is too small to hold it (default: os.TempDir()).
	SpillDir string
	// PendingDir, if set, is where the streaming store caches the confirmations of a blob
	// until it is certified (<PendingDir>/<blob ID>.json), so a store run again after an
	// interruption reuses them.
	PendingDir string
}

// StoreResult is the outcome of Store.
type StoreResult struct {
	BlobID codec.BlobID
	// AlreadyCertified is set when the upload was skipped.
	AlreadyCertified bool
	// Upload is nil when AlreadyCertified.
	Upload *UploadResult
	// Resumed tells what a streaming store did not have to do again.
	Resumed Resumed
}

// Resumed is what a streaming store found already done by an earlier, interrupted run.
type Resumed struct {
	// PairsSkipped and BytesSkipped count the sliver pairs (and their bytes) nodes already
	// held; MetadataSkipped the members that held the metadata.
	PairsSkipped    int64 `json:"pairsSkipped"`
	BytesSkipped    int64 `json:"bytesSkipped"`
	MetadataSkipped int   `json:"metadataSkipped"`
	// Confirmations counts cached confirmations used again.
	Confirmations int `json:"confirmations"`
}

// Store runs the whole store flow: encode, register (hooks), upload and certify
// (docs/architecture.md §5 "Store").
func (c *Client) Store(ctx context.Context, data []byte, hooks LedgerHooks, opts StoreOptions) (*StoreResult, error) {
	enc, err := codec.Encode(c.cfg.Params, data)
	if err != nil {
		return nil, err
	}
	reg, certified, err := hooks.RegisterBlob(ctx, enc, opts)
	if err != nil {
		return nil, fmt.Errorf("client: register: %w", err)
	}
	if certified {
		return &StoreResult{BlobID: enc.BlobID, AlreadyCertified: true}, nil
	}
	com, err := hooks.Committee(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: committee: %w", err)
	}
	res, err := c.Upload(ctx, com, enc, reg, opts.Progress)
	if err != nil {
		return nil, err
	}
	err = hooks.CertifyBlob(ctx, enc.BlobID, reg, res)
	res.Certified() // success or not, the remaining members get their slivers now
	if err != nil {
		return nil, fmt.Errorf("client: certify: %w", err)
	}
	return &StoreResult{BlobID: enc.BlobID, Upload: res}, nil
}
