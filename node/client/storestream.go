package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/blobstatus"
	"github.com/walrus-go/walrus-go/p2p/protocol/confirm"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

// StoreStream runs the whole store flow as Store does, in bounded memory and resumably
// (docs/architecture.md §5 "Store"):
//
//   - The blob is encoded by codec.EncodeStream within opts.MemoryBudget: the metadata
//     pass first (nothing is held but the secondary recovery cells and the leaf hashes),
//     then the sliver pairs, each copied into its member's next put batch and sent while
//     the encoder goes on. The pairs come spread over the pair indices in runs of a put's
//     size (codec.StreamOptions.Spread), so members holding contiguous ranges of shards
//     are fed side by side rather than one after another, each put a contiguous range. A member that falls behind holds
//     the encoder back (bounded batches per member), so memory does not grow with the
//     blob.
//   - Between the two, in the encoder's onMetadata: register (reusing a live uncertified
//     registration of ours, Ledger.RegisterBlob), get the committee, load the
//     confirmations cached by an earlier run (opts.PendingDir; each verified again), and
//     ask every other member which of its shards already hold the pair
//     (/walrus/status/1 with FlagMissing). Only what is missing is encoded out and sent;
//     members that hold everything are only asked for their confirmation.
//   - Confirmations are verified and cached as they arrive; with n-f shards confirmed the
//     certificate is submitted (hooks.CertifyBlob) and the cache removed.
//
// Unlike Upload, every member is sent its pairs at once (the pairs come out of the
// encoder interleaved, and holding back the reserve would mean holding its pairs); the
// uploads that have not finished at the certificate continue in the background, bounded
// by Config.BackgroundTimeout (UploadResult.Done).
func (c *Client) StoreStream(ctx context.Context, data []byte, hooks LedgerHooks, opts StoreOptions) (*StoreResult, error) {
	p := c.cfg.Params
	s, err := p.SymbolSize(uint64(len(data)))
	if err != nil {
		return nil, err
	}
	st := &streamStore{c: c, p: p, hooks: hooks, opts: opts, data: data, s: s, done: make(chan struct{}),
		certCh: make(chan *epoch.Certificate, 1), failCh: make(chan error, 1), encDone: make(chan struct{})}
	st.prog.EncodeTotal = int64(p.R) * int64(p.C) * int64(s)
	return st.run(ctx)
}

// processReserve is what StoreOptions.MemoryBudget keeps for the process itself (the Go
// runtime, the libp2p host and its connections, the ledger client) beside the encoder's
// working memory (codec.PlanStream) and the pairs queued or in flight to the members (the
// batches, an eighth of the rest). A blob mapped by MapFile takes none of it: the encoder
// reads the file (fileBehind), and the spill is a file too (spillAllocator).
const processReserve = 64 << 20

// splitBudget divides a store's memory budget (<= 0: none) into the encoder's (0: none, at
// least 1 byte otherwise: codec.PlanStream's smallest plan) and the upload batches'.
func splitBudget(budget int64) (encoder, upload int64) {
	if budget <= 0 {
		return 0, 0
	}
	rest := budget - processReserve
	upload = max(rest/8, 1)
	return max(rest-upload, 1), upload
}

// putBytes is the size of one put for a committee of members within uploadBudget (<= 0:
// none): Config.UploadBatchBytes, or less so that 2·UploadDepth+1 batches per member fit
// the budget (one filling, UploadDepth queued, UploadDepth in flight). It counts every
// member, not only those with pairs to send, so that the encoder's runs (StoreStream) and
// the puts agree before the members are asked what they hold.
func putBytes(cfg Config, uploadBudget int64, members int) int {
	b := cfg.UploadBatchBytes
	if uploadBudget > 0 {
		b = int(min(int64(b), uploadBudget/int64(max(1, members*(2*cfg.UploadDepth+1)))))
	}
	return b
}

