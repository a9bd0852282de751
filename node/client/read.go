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
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/blobstatus"
	"github.com/walrus-go/walrus-go/p2p/protocol/metadata"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

// membersByWeight returns member indices, heaviest first (ties by index): heavier members
// answer for more shards, so asking them first needs fewer round trips.
func membersByWeight(com *epoch.Committee) []int {
	idx := make([]int, len(com.Members))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return com.Members[b].Weight() - com.Members[a].Weight() })
	return idx
}

// Metadata fetches the blob's metadata from the committee and returns the first copy that
// verifies against id (docs/protocol.md §3). Members are asked heaviest first; a member that
// fails or lies is skipped at once, and one that is slow gets company after
// Config.HedgeDelay, so neither can stall the read.
func (c *Client) Metadata(ctx context.Context, com *epoch.Committee, id codec.BlobID) (codec.Metadata, error) {
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

// Read fetches, verifies and decodes blob id from committee com (docs/architecture.md §5 "Read"):
// metadata from any member, then primary slivers from their shards' owners in parallel,
// R at first (systematic ones, which need no decoding) and more when members fail, lie or
// are slow; every sliver is verified against the metadata and dropped if it fails; the
// decode runs the default consistency check. An inconsistent blob is ErrInvalidBlob.
func (c *Client) Read(ctx context.Context, com *epoch.Committee, id codec.BlobID) ([]byte, error) {
	p := c.cfg.Params
	meta, err := c.Metadata(ctx, com, id)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Candidates: usable primary indices, systematic ones first (they make the decode
	// cheapest), each with the member owning its pair's shard (docs/protocol.md §2).
	const (
		pending = iota // not chosen
		queued         // chosen, waiting for a free lane of its owner
		asked          // in a request
		done           // verified
	)
	limit := p.UsablePrimarySlivers()
	owner := make([]int, limit)
	state := make([]uint8, limit)
	for i := range owner {
		owner[i] = com.Owner(p.ShardForPair(id, i))
	}
	bad := make(map[int]bool)          // members that failed or lied: not asked again
	busy := make(map[int]int)          // "busy" answers per member
	backoff := make(map[int]time.Time) // a busy member is asked again from then on
	lanes := make(map[int]int)         // requests in flight per member
	heard := make(map[int]time.Time)   // a member's last answer, or when it was first asked
	slow := make(map[int]bool)         // silent for HedgeDelay with requests out: replaced
	verified := make(map[int]codec.Sliver)
	nQueued, nAsked := 0, 0
	// Ask for exactly R at first and add margin more only when a request fails or is slow
	// (the hedge): over-requesting up front cost ~12% more fetching and verifying on every
	// read for no gain when the committee is healthy (docs/architecture.md §5).
	margin := max(1, p.R/8)
	symbol, err := meta.SymbolSize(p)
	if err != nil {
		return nil, err
	}
	rowSize := p.PrimarySliverSize(symbol)
	// At most ReadRequestBytes of slivers per request, below the protocol's cap: the
	// first R primaries usually belong to one or two members (shards are contiguous
	// ranges), and smaller requests keep several streams, and both cores, busy.
	perReq := sliver.GetsPerRequest(p, rowSize, c.cfg.ReadRequestBytes)
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
	rows := 0 // verified systematic slivers

	results := make(chan fetched)
	running := 0
	defer func() {
		cancel()
		for ; running > 0; running-- {
			<-results
		}
	}()

	// choose queues further candidates, lowest index first, until verified + queued +
	// asked covers want. Members that failed are skipped; so, when spread is set (a hedge
	// or a replacement), are members whose lanes are all taken: more requests queued
	// behind a slow member would not help.
	choose := func(want int, spread bool) {
		now := time.Now()
		for i := 0; i < limit && len(verified)+nQueued+nAsked < want; i++ {
			m := owner[i]
			if state[i] != pending || bad[m] || slow[m] || spread && (lanes[m] >= c.cfg.ReadDepth || now.Before(backoff[m])) {
				continue
			}
			state[i] = queued
			nQueued++
		}
	}
	// dispatch sends queued candidates to their owners, up to perReq per request, while
	// the owner has a free lane and is not backing off.
	dispatch := func() {
		now := time.Now()
		for i := 0; i < limit && nQueued > 0; i++ {
			mi := owner[i]
			if state[i] != queued || lanes[mi] >= c.cfg.ReadDepth || now.Before(backoff[mi]) {
				continue
			}
			var refs []int
			for j := i; j < limit && len(refs) < perReq; j++ {
				if state[j] == queued && owner[j] == mi {
					refs = append(refs, j)
					state[j] = asked
				}
			}
			nQueued -= len(refs)
			nAsked += len(refs)
			if lanes[mi] == 0 {
				heard[mi] = now
			}
			lanes[mi]++
			running++
			go func() {
				results <- c.fetchPrimaries(ctx, &meta, id, &com.Members[mi], mi, refs, dst)
			}()
		}
	}
	// retry wakes the loop when a busy member with queued candidates may be asked again.
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	// A member whose backoff ended between dispatch and here is woken for at once.
	armRetry := func() {
		var next time.Time
		for i := 0; i < limit; i++ {
			m := owner[i]
			if at := backoff[m]; state[i] == queued && !at.IsZero() && lanes[m] < c.cfg.ReadDepth && (next.IsZero() || at.Before(next)) {
				next = at
			}
		}
		if !next.IsZero() {
			retry.Reset(max(time.Millisecond, time.Until(next)))
		}
	}

	want := p.R
	choose(want, false)
	dispatch()
	hedge := time.NewTimer(c.cfg.HedgeDelay)
	defer hedge.Stop()
	tried := -1 // len(verified) at the last decode attempt
	for {
		if rows == p.R {
			return blob[:meta.UnencodedLength:meta.UnencodedLength], nil
		}
		if len(verified) >= p.R && len(verified) != tried {
			tried = len(verified)
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
			want = len(verified) + margin // the codec needs a different set: ask for more
			choose(want, true)
			dispatch()
		}
		if running == 0 && nQueued == 0 {
			return nil, fmt.Errorf("%w: %d of %d verified for %s", ErrNotEnoughSlivers, len(verified), p.R, id)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-hedge.C:
			// A member with requests out that has not answered for HedgeDelay is slow:
			// everything it was asked, and everything waiting for it, is asked of others
			// now, at once (its answers still count if they come). One margin per hedge
			// instead took a hedge round per R/8 slivers a stalled member held.
			now := time.Now()
			newly := false
			for m, n := range lanes {
				if n > 0 && !slow[m] && now.Sub(heard[m]) >= c.cfg.HedgeDelay {
					slow[m], newly = true, true
					c.cfg.Logger.Debug("read: node slow, asking others", "blob_id", id,
						"node", fmt.Sprintf("%x", com.Members[m].Node[:4]), "requests", n)
				}
			}
			if newly {
				lost := 0
				for i := 0; i < limit; i++ {
					if !slow[owner[i]] {
						continue
					}
					switch state[i] {
					case queued:
						state[i] = pending
						nQueued--
					case asked:
						lost++
					}
				}
				counted := len(verified) + nQueued + nAsked
				want = max(want, counted+max(0, p.R-(counted-lost))+margin)
				choose(want, true)
				dispatch()
			}
			// Check again when the next member with requests out could turn slow.
			next := c.cfg.HedgeDelay
			for m, n := range lanes {
				if n > 0 && !slow[m] {
					next = min(next, max(time.Millisecond, c.cfg.HedgeDelay-now.Sub(heard[m])))
				}
			}
			hedge.Reset(next)
		case <-retry.C:
			dispatch()
			armRetry()
		case r := <-results:
			running--
			lanes[r.member]--
			heard[r.member] = time.Now()
			// A slow member that answers is not slow any more: what it still owns may be
			// asked of it again (every index has one owner, so no one else can deliver it).
			delete(slow, r.member)
			for _, s := range r.slivers {
				if state[s.Index] != asked {
					continue // cannot happen: each candidate is in one request at a time
				}
				if int(s.Index) < p.R {
					rows++
				}
				verified[int(s.Index)] = s
				state[s.Index] = done
				nAsked--
			}
			// A busy member is asked again for the rest, after a backoff, a few times
			// before it counts as failed.
			again := r.err != nil && retryable(r.err) && busy[r.member] < c.cfg.Retries && !bad[r.member]
			for _, ref := range r.refs {
				if state[ref] != asked {
					continue
				}
				nAsked--
				if again {
					state[ref] = queued
					nQueued++
					continue
				}
				state[ref] = pending // someone else must deliver it
				if r.err == nil {
					r.err = fmt.Errorf("sliver %d missing", ref)
				}
			}
			switch {
			case r.err == nil:
			case again && time.Now().Before(backoff[r.member]):
				// Another of the requests in flight when the member turned busy: the
				// backoff already covers it, and counts once.
			case again:
				busy[r.member]++
				backoff[r.member] = time.Now().Add(c.cfg.RetryDelay << (busy[r.member] - 1))
			default:
				bad[r.member] = true
				c.cfg.Logger.Debug("read from node failed", "blob_id", id,
					"node", fmt.Sprintf("%x", com.Members[r.member].Node[:4]), "err", r.err)
				for i := 0; i < limit; i++ {
					if state[i] == queued && owner[i] == r.member {
						state[i] = pending
						nQueued--
					}
				}
				// The replacements get a little company too.
				want = max(want, len(verified)+nQueued+nAsked+margin)
			}
			choose(want, true)
			dispatch()
			armRetry()
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
