package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/hugemem"
	"github.com/walrus-go/walrus-go/node/client/sched"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
	"github.com/walrus-go/walrus-go/staking"
)

// Reads that cost what they return (docs/architecture.md §5 "Read"). Systematic primary
// sliver r is row r of the blob's source matrix, so bytes [off, off+n) of a blob are the
// rows codec.SpanOf names, each verifiable on its own against the metadata (its hash is
// primary_hash[r]) with no decoding. ReadRange fetches just those rows; ReadTo and
// ReadRangeTo fetch them a bounded window at a time and write them out in order as they
// verify. When a row cannot be had from the member holding it (down, lying, busy past its
// retries, or silent for 1 + slowPatience hedge delays: each row has exactly one holder,
// so nobody else can stand in), they fall back to Read's path, which fetches any R primary
// slivers and decodes.
//
// What they guarantee, beside Read (docs/protocol.md §4): every byte returned or written
// comes from a primary sliver verified against metadata verified against the blob ID, or
// from the fallback's decode, which runs the default consistency check. Walrus's default
// check verifies the R systematic primary slivers of the read against the metadata; here
// exactly the rows that hold returned bytes are verified, so the bytes are the ones that
// check would accept. Two differences: rows outside the range (and the rows that are all
// padding past the blob's end; an empty range or blob fetches the metadata only) are
// neither fetched nor checked, and a streaming read that falls back after writing some
// rows leaves those (verified) bytes written when the decode then finds the blob
// inconsistent (ErrInvalidBlob), where a Read that had to decode returns the error and no
// bytes. As with Walrus's default check, a reader that gets every systematic row it needs
// returns them even if the blob's other slivers are inconsistent; the ledger's invalid
// marker, which Session checks before every read, is what makes all readers agree.
// TestReadInconsistentBlob pins each of these down.

// ErrRangeNotSatisfiable: the byte range asked for does not lie within the blob (an HTTP
// gateway answers 416). The error in the chain is a *RangeError, which carries the blob's
// length.
var ErrRangeNotSatisfiable = errors.New("client: byte range not satisfiable")

// RangeError is a byte range [Off, Off+N) that does not lie within a blob of Length bytes.
// errors.Is(err, ErrRangeNotSatisfiable) holds for it.
type RangeError struct {
	Off, N int64
	Length uint64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("%v: %d bytes at offset %d of a %d-byte blob", ErrRangeNotSatisfiable, e.N, e.Off, e.Length)
}

// Unwrap makes errors.Is(err, ErrRangeNotSatisfiable) hold.
func (e *RangeError) Unwrap() error { return ErrRangeNotSatisfiable }

// DefaultStreamWindow is how many bytes of slivers a streaming read (ReadTo, ReadRangeTo)
// holds at most, when ReadOptions.WindowBytes is zero: two halves, one being written while
// the other is fetched, of at least one primary sliver each.
const DefaultStreamWindow = 64 << 20

// ReadOptions tune ReadRangeWith, ReadToWith and ReadRangeTo.
type ReadOptions struct {
	// Metadata, when not nil, is the blob's metadata as the caller already has it (from
	// Client.Metadata, say, to learn the blob's length before choosing a range): it is
	// checked against the blob ID again (codec.VerifyMetadata) and not fetched.
	Metadata *codec.Metadata
	// WindowBytes bounds the slivers a streaming read holds (default DefaultStreamWindow;
	// at least two primary slivers whatever the value). The fallback decode is not bound
	// by it: a decode needs R whole slivers (see MemoryBudget).
	WindowBytes int
	// MemoryBudget bounds what the fallback decode of a streaming read holds (default
	// DefaultReadBudget): a blob whose decode in memory (about four times the blob) does
	// not fit it is decoded through a temporary file in SpillDir (os.TempDir() if empty)
	// that holds the slivers fetched, a window of columns at a time, in at most about a
	// quarter of the budget for slivers on their way in and half for the decode (32 and 64
	// MiB at most: more makes no read faster). ReadRangeWith's fallback too (beside the
	// range it returns).
	MemoryBudget int64
	SpillDir     string
}

func (o *ReadOptions) window() int {
	if o.WindowBytes <= 0 {
		return DefaultStreamWindow
	}
	return o.WindowBytes
}

// errNeedDecode: a systematic sliver a range read needs could not be fetched and verified
// from its holder; the read falls back to the decode path.
var errNeedDecode = errors.New("client: a systematic sliver is unavailable")

// slowPatience is how many hedge delays a range read waits, beyond the hedge delay
// itself, for a member that has gone silent with its rows before it falls back to a
// decode. Read's hedge is cheap (a few more slivers from others), but a row has a single
// holder, so a range read's only hedge is the decode: R whole slivers, the whole blob
// fetched and held, for a range of one byte. Falling back at the first hedge turned busy
// moments of a loaded machine into full decodes (ReadTo of 64 MiB at n = 1000 on the
// 2-core VM: 1.6 × Read's time, 3 × its window allocated); a stalled member costs a
// range read 1 + slowPatience hedge delays (8 s by default) before the decode.
const slowPatience = 3