// spillAllocator returns an allocator of spill stores for the encoder's recovery cells
// (codec.StreamOptions.Spill): unlinked temporary files in dir (os.TempDir() if empty),
// read and written with pread and pwrite, so their pages are the kernel's page cache,
// written back and evicted under memory pressure, never the process's resident memory;
// and what closes them all.
func spillAllocator(dir string) (alloc func(n int) (codec.SpillStore, error), release func()) {
	var files []*os.File
	alloc = func(n int) (codec.SpillStore, error) {
		f, err := os.CreateTemp(dir, "walrus-spill-*")
		if err != nil {
			return nil, fmt.Errorf("client: spill file: %w", err)
		}
		_ = os.Remove(f.Name()) // unlinked: gone with the descriptor, even after a crash
		files = append(files, f)
		if err := f.Truncate(int64(n)); err != nil {
			return nil, fmt.Errorf("client: spill file: %w", err)
		}
		return f, nil
	}
	release = func() {
		for _, f := range files {
			_ = f.Close()
		}
		files = nil
	}
	return alloc, release
}

// streamStore is one StoreStream call.
type streamStore struct {
	c     *Client
	p     codec.Params
	hooks LedgerHooks
	opts  StoreOptions
	data  []byte
	s     int

	bg     context.Context // the uploads' lifetime: past the caller's once the quorum is in
	cancel context.CancelFunc
	quorum atomic.Bool

	// Set in onMetadata, before any pair.
	id           codec.BlobID
	reg          Registration
	certified    bool // already certified: nothing to do
	com          *epoch.Committee
	msg          []byte
	req          confirm.Request
	meta         []byte
	builder      *epoch.CertBuilder
	pend         *pendingCache
	members      []*streamMember
	owner        []int  // shard -> member index
	need         []bool // shard -> a pair to send
	pairSize     int
	perReq       int
	maxBatches   int
	free         chan *pairBatch
	allocated    int // producer only
	uploaders    int
	results      chan nodeResult
	resumed      Resumed
	nothingToDo  bool
	pass         atomic.Int32  // the encoder's current pass: 1 the first group, 2 the reserve
	reserveGo    chan struct{} // closed when the reserve's pass may start
	reserveOnce  sync.Once
	pass1Time    atomic.Int64 // nanoseconds the first pass took
	started      bool
	encoded      atomic.Int64
	encErr       error
	encDone      chan struct{}
	certCh       chan *epoch.Certificate
	failCh       chan error
	done         chan struct{}
	progMu       sync.Mutex
	prog         Progress
	memberShares []int64
}

// streamMember is one committee member's upload.
type streamMember struct {
	i      int
	pass   int32 // 1: the first group, worth n-f shards with the confirmed; 2: the reserve
	m      *epoch.Member
	hasMD  bool
	cur    *pairBatch // being filled by the producer
	ch     chan *pairBatch
	failed atomic.Bool
	once   sync.Once
	err    error
	ctx    context.Context
	cancel context.CancelFunc
}

func (sm *streamMember) fail(err error) {
	sm.once.Do(func() { sm.err = err; sm.failed.Store(true); sm.cancel() })
}

// pairBatch is one put request's pairs, copied out of the encoder into buf.
type pairBatch struct {
	buf    []byte
	slv    [][2]codec.Sliver
	pairs  [][2]*codec.Sliver
	bytes  int64
	filled int
	last   int // the shard of the last pair added
}

func (st *streamStore) report(update func(*Progress)) {
	st.progMu.Lock()
	defer st.progMu.Unlock()
	if update != nil {
		update(&st.prog)
	}
	st.prog.BytesEncoded = st.encoded.Load()
	if st.opts.Progress != nil {
		st.opts.Progress(st.prog)
	}
}

