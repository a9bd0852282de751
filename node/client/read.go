package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/hugemem"
	"github.com/walrus-go/walrus-go/node/client/sched"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/blobstatus"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

// membersByWeight returns member indices, heaviest first (ties by index): heavier members
// answer for more shards, so asking them first needs fewer round trips.
func membersByWeight(com *epoch.Committee) []int {
	return sched.MembersByWeight(weights(com))
}

// weights returns each member's shard count.
func weights(com *epoch.Committee) []int {
	w := make([]int, len(com.Members))
	for i := range com.Members {
		w[i] = com.Members[i].Weight()
	}
	return w
}

// Metadata fetches the blob's metadata from the committee and returns the first copy that
// verifies against id (docs/protocol.md §3). Members are asked heaviest first; a member that
// fails or lies is skipped at once, and one that is slow gets company after
// Config.HedgeDelay, so neither can stall the read.
func (c *Client) Metadata(ctx context.Context, com *epoch.Committee, id codec.BlobID) (codec.Metadata, error) {
	if err := c.CheckCommittee(com); err != nil {
		return codec.Metadata{}, err
	}
	p := c.cfg.Params
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type answer struct {
		member int
		meta   codec.Metadata
		err    error
	}
	answers := make(chan answer)
	order := membersByWeight(com)
	running := 0
	defer func() {
		cancel()
		for ; running > 0; running-- {
			<-answers
		}
	}()
	ask := func(i int) {
		running++
		go func() {
			a := answer{member: i}
			m := &com.Members[i]
			pid, err := c.memberPeer(m)
			if err == nil {
				req := metadata.Request{Op: metadata.OpGet, BlobID: id}
				var resp []byte
				if resp, err = p2p.Call(ctx, c.cfg.Host, pid, c.metaProto, req.Encode()); err == nil {
					if a.meta, err = codec.UnmarshalMetadataBCS(p, resp); err == nil {
						err = codec.VerifyMetadata(p, id, &a.meta)
					}
				}
			}
			a.err = err
			answers <- a
		}()
	}
	hedge := time.NewTimer(c.cfg.HedgeDelay)
	defer hedge.Stop()
	var errs []error
	next := 0
	for {
		if running == 0 {
			if next >= len(order) {
				return codec.Metadata{}, fmt.Errorf("%w: %s: %w", ErrNotFound, id, errors.Join(errs...))
			}
			ask(order[next])
			next++
			hedge.Reset(c.cfg.HedgeDelay)
		}
		select {
		case <-ctx.Done():
			return codec.Metadata{}, ctx.Err()
		case <-hedge.C:
			if next < len(order) {
				ask(order[next])
				next++
			}
			hedge.Reset(c.cfg.HedgeDelay)
		case a := <-answers:
			running--
			if a.err == nil {
				return a.meta, nil
			}
			errs = append(errs, fmt.Errorf("node %x: %w", com.Members[a.member].Node[:4], a.err))
		}
	}
}

// fetched is the outcome of one sliver request to one member.
type fetched struct {
	member  int
	refs    []int // primary indices asked for
	slivers []codec.Sliver
	err     error
}

// failure is why the request failed its member: its error, or else the first sliver it
// left out of a complete answer.
func (f *fetched) failure() error {
	if f.err != nil {
		return f.err
	}
	for _, ref := range f.refs {
		if !slices.ContainsFunc(f.slivers, func(s codec.Sliver) bool { return int(s.Index) == ref }) {
			return fmt.Errorf("sliver %d missing", ref)
		}
	}
	return nil
}

// Read fetches, verifies and decodes blob id from committee com (docs/architecture.md §5 "Read"):
// metadata from any member, then primary slivers from their shards' owners in parallel,
// R at first (systematic ones, which need no decoding) and more when members fail, lie or
// are slow; every sliver is verified against the metadata and dropped if it fails; the
// decode runs the default consistency check. An inconsistent blob is ErrInvalidBlob.
func (c *Client) Read(ctx context.Context, com *epoch.Committee, id codec.BlobID) ([]byte, error) {
	meta, err := c.Metadata(ctx, com, id)
	if err != nil {
		return nil, err
	}
	return c.readWithMetadata(ctx, com, id, meta)
}

