package blobstore

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/walrus-go/walrus-go/codec"
	nodestore "github.com/walrus-go/walrus-go/node/store"
)

// Holdings is what the store holds, as one walk of the blob keys finds it (what a node's
// status reports as blobs and slivers held).
type Holdings struct {
	// Blobs is how many blobs have metadata stored.
	Blobs uint64
	// Slivers is how many slivers are stored whole: two per pair marker (a pair marker is
	// written after both slivers of its pair and dropped with either).
	Slivers uint64
	// SliverBytes is those slivers' size: each pair's primary and secondary sliver lengths
	// as the blob's metadata gives them (the bytes served, not the bytes on disk).
	SliverBytes uint64
	// Capped says the walk stopped early (its key bound, or ctx), so every count is a lower
	// bound.
	Capped bool
}

// Holdings counts the blobs and slivers the store holds in one walk of the blob keys in key order
// (metadata and pair markers; no sliver is read), visiting at most maxKeys keys (0: no
// bound). Each blob with a pair marker costs one lend of its metadata's length. When ctx
// ends or maxKeys is reached the walk stops and returns what it counted with Capped set and
// a nil error (an ended ctx that stopped nothing is no error either).
func (s *Store) Holdings(ctx context.Context, maxKeys int) (Holdings, error) {
	prefix := nodestore.BlobsPrefix.String() + "/"
	res, err := s.ds.Query(ctx, query.Query{Prefix: prefix, KeysOnly: true, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return Holdings{}, fmt.Errorf("blobstore: query blobs: %w", err)
	}
	defer res.Close()
	var h Holdings
	var cur string // the hex ID of the blob whose keys are being visited
	var hasMeta bool
	var pairs uint64
	flush := func() error {
		if cur == "" || pairs == 0 {
			return nil
		}
		h.Slivers += 2 * pairs
		if !hasMeta {
			return nil // pair markers without metadata: garbage collection mid-way
		}
		n, err := s.pairBytes(ctx, cur)
		if err != nil {
			return err
		}
		h.SliverBytes += pairs * n
		return nil
	}
	for visited := 0; ; visited++ {
		if (maxKeys > 0 && visited >= maxKeys) || (visited%4096 == 0 && ctx.Err() != nil) {
			h.Capped = true
			return h, nil
		}
		r, ok := res.NextSync()
		if !ok {
			break
		}
		if r.Error != nil {
			if ctx.Err() != nil {
				h.Capped = true
				return h, nil
			}
			return h, fmt.Errorf("blobstore: query blobs: %w", r.Error)
		}
		// /blobs/<64 hex>/meta, /blobs/<64 hex>/pairs/<5 digits>, other markers.
		rest, ok := strings.CutPrefix(r.Key, prefix)
		if !ok || len(rest) < 2*len(codec.BlobID{})+1 || rest[2*len(codec.BlobID{})] != '/' {
			continue
		}
		id, kind := rest[:2*len(codec.BlobID{})], rest[2*len(codec.BlobID{})+1:]
		if id != cur {
			if err := flush(); err != nil {
				return h, err
			}
			cur, hasMeta, pairs = id, false, 0
		}
		switch {
		case kind == "meta":
			hasMeta = true
			h.Blobs++
		case strings.HasPrefix(kind, "pairs/") && len(kind) == len("pairs/")+5:
			pairs++
		}
	}
	if err := flush(); err != nil {
		return h, err
	}
	return h, nil
}

// pairBytes is the size of one sliver pair (primary and secondary) of the blob with hex ID
// hexID, from the unencoded length in its stored metadata (Walrus's BlobMetadata::V1: version
// byte, encoding type, then the length as a little-endian u64).
func (s *Store) pairBytes(ctx context.Context, hexID string) (uint64, error) {
	var id codec.BlobID
	if _, err := hex.Decode(id[:], []byte(hexID)); err != nil {
		return 0, nil // not a blob key this store wrote
	}
	b, release, err := nodestore.Lend(ctx, s.ds, MetadataKey(id))
	if errors.Is(err, datastore.ErrNotFound) {
		return 0, nil // removed since the walk saw it
	}
	if err != nil {
		return 0, fmt.Errorf("blobstore: metadata of %s: %w", id, err)
	}
	defer release()
	if len(b) < 10 {
		return 0, fmt.Errorf("blobstore: stored metadata of %s: %d bytes", id, len(b))
	}
	symbol, err := s.p.SymbolSize(binary.LittleEndian.Uint64(b[2:10]))
	if err != nil {
		return 0, fmt.Errorf("blobstore: stored metadata of %s: %w", id, err)
	}
	return uint64(s.p.PrimarySliverSize(symbol) + s.p.SecondarySliverSize(symbol)), nil
}
