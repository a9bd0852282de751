package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
)

// ReadTo writes blob id to w as it arrives: the metadata first, then the systematic
// primary slivers a window at a time (ReadOptions.WindowBytes, DefaultStreamWindow), each
// verified against the metadata and written in order as soon as every earlier one is, so
// the first bytes leave before the last sliver arrives and memory does not grow with the
// blob. If a systematic sliver cannot be fetched from its holder it falls back to Read's
// fetch and decode and writes what is left from the decoded blob: in memory when the
// decode fits ReadOptions.MemoryBudget, else through a temporary file, a window at a time
// (a decode needs R whole slivers, about the blob). It returns the number of bytes written; on an error
// those bytes are a verified prefix of the blob (see above ReadRange's code for what is
// verified, and how that compares with Read).
func (c *Client) ReadTo(ctx context.Context, com *epoch.Committee, id codec.BlobID, w io.Writer) (int64, error) {
	return c.ReadToWith(ctx, com, id, w, ReadOptions{})
}

// ReadToWith is ReadTo with options.
func (c *Client) ReadToWith(ctx context.Context, com *epoch.Committee, id codec.BlobID, w io.Writer, o ReadOptions) (int64, error) {
	meta, err := c.metadataFor(ctx, com, id, o.Metadata)
	if err != nil {
		return 0, err
	}
	return c.stream(ctx, com, id, &meta, 0, int64(meta.UnencodedLength), w, o)
}

// ReadRangeTo is ReadTo for bytes [off, off+n) of the blob (a *RangeError when they do not
// lie within it, as for ReadRange): it fetches only the systematic primary slivers that
// hold them, a window at a time.
func (c *Client) ReadRangeTo(ctx context.Context, com *epoch.Committee, id codec.BlobID, off, n int64, w io.Writer, o ReadOptions) (int64, error) {
	meta, err := c.metadataFor(ctx, com, id, o.Metadata)
	if err != nil {
		return 0, err
	}
	return c.stream(ctx, com, id, &meta, off, n, w, o)
}

// stream writes bytes [off, off+n) of the blob meta describes to w. The rows that hold
// them are cut into segments of half the window each; a launcher goroutine starts one
// segment's fetchRows whenever one of two buffer sets is free, so two segments are fetched
// at once (each with half the member depth) while this goroutine writes rows in order as
// they verify. A set is free again once its segment is written, so at most two segments'
// slivers are ever held, and a slow w only stops the fetching (nothing is in flight to
// turn slow meanwhile). Any segment needing a decode cancels the rest, and the rows not
// yet written come from a decode within o.MemoryBudget (readDecodedTo).
func (c *Client) stream(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta *codec.Metadata, off, n int64, w io.Writer, o ReadOptions) (int64, error) {
	window := o.window()
	sp, err := c.span(meta, off, n)
	if err != nil || sp.Len == 0 {
		return 0, err
	}
	perSet := min(sp.Rows(), max(1, window/2/sp.RowBytes))
	segments := (sp.Rows() + perSet - 1) / perSet
	depth := c.cfg.ReadDepth // one segment: all of it
	if segments > 1 {
		depth = max(1, (depth+1)/2) // two segments in flight share it
	}

	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Two sets of perSet row buffers; a buffer is allocated when a sliver first arrives
	// for its slot and reused by later segments.
	sets := make(chan [][]byte, 2)
	sets <- make([][]byte, perSet)
	sets <- make([][]byte, perSet)
	segSet := make([][][]byte, segments) // the set segment k uses, set before its rows verify
	rowBuf := make([][]byte, sp.Rows())  // row First+j's buffer while it is fetched and written
	// Every row is sent once, and only rows of the (at most two) segments holding a set:
	// the channel never fills.
	ready := make(chan int, 2*perSet)
	var (
		fetchErr error
		failOnce sync.Once
	)
	fail := func(err error) {
		failOnce.Do(func() { fetchErr = err; cancel() })
	}
	go func() {
		var wg sync.WaitGroup
		defer func() { wg.Wait(); close(ready) }()
		for k := range segments {
			var set [][]byte
			select {
			case set = <-sets:
			case <-fctx.Done():
				fail(fctx.Err())
				return
			}
			segSet[k] = set
			first := sp.First + k*perSet
			end := min(sp.End, first+perSet)
			var mu sync.Mutex
			dst := func(i int) []byte {
				mu.Lock()
				defer mu.Unlock()
				j := i - first
				if set[j] == nil {
					set[j] = make([]byte, sp.RowBytes)
				}
				rowBuf[i-sp.First] = set[j]
				return set[j]
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := c.fetchRows(fctx, com, id, meta, first, end, depth, dst, func(i int) { ready <- i }); err != nil {
					fail(err)
				}
			}()
		}
	}()

	got := make([]bool, sp.Rows())
	next := sp.First // the next row to write
	var written int64
	var werr error
	for i := range ready {
		if werr != nil {
			continue // draining after a failed write
		}
		got[i-sp.First] = true
		for next < sp.End && got[next-sp.First] {
			lo, hi := sp.Part(next)
			m, err := w.Write(rowBuf[next-sp.First][lo:hi])
			written += int64(m)
			if err == nil && m != hi-lo {
				err = io.ErrShortWrite
			}
			rowBuf[next-sp.First] = nil
			next++
			if (next-sp.First)%perSet == 0 || next == sp.End {
				sets <- segSet[(next-1-sp.First)/perSet] // never blocks: there are two
			}
			if err != nil {
				werr = err
				cancel()
				break
			}
		}
	}
	switch {
	case werr != nil:
		return written, werr
	case next == sp.End:
		return written, nil
	case ctx.Err() != nil:
		return written, ctx.Err()
	case fetchErr == nil:
		return written, fmt.Errorf("client: streaming read ended at row %d of [%d, %d) without an error", next, sp.First, sp.End)
	case !errors.Is(fetchErr, errNeedDecode):
		return written, fetchErr
	}
	// Fall back to the decode; drop the window first.
	c.cfg.Logger.Debug("streaming read: falling back to a decode", "blob_id", id, "written", written, "err", fetchErr)
	rowBuf, segSet = nil, nil
	for len(sets) > 0 {
		<-sets
	}
	m, err := c.readDecodedTo(ctx, com, id, meta, off+written, off+n, w, o)
	return written + m, err
}

// ReadRangeTo checks the blob's status on the ledger as Read does, then streams bytes
// [off, off+n) of it to w (Client.ReadRangeTo with default options).
func (s *Session) ReadRangeTo(ctx context.Context, id codec.BlobID, off, n int64, w io.Writer) (int64, error) {
	com, err := s.readableCommittee(ctx, id)
	if err != nil {
		return 0, err
	}
	return s.Client.ReadRangeTo(ctx, com, id, off, n, w, ReadOptions{})
}

// ReadToWith is Session.ReadTo with options (Client.ReadToWith).
func (s *Session) ReadToWith(ctx context.Context, id codec.BlobID, w io.Writer, o ReadOptions) (int64, error) {
	com, err := s.readableCommittee(ctx, id)
	if err != nil {
		return 0, err
	}
	return s.Client.ReadToWith(ctx, com, id, w, o)
}

// ReadRangeToWith is Session.ReadRangeTo with options (Client.ReadRangeTo).
func (s *Session) ReadRangeToWith(ctx context.Context, id codec.BlobID, off, n int64, w io.Writer, o ReadOptions) (int64, error) {
	com, err := s.readableCommittee(ctx, id)
	if err != nil {
		return 0, err
	}
	return s.Client.ReadRangeTo(ctx, com, id, off, n, w, o)
}