func (st *streamStore) run(ctx context.Context) (*StoreResult, error) {
	p := st.p
	st.bg, st.cancel = context.WithCancel(context.WithoutCancel(ctx))
	stopWatch := context.AfterFunc(ctx, func() {
		if !st.quorum.Load() {
			st.cancel()
		}
	})
	defer stopWatch()
	st.report(func(pr *Progress) { pr.Phase = PhaseEncode })
	tick := time.NewTicker(250 * time.Millisecond)
	tickStop := make(chan struct{})
	go func() {
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				st.report(nil)
			case <-tickStop:
				return
			}
		}
	}()
	defer close(tickStop)

	budget, uploadBudget := splitBudget(st.opts.MemoryBudget)
	// The encoder keeps runs of as many consecutive pairs as a put carries (sink also cuts
	// a put at a run's end), so that each put is a contiguous range of its member's shards:
	// a node then ingests tables whose key ranges do not interleave. A put's size depends
	// on the committee's size (setup): without the committee, single pairs.
	run := 1
	if com, err := st.hooks.Committee(ctx); err == nil && com != nil {
		run = sliver.PairsPerRequest(p, p.PrimarySliverSize(st.s)+p.SecondarySliverSize(st.s), putBytes(st.c.cfg, uploadBudget, len(com.Members)))
	}
	setup := make(chan error, 1)
	st.reserveGo = make(chan struct{})
	st.pass.Store(1)
	go func() {
		defer close(st.encDone)
		t0 := time.Now()
		src := fileBehind(st.data) // a mapped file is read with pread, not through the mapping
		spill, release := spillAllocator(st.opts.SpillDir)
		_, _, err := codec.EncodeStream(p, st.data, codec.StreamOptions{Budget: budget, Spill: spill, Spread: true, SpreadRun: run, Want: st.want, Encoded: &st.encoded, Source: src},
			func(m *codec.Metadata, id codec.BlobID) error {
				err := st.setup(ctx, m, id, uploadBudget)
				setup <- err
				if err != nil {
					return err
				}
				if st.certified || !st.needs(1) {
					return codec.ErrStopped
				}
				return nil
			}, st.sink)
		release()
		if errors.Is(err, codec.ErrStopped) {
			err = nil
		}
		st.encErr = err
		st.finishProducer(err, 1)
		st.pass1Time.Store(int64(time.Since(t0)))
		if err != nil || !st.started {
			st.finishProducer(err, 2)
			return
		}
		// The reserve: once the certificate is in (or the first group cannot make it
		// alone), the blob is encoded again for the members held back. Their pairs were
		// not kept: holding them would cost memory, sending them before the certificate
		// would cost the first group the client's and the machine's CPU and bandwidth.
		select {
		case <-st.reserveGo:
		case <-st.bg.Done():
		}
		if st.bg.Err() != nil || !st.needs(2) {
			st.finishProducer(st.bg.Err(), 2)
			return
		}
		// The first pass's buffers (recovery cells, window, about 1.8× the blob at the
		// default budget) are garbage now: collect them so the second pass reuses their
		// memory instead of growing the heap to twice the budget (and paying the kernel
		// to zero fresh pages again).
		runtime.GC()
		st.pass.Store(2)
		st.startUploaders(2)
		spill, release = spillAllocator(st.opts.SpillDir)
		_, _, err = codec.EncodeStream(p, st.data, codec.StreamOptions{Budget: budget, Spill: spill, Spread: true, SpreadRun: run, Want: st.want, Source: src}, nil, st.sink)
		release()
		st.finishProducer(err, 2)
	}()

	select {
	case err := <-setup:
		if err != nil {
			st.cancel()
			<-st.encDone
			return nil, err
		}
	case <-st.encDone:
		st.cancel()
		return nil, st.encErr // failed before the metadata
	}
	if st.certified {
		<-st.encDone
		st.cancel()
		return &StoreResult{BlobID: st.id, AlreadyCertified: true}, nil
	}
	st.report(func(pr *Progress) { pr.Phase = PhaseUpload })
	var cert *epoch.Certificate
	encDone := st.encDone
	for cert == nil {
		select {
		case cert = <-st.certCh:
		case err := <-st.failCh:
			st.cancel()
			<-st.done
			return nil, err
		case <-encDone:
			encDone = nil
			if st.encErr != nil {
				st.cancel()
				<-st.done
				return nil, st.encErr
			}
		case <-ctx.Done():
			st.cancel()
			<-st.done
			select {
			case cert = <-st.certCh:
			default:
				return nil, ctx.Err()
			}
		}
	}
	res := &UploadResult{BlobID: st.id, Message: st.msg, Certificate: cert, done: st.done, certified: st.releaseReserve}
	st.report(func(pr *Progress) { pr.Phase = PhaseCertify })
	err := st.hooks.CertifyBlob(ctx, st.id, st.reg, res)
	res.Certified() // success or not, the reserve gets its slivers now (as Store does)
	if err != nil {
		return nil, fmt.Errorf("client: certify: %w", err)
	}
	st.pend.remove()
	st.report(func(pr *Progress) { pr.Phase = PhaseDone })
	return &StoreResult{BlobID: st.id, Upload: res, Resumed: st.resumed}, nil
}