// ReadRange returns bytes [off, off+n) of blob id, fetching the metadata and only the
// systematic primary slivers that hold them, each verified against the metadata. If one
// of them cannot be fetched from its holder the read falls back to Read's fetch and
// decode. A range outside the blob (off < 0, n < 0, off+n beyond its length) is a
// *RangeError (ErrRangeNotSatisfiable); n = 0 at an offset within the blob reads nothing
// but the metadata. The guarantees beside Read are stated above ReadRange's code.
func (c *Client) ReadRange(ctx context.Context, com *epoch.Committee, id codec.BlobID, off, n int64) ([]byte, error) {
	return c.ReadRangeWith(ctx, com, id, off, n, ReadOptions{})
}

// ReadRangeWith is ReadRange with options (ReadOptions.WindowBytes does not apply: the
// range is held whole anyway).
func (c *Client) ReadRangeWith(ctx context.Context, com *epoch.Committee, id codec.BlobID, off, n int64, o ReadOptions) ([]byte, error) {
	meta, err := c.metadataFor(ctx, com, id, o.Metadata)
	if err != nil {
		return nil, err
	}
	sp, err := c.span(&meta, off, n)
	if err != nil {
		return nil, err
	}
	if sp.Len == 0 {
		return []byte{}, nil
	}
	// The rows are read from the network straight into place, one after another, like
	// Read's blob; allocated when the first sliver arrives (see Read).
	var buf []byte
	var alloc sync.Once
	dst := func(i int) []byte {
		alloc.Do(func() { buf = hugemem.Bytes(sp.Rows() * sp.RowBytes) })
		j := i - sp.First
		return buf[j*sp.RowBytes : (j+1)*sp.RowBytes]
	}
	err = c.fetchRows(ctx, com, id, &meta, sp.First, sp.End, c.cfg.ReadDepth, dst, nil)
	if err == nil {
		out := buf[sp.Skip : sp.Skip+int(n) : sp.Skip+int(n)]
		if len(buf) > 2*len(out) {
			out = bytes.Clone(out) // do not pin up to two whole rows for a short range
		}
		return out, nil
	}
	if !errors.Is(err, errNeedDecode) {
		return nil, err
	}
	c.cfg.Logger.Debug("read range: falling back to a decode", "blob_id", id, "err", err)
	buf = nil
	out := bytes.NewBuffer(make([]byte, 0, n))
	if _, err := c.readDecodedTo(ctx, com, id, &meta, off, off+n, out, o); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// metadataFor returns the blob's verified metadata: given checked against id, or fetched.
func (c *Client) metadataFor(ctx context.Context, com *epoch.Committee, id codec.BlobID, given *codec.Metadata) (codec.Metadata, error) {
	if given == nil {
		return c.Metadata(ctx, com, id)
	}
	if err := c.CheckCommittee(com); err != nil {
		return codec.Metadata{}, err
	}
	m := *given
	m.Hashes = slices.Clone(m.Hashes) // the caller's copy may change after the check
	if err := codec.VerifyMetadata(c.cfg.Params, id, &m); err != nil {
		return codec.Metadata{}, err
	}
	return m, nil
}

// span locates [off, off+n) in the blob meta describes, or returns a *RangeError.
func (c *Client) span(meta *codec.Metadata, off, n int64) (codec.RowSpan, error) {
	if off < 0 || n < 0 {
		return codec.RowSpan{}, &RangeError{Off: off, N: n, Length: meta.UnencodedLength}
	}
	sp, err := c.cfg.Params.SpanOf(meta.UnencodedLength, uint64(off), uint64(n))
	if errors.Is(err, codec.ErrRangeOutOfBounds) {
		return codec.RowSpan{}, &RangeError{Off: off, N: n, Length: meta.UnencodedLength}
	}
	return sp, err
}

// fetchRows fetches systematic primary slivers first..end-1 from the members holding
// them, each read into dst(index) and verified against meta there (fetchPrimaries), and
// calls onVerified(index) (when not nil) once for each as soon as it has verified, from
// the goroutine of its request (so concurrently), before its request's answer is in. It
// returns nil once all have verified, errNeedDecode (wrapped) as soon as one cannot come:
// its holder failed or lied, or stayed silent for the hedge delay and slowPatience more
// (sched.Read reports it slow after the first). sched.Read schedules the requests over
// just these candidates (its R is their count), so busy members are retried after a
// backoff and at most depth requests go to one member at once; with no other candidate
// to turn to, a failure or a member out of patience ends the attempt.
func (c *Client) fetchRows(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta *codec.Metadata, first, end, depth int, dst func(int) []byte, onVerified func(int)) error {
	p := c.cfg.Params
	symbol, err := meta.SymbolSize(p)
	if err != nil {
		return err
	}
	if first < 0 || end > p.R || first >= end {
		return fmt.Errorf("client: fetchRows: rows [%d, %d) of %d", first, end, p.R)
	}
	rowSize := p.PrimarySliverSize(symbol)
	owner := make([]int, end-first)
	for i := range owner {
		owner[i] = com.Owner(p.ShardForPair(id, first+i))
	}
	schedule, err := sched.NewRead(sched.ReadConfig{
		R:          end - first,
		Owner:      owner,
		Margin:     1, // there is nobody else to ask
		PerRequest: sliver.GetsPerRequest(p, rowSize, c.cfg.ReadRequestBytes),
		Depth:      max(1, depth),
		Retries:    c.cfg.Retries,
		RetryDelay: c.cfg.RetryDelay,
		HedgeDelay: c.cfg.HedgeDelay,
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan fetched)
	running := 0
	defer func() {
		cancel()
		for ; running > 0; running-- {
			<-results
		}
	}()
	wake := time.NewTimer(time.Hour)
	wake.Stop()
	defer wake.Stop()
	// Members reported slow, since when; an answer takes a member off. give fires when
	// the earliest one's patience runs out.
	slowSince := map[int]time.Time{}
	give := time.NewTimer(time.Hour)
	give.Stop()
	defer give.Stop()
	patience := slowPatience * c.cfg.HedgeDelay
	// Each row is in one request at a time and verified once, but a row's second
	// verification must not reach onVerified whatever happens.
	var seenMu sync.Mutex
	seen := make([]bool, end-first)
	var each func(int)
	if onVerified != nil {
		each = func(i int) {
			seenMu.Lock()
			again := seen[i-first]
			seen[i-first] = true
			seenMu.Unlock()
			if !again {
				onVerified(i)
			}
		}
	}
	var ev sched.ReadEvent = sched.Start{}
	var last fetched
	for {
		now := time.Now()
		out := schedule.Step(now, ev)
		for _, m := range out.Slow {
			slowSince[m] = now
			c.cfg.Logger.Debug("range read: node slow, waiting for it", "blob_id", id,
				"node", fmt.Sprintf("%x", com.Members[m].Node[:4]), "patience", patience)
		}
		give.Stop()
		if len(slowSince) > 0 {
			left := time.Duration(math.MaxInt64)
			for m, since := range slowSince {
				if now.Sub(since) >= patience {
					return fmt.Errorf("%w: node %x silent for %v", errNeedDecode, com.Members[m].Node[:4], c.cfg.HedgeDelay+now.Sub(since))
				}
				left = min(left, patience-now.Sub(since))
			}
			give.Reset(left)
		}
		if len(out.Failed) > 0 {
			return fmt.Errorf("%w: node %x: %w", errNeedDecode, com.Members[out.Failed[0]].Node[:4], last.failure())
		}
		for _, req := range out.Send {
			idx := make([]int, len(req.Indices))
			for k, i := range req.Indices {
				idx[k] = first + i
			}
			running++
			go func() {
				results <- c.fetchPrimariesEach(ctx, meta, id, &com.Members[req.Member], req.Member, idx, dst, each)
			}()
		}
		wake.Stop()
		if !out.Wake.IsZero() {
			wake.Reset(time.Until(out.Wake))
		}
		switch out.Status {
		case sched.Complete:
			return nil
		case sched.NotEnough, sched.TryDecode: // TryDecode cannot come: R is every candidate
			return fmt.Errorf("%w: %d of %d rows verified", errNeedDecode, schedule.Verified(), end-first)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake.C:
			ev = sched.Tick{}
		case <-give.C:
			ev = sched.Tick{} // the loop top finds whose patience ran out
		case r := <-results:
			running--
			delete(slowSince, r.member)
			local := make([]int, len(r.refs))
			for k, i := range r.refs {
				local[k] = i - first
			}
			a := sched.Answer{Request: sched.Request{Member: r.member, Indices: local}, Outcome: sched.OK}
			for _, s := range r.slivers {
				a.Verified = append(a.Verified, int(s.Index)-first)
			}
			switch {
			case r.err == nil:
			case retryable(r.err):
				a.Outcome = sched.Busy
			default:
				a.Outcome = sched.Failed
			}
			ev, last = a, r
		}
	}
}

// readableCommittee checks the blob's status on the ledger as Session.Read does (only a
// certified blob is read) and returns the committee to read it from.
func (s *Session) readableCommittee(ctx context.Context, id codec.BlobID) (*epoch.Committee, error) {
	st, err := s.Ledger.BlobStatus(ctx, id)
	if err != nil {
		return nil, err
	}
	switch st.Status.Kind {
	case staking.StatusCertified:
	case staking.StatusInvalid:
		return nil, fmt.Errorf("%w: blob %s is invalid", ErrInvalidBlob, id)
	case staking.StatusRegistered:
		return nil, fmt.Errorf("%w: blob %s is registered but not certified", ErrBlobUnavailable, id)
	case staking.StatusNonexistent:
		return nil, fmt.Errorf("%w: blob %s does not exist", ErrNotFound, id)
	default:
		return nil, fmt.Errorf("%w: blob %s is %s", ErrBlobUnavailable, id, st.Status.Kind)
	}
	return s.Ledger.ReadCommittee(ctx, st)
}
