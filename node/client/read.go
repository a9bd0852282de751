package client

import (
	"context"
	"errors"
	"fmt"
	"io"
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
// systematic sliver they need cannot be fetched.
func (c *Client) readWithMetadata(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta codec.Metadata) ([]byte, error) {
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
		return nil, err
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
		return nil, err
	}
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
				results <- c.fetchPrimaries(ctx, &meta, id, &com.Members[req.Member], req.Member, req.Indices, dst)
			}()
		}
		wake.Stop()
		if !out.Wake.IsZero() {
			wake.Reset(time.Until(out.Wake))
		}
		switch out.Status {
		case sched.Complete:
			return blob[:meta.UnencodedLength:meta.UnencodedLength], nil
		case sched.TryDecode:
			data, err := c.decode(&meta, verified)
			if err == nil {
				return data, nil
			}
			if errors.Is(err, codec.ErrInconsistentBlob) {
				return nil, fmt.Errorf("%w: %s: %w", ErrInvalidBlob, id, err)
			}
			if !errors.Is(err, codec.ErrNotEnoughSlivers) {
				return nil, err
			}
			ev = sched.NeedMore{} // the codec needs a different set: ask for more
			continue
		case sched.NotEnough:
			return nil, fmt.Errorf("%w: %d of %d verified for %s", ErrNotEnoughSlivers, len(verified), p.R, id)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake.C:
			ev = sched.Tick{}
		case r := <-results:
			running--
			a := sched.Answer{Request: sched.Request{Member: r.member, Indices: r.refs}, Outcome: sched.OK}
			for _, s := range r.slivers {
				verified[int(s.Index)] = s
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