// setup runs between the encoder's metadata pass and its first pair: register, committee,
// what the nodes and the cache already hold, and the uploads.
func (st *streamStore) setup(ctx context.Context, m *codec.Metadata, id codec.BlobID, uploadBudget int64) error {
	p := st.p
	st.id = id
	st.report(func(pr *Progress) { pr.Phase = PhaseRegister })
	enc := &codec.EncodedBlob{Params: p, SymbolSize: st.s, Metadata: *m, BlobID: id}
	reg, certified, err := st.hooks.RegisterBlob(ctx, enc, st.opts)
	if err != nil {
		return fmt.Errorf("client: register: %w", err)
	}
	st.reg = reg
	if certified {
		st.certified = true
		return nil
	}
	com, err := st.hooks.Committee(ctx)
	if err != nil {
		return fmt.Errorf("client: committee: %w", err)
	}
	// As Upload: a committee from hooks other than a verifying Ledger may be of another
	// size or unindexed, and the shard owners below are indexed by it.
	if err := st.c.CheckCommittee(com); err != nil {
		return err
	}
	st.com = com
	st.req = confirm.Request{BlobID: id, Epoch: com.Epoch, Deletable: reg.Deletable, Object: reg.Object}
	st.msg = st.req.Message(st.c.cfg.Network)
	st.builder = epoch.NewCertBuilder(com, st.msg, epoch.ThresholdQuorum)
	st.meta = m.MarshalBCS()
	st.pend = newPendingCache(st.opts.PendingDir, id, com.Epoch, st.msg)
	cached := st.pend.load()
	st.pairSize = p.PrimarySliverSize(st.s) + p.SecondarySliverSize(st.s)

	st.owner = make([]int, p.N)
	st.need = make([]bool, p.N)
	for i := range st.owner {
		st.owner[i] = -1
	}
	st.members = make([]*streamMember, len(com.Members))
	st.memberShares = make([]int64, len(com.Members))
	var total, skipped int64
	confirmedFromCache := 0
	for i := range com.Members {
		mem := &com.Members[i]
		sm := &streamMember{i: i, m: mem}
		sm.ctx, sm.cancel = context.WithCancel(st.bg)
		st.members[i] = sm
		for _, s := range mem.Shards {
			st.owner[s] = i
		}
		share := int64(len(st.meta)) + int64(len(mem.Shards))*int64(st.pairSize)
		st.memberShares[i] = share
		total += share
		if sig, ok := cached[mem.Node]; ok {
			if _, err := st.builder.Add(mem.Node, sig); err == nil {
				st.pend.f.Confirmations[fmtNode(mem.Node)] = fmtSig(sig)
				sm.hasMD = true
				sm.failed.Store(false)
				st.resumed.Confirmations++
				st.resumed.PairsSkipped += int64(len(mem.Shards))
				st.resumed.BytesSkipped += int64(len(mem.Shards)) * int64(st.pairSize)
				st.resumed.MetadataSkipped++
				confirmedFromCache++
				skipped += share
				sm.ch = nil // nothing to do for this member
				continue
			}
		}
		sm.ch = make(chan *pairBatch, st.c.cfg.UploadDepth)
	}

	// Ask the members without a cached confirmation what they hold, in parallel.
	type answer struct {
		i       int
		st      blobstatus.Status
		missing map[uint16]bool
		ok      bool
	}
	answers := make(chan answer, len(st.members))
	sem := make(chan struct{}, max(1, st.c.cfg.Concurrency))
	asked := 0
	for _, sm := range st.members {
		if sm.ch == nil || len(sm.m.Shards) == 0 {
			continue
		}
		asked++
		go func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			a := answer{i: sm.i}
			qctx, cancel := context.WithTimeout(ctx, blobstatus.Spec.Timeout)
			defer cancel()
			s, err := st.c.statusDetail(qctx, sm.m, id)
			if err == nil && s.Detail && s.Epoch == com.Epoch && int(s.ShardsHeld) == len(sm.m.Shards) {
				a.st, a.ok = s, true
				a.missing = make(map[uint16]bool, len(s.Missing))
				for _, sh := range s.Missing {
					a.missing[sh] = true
				}
			}
			answers <- a
		}()
	}
	for range asked {
		a := <-answers
		sm := st.members[a.i]
		if a.ok && a.st.HasMetadata {
			sm.hasMD = true
			st.resumed.MetadataSkipped++
			skipped += int64(len(st.meta))
		}
		for _, s := range sm.m.Shards {
			if a.ok && !a.missing[s] {
				st.resumed.PairsSkipped++
				st.resumed.BytesSkipped += int64(st.pairSize)
				skipped += int64(st.pairSize)
				continue
			}
			st.need[s] = true
		}
	}
	st.nothingToDo = true
	for _, n := range st.need {
		if n {
			st.nothingToDo = false
			break
		}
	}

	// Batches: UploadBatchBytes each, fewer bytes when the budget says so; at most
	// 2·depth+1 per member exist (one filling, depth queued, depth in flight).
	depth := st.c.cfg.UploadDepth
	active := 0
	for _, sm := range st.members {
		if sm.ch != nil {
			active++
		}
	}
	st.maxBatches = max(1, active*(2*depth+1))
	st.perReq = sliver.PairsPerRequest(p, st.pairSize, putBytes(st.c.cfg, uploadBudget, len(st.members)))
	if uploadBudget > 0 {
		// A batch holds at least one pair, so with big pairs (or many members) the
		// budget bounds the number of batches instead: fewer in flight per member, but
		// one per member and one more, so that every member keeps moving (a member holds
		// at most one partly filled batch).
		fit := uploadBudget / int64(st.perReq*st.pairSize)
		st.maxBatches = int(max(int64(active+1), min(int64(st.maxBatches), fit)))
	}
	st.free = make(chan *pairBatch, st.maxBatches)
	st.results = make(chan nodeResult, len(st.members))

	st.report(func(pr *Progress) {
		pr.BytesTotal, pr.BytesSkipped, pr.BytesSent = total, skipped, skipped
		pr.Nodes = len(st.members)
		pr.ConfirmationsReused = confirmedFromCache
		pr.NodesConfirmed = confirmedFromCache
		pr.ShardsConfirmed = st.builder.Weight()
		pr.Quorum = st.builder.Reached()
		for i, sm := range st.members {
			if sm.ch == nil {
				pr.BytesConfirmed += st.memberShares[i]
			}
		}
	})
	// Quorum first (as Upload): the heaviest members not yet confirmed that bring the
	// confirmed weight to n-f form the first group; members with nothing to receive join
	// it (they only confirm); the rest are the reserve, encoded for after the certificate.
	order := make([]*streamMember, 0, len(st.members))
	for _, sm := range st.members {
		if sm.ch != nil {
			order = append(order, sm)
		}
	}
	slices.SortStableFunc(order, func(a, b *streamMember) int { return b.m.Weight() - a.m.Weight() })
	weight := st.builder.Weight()
	for _, sm := range order {
		needs := false
		for _, s := range sm.m.Shards {
			needs = needs || st.need[s]
		}
		if weight < p.QuorumNF() || !needs {
			sm.pass = 1
			weight += sm.m.Weight()
		} else {
			sm.pass = 2
		}
		st.uploaders++
	}
	st.started = true
	st.startUploaders(1)
	go st.collect()
	return nil
}

