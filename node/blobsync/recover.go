// Package blobsync is a storage node's self-healing (docs/architecture.md §5 "Blob sync"):
// recovering the slivers of its shards that it misses from the recovery symbols other nodes
// serve (p2p/protocol/recovery), with bandwidth proportional to what was lost.
//
// This file holds the fetcher: given a blob's verified metadata and the slivers to recover,
// it asks committee members for just enough symbols (the recovery threshold of each target's
// axis, plus a small margin), chosen heaviest member first, verifies every symbol against the
// metadata, asks others when a member fails or lies, and decodes. It speaks
// /walrus/recovery-symbol/2 (each source sliver answers all the targets of a request with
// one multiproof) and falls back to /1 (a proof per symbol) for a member that does not
// support it. The blob-sync actor that decides what to recover and keeps durable progress is
// built on it.
package blobsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/recovery"
)

// Errors of Recover.
var (
	// ErrNotEnough: the committee did not yield enough verified symbols for a target.
	ErrNotEnough = errors.New("blobsync: not enough recovery symbols")
	// ErrInconsistent wraps codec.ErrInconsistentBlob: the blob was encoded inconsistently;
	// the returned proof shows it.
	ErrInconsistent = errors.New("blobsync: blob is inconsistently encoded")
)

// Fetcher recovers slivers over the network.
type Fetcher struct {
	// Host opens the streams.
	Host host.Host
	// Params is the network's encoding geometry.
	Params codec.Params
	// Self is this node, never asked.
	Self epoch.NodeID
	// Local, if not nil, returns the symbols this node's own stored slivers contribute to
	// the given targets of one axis (dataplane.Service.LocalSymbols); they are verified
	// like any other and count before anyone is asked.
	Local func(ctx context.Context, id codec.BlobID, axis codec.Axis, indices []int) ([][]codec.RecoverySymbol, error)
	// Timeout bounds one request to a member, from opening the stream to the last byte of
	// its answer (default recovery.Timeout, a minute): a member that stalls, holding the
	// stream open without answering, fails then like one that lies, and the others are
	// asked for what it owed.
	Timeout time.Duration
	// Logger receives debug logs (default: discarded).
	Logger *slog.Logger
}

// timeout is the bound of one request.
func (f *Fetcher) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return recovery.Timeout
}

// Target is a sliver to recover.
type Target struct {
	Axis  codec.Axis
	Index int
}

// Stats counts what a Recover moved.
type Stats struct {
	// Requests is how many requests were sent; Failed how many failed or lied.
	Requests, Failed int
	// Symbols is how many symbols arrived; Needed how many the decodes needed.
	Symbols, Needed int
	// Bytes is the response bytes received.
	Bytes int64
	// V1 is how many members were asked over /walrus/recovery-symbol/1 because they do not
	// support version 2.
	V1 int
}

// Result is what Recover yields for a blob.
type Result struct {
	// Slivers are the recovered slivers, keyed by target.
	Slivers map[Target]*codec.Sliver
	// Proof, with ErrInconsistent, shows the blob is inconsistently encoded.
	Proof *codec.InconsistencyProof
	Stats Stats
}

// margin is how many symbols beyond the threshold are asked for up front (about 3%): a
// lying or failing member costs a second round only when more than that is lost.
func margin(k int) int { return max(1, k/32) }

// source is a member that can serve symbols for one target axis.
type source struct {
	member int
	avail  int // usable source slivers it holds
}

// Recover recovers targets (slivers of blob id, whose metadata meta has been verified
// against id) from committee com. Targets of one axis are asked of the same members in the
// same requests: each member is asked for at most as many symbols as it holds usable
// source slivers, heaviest first, until the threshold plus a margin is covered.
func (f *Fetcher) Recover(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta *codec.Metadata, targets []Target) (*Result, error) {
	res := &Result{Slivers: make(map[Target]*codec.Sliver, len(targets))}
	for _, axis := range []codec.Axis{codec.AxisSecondary, codec.AxisPrimary} {
		var ts []Target
		for _, t := range targets {
			if t.Axis == axis {
				ts = append(ts, t)
			}
		}
		if len(ts) == 0 {
			continue
		}
		if err := f.recoverAxis(ctx, com, id, meta, axis, ts, res); err != nil {
			return res, err
		}
	}
	return res, nil
}