// readWithMetadata is Read once the metadata is in: meta must be verified against id
// (codec.VerifyMetadata). It is also the fallback of ReadRange and ReadTo when a
// systematic sliver they need cannot be fetched (for a blob whose decode would not fit
// their memory budget they use readSpilled instead).
func (c *Client) readWithMetadata(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta codec.Metadata) ([]byte, error) {
	p := c.cfg.Params
	symbol, err := meta.SymbolSize(p)
	if err != nil {
		return nil, err
	}
	rowSize := p.PrimarySliverSize(symbol)
	// The blob's source matrix, row-major: systematic primary sliver r is row r, so those
	// slivers are read from the network straight into place. With every row verified the
	// blob is complete and consistent (the default check re-derives exactly these rows);
	// otherwise the decode fills it from whatever R slivers verified. Each row is written
	// by at most one request at a time (a candidate is asked of one member at once) and
	// none after Read returns (it waits for its requests).
	// It is allocated when the first systematic sliver arrives, not before: a blob ID
	// names its length, and one registered but never stored must not cost a read that
	// much memory before anything verifiable comes back.
	var blob []byte
	var alloc sync.Once
	dst := func(i int) []byte {
		if i < p.R {
			alloc.Do(func() { blob = hugemem.Bytes(p.R * rowSize) })
			return blob[i*rowSize : (i+1)*rowSize]
		}
		return make([]byte, rowSize)
	}
	verified := make(map[int]codec.Sliver)
	var out []byte
	err = c.fetchForDecode(ctx, com, id, &meta, decodeSink{
		request: func() (func(int) []byte, func(int), func()) { return dst, nil, func() {} },
		keep: func(r fetched) {
			for _, s := range r.slivers {
				verified[int(s.Index)] = s
			}
		},
		complete: func() error {
			out = blob[:meta.UnencodedLength:meta.UnencodedLength]
			return nil
		},
		decode: func([]int) error {
			data, err := c.decode(&meta, verified)
			out = data
			return err
		},
	})
	return out, err
}

// decodeSink is what fetchForDecode does with the slivers it fetches.
type decodeSink struct {
	// request gives one request its slivers' destination (dst(index), as fetchPrimaries),
	// what to call as each verifies there (nil: nothing) and what to call once the request
	// is over (its goroutine's last act).
	request func() (dst func(int) []byte, each func(int), done func())
	// keep, if not nil, is handed every answer, in the fetchForDecode goroutine.
	keep func(r fetched)
	// complete is called when the R systematic slivers have verified.
	complete func() error
	// decode is called when R slivers have verified (the indices of all that have), but
	// not every systematic one: codec.ErrNotEnoughSlivers asks for more.
	decode func(have []int) error
}

