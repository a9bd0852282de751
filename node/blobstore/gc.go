package blobstore

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/walrus-go/walrus-go/codec"
	nodestore "github.com/walrus-go/walrus-go/node/store"
)

// Removal reasons, recorded in the "removed" marker garbage collection leaves behind.
const (
	RemovedExpired uint8 = 1 + iota
	RemovedDeleted
	RemovedInvalid
)

// RemovalReason names a removal reason ("expired", "deleted", "invalid").
func RemovalReason(r uint8) string {
	switch r {
	case RemovedExpired:
		return "expired"
	case RemovedDeleted:
		return "deleted"
	case RemovedInvalid:
		return "invalid"
	}
	return fmt.Sprintf("reason(%d)", r)
}

// ErrRemoved: the blob was stored here once and garbage collection removed it. Errors that
// wrap it also wrap ErrNotFound, so callers that only know "missing" keep working.
var ErrRemoved = errors.New("not stored here")

// Removal is what the "removed" marker of a blob records.
type Removal struct {
	Reason uint8  // RemovedExpired, RemovedDeleted or RemovedInvalid
	Epoch  uint32 // the ledger epoch at removal
	Height uint64 // the ledger height whose view decided the removal
}

func (r Removal) marshal() []byte {
	b := make([]byte, 13)
	b[0] = r.Reason
	binary.BigEndian.PutUint32(b[1:], r.Epoch)
	binary.BigEndian.PutUint64(b[5:], r.Height)
	return b
}

func parseRemoval(b []byte) (Removal, bool) {
	if len(b) != 13 {
		return Removal{}, false
	}
	return Removal{Reason: b[0], Epoch: binary.BigEndian.Uint32(b[1:]), Height: binary.BigEndian.Uint64(b[5:])}, true
}

// RemovedError reports a blob removed by garbage collection. It is ErrRemoved and
// ErrNotFound for errors.Is.
type RemovedError struct {
	ID codec.BlobID
	Removal
}

func (e *RemovedError) Error() string {
	return fmt.Sprintf("not stored here: blob %s was removed by garbage collection (%s, epoch %d)",
		e.ID, RemovalReason(e.Reason), e.Epoch)
}

// Is makes a RemovedError match ErrRemoved and ErrNotFound.
func (e *RemovedError) Is(target error) bool { return target == ErrRemoved || target == ErrNotFound }

// Removed returns the removal marker of a blob, if garbage collection removed it.
func (s *Store) Removed(ctx context.Context, id codec.BlobID) (Removal, bool, error) {
	b, err := s.ds.Get(ctx, nodestore.BlobRemoved(id))
	if errors.Is(err, datastore.ErrNotFound) {
		return Removal{}, false, nil
	}
	if err != nil {
		return Removal{}, false, fmt.Errorf("blobstore: get removal marker: %w", err)
	}
	r, ok := parseRemoval(b)
	return r, ok, nil
}

// notFound is the error for a blob whose metadata is missing: a RemovedError when garbage
// collection removed it, else ErrNotFound.
func (s *Store) notFound(ctx context.Context, id codec.BlobID) error {
	if r, ok, err := s.Removed(ctx, id); err == nil && ok {
		return &RemovedError{ID: id, Removal: r}
	}
	return fmt.Errorf("%w: metadata of %s", ErrNotFound, id)
}

// StoredShards lists the shards with a pair marker of id (both slivers stored), ascending.
func (s *Store) StoredShards(ctx context.Context, id codec.BlobID) ([]uint16, error) {
	res, err := s.ds.Query(ctx, query.Query{Prefix: nodestore.BlobPairsPrefix(id).String(), KeysOnly: true})
	if err != nil {
		return nil, fmt.Errorf("blobstore: query pairs: %w", err)
	}
	defer res.Close()
	var out []uint16
	for e := range res.Next() {
		if e.Error != nil {
			return nil, fmt.Errorf("blobstore: query pairs: %w", e.Error)
		}
		if sh, err := nodestore.ParseBlobPair(id, datastore.NewKey(e.Key)); err == nil && int(sh) < s.p.N {
			out = append(out, sh)
		}
	}
	return out, nil
}

// BlobBytes is the number of bytes (keys and values) stored for blob id: its metadata, its
// pair markers and its slivers on the given shards. It reads no sliver: a sliver's stored
// length follows from the metadata (symbol size × symbols per sliver of its axis, BCS
// framed; PutSlivers and PutPairs store only slivers that match it), so a shard with a pair
// marker is sized from the metadata alone, exactly. Only slivers of shards without a pair
// marker (a lone sliver of a pair being written or recovered), and every sliver of a blob
// whose metadata is gone, are sized by the datastore, which for a missing key is a bloom
// filter look-up.
func (s *Store) BlobBytes(ctx context.Context, id codec.BlobID, shards []uint16) (int64, error) {
	paired, err := s.StoredShards(ctx, id)
	if err != nil {
		return 0, err
	}
	return s.blobBytes(ctx, id, shards, paired)
}