func (f *Fetcher) logger() *slog.Logger {
	if f.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Logger
}

// sources lists the members that hold usable source slivers for targets of axis, heaviest
// first, this node excluded.
func (f *Fetcher) sources(com *epoch.Committee, id codec.BlobID, axis codec.Axis) []source {
	p := f.Params
	var out []source
	for i := range com.Members {
		m := &com.Members[i]
		if m.Node == f.Self {
			continue
		}
		avail := 0
		for _, sh := range m.Shards {
			pair := p.PairIndexForShard(id, int(sh))
			if axis == codec.AxisSecondary && pair >= p.UsablePrimarySlivers() {
				continue // its primary source cannot serve a secondary target
			}
			avail++
		}
		if avail > 0 {
			out = append(out, source{member: i, avail: avail})
		}
	}
	slices.SortStableFunc(out, func(a, b source) int { return b.avail - a.avail })
	return out
}

// recoverAxis recovers targets all of one axis.
func (f *Fetcher) recoverAxis(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta *codec.Metadata,
	axis codec.Axis, targets []Target, res *Result) error {
	p := f.Params
	k := p.RecoveryThreshold(axis)
	symbols := make([][]codec.ProvenSymbol, len(targets))
	cands := f.sources(com, id, axis)
	asked := make([]int, len(cands)) // symbols per target each answered in full so far
	failed := make([]bool, len(cands))
	want := k + margin(k)
	got := 0 // symbols per target from members that answered in full
	if f.Local != nil {
		got = f.local(ctx, id, meta, axis, targets, symbols)
	}
	for got < want {
		// Ask members, heaviest first, for what they have not given yet, until it covers
		// want. A member asked again answers its first symbols again (it serves its
		// sources in shard order): duplicates are dropped by the decode, and cost bytes
		// only in a round that follows a failure.
		var asks []source
		var limits, adds []int
		var idx []int
		for j, covered := 0, got; j < len(cands) && covered < want; j++ {
			room := cands[j].avail - asked[j]
			if failed[j] || room <= 0 {
				continue
			}
			n := min(room, want-covered)
			asks, limits, adds, idx = append(asks, cands[j]), append(limits, asked[j]+n), append(adds, n), append(idx, j)
			covered += n
		}
		if len(asks) == 0 {
			break // nobody left to ask: decode with what there is, or fail
		}
		for a, ans := range f.askAll(ctx, com, id, targets, asks, limits, meta, false) {
			res.Stats.Requests += ans.requests
			res.Stats.Bytes += ans.bytes
			res.Stats.V1 += ans.v1
			if ans.err != nil {
				res.Stats.Failed++
				failed[idx[a]] = true
				f.logger().Debug("recovery: node failed", "blob_id", id,
					"node", fmt.Sprintf("%x", com.Members[ans.member].Node[:4]), "err", ans.err)
				continue
			}
			for i := range targets {
				symbols[i] = append(symbols[i], ans.symbols[i]...)
				res.Stats.Symbols += len(ans.symbols[i])
			}
			asked[idx[a]] += adds[a]
			got += adds[a]
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if short(symbols, k) {
		// The committee's shard map undercounts what members store while an epoch change
		// is in progress (a member keeps the shards it lost until the change completes):
		// one last round asks every member that has not failed for all it has.
		var asks []source
		var limits []int
		for j := range com.Members {
			if com.Members[j].Node != f.Self && !failedMember(cands, failed, j) {
				asks, limits = append(asks, source{member: j}), append(limits, p.N)
			}
		}
		for _, ans := range f.askAll(ctx, com, id, targets, asks, limits, meta, true) {
			res.Stats.Requests += ans.requests
			res.Stats.Bytes += ans.bytes
			res.Stats.V1 += ans.v1
			if ans.err != nil {
				res.Stats.Failed++
				continue
			}
			for i := range targets {
				symbols[i] = append(symbols[i], ans.symbols[i]...)
				res.Stats.Symbols += len(ans.symbols[i])
			}
		}
	}
	for i, t := range targets {
		sl, proof, err := codec.RecoverSliverProven(p, meta, axis, t.Index, symbols[i])
		switch {
		case err == nil:
			res.Slivers[t] = sl
			res.Stats.Needed += k
		case errors.Is(err, codec.ErrInconsistentBlob):
			res.Proof = proof
			return fmt.Errorf("%w: %s: %w", ErrInconsistent, id, err)
		case errors.Is(err, codec.ErrNotEnoughSymbols):
			return fmt.Errorf("%w: %s %s sliver %d: %d symbols: %w", ErrNotEnough, id, axis, t.Index, len(symbols[i]), err)
		default:
			return err
		}
	}
	return nil
}

// local adds this node's own symbols to symbols and returns how many every target got.
func (f *Fetcher) local(ctx context.Context, id codec.BlobID, meta *codec.Metadata, axis codec.Axis, targets []Target, symbols [][]codec.ProvenSymbol) int {
	indices := make([]int, len(targets))
	for i, t := range targets {
		indices[i] = t.Index
	}
	own, err := f.Local(ctx, id, axis, indices)
	if err != nil || len(own) != len(targets) {
		f.logger().Debug("recovery: own symbols unavailable", "blob_id", id, "err", err)
		return 0
	}
	got := -1
	for i := range targets {
		n := 0
		for j := range own[i] {
			if ps, err := codec.ProveSymbol(f.Params, meta, axis, targets[i].Index, &own[i][j]); err == nil {
				symbols[i] = append(symbols[i], ps)
				n++
			}
		}
		if got < 0 || n < got {
			got = n
		}
	}
	return max(got, 0)
}

// short reports whether some target has fewer than k symbols from distinct sources.
func short(symbols [][]codec.ProvenSymbol, k int) bool {
	for _, ss := range symbols {
		seen := make(map[uint16]bool, len(ss))
		for i := range ss {
			seen[ss[i].Index()] = true
		}
		if len(seen) < k {
			return true
		}
	}
	return false
}

// failedMember reports whether member j is a candidate that failed.
func failedMember(cands []source, failed []bool, j int) bool {
	for c := range cands {
		if cands[c].member == j {
			return failed[c]
		}
	}
	return false
}

// answer is one member's outcome.
type answer struct {
	member, limit int
	symbols       [][]codec.ProvenSymbol // per target, verified
	requests      int
	bytes         int64
	v1            int // 1 if asked over version 1
	err           error
}

// askAll asks each of asks for limits[i] symbols per target, in parallel.
func (f *Fetcher) askAll(ctx context.Context, com *epoch.Committee, id codec.BlobID, targets []Target,
	asks []source, limits []int, meta *codec.Metadata, bestEffort bool) []answer {
	out := make([]answer, len(asks))
	var wg sync.WaitGroup
	for j := range asks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[j] = f.ask(ctx, &com.Members[asks[j].member], id, targets, limits[j], meta, bestEffort)
			out[j].member, out[j].limit = asks[j].member, limits[j]
		}()
	}
	wg.Wait()
	return out
}