// startUploaders starts the uploads of the members of one pass.
func (st *streamStore) startUploaders(pass int32) {
	for _, sm := range st.members {
		if sm.ch != nil && sm.pass == pass {
			go st.upload(sm)
		}
	}
}

// needs reports whether some member of the pass still needs a pair.
func (st *streamStore) needs(pass int32) bool {
	for s, n := range st.need {
		if n && st.owner[s] >= 0 && st.members[st.owner[s]].pass == pass {
			return true
		}
	}
	return false
}

// releaseReserve lets the reserve's pass start (once).
func (st *streamStore) releaseReserve() {
	st.reserveOnce.Do(func() { close(st.reserveGo) })
}

func fmtNode(n epoch.NodeID) string { return fmt.Sprintf("%x", n[:]) }
func fmtSig(s [96]byte) string      { return fmt.Sprintf("%x", s[:]) }

// statusDetail asks one member for its view of a blob with the list of missing shards.
func (c *Client) statusDetail(ctx context.Context, m *epoch.Member, id codec.BlobID) (blobstatus.Status, error) {
	pid, err := c.memberPeer(m)
	if err != nil {
		return blobstatus.Status{}, err
	}
	resp, err := p2p.Call(ctx, c.cfg.Host, pid, c.statusProto, blobstatus.EncodeRequest(id, blobstatus.FlagMissing))
	if err != nil {
		return blobstatus.Status{}, err
	}
	return blobstatus.Decode(resp)
}

