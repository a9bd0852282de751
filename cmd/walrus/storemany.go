package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
)

// `walrus store a b c …` (several files, --parallel N at once, one progress display and a
// total cost) and `walrus store --dry-run FILE…` (encoded size, cost and fees, nothing
// stored).
// One session serves every file: its ledger client pipelines the transactions of the
// concurrent stores with consecutive nonces (node/client/nonce.go).

// defaultParallel is how many files `walrus store` stores at once by default.
const defaultParallel = 4

// storeFileResult is one file's outcome in `walrus store --json` with several files.
type storeFileResult struct {
	Path string `json:"path"`
	*client.StoreSummary
	ExpiresAt string `json:"expiresAt,omitempty"`
	Error     string `json:"error,omitempty"`
}

// checkFiles fails fast, before the network, on a missing, unreadable or too large file.
func checkFiles(paths []string, limit uint64) error {
	for _, p := range paths {
		if p == "-" {
			if len(paths) > 1 {
				return errors.New("stdin (-) can only be stored alone")
			}
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.IsDir() {
			return fmt.Errorf("%s: is a directory", p)
		}
		if size := uint64(st.Size()); st.Mode().IsRegular() && size > limit {
			return tooLarge(p, size, limit)
		}
	}
	return nil
}

// multiProgress is one progress line for several concurrent stores: bytes sent over all
// of them and files done.
type multiProgress struct {
	bar   progressBar
	mu    sync.Mutex
	sent  map[int]int64
	total map[int]int64
	done  int
	n     int
}

func newMultiProgress(p *progressBar, n int) *multiProgress {
	return &multiProgress{bar: progressBar{w: p.w}, sent: map[int]int64{}, total: map[int]int64{}, n: n}
}

func (m *multiProgress) update(i int, pr client.Progress) {
	m.mu.Lock()
	m.sent[i], m.total[i] = pr.BytesSent, pr.BytesTotal
	m.draw(false)
	m.mu.Unlock()
}

func (m *multiProgress) fileDone() {
	m.mu.Lock()
	m.done++
	m.draw(true)
	m.mu.Unlock()
}

// draw prints the line, at most every 100 ms unless forced. Callers hold m.mu.
func (m *multiProgress) draw(force bool) {
	b := &m.bar
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || (!force && time.Since(b.last) < 100*time.Millisecond) {
		return
	}
	b.last = time.Now()
	var sent, total int64
	for i, t := range m.total {
		sent, total = sent+m.sent[i], total+t
	}
	const width = 30
	frac := 0.0
	if total > 0 {
		frac = min(1, float64(sent)/float64(total))
	}
	k := int(frac * width)
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%%  %d/%d files stored ", strings.Repeat("#", k), strings.Repeat(".", width-k), 100*frac, m.done, m.n)
}

// storeMany stores every file, at most parallel at once, and prints per-file results and
// the total cost (or a JSON list). A failed file does not stop the others; the command
// then fails naming how many failed and the first error.
func storeMany(g *globals, s *client.Session, ctx context.Context, in *query.Info, paths []string, opts client.StoreOptions, parallel int, asJSON bool) error {
	results := make([]storeFileResult, len(paths))
	var mp *multiProgress
	if !asJSON && isTerminal(g.stderr) {
		mp = newMultiProgress(&progressBar{w: g.stderr}, len(paths))
	}
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, path := range paths {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i].Path = path
			o := opts
			if mp != nil {
				o.Progress = func(pr client.Progress) { mp.update(i, pr) }
			}
			// Mapped, not read into the heap: each store streams its file within its
			// share of the budget.
			data, unmap, err := mapBlob(path, maxBlobAnyGeometry())
			var sum *client.StoreSummary
			if err == nil {
				sum, err = s.Store(ctx, data, o)
				unmap()
			}
			if err != nil {
				results[i].Error = err.Error()
			} else {
				results[i].StoreSummary = sum
				results[i].ExpiresAt = epochStart(in, sum.EndEpoch)
			}
			if mp != nil {
				mp.fileDone()
			}
		}()
	}
	wg.Wait()
	if mp != nil {
		mp.bar.done()
	}
	var failed []storeFileResult
	var cost, fees uint64
	for _, r := range results {
		if r.Error != "" {
			failed = append(failed, r)
		} else {
			cost += r.Cost
			fees += r.Fee
		}
	}
	if asJSON {
		if err := printJSON(g.stdout, results); err != nil {
			return err
		}
	} else {
		kind := "Permanent"
		if opts.Deletable {
			kind = "Deletable"
		}
		for _, r := range results {
			if r.Error != "" {
				fmt.Fprintf(g.stdout, "Error: %s: %s\n", r.Path, r.Error)
				continue
			}
			state := "stored"
			if r.AlreadyCertified {
				state = "already certified"
			}
			fmt.Fprintf(g.stdout, "Success: %s blob %s: %s\n  Blob ID: %s\n  Unencoded size: %s, encoded: %s, cost: %s, fee: %s, expiry epoch (exclusive): %d (%s)\n",
				kind, state, r.Path, r.BlobID, humanBytes(r.UnencodedLength), humanBytes(r.EncodedLength), client.FormatWAL(r.Cost), client.FormatWAL(r.Fee), r.EndEpoch, r.ExpiresAt)
		}
		fmt.Fprintf(g.stdout, "Stored %d of %d files; total cost: %s, fees: %s\n", len(results)-len(failed), len(results), client.FormatWAL(cost), client.FormatWAL(fees))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d files failed; first: %s: %s", len(failed), len(results), failed[0].Path, failed[0].Error)
	}
	return nil
}