// ask asks one member for up to limit symbols for each target, in requests that fit the
// response cap, and verifies every symbol before it is used. A member that sends fewer than
// limit for a target, or any symbol that does not verify, fails as a whole: what it did send
// stays out. Version 2 is used unless the member is known not to support it (libp2p's
// identify tells which protocols a peer serves); then version 1.
//
// With bestEffort the member may send fewer than limit, or none (it holds no source sliver
// of the blob): what it sends still has to verify.
func (f *Fetcher) ask(ctx context.Context, m *epoch.Member, id codec.BlobID, targets []Target, limit int, meta *codec.Metadata, bestEffort bool) answer {
	a := answer{symbols: make([][]codec.ProvenSymbol, len(targets))}
	pid, err := p2p.MemberPeer(f.Host, m)
	if err != nil {
		a.err = err
		return a
	}
	symbolSize, err := meta.SymbolSize(f.Params)
	if err != nil {
		a.err = err
		return a
	}
	if f.speaksV2(pid) {
		a.err = f.askV2(ctx, pid, id, targets, limit, meta, symbolSize, bestEffort, &a)
		if a.err == nil || f.speaksV2(pid) {
			if a.err != nil {
				a.symbols = make([][]codec.ProvenSymbol, len(targets))
			}
			return a
		}
		// The exchange taught us (identify) that it speaks version 1 only.
		a.symbols = make([][]codec.ProvenSymbol, len(targets))
	}
	a.v1 = 1
	if a.err = f.askV1(ctx, pid, id, targets, limit, meta, symbolSize, bestEffort, &a); a.err != nil {
		a.symbols = make([][]codec.ProvenSymbol, len(targets))
	}
	return a
}