// want reports whether the encoder should produce pair: some member still needs it.
func (st *streamStore) want(pair int) bool {
	shard := st.p.ShardForPair(st.id, pair)
	if !st.need[shard] {
		return false
	}
	i := st.owner[shard]
	return i >= 0 && st.members[i].pass == st.pass.Load() && !st.members[i].failed.Load()
}

// getBatch returns an empty batch: a free one, a new one while fewer than maxBatches
// exist, else the next one an upload gives back.
func (st *streamStore) getBatch() (*pairBatch, error) {
	select {
	case b := <-st.free:
		return b, nil
	default:
	}
	if st.allocated < st.maxBatches {
		st.allocated++
		b := &pairBatch{buf: make([]byte, st.perReq*st.pairSize), slv: make([][2]codec.Sliver, st.perReq), pairs: make([][2]*codec.Sliver, 0, st.perReq)}
		return b, nil
	}
	select {
	case b := <-st.free:
		return b, nil
	case <-st.bg.Done():
		return nil, st.bg.Err()
	}
}

func (st *streamStore) putBatch(b *pairBatch) {
	b.pairs, b.bytes, b.filled = b.pairs[:0], 0, 0
	select {
	case st.free <- b:
	default: // cannot happen: at most maxBatches exist
	}
}

// sink copies pair into its member's batch and hands full batches to the member's upload.
func (st *streamStore) sink(pair int, prim, sec *codec.Sliver) error {
	shard := st.p.ShardForPair(st.id, pair)
	i := st.owner[shard]
	if i < 0 || !st.need[shard] {
		return nil
	}
	sm := st.members[i]
	if sm.failed.Load() || sm.pass != st.pass.Load() {
		return nil
	}
	if b := sm.cur; b != nil && b.last+1 != shard {
		// A put covers consecutive shards only: the node ingests each put as one table,
		// and a table spanning shards apart overlaps the tables of the shards between
		// (pebble then keeps it above them and compacts it, reading it all back). The
		// encoder's runs (SpreadRun) are at least a put long, so this cuts a put short
		// only at a run's end.
		sm.cur = nil
		if err := st.send(sm, b); err != nil {
			return err
		}
	}
	if sm.cur == nil {
		b, err := st.getBatch()
		if err != nil {
			return err
		}
		sm.cur = b
	}
	b := sm.cur
	k := len(b.pairs)
	for j, s := range [2]*codec.Sliver{prim, sec} {
		n := copy(b.buf[b.filled:], s.Data)
		b.slv[k][j] = codec.Sliver{Axis: s.Axis, Index: s.Index, SymbolSize: s.SymbolSize, Data: b.buf[b.filled : b.filled+n : b.filled+n]}
		b.filled += n
		b.bytes += int64(n)
	}
	b.pairs = append(b.pairs, [2]*codec.Sliver{&b.slv[k][0], &b.slv[k][1]})
	b.last = shard
	if len(b.pairs) < st.perReq {
		return nil
	}
	sm.cur = nil
	return st.send(sm, b)
}