// blobBytes is BlobBytes given the shards with a pair marker (paired, ascending).
func (s *Store) blobBytes(ctx context.Context, id codec.BlobID, shards, paired []uint16) (int64, error) {
	var total int64
	size := func(k datastore.Key) error {
		n, err := s.ds.GetSize(ctx, k)
		if errors.Is(err, datastore.ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("blobstore: size of %s: %w", k, err)
		}
		total += int64(len(k.String()) + n)
		return nil
	}
	// Stored sliver lengths by axis, when the metadata says them.
	var sliverLen [2]int
	known := false
	if mb, err := s.ds.Get(ctx, MetadataKey(id)); err == nil {
		total += int64(len(MetadataKey(id).String()) + len(mb))
		if m, err := codec.UnmarshalMetadataBCS(s.p, mb); err == nil {
			if ss, err := m.SymbolSize(s.p); err == nil {
				sliverLen[0] = codec.SliverBCSLen(s.p.PrimarySliverSize(ss))
				sliverLen[1] = codec.SliverBCSLen(s.p.SecondarySliverSize(ss))
				known = true
			}
		}
	} else if !errors.Is(err, datastore.ErrNotFound) {
		return 0, fmt.Errorf("blobstore: get metadata: %w", err)
	}
	for _, sh := range shards {
		if err := s.checkShard(int(sh)); err != nil {
			return 0, err
		}
		keys := []datastore.Key{SliverKey(int(sh), id, codec.AxisPrimary), SliverKey(int(sh), id, codec.AxisSecondary), nodestore.BlobPair(id, sh)}
		if _, ok := slices.BinarySearch(paired, sh); ok && known {
			// The marker (an empty value) says both slivers are stored.
			total += int64(len(keys[0].String()) + sliverLen[0] + len(keys[1].String()) + sliverLen[1] + len(keys[2].String()))
			continue
		}
		for _, k := range keys {
			if err := size(k); err != nil {
				return 0, err
			}
		}
	}
	return total, nil
}

// StoredBytes is the number of bytes stored for blob id on the given shards as the
// datastore reports them, every value read (BlobBytes without its shortcut; for tests).
func (s *Store) StoredBytes(ctx context.Context, id codec.BlobID, shards []uint16) (int64, error) {
	return s.blobBytes(ctx, id, shards, nil)
}

// RemoveBlob is garbage collection's delete: under the store's write lock, so no put can
// interleave, it asks keep (which must read the latest ledger view) and, unless keep says
// the blob is live, deletes the blob's metadata, its slivers and pair markers on shards and
// on every shard with a pair marker, and records r in the blob's removal marker, in one
// synced batch. It reports whether the blob was removed and how many bytes went.
//
// Why the lock closes the race with a new registration or an extension: a put is accepted
// only after the data plane saw the blob live in some ledger view V; the put then writes
// under the read lock. If the write comes before RemoveBlob takes the lock, keep reads a
// view at least as new as V and keeps the blob; if it comes after, it lands after the
// delete and is kept.
func (s *Store) RemoveBlob(ctx context.Context, id codec.BlobID, shards []uint16, keep func() (Removal, bool)) (removed bool, bytes int64, err error) {
	s.gcMu.Lock()
	defer s.gcMu.Unlock()
	r, live := keep()
	if live {
		return false, 0, nil
	}
	stored, err := s.StoredShards(ctx, id)
	if err != nil {
		return false, 0, err
	}
	all := unionShards(shards, stored)
	if bytes, err = s.blobBytes(ctx, id, all, stored); err != nil {
		return false, 0, err
	}
	b, err := s.ds.Batch(ctx)
	if err != nil {
		return false, 0, fmt.Errorf("blobstore: batch: %w", err)
	}
	for _, sh := range all {
		for _, axis := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
			if err := b.Delete(ctx, SliverKey(int(sh), id, axis)); err != nil {
				return false, 0, fmt.Errorf("blobstore: delete sliver: %w", err)
			}
		}
		if err := b.Delete(ctx, nodestore.BlobPair(id, sh)); err != nil {
			return false, 0, fmt.Errorf("blobstore: delete pair marker: %w", err)
		}
	}
	if err := b.Delete(ctx, MetadataKey(id)); err != nil {
		return false, 0, fmt.Errorf("blobstore: delete metadata: %w", err)
	}
	if err := b.Put(ctx, nodestore.BlobRemoved(id), r.marshal()); err != nil {
		return false, 0, fmt.Errorf("blobstore: put removal marker: %w", err)
	}
	if err := b.Commit(ctx); err != nil {
		return false, 0, fmt.Errorf("blobstore: commit removal: %w", err)
	}
	if err := s.ds.Sync(ctx, datastore.RawKey("/")); err != nil {
		return false, 0, fmt.Errorf("blobstore: sync removal: %w", err)
	}
	return true, bytes, nil
}

// unionShards returns the sorted, deduplicated union of a and b.
func unionShards(a, b []uint16) []uint16 {
	seen := make(map[uint16]bool, len(a)+len(b))
	var out []uint16
	for _, l := range [][]uint16{a, b} {
		for _, sh := range l {
			if !seen[sh] {
				seen[sh] = true
				out = append(out, sh)
			}
		}
	}
	slices.Sort(out)
	return out
}

// MetadataBlobs lists the blob IDs whose metadata is stored, in blob-ID order, at most
// limit of them after the exclusive cursor after (nil for the start). Garbage collection
// walks the store with it.
func (s *Store) MetadataBlobs(ctx context.Context, after *codec.BlobID, limit int) ([]codec.BlobID, error) {
	return s.pageBlobIDs(ctx, nodestore.BlobsPrefix.String()+"/", after, limit, func(key string) (codec.BlobID, bool) {
		ns := datastore.RawKey(key).Namespaces()
		var id codec.BlobID
		if len(ns) != 3 || ns[2] != "meta" || len(ns[1]) != 2*len(id) {
			return id, false
		}
		if _, err := hex.Decode(id[:], []byte(ns[1])); err != nil || MetadataKey(id).String() != key {
			return id, false
		}
		return id, true
	})
}