// dryRunFileResult is one file's estimate in `walrus store --dry-run --json`.
type dryRunFileResult struct {
	Path string `json:"path"`
	*client.StoreEstimate
	ExpiresAt string `json:"expiresAt"`
	// Balance is the wallet's balance now; BalanceAfter what is left after storing this
	// file and the ones before it in the list (0 with Shortfall when it does not cover them).
	Balance      uint64 `json:"balance"`
	BalanceAfter uint64 `json:"balanceAfter"`
	Shortfall    uint64 `json:"shortfall,omitempty"`
}

// storeDryRun prints what storing each file would take: blob ID, encoded size, cost of the
// storage, the fees of the store's transactions (reserve, register, certify), the total
// (0 for a blob already certified long enough), end epoch and the balance after; nothing
// is stored or paid.
func storeDryRun(g *globals, s *client.Session, ctx context.Context, in *query.Info, paths []string, epochs uint32, asJSON bool) error {
	estimate := func(p string) (*client.StoreEstimate, error) {
		data, unmap, err := mapBlob(p, maxBlobAnyGeometry())
		if err != nil {
			return nil, err
		}
		defer unmap()
		e, err := s.EstimateStore(ctx, data, epochs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return e, nil
	}
	return printStoreDryRun(g, s, ctx, in, paths, estimate, asJSON)
}

// printStoreDryRun prints the store estimates of paths (files, or a quilt or site under
// its name) against the wallet's balance.
func printStoreDryRun(g *globals, s *client.Session, ctx context.Context, in *query.Info, paths []string,
	estimate func(string) (*client.StoreEstimate, error), asJSON bool) error {
	addr, err := walletAddress(s)
	if err != nil {
		return err
	}
	acc, err := s.Ledger.Account(ctx, addr)
	if err != nil {
		return err
	}
	bal := acc.Account.Balance
	var out []dryRunFileResult
	var total, fees uint64
	for _, p := range paths {
		e, err := estimate(p)
		if err != nil {
			return err
		}
		if e.AlreadyCertified {
			e.Cost, e.Fee, e.Total = 0, 0, 0
		}
		total += e.Total
		fees += e.Fee
		r := dryRunFileResult{Path: p, StoreEstimate: e, ExpiresAt: epochStart(in, e.EndEpoch), Balance: bal}
		if total <= bal {
			r.BalanceAfter = bal - total
		} else {
			r.Shortfall = total - bal
		}
		out = append(out, r)
	}
	if asJSON {
		if len(out) == 1 {
			return printJSON(g.stdout, out[0])
		}
		return printJSON(g.stdout, out)
	}
	for _, r := range out {
		note := ""
		if r.AlreadyCertified {
			note = " (already certified until then: a store would reuse it)"
		}
		fmt.Fprintf(g.stdout, "Dry run: %s\n  Blob ID: %s\n  Unencoded size: %s\n  Encoded size (including replicated metadata): %s\n  Cost: %s for %d epochs%s\n  Fee: %s (3 transactions)\n  Total: %s\n  Expiry epoch (exclusive): %d (%s)\n",
			r.Path, r.BlobID, humanBytes(r.UnencodedLength), humanBytes(r.EncodedLength), client.FormatWAL(r.Cost), r.Epochs, note,
			client.FormatWAL(r.Fee), client.FormatWAL(r.Total), r.EndEpoch, r.ExpiresAt)
	}
	if len(out) > 1 {
		fmt.Fprintf(g.stdout, "Total cost: %s for %d files (fees %s); nothing stored\n", client.FormatWAL(total), len(out), client.FormatWAL(fees))
	}
	last := out[len(out)-1]
	if last.Shortfall > 0 {
		fmt.Fprintf(g.stdout, "Balance: %s: %s short, the store would fail\n", client.FormatWAL(bal), client.FormatWAL(last.Shortfall))
	} else {
		fmt.Fprintf(g.stdout, "Balance: %s -> %s\n", client.FormatWAL(bal), client.FormatWAL(last.BalanceAfter))
	}
	return nil
}