// speaksV2 reports whether peer pid may serve /walrus/recovery-symbol/2: yes unless its
// protocols are known (identify ran) and do not include it.
func (f *Fetcher) speaksV2(pid peer.ID) bool {
	protos, err := f.Host.Peerstore().GetProtocols(pid)
	if err != nil || len(protos) == 0 {
		return true
	}
	return slices.Contains(protos, recovery.ID2)
}

// askV2 is ask over version 2: the targets, sorted, are cut into items whose worst-case
// answers (limit sources, each with its cells and its multiproof) fit the response cap, and
// the items into requests that fit it together.
func (f *Fetcher) askV2(ctx context.Context, pid peer.ID, id codec.BlobID, targets []Target, limit int,
	meta *codec.Metadata, symbolSize int, bestEffort bool, a *answer) error {
	p := f.Params
	order := make([]int, len(targets)) // positions in targets, by increasing index
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		if targets[x].Axis != targets[y].Axis {
			return int(targets[x].Axis) - int(targets[y].Axis)
		}
		return targets[x].Index - targets[y].Index
	})
	sorted := make([]int, 0, len(order))
	var pos []int // positions of sorted's distinct targets (a repeated target gets its first's symbols)
	for _, o := range order {
		if n := len(sorted); n > 0 && sorted[n-1] == targets[o].Index && targets[pos[n-1]].Axis == targets[o].Axis {
			continue
		}
		sorted, pos = append(sorted, targets[o].Index), append(pos, o)
	}
	room := recovery.ResponseCap2(p) - recovery.HeaderLen
	answerLen := func(ts []int) int {
		h, err := codec.MultiProofLen(p.N, ts)
		if err != nil {
			return room + 1
		}
		return recovery.ItemAnswerLen2(symbolSize, len(ts), h, limit)
	}
	type chunk struct {
		item recovery.Item
		pos  []int
		size int
	}
	var chunks []chunk
	for start := 0; start < len(sorted); {
		// The longest run of targets of one axis from start whose answer fits (one always
		// does).
		k := 1
		for start+k < len(sorted) && targets[pos[start+k]].Axis == targets[pos[start]].Axis {
			k++
		}
		if answerLen(sorted[start:start+k]) > room {
			lo, hi := 1, k // answerLen(lo) fits, hi does not
			for lo+1 < hi {
				mid := (lo + hi) / 2
				if answerLen(sorted[start:start+mid]) <= room {
					lo = mid
				} else {
					hi = mid
				}
			}
			k = lo
		}
		ts := sorted[start : start+k : start+k]
		chunks = append(chunks, chunk{item: recovery.Item{BlobID: id, Axis: targets[pos[start]].Axis, Targets: ts,
			Limit: uint16(limit)}, pos: pos[start : start+k], size: answerLen(ts)})
		start += k
	}
	spec := recovery.Spec2(p)
	spec.Timeout = f.timeout()
	for first := 0; first < len(chunks); {
		last, size, count := first, 0, 0
		for last < len(chunks) && (last == first || size+chunks[last].size <= room && count+len(chunks[last].pos) <= recovery.MaxTargets2(p)) {
			size += chunks[last].size
			count += len(chunks[last].pos)
			last++
		}
		req := chunks[first:last]
		first = last
		items := make([]recovery.Item, len(req))
		for i := range req {
			items[i] = req[i].item
		}
		a.requests++
		err := p2p.CallStream(ctx, f.Host, pid, spec, [][]byte{recovery.EncodeRequest2(p.N, items)}, func(body io.Reader, n int) error {
			a.bytes += int64(n)
			codes, batches, err := recovery.ReadResponse2(p, body, n, items, symbolSize)
			if err != nil {
				return err
			}
			for i := range req {
				if codes[i] != 0 && bestEffort && (codes[i] == p2p.CodeNotFound || codes[i] == p2p.CodeUnavailable) {
					continue
				}
				if codes[i] != 0 {
					return fmt.Errorf("%d targets from %s sliver %d: %v", len(items[i].Targets), items[i].Axis, items[i].Targets[0], codes[i])
				}
				if !bestEffort && len(batches[i]) < limit {
					return fmt.Errorf("%d targets from %s sliver %d: %d sources, asked %d", len(items[i].Targets), items[i].Axis,
						items[i].Targets[0], len(batches[i]), limit)
				}
				// Every batch of the item verifies before any of its cells is used.
				proven := make([][]codec.ProvenSymbol, len(batches[i]))
				for j := range batches[i] {
					if proven[j], err = codec.VerifySymbolBatch(p, meta, &batches[i][j]); err != nil {
						return fmt.Errorf("%s source %d: %w", items[i].Axis.Other(), batches[i][j].Index, err)
					}
				}
				for _, ps := range proven {
					for t, o := range req[i].pos {
						a.symbols[o] = append(a.symbols[o], ps[t])
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// askV1 is ask over version 1: a request item per target, each symbol with its own proof.
func (f *Fetcher) askV1(ctx context.Context, pid peer.ID, id codec.BlobID, targets []Target, limit int,
	meta *codec.Metadata, symbolSize int, bestEffort bool, a *answer) error {
	p := f.Params
	perTarget := 3 + limit*recovery.SymbolAnswerLen(p.N, symbolSize)
	per := max(1, min((recovery.ResponseCap(p)-recovery.HeaderLen)/perTarget, recovery.MaxItems(p)))
	spec := recovery.Spec(p)
	spec.Timeout = f.timeout()
	for start := 0; start < len(targets); start += per {
		chunk := targets[start:min(start+per, len(targets))]
		req := make([]recovery.Target, len(chunk))
		for i, t := range chunk {
			req[i] = recovery.Target{BlobID: id, Axis: t.Axis, Index: uint16(t.Index), Limit: uint16(limit)}
		}
		a.requests++
		err := p2p.CallStream(ctx, f.Host, pid, spec, [][]byte{recovery.EncodeRequest(req)}, func(body io.Reader, n int) error {
			a.bytes += int64(n)
			codes, syms, err := recovery.ReadResponse(p, body, req)
			if err != nil {
				return err
			}
			for i := range chunk {
				if codes[i] != 0 && bestEffort && (codes[i] == p2p.CodeNotFound || codes[i] == p2p.CodeUnavailable) {
					continue
				}
				if codes[i] != 0 {
					return fmt.Errorf("%s sliver %d: %v", chunk[i].Axis, chunk[i].Index, codes[i])
				}
				if !bestEffort && len(syms[i]) < limit {
					return fmt.Errorf("%s sliver %d: %d symbols, asked %d", chunk[i].Axis, chunk[i].Index, len(syms[i]), limit)
				}
				proven := make([]codec.ProvenSymbol, len(syms[i]))
				for j := range syms[i] {
					if proven[j], err = codec.ProveSymbol(p, meta, chunk[i].Axis, chunk[i].Index, &syms[i][j]); err != nil {
						return fmt.Errorf("%s sliver %d: %w", chunk[i].Axis, chunk[i].Index, err)
					}
				}
				a.symbols[start+i] = proven
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