// send hands a batch to its member's upload, waiting while the member's queue is full.
func (st *streamStore) send(sm *streamMember, b *pairBatch) error {
	select {
	case sm.ch <- b:
		return nil
	case <-st.bg.Done():
		return st.bg.Err()
	}
}

// finishProducer hands over the last partial batches of a pass (unless the encoding
// failed) and closes its members' queues; a reserve whose pass never started is reported
// failed with err.
func (st *streamStore) finishProducer(err error, pass int32) {
	if !st.started {
		return
	}
	for _, sm := range st.members {
		if sm.ch == nil || sm.pass != pass {
			continue
		}
		if pass == 2 && st.pass.Load() != 2 {
			// The reserve's pass never started: its uploads end here.
			close(sm.ch)
			cause := err
			if cause == nil {
				cause = errors.New("upload abandoned")
			}
			go func() { st.results <- nodeResult{member: sm.i, err: cause} }()
			continue
		}
		if sm.cur != nil && err == nil {
			select {
			case sm.ch <- sm.cur:
			case <-st.bg.Done():
			}
		}
		sm.cur = nil
		close(sm.ch)
	}
	if err != nil {
		st.cancel()
	}
}

// upload sends one member its metadata (unless it has it) and the batches the producer
// queues, up to UploadDepth in flight, then asks for its confirmation.
func (st *streamStore) upload(sm *streamMember) {
	c := st.c
	conf, err := func() (confirm.Confirmation, error) {
		pid, err := c.memberPeer(sm.m)
		if err != nil {
			sm.fail(err)
		} else if !sm.hasMD {
			mreq := metadata.Request{Op: metadata.OpPut, BlobID: st.id, Metadata: st.meta}
			if _, err := st.call(sm.ctx, pid, c.metaProto, mreq.Encode()); err != nil {
				sm.fail(fmt.Errorf("metadata: %w", err))
			} else {
				st.report(func(pr *Progress) { pr.BytesSent += int64(len(st.meta)) })
			}
		}
		var wg sync.WaitGroup
		inflight := make(chan struct{}, c.cfg.UploadDepth)
		for b := range sm.ch {
			if sm.failed.Load() {
				st.putBatch(b) // drain: the producer must not block on a dead member
				continue
			}
			inflight <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-inflight }()
				err := st.put(sm, pid, b)
				n := b.bytes
				st.putBatch(b)
				if err != nil {
					sm.fail(fmt.Errorf("slivers: %w", err))
					return
				}
				st.report(func(pr *Progress) { pr.BytesSent += n })
			}()
		}
		wg.Wait()
		if sm.failed.Load() {
			return confirm.Confirmation{}, sm.err
		}
		resp, err := st.call(sm.ctx, pid, c.confirmProto, st.req.Encode())
		if err != nil {
			return confirm.Confirmation{}, fmt.Errorf("confirmation: %w", err)
		}
		return confirm.Decode(resp)
	}()
	st.results <- nodeResult{member: sm.i, conf: conf, err: err}
}

