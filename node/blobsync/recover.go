// Package blobsync is a storage node's self-healing (docs/architecture.md §5 "Blob sync"):
// recovering the slivers of its shards that it misses from the recovery symbols other nodes
// serve (p2p/protocol/recovery), with bandwidth proportional to what was lost.
//
// This file holds the fetcher: given a blob's verified metadata and the slivers to recover,
// it asks committee members for just enough symbols (the recovery threshold of each target's
// axis, plus a small margin), chosen heaviest member first, verifies every symbol against the
// metadata, asks others when a member fails or lies, and decodes. The blob-sync actor that
// decides what to recover and keeps durable progress is built on it.
package blobsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"

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
	// Logger receives debug logs (default: discarded).
	Logger *slog.Logger
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
	symbols := make([][]codec.RecoverySymbol, len(targets))
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
		sl, proof, err := codec.RecoverSliver(p, meta, axis, t.Index, symbols[i])
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
func (f *Fetcher) local(ctx context.Context, id codec.BlobID, meta *codec.Metadata, axis codec.Axis, targets []Target, symbols [][]codec.RecoverySymbol) int {
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
			if codec.VerifyRecoverySymbol(f.Params, meta, axis, targets[i].Index, &own[i][j]) == nil {
				symbols[i] = append(symbols[i], own[i][j])
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
func short(symbols [][]codec.RecoverySymbol, k int) bool {
	for _, ss := range symbols {
		seen := make(map[uint16]bool, len(ss))
		for i := range ss {
			seen[ss[i].Index] = true
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
	symbols       [][]codec.RecoverySymbol // per target, verified
	requests      int
	bytes         int64
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
// response cap, and verifies every symbol. A member that sends fewer than limit for a target,
// or any symbol that does not verify, fails as a whole: what it did send stays out.
//
// With bestEffort the member may send fewer than limit, or none (it holds no source sliver
// of the blob): what it sends still has to verify.
func (f *Fetcher) ask(ctx context.Context, m *epoch.Member, id codec.BlobID, targets []Target, limit int, meta *codec.Metadata, bestEffort bool) answer {
	p := f.Params
	a := answer{symbols: make([][]codec.RecoverySymbol, len(targets))}
	pid, err := p2p.MemberPeer(f.Host, m)
	if err != nil {
		a.err = err
		return a
	}
	symbolSize, err := meta.SymbolSize(p)
	if err != nil {
		a.err = err
		return a
	}
	perTarget := 3 + limit*recovery.SymbolAnswerLen(p.N, symbolSize)
	per := max(1, min((recovery.ResponseCap(p)-recovery.HeaderLen)/perTarget, recovery.MaxItems(p)))
	spec := recovery.Spec(p)
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
				for j := range syms[i] {
					if err := codec.VerifyRecoverySymbol(p, meta, chunk[i].Axis, chunk[i].Index, &syms[i][j]); err != nil {
						return fmt.Errorf("%s sliver %d: %w", chunk[i].Axis, chunk[i].Index, err)
					}
				}
				a.symbols[start+i] = syms[i]
			}
			return nil
		})
		if err != nil {
			a.err = err
			a.symbols = make([][]codec.RecoverySymbol, len(targets))
			return a
		}
	}
	return a
}