// fetchForDecode fetches primary slivers of blob id per sched.Read, systematic ones
// first, until the R systematic ones have verified (sink.complete) or a decode of those
// that have succeeds (sink.decode); each sliver is verified against meta as it arrives
// (fetchPrimaries). An inconsistent blob is ErrInvalidBlob.
func (c *Client) fetchForDecode(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta *codec.Metadata, sink decodeSink) error {
	p := c.cfg.Params
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Candidates: usable primary indices, systematic ones first (they make the decode
	// cheapest), each with the member owning its pair's shard (docs/protocol.md §2).
	owner := make([]int, p.UsablePrimarySlivers())
	for i := range owner {
		owner[i] = com.Owner(p.ShardForPair(id, i))
	}
	symbol, err := meta.SymbolSize(p)
	if err != nil {
		return err
	}
	rowSize := p.PrimarySliverSize(symbol)
	// The schedule is sched.Read's; this function only carries it out. Ask for exactly R
	// at first and add a margin of R/8 more only when a request fails or is slow (the
	// hedge): over-requesting up front cost ~12% more fetching and verifying on every read
	// for no gain when the committee is healthy (docs/architecture.md §5). At most
	// ReadRequestBytes of slivers per request, below the protocol's cap: the first R
	// primaries usually belong to one or two members (shards are contiguous ranges), and
	// smaller requests keep several streams, and both cores, busy.
	schedule, err := sched.NewRead(sched.ReadConfig{
		R:          p.R,
		Owner:      owner,
		Margin:     max(1, p.R/8),
		PerRequest: sliver.GetsPerRequest(p, rowSize, c.cfg.ReadRequestBytes),
		Depth:      c.cfg.ReadDepth,
		Retries:    c.cfg.Retries,
		RetryDelay: c.cfg.RetryDelay,
		HedgeDelay: c.cfg.HedgeDelay,
	})
	if err != nil {
		return err
	}
	var have []int // verified indices
	seen := make([]bool, p.N)

	results := make(chan fetched)
	running := 0
	defer func() {
		cancel()
		for ; running > 0; running-- {
			<-results
		}
	}()
	// wake fires at the schedule's next deadline: a member with requests out turning
	// slow, or a busy member's backoff ending.
	wake := time.NewTimer(time.Hour)
	wake.Stop()
	defer wake.Stop()

	var ev sched.ReadEvent = sched.Start{}
	var last fetched // the answer ev reports
	for {
		out := schedule.Step(time.Now(), ev)
		for _, m := range out.Slow {
			c.cfg.Logger.Debug("read: node slow, asking others", "blob_id", id,
				"node", fmt.Sprintf("%x", com.Members[m].Node[:4]), "requests", schedule.InFlight(m))
		}
		for _, m := range out.Failed {
			c.cfg.Logger.Debug("read from node failed", "blob_id", id,
				"node", fmt.Sprintf("%x", com.Members[m].Node[:4]), "err", last.failure())
		}
		for _, req := range out.Send {
			running++
			go func() {
				dst, each, done := sink.request()
				r := c.fetchPrimariesEach(ctx, meta, id, &com.Members[req.Member], req.Member, req.Indices, dst, each)
				done()
				results <- r
			}()
		}
		wake.Stop()
		if !out.Wake.IsZero() {
			wake.Reset(time.Until(out.Wake))
		}
		switch out.Status {
		case sched.Complete:
			return sink.complete()
		case sched.TryDecode:
			err := sink.decode(slices.Sorted(slices.Values(have)))
			if err == nil {
				return nil
			}
			if errors.Is(err, codec.ErrInconsistentBlob) {
				return fmt.Errorf("%w: %s: %w", ErrInvalidBlob, id, err)
			}
			if !errors.Is(err, codec.ErrNotEnoughSlivers) {
				return err
			}
			ev = sched.NeedMore{} // the codec needs a different set: ask for more
			continue
		case sched.NotEnough:
			return fmt.Errorf("%w: %d of %d verified for %s", ErrNotEnoughSlivers, len(have), p.R, id)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake.C:
			ev = sched.Tick{}
		case r := <-results:
			running--
			if sink.keep != nil {
				sink.keep(r)
			}
			a := sched.Answer{Request: sched.Request{Member: r.member, Indices: r.refs}, Outcome: sched.OK}
			for _, s := range r.slivers {
				if i := int(s.Index); i < p.N && !seen[i] {
					seen[i] = true
					have = append(have, i)
				}
				a.Verified = append(a.Verified, int(s.Index))
			}
			switch {
			case r.err == nil:
			case retryable(r.err):
				a.Outcome = sched.Busy // asked again after a backoff, a few times
			default:
				a.Outcome = sched.Failed
			}
			ev, last = a, r
		}
	}
}

// decode runs codec.DecodePrimary over the verified slivers, systematic ones first, when
// some systematic sliver is missing (Read returns the blob as read when none is): it
// reconstructs the missing rows and runs the default consistency check on them
// (docs/protocol.md §4).
func (c *Client) decode(meta *codec.Metadata, verified map[int]codec.Sliver) ([]byte, error) {
	idx := make([]int, 0, len(verified))
	for i := range verified {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	slivers := make([]codec.Sliver, 0, len(idx))
	for _, i := range idx {
		slivers = append(slivers, verified[i])
	}
	// Every sliver in verified passed codec.VerifySliver against meta in fetchPrimaries:
	// hash each once, not again inside the decode.
	return codec.DecodePrimaryVerified(c.cfg.Params, meta, slivers)
}

// fetchPrimaries asks one member for the given primary slivers and returns those that
// verify against meta. The response is parsed as it arrives: each sliver is read into
// dst(index) (for a systematic sliver, its row of the blob being decoded) and verified
// there, so a read neither holds responses nor copies slivers out of them. A member that
// sends a sliver that does not verify is reported as failed (its other slivers are still
// kept: each is self-verifying). Slivers that fail leave garbage in their buffers, which
// nothing uses.
func (c *Client) fetchPrimaries(ctx context.Context, meta *codec.Metadata, id codec.BlobID, m *epoch.Member, mi int, refs []int, dst func(index int) []byte) fetched {
	return c.fetchPrimariesEach(ctx, meta, id, m, mi, refs, dst, nil)
}

// fetchPrimariesEach is fetchPrimaries that also calls each(index), when not nil, for
// every sliver as soon as it has verified (in dst(index)), from the request's goroutine:
// a streaming read writes it out before the rest of the response has arrived.
func (c *Client) fetchPrimariesEach(ctx context.Context, meta *codec.Metadata, id codec.BlobID, m *epoch.Member, mi int, refs []int, dst func(index int) []byte, each func(index int)) fetched {
	out := fetched{member: mi, refs: refs}
	p := c.cfg.Params
	pid, err := c.memberPeer(m)
	if err != nil {
		out.err = err
		return out
	}
	sr := make([]sliver.Ref, len(refs))
	for i, r := range refs {
		sr[i] = sliver.Ref{Axis: codec.AxisPrimary, Index: uint16(r)}
	}
	req := [][]byte{sliver.EncodeGet(id, sr)}
	err = p2p.CallStream(ctx, c.cfg.Host, pid, c.sliverProto, req, func(body io.Reader, _ int) error {
		return sliver.ReadItemResults(body, len(refs), func(i int, code p2p.Code, item io.Reader, n int) error {
			if code != 0 {
				out.err = errors.Join(out.err, fmt.Errorf("sliver %d: %v", refs[i], code))
				return nil
			}
			s, err := codec.ReadSliverBCS(p, codec.AxisPrimary, item, dst(refs[i]))
			var one [1]byte
			if m, _ := item.Read(one[:]); err == nil && m > 0 {
				err = fmt.Errorf("%w: bytes after the sliver in its item", codec.ErrBadSliver)
			}
			if err == nil && int(s.Index) != refs[i] {
				err = fmt.Errorf("%w: asked for sliver %d, got %d", codec.ErrBadSliver, refs[i], s.Index)
			}
			if err == nil {
				err = codec.VerifySliver(p, meta, &s)
			}
			if err != nil {
				out.err = errors.Join(out.err, fmt.Errorf("sliver %d: %w", refs[i], err))
				return nil
			}
			out.slivers = append(out.slivers, s)
			if each != nil {
				each(refs[i])
			}
			return nil
		})
	})
	out.err = errors.Join(out.err, err)
	return out
}

// Status asks one member for its view of a blob.
func (c *Client) Status(ctx context.Context, m *epoch.Member, id codec.BlobID) (blobstatus.Status, error) {
	pid, err := c.memberPeer(m)
	if err != nil {
		return blobstatus.Status{}, err
	}
	resp, err := p2p.Call(ctx, c.cfg.Host, pid, c.statusProto, id[:])
	if err != nil {
		return blobstatus.Status{}, err
	}
	return blobstatus.Decode(resp)
}

// DefaultReadBudget bounds what the fallback decode of a streaming read (ReadTo,
// ReadRangeTo) holds when ReadOptions.MemoryBudget is zero.
const DefaultReadBudget = 256 << 20

// decodeInMemoryFactor is about how many times the padded blob a decode in memory holds
// (readWithMetadata, codec.DecodePrimaryVerified): the R slivers fetched, their chunk-layout
// copies and the missing ones', the source rows and the blob laid out again.
const decodeInMemoryFactor = 4

// The spilled decode's shares of the budget (readSpilled): slivers on their way in, and the
// decode's window of columns; more than these caps makes no read faster.
const (
	spillFetchCap  = 32 << 20
	spillWindowCap = 64 << 20
)

// readDecodedTo writes bytes [from, to) of the blob meta describes to w from a decode: the
// fallback of the streaming reads once a systematic sliver cannot be had from its holder.
// The decode runs in memory (readWithMetadata) when decodeInMemoryFactor times the padded
// blob fits the budget, through a spill file otherwise (readSpilled).
func (c *Client) readDecodedTo(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta *codec.Metadata, from, to int64, w io.Writer, o ReadOptions) (int64, error) {
	p := c.cfg.Params
	symbol, err := meta.SymbolSize(p)
	if err != nil {
		return 0, err
	}
	budget := o.MemoryBudget
	if budget <= 0 {
		budget = DefaultReadBudget
	}
	if decodeInMemoryFactor*int64(p.R)*int64(p.PrimarySliverSize(symbol)) > budget {
		return c.readSpilled(ctx, com, id, meta, from, to, w, budget, o.SpillDir)
	}
	blob, err := c.readWithMetadata(ctx, com, id, *meta)
	if err != nil {
		return 0, err
	}
	return writeAll(w, blob[from:to])
}

func writeAll(w io.Writer, b []byte) (int64, error) {
	m, err := w.Write(b)
	if err == nil && m != len(b) {
		err = io.ErrShortWrite
	}
	return int64(m), err
}

// spilledSlivers is a codec.SliverStore in a temporary file: primary sliver i at offset
// i·rowSize (a sparse file: only the slivers fetched and those decoded take room). It is
// read and written with pread and pwrite, not mapped, so its pages are the kernel's page
// cache, never the process's resident memory.
type spilledSlivers struct {
	f       *os.File
	rowSize int
}

func (s *spilledSlivers) ReadSliverAt(i int, dst []byte, off int) error {
	_, err := s.f.ReadAt(dst, int64(i)*int64(s.rowSize)+int64(off))
	return err
}

func (s *spilledSlivers) WriteSliverAt(i int, data []byte, off int) error {
	_, err := s.f.WriteAt(data, int64(i)*int64(s.rowSize)+int64(off))
	return err
}

// readSpilled is readDecodedTo for a blob whose decode does not fit the budget in memory:
// the primary slivers are fetched and verified as Read does (fetchForDecode), each written
// to an unlinked temporary file in dir as soon as it verifies, from one buffer per request
// (reused for its slivers; at most a quarter of the budget of them, spillFetchCap at
// most); the missing systematic slivers are decoded from that file a window of columns at
// a time (codec.DecodePrimaryWindows, half the budget, spillWindowCap at most) and written
// back to it; then bytes [from, to) are copied from it to w. The file holds about the blob
// once and is gone when the read returns (or the process dies).
func (c *Client) readSpilled(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta *codec.Metadata, from, to int64, w io.Writer, budget int64, dir string) (int64, error) {
	p := c.cfg.Params
	symbol, err := meta.SymbolSize(p)
	if err != nil {
		return 0, err
	}
	rowSize := p.PrimarySliverSize(symbol)
	f, err := os.CreateTemp(dir, "walrus-read-*")
	if err != nil {
		return 0, fmt.Errorf("client: read spill file: %w", err)
	}
	_ = os.Remove(f.Name()) // unlinked: gone with the descriptor, even after a crash
	defer f.Close()
	store := &spilledSlivers{f: f, rowSize: rowSize}
	c.cfg.Logger.Debug("read: decoding through a spill file", "blob_id", id, "budget", budget, "dir", f.Name())

	bufs := int(max(2, min(budget/4, spillFetchCap)/int64(rowSize)))
	pool := make(chan []byte, bufs) // nil: a buffer not allocated yet
	for range bufs {
		pool <- nil
	}
	var (
		spillMu  sync.Mutex
		spillErr error
	)
	sink := decodeSink{
		request: func() (func(int) []byte, func(int), func()) {
			var buf []byte
			taken := false
			dst := func(int) []byte {
				if !taken {
					select {
					case buf = <-pool:
						taken = true
					case <-ctx.Done():
						return make([]byte, rowSize) // the request fails anyway
					}
					if buf == nil {
						buf = make([]byte, rowSize)
					}
				}
				return buf
			}
			each := func(i int) {
				if err := store.WriteSliverAt(i, buf, 0); err != nil {
					spillMu.Lock()
					spillErr = errors.Join(spillErr, fmt.Errorf("client: read spill file: %w", err))
					spillMu.Unlock()
				}
			}
			done := func() {
				if taken {
					pool <- buf
				}
			}
			return dst, each, done
		},
	}
	failed := func() error {
		spillMu.Lock()
		defer spillMu.Unlock()
		return spillErr
	}
	sink.complete = failed
	sink.decode = func(have []int) error {
		if err := failed(); err != nil {
			return err
		}
		_, err := codec.DecodePrimaryWindows(p, meta, have, store, min(budget/2, spillWindowCap))
		return err
	}
	if err := c.fetchForDecode(ctx, com, id, meta, sink); err != nil {
		return 0, err
	}
	// Every systematic sliver is in the file now: copy the range out.
	pool = nil
	buf := make([]byte, min(int64(rowSize), to-from, 4<<20))
	var written int64
	for off := from; off < to; {
		n := min(int64(len(buf)), to-off, int64(rowSize)-off%int64(rowSize)) // within one row
		row := int(off / int64(rowSize))
		if err := store.ReadSliverAt(row, buf[:n], int(off%int64(rowSize))); err != nil {
			return written, fmt.Errorf("client: read spill file: %w", err)
		}
		m, err := writeAll(w, buf[:n])
		written += m
		if err != nil {
			return written, err
		}
		off += n
	}
	return written, nil
}