// busyPatience is how long a streaming store keeps asking a member that answers "busy" (or
// "not yet") before giving it up: its pairs cannot be sent again without encoding the blob
// again, so it is given more patience than Upload's few retries.
const busyPatience = 60 * time.Second

// call is callRetry, repeated while the member stays retryable for up to busyPatience.
func (st *streamStore) call(ctx context.Context, pid peer.ID, pr p2p.Protocol, body ...[]byte) ([]byte, error) {
	start := time.Now()
	delay := st.c.cfg.RetryDelay
	for {
		resp, err := st.c.callRetry(ctx, pid, pr, body...)
		if err == nil || !retryable(err) || time.Since(start) > busyPatience || ctx.Err() != nil {
			return resp, err
		}
		delay = min(2*delay, time.Second)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

func (st *streamStore) put(sm *streamMember, pid peer.ID, b *pairBatch) error {
	resp, err := st.call(sm.ctx, pid, st.c.sliverProto, sliver.PutPairsParts(st.id, b.pairs)...)
	if err == nil {
		_, err = sliver.DecodeItemResults(resp, len(b.pairs), false)
	}
	return err
}

// collect verifies and caches confirmations as they arrive, hands the certificate over
// once n-f shards are confirmed, and ends when every upload has.
func (st *streamStore) collect() {
	defer close(st.done)
	defer st.cancel()
	p := st.p
	sent := false
	emit := func() {
		if sent || !st.builder.Reached() {
			return
		}
		cert, err := st.builder.Certificate()
		if err != nil {
			st.failCh <- err
		} else {
			st.quorum.Store(true)
			st.certCh <- cert
			// Past the quorum, the remaining uploads get BackgroundTimeout plus twice
			// what the first pass took (the reserve's pass encodes the blob again).
			time.AfterFunc(st.c.cfg.BackgroundTimeout+2*time.Duration(st.pass1Time.Load()), st.cancel)
			// Without a certificate commit to wait for (the caller's hooks), the
			// reserve starts after ReserveHold at the latest.
			time.AfterFunc(st.c.cfg.ReserveHold, st.releaseReserve)
		}
		sent = true
	}
	emit()
	var errs []error
	failedWeight := 0
	for range st.uploaders {
		r := <-st.results
		sm := st.members[r.member]
		err := r.err
		if err == nil && r.conf.Epoch != st.com.Epoch {
			err = fmt.Errorf("confirmation for epoch %d, want %d", r.conf.Epoch, st.com.Epoch)
		}
		if err == nil {
			_, err = st.builder.Add(sm.m.Node, r.conf.Signature)
		}
		if err != nil {
			failedWeight += sm.m.Weight()
			errs = append(errs, fmt.Errorf("node %x (%d shards): %w", sm.m.Node[:4], sm.m.Weight(), err))
			st.c.cfg.Logger.Debug("upload to node failed", "blob_id", st.id, "node", fmt.Sprintf("%x", sm.m.Node[:4]), "err", err)
			st.report(func(pr *Progress) { pr.NodesFailed++ })
			if !sent {
				st.releaseReserve() // the first group may not make it alone
			}
			if !sent && p.N-failedWeight < p.QuorumNF() {
				st.failCh <- fmt.Errorf("%w: %d of %d shards failed: %w", ErrNoQuorum, failedWeight, p.N, errors.Join(errs...))
				sent = true
				st.cancel()
			}
			continue
		}
		if err := st.pend.add(sm.m.Node, r.conf.Signature); err != nil {
			st.c.cfg.Logger.Debug("caching a confirmation failed", "blob_id", st.id, "err", err)
		}
		w := st.builder.Weight()
		share := st.memberShares[r.member]
		st.report(func(pr *Progress) {
			pr.NodesConfirmed++
			pr.ShardsConfirmed = w
			pr.Quorum = st.builder.Reached()
			pr.BytesConfirmed += share
		})
		emit()
	}
	if !sent {
		st.failCh <- fmt.Errorf("%w: %w", ErrNoQuorum, errors.Join(errs...))
	}
}
