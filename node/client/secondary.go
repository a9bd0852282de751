package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

// secondaryParallel bounds the sliver requests one ReadSecondarySlivers has in flight.
const secondaryParallel = 8

// ReadSecondarySlivers fetches secondary slivers cols of blob id (column c of the blob's
// source matrix is secondary sliver c: a quilt patch's bytes, docs/quilts.md §1) from the
// members holding them, each verified against the blob's metadata. meta is the metadata
// as the caller has it (from Metadata): it is checked against id again, as
// ReadOptions.Metadata is; nil fetches it. Each member gets a few requests of at most
// Config.ReadRequestBytes of slivers; no sliver is asked of anyone but its holder, so
// there is no hedging: a member that fails or lies fails its slivers.
//
// It returns the data of every sliver that verified, by index (R·s bytes each), and, when
// some did not, an error joining why (the map then holds the others). Indices must lie in
// [0, n); repeated ones are fetched once.
func (c *Client) ReadSecondarySlivers(ctx context.Context, com *epoch.Committee, id codec.BlobID, meta *codec.Metadata, cols []int) (map[int][]byte, error) {
	if err := c.CheckCommittee(com); err != nil {
		return nil, err
	}
	p := c.cfg.Params
	got := map[int][]byte{}
	if len(cols) == 0 {
		return got, nil
	}
	want := slices.Clone(cols)
	slices.Sort(want)
	want = slices.Compact(want)
	if want[0] < 0 || want[len(want)-1] >= p.N {
		return nil, fmt.Errorf("client: secondary sliver indices %d..%d outside [0, %d)", want[0], want[len(want)-1], p.N)
	}
	m, err := c.metadataFor(ctx, com, id, meta)
	if err != nil {
		return nil, err
	}
	symbol, err := m.SymbolSize(p)
	if err != nil {
		return nil, err
	}
	size := p.SecondarySliverSize(symbol)
	perReq := sliver.GetsPerRequest(p, size, c.cfg.ReadRequestBytes)
	byMember := map[int][]int{}
	for _, col := range want {
		mi := com.Owner(p.ShardForPair(id, p.SecondaryIndexOfPair(col)))
		byMember[mi] = append(byMember[mi], col)
	}
	type job struct {
		member int
		cols   []int
	}
	var jobs []job
	for _, mi := range slices.Sorted(maps.Keys(byMember)) {
		cs := byMember[mi]
		for len(cs) > 0 {
			k := min(len(cs), perReq)
			jobs = append(jobs, job{mi, cs[:k]})
			cs = cs[k:]
		}
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, secondaryParallel)
	for _, j := range jobs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return got, ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			part, err := c.getSecondaries(ctx, &m, id, &com.Members[j.member], j.cols, size)
			mu.Lock()
			defer mu.Unlock()
			for col, d := range part {
				got[col] = d
			}
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return got, errors.Join(errs...)
}

// getSecondaries asks one member for secondary slivers cols (each size bytes of data) and
// returns those that verified against meta.
func (c *Client) getSecondaries(ctx context.Context, meta *codec.Metadata, id codec.BlobID, m *epoch.Member, cols []int, size int) (map[int][]byte, error) {
	p := c.cfg.Params
	pid, err := c.memberPeer(m)
	if err != nil {
		return nil, err
	}
	refs := make([]sliver.Ref, len(cols))
	for i, col := range cols {
		refs[i] = sliver.Ref{Axis: codec.AxisSecondary, Index: uint16(col)}
	}
	got := map[int][]byte{}
	var errs []error
	err = p2p.CallStream(ctx, c.cfg.Host, pid, c.sliverProto, [][]byte{sliver.EncodeGet(id, refs)}, func(body io.Reader, _ int) error {
		return sliver.ReadItemResults(body, len(cols), func(i int, code p2p.Code, item io.Reader, _ int) error {
			if code != 0 {
				errs = append(errs, fmt.Errorf("secondary sliver %d: %v", cols[i], code))
				return nil
			}
			data := make([]byte, size)
			s, err := codec.ReadSliverBCS(p, codec.AxisSecondary, item, data)
			var one [1]byte
			if n, _ := item.Read(one[:]); err == nil && n > 0 {
				err = fmt.Errorf("%w: bytes after the sliver in its item", codec.ErrBadSliver)
			}
			if err == nil && int(s.Index) != cols[i] {
				err = fmt.Errorf("%w: asked for secondary sliver %d, got %d", codec.ErrBadSliver, cols[i], s.Index)
			}
			if err == nil {
				err = codec.VerifySliver(p, meta, &s)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("secondary sliver %d: %w", cols[i], err))
				return nil
			}
			got[cols[i]] = s.Data
			return nil
		})
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("node %x: %w", m.Node[:4], err))
	}
	return got, errors.Join(errs...)
}

// ReadSecondarySlivers checks the blob's status on the ledger as Read does, fetches its
// metadata and then secondary slivers cols (Client.ReadSecondarySlivers).
func (s *Session) ReadSecondarySlivers(ctx context.Context, id codec.BlobID, cols []int) (map[int][]byte, error) {
	com, err := s.readableCommittee(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.Client.ReadSecondarySlivers(ctx, com, id, nil, cols)
}
