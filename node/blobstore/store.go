package blobstore

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/walrus-go/walrus-go/codec"
	nodestore "github.com/walrus-go/walrus-go/node/store"
)

// Errors of the store. Verification failures wrap the codec's sentinel as well, so callers
// can tell "peer sent garbage" (codec errors) from "we lack something" (these).
var (
	// ErrNotFound: the requested metadata or sliver is not stored.
	ErrNotFound = errors.New("blobstore: not found")
	// ErrNoMetadata: a sliver arrived for a blob whose metadata is not stored, so it cannot
	// be verified (docs/protocol.md §3: slivers verify against the metadata hash).
	ErrNoMetadata = errors.New("blobstore: metadata not stored for blob")
	// ErrWrongPair: a sliver is not one of the two slivers of the pair the shard holds for
	// the blob (docs/protocol.md §2).
	ErrWrongPair = errors.New("blobstore: sliver does not belong to the shard's pair")
	// ErrBadShard: a shard index outside 0..n-1.
	ErrBadShard = errors.New("blobstore: shard out of range")
	// ErrShardNotWritable: the shard's state refuses new writes (e.g. locked to move).
	ErrShardNotWritable = errors.New("blobstore: shard does not accept writes")
)

// ShardState is the lifecycle state of one shard on this node (docs/architecture.md §5 "Epoch
// change"). Only Active is used by the data plane today; the others are reserved for the
// epoch-change actor, which sets them.
type ShardState uint8

const (
	// Active: the shard takes writes and serves reads.
	Active ShardState = 1 + iota
	// LockedToMove: the shard was lost at an epoch change; it refuses new writes but keeps
	// serving reads and migration until the change completes (docs/protocol.md §7).
	LockedToMove
	// Syncing: the shard was gained and is pulling older slivers from its previous owner
	// (docs/protocol.md §7); it already takes writes for new blobs.
	Syncing
	// Recovering: the shard's previous owner failed and older slivers are being rebuilt by
	// RedStuff recovery (docs/protocol.md §4); it takes writes for new blobs.
	Recovering
)

// String names the state.
func (s ShardState) String() string {
	switch s {
	case Active:
		return "active"
	case LockedToMove:
		return "locked-to-move"
	case Syncing:
		return "syncing"
	case Recovering:
		return "recovering"
	}
	return fmt.Sprintf("ShardState(%d)", uint8(s))
}

// Writable reports whether a shard in state s accepts slivers of new blobs.
func (s ShardState) Writable() bool { return s == Active || s == Syncing || s == Recovering }

// Store is the per-shard sliver and metadata store of one node for one shard count.
type Store struct {
	ds datastore.Batching
	p  codec.Params
	// gcMu orders puts against garbage collection: puts write under the read lock,
	// RemoveBlob decides and deletes under the write lock (see RemoveBlob).
	gcMu sync.RWMutex
}

// New returns a store over ds for the encoding geometry p. The store does not own ds:
// closing ds is the caller's job.
func New(ds datastore.Batching, p codec.Params) *Store {
	return &Store{ds: ds, p: p}
}

// Params returns the encoding geometry the store verifies against.
func (s *Store) Params() codec.Params { return s.p }

// MetadataKey is the key of a blob's metadata (node/store's layout: /blobs/<hex id>/meta).
func MetadataKey(id codec.BlobID) datastore.Key { return nodestore.BlobMeta(id) }

// SliverKey is the key of the sliver of the given axis that shard holds for a blob
// (node/store's layout: /shards/<s:05d>/<hex id>/p or /s).
func SliverKey(shard int, id codec.BlobID, axis codec.Axis) datastore.Key {
	kind := nodestore.Primary
	if axis == codec.AxisSecondary {
		kind = nodestore.Secondary
	}
	return nodestore.Sliver(uint16(shard), id, kind)
}

// shardStateKey is the key of a shard's state byte (node/store's layout).
func shardStateKey(shard int) datastore.Key { return nodestore.ShardState(uint16(shard)) }

func (s *Store) checkShard(shard int) error {
	if shard < 0 || shard >= s.p.N {
		return fmt.Errorf("%w: %d of %d", ErrBadShard, shard, s.p.N)
	}
	return nil
}

// PutMetadata verifies m against id (docs/protocol.md §3) and stores it durably. Storing the
// same metadata twice is harmless.
func (s *Store) PutMetadata(ctx context.Context, id codec.BlobID, m *codec.Metadata) error {
	if err := codec.VerifyMetadata(s.p, id, m); err != nil {
		return err
	}
	key := MetadataKey(id)
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	// A blob stored again after garbage collection removed it (registered anew) is no
	// longer "removed".
	if gone, err := s.ds.Has(ctx, nodestore.BlobRemoved(id)); err != nil {
		return fmt.Errorf("blobstore: has removal marker: %w", err)
	} else if gone {
		if err := s.ds.Delete(ctx, nodestore.BlobRemoved(id)); err != nil {
			return fmt.Errorf("blobstore: delete removal marker: %w", err)
		}
	}
	if err := s.ds.Put(ctx, key, m.MarshalBCS()); err != nil {
		return fmt.Errorf("blobstore: put metadata: %w", err)
	}
	if err := s.ds.Sync(ctx, key); err != nil {
		return fmt.Errorf("blobstore: sync metadata: %w", err)
	}
	return nil
}

// HasMetadata reports whether the blob's metadata is stored.
func (s *Store) HasMetadata(ctx context.Context, id codec.BlobID) (bool, error) {
	return s.ds.Has(ctx, MetadataKey(id))
}

// Metadata returns the stored metadata of a blob, or ErrNotFound.
func (s *Store) Metadata(ctx context.Context, id codec.BlobID) (codec.Metadata, error) {
	b, err := s.ds.Get(ctx, MetadataKey(id))
	if errors.Is(err, datastore.ErrNotFound) {
		return codec.Metadata{}, s.notFound(ctx, id)
	}
	if err != nil {
		return codec.Metadata{}, fmt.Errorf("blobstore: get metadata: %w", err)
	}
	// Stored bytes were verified on the way in; decoding still checks them, so a damaged
	// disk shows up as an error rather than as wrong data.
	m, err := codec.UnmarshalMetadataBCS(s.p, b)
	if err != nil {
		return codec.Metadata{}, fmt.Errorf("blobstore: stored metadata of %s: %w", id, err)
	}
	return m, nil
}

// MetadataBytes returns the stored metadata's BCS bytes without decoding them, for serving.
func (s *Store) MetadataBytes(ctx context.Context, id codec.BlobID) ([]byte, error) {
	b, err := s.ds.Get(ctx, MetadataKey(id))
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, s.notFound(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("blobstore: get metadata: %w", err)
	}
	return b, nil
}

// stillHasMetadata checks, under the read lock, that garbage collection did not remove the
// blob's metadata since a put read it, so no sliver is stored without its metadata.
func (s *Store) stillHasMetadata(ctx context.Context, id codec.BlobID) error {
	ok, err := s.ds.Has(ctx, MetadataKey(id))
	if err != nil {
		return fmt.Errorf("blobstore: has metadata: %w", err)
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrNoMetadata, id)
	}
	return nil
}

// ExpectedIndex is the index of the sliver of the given axis that shard holds for blob id:
// the pair p = PairIndexForShard(id, shard) has primary sliver p and secondary sliver n-1-p
// (docs/protocol.md §2).
func ExpectedIndex(p codec.Params, id codec.BlobID, shard int, axis codec.Axis) int {
	pair := p.PairIndexForShard(id, shard)
	if axis == codec.AxisSecondary {
		return p.SecondaryIndexOfPair(pair)
	}
	return pair
}

// ShardForSliver is the shard that holds the sliver of the given axis and index of blob id.
func ShardForSliver(p codec.Params, id codec.BlobID, axis codec.Axis, index int) int {
	pair := index
	if axis == codec.AxisSecondary {
		pair = p.N - 1 - index
	}
	return p.ShardForPair(id, pair)
}

// verifySliver checks that sl is the sliver of its axis that shard holds for id and that
// it matches the metadata.
func (s *Store) verifySliver(m *codec.Metadata, id codec.BlobID, shard int, sl *codec.Sliver) error {
	if !sl.Axis.Valid() {
		return fmt.Errorf("%w: invalid axis %d", ErrWrongPair, sl.Axis)
	}
	if want := ExpectedIndex(s.p, id, shard, sl.Axis); int(sl.Index) != want {
		return fmt.Errorf("%w: shard %d holds %s sliver %d of %s, got %d",
			ErrWrongPair, shard, sl.Axis, want, id, sl.Index)
	}
	return codec.VerifySliver(s.p, m, sl)
}

// PutSlivers verifies slivers against the stored metadata of id and stores them durably
// under shard. Each must be the primary or secondary sliver of the pair shard holds for
// the blob. Either all are stored or none is (verification happens before any write).
func (s *Store) PutSlivers(ctx context.Context, id codec.BlobID, shard int, slivers ...*codec.Sliver) error {
	if err := s.checkWritable(ctx, shard); err != nil {
		return err
	}
	m, err := s.Metadata(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: %s", ErrNoMetadata, id)
	}
	if err != nil {
		return err
	}
	for _, sl := range slivers {
		if err := s.verifySliver(&m, id, shard, sl); err != nil {
			return err
		}
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	if err := s.stillHasMetadata(ctx, id); err != nil {
		return err
	}
	b, err := s.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("blobstore: batch: %w", err)
	}
	have := map[codec.Axis]bool{}
	for _, sl := range slivers {
		if err := b.Put(ctx, SliverKey(shard, id, sl.Axis), sl.MarshalBCS()); err != nil {
			return fmt.Errorf("blobstore: put sliver: %w", err)
		}
		have[sl.Axis] = true
	}
	// The pair marker goes in with the sliver that completes the pair.
	complete := true
	for _, axis := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
		if !have[axis] {
			ok, err := s.ds.Has(ctx, SliverKey(shard, id, axis))
			if err != nil {
				return fmt.Errorf("blobstore: has sliver: %w", err)
			}
			complete = complete && ok
		}
	}
	if complete {
		if err := b.Put(ctx, nodestore.BlobPair(id, uint16(shard)), nil); err != nil {
			return fmt.Errorf("blobstore: put pair marker: %w", err)
		}
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("blobstore: commit slivers: %w", err)
	}
	// The confirmation this write enables promises durability (docs/protocol.md §5).
	if err := s.ds.Sync(ctx, nodestore.Shard(uint16(shard))); err != nil {
		return fmt.Errorf("blobstore: sync slivers: %w", err)
	}
	return nil
}

// PairWrite is one shard's sliver pair of a blob, for PutPairs.
type PairWrite struct {
	Shard     int
	Primary   *codec.Sliver
	Secondary *codec.Sliver
	// PrimaryBCS and SecondaryBCS optionally carry the slivers' BCS encodings as
	// received. When one is exactly the canonical encoding of its (verified) sliver it is
	// stored as is, saving a copy of every sliver on the upload path; otherwise the sliver
	// is re-encoded.
	PrimaryBCS, SecondaryBCS []byte
}

// encodingOf returns raw when it is byte for byte the canonical BCS encoding of s
// (Sliver.MarshalBCS), else a fresh encoding. The comparison reads both once and
// allocates nothing, so a caller's raw bytes can never store anything but the verified
// sliver.
func encodingOf(s *codec.Sliver, raw []byte) []byte {
	var hb [codec.MaxSliverBCSHeaderLen]byte
	var tb [codec.SliverBCSTrailerLen]byte
	head := codec.AppendSliverBCSHeader(hb[:0], len(s.Data))
	tail := codec.AppendSliverBCSTrailer(tb[:0], s)
	if n := len(head) + len(s.Data); len(raw) == codec.SliverBCSLen(len(s.Data)) &&
		bytes.Equal(raw[:len(head)], head) &&
		bytes.Equal(raw[len(head):n], s.Data) &&
		bytes.Equal(raw[n:], tail) {
		return raw
	}
	return s.MarshalBCS()
}

// PutPairs verifies each pair like PutSlivers and stores every pair that verifies in one
// batch with one sync, which is what an upload of many shards to one node needs (one fsync
// instead of one per shard). errs[i] is pair i's verification failure (nil when stored);
// err is a storage failure, in which case nothing is promised stored.
func (s *Store) PutPairs(ctx context.Context, id codec.BlobID, pairs []PairWrite) (errs []error, err error) {
	m, err := s.Metadata(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoMetadata, id)
	}
	if err != nil {
		return nil, err
	}
	errs = make([]error, len(pairs))
	// Verification (a Reed-Solomon expansion and a Merkle tree per sliver) dominates the
	// cost of a put; spread it over a bounded fan-out of GOMAXPROCS goroutines that all end
	// before the call returns.
	workers := min(runtime.GOMAXPROCS(0), len(pairs))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(pairs); i += workers {
				errs[i] = s.verifyPair(ctx, &m, id, &pairs[i])
			}
		}()
	}
	wg.Wait()
	var slivers, markers []nodestore.KV
	for i, pw := range pairs {
		if errs[i] != nil {
			continue
		}
		// Reads fetch the systematic primary slivers (rows below R); every other sliver
		// serves recovery and is marked cold, so its table can leave the page cache.
		hot := s.p.PairIndexForShard(id, pw.Shard) < s.p.R
		for _, sl := range []struct {
			sl  *codec.Sliver
			raw []byte
			hot bool
		}{{pw.Primary, pw.PrimaryBCS, hot}, {pw.Secondary, pw.SecondaryBCS, false}} {
			slivers = append(slivers, nodestore.KV{Key: SliverKey(pw.Shard, id, sl.sl.Axis), Value: encodingOf(sl.sl, sl.raw), Cold: !sl.hot})
		}
		markers = append(markers, nodestore.KV{Key: nodestore.BlobPair(id, uint16(pw.Shard))})
	}
	if len(markers) == 0 {
		return errs, nil
	}
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()
	if err := s.stillHasMetadata(ctx, id); err != nil {
		return nil, err
	}
	// Slivers first, markers after (or all in one batch): a marker, which is what a
	// confirmation checks, is never durable before its slivers. The confirmation these
	// writes enable promises durability (docs/protocol.md §5).
	if err := nodestore.PutDurably(ctx, s.ds, slivers, markers); err != nil {
		return nil, fmt.Errorf("blobstore: store slivers: %w", err)
	}
	return errs, nil
}

// verifyPair checks one pair write: shard writable, the two slivers of the pair the shard
// holds, each matching the metadata.
func (s *Store) verifyPair(ctx context.Context, m *codec.Metadata, id codec.BlobID, pw *PairWrite) error {
	if err := s.checkWritable(ctx, pw.Shard); err != nil {
		return err
	}
	if pw.Primary == nil || pw.Secondary == nil || pw.Primary.Axis == pw.Secondary.Axis {
		return fmt.Errorf("%w: a pair needs one primary and one secondary sliver", ErrWrongPair)
	}
	for _, sl := range []*codec.Sliver{pw.Primary, pw.Secondary} {
		if err := s.verifySliver(m, id, pw.Shard, sl); err != nil {
			return err
		}
	}
	return nil
}

// checkWritable checks the shard index and that its state takes writes.
func (s *Store) checkWritable(ctx context.Context, shard int) error {
	if err := s.checkShard(shard); err != nil {
		return err
	}
	st, err := s.ShardState(ctx, shard)
	if err != nil {
		return err
	}
	if !st.Writable() {
		return fmt.Errorf("%w: shard %d is %s", ErrShardNotWritable, shard, st)
	}
	return nil
}

// Sliver returns the sliver of the given axis that shard holds for id, or ErrNotFound.
func (s *Store) Sliver(ctx context.Context, id codec.BlobID, shard int, axis codec.Axis) (codec.Sliver, error) {
	b, err := s.SliverBytes(ctx, id, shard, axis)
	if err != nil {
		return codec.Sliver{}, err
	}
	sl, err := codec.ParseSliverBCS(s.p, axis, b) // b is a fresh copy from the datastore
	if err != nil {
		return codec.Sliver{}, fmt.Errorf("blobstore: stored sliver of %s: %w", id, err)
	}
	return sl, nil
}

// SliverBytes returns a copy of the stored BCS bytes of a sliver, without decoding them.
func (s *Store) SliverBytes(ctx context.Context, id codec.BlobID, shard int, axis codec.Axis) ([]byte, error) {
	b, release, err := s.LendSliver(ctx, id, shard, axis)
	if err != nil {
		return nil, err
	}
	defer release()
	return bytes.Clone(b), nil
}

// LendSliver returns the stored BCS bytes of a sliver and what to call (exactly once) when
// done with them: no copy is made where the datastore can lend them. The data plane serves
// reads this way.
func (s *Store) LendSliver(ctx context.Context, id codec.BlobID, shard int, axis codec.Axis) ([]byte, func(), error) {
	if err := s.checkShard(shard); err != nil {
		return nil, nil, err
	}
	if !axis.Valid() {
		return nil, nil, fmt.Errorf("%w: invalid axis %d", ErrWrongPair, axis)
	}
	b, release, err := nodestore.Lend(ctx, s.ds, SliverKey(shard, id, axis))
	if errors.Is(err, datastore.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: %s sliver of %s on shard %d", ErrNotFound, axis, id, shard)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("blobstore: get sliver: %w", err)
	}
	return b, release, nil
}

// HasSlivers reports whether both slivers of the pair are stored on every given shard,
// which is what a storage confirmation promises (docs/protocol.md §5: all shards, all or
// nothing).
func (s *Store) HasSlivers(ctx context.Context, id codec.BlobID, shards []uint16) (bool, error) {
	missing, err := s.MissingShards(ctx, id, shards)
	return err == nil && len(missing) == 0, err
}

// MissingShards returns the shards among shards that lack either sliver of id. It reads
// the blob's pair markers (one small prefix scan), not the slivers.
func (s *Store) MissingShards(ctx context.Context, id codec.BlobID, shards []uint16) ([]uint16, error) {
	for _, sh := range shards {
		if err := s.checkShard(int(sh)); err != nil {
			return nil, err
		}
	}
	res, err := s.ds.Query(ctx, query.Query{Prefix: nodestore.BlobPairsPrefix(id).String(), KeysOnly: true})
	if err != nil {
		return nil, fmt.Errorf("blobstore: query pairs: %w", err)
	}
	defer res.Close()
	stored := make(map[uint16]bool)
	for e := range res.Next() {
		if e.Error != nil {
			return nil, fmt.Errorf("blobstore: query pairs: %w", e.Error)
		}
		sh, err := nodestore.ParseBlobPair(id, datastore.NewKey(e.Key))
		if err != nil {
			return nil, err
		}
		stored[sh] = true
	}
	var missing []uint16
	for _, sh := range shards {
		if !stored[sh] {
			missing = append(missing, sh)
		}
	}
	return missing, nil
}

// DeleteBlob removes the blob's metadata and its slivers on the given shards (for garbage
// collection of expired, deleted and invalid blobs, docs/architecture.md §7). Missing keys are fine.
func (s *Store) DeleteBlob(ctx context.Context, id codec.BlobID, shards []uint16) error {
	b, err := s.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("blobstore: batch: %w", err)
	}
	for _, sh := range shards {
		if err := s.checkShard(int(sh)); err != nil {
			return err
		}
		for _, axis := range []codec.Axis{codec.AxisPrimary, codec.AxisSecondary} {
			if err := b.Delete(ctx, SliverKey(int(sh), id, axis)); err != nil {
				return fmt.Errorf("blobstore: delete sliver: %w", err)
			}
		}
		if err := b.Delete(ctx, nodestore.BlobPair(id, sh)); err != nil {
			return fmt.Errorf("blobstore: delete pair marker: %w", err)
		}
	}
	if err := b.Delete(ctx, MetadataKey(id)); err != nil {
		return fmt.Errorf("blobstore: delete metadata: %w", err)
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("blobstore: commit delete: %w", err)
	}
	return s.ds.Sync(ctx, datastore.RawKey("/"))
}

// ShardBlobs lists the blob IDs with at least one sliver stored on shard, in blob-ID
// order, at most limit of them after the exclusive cursor after (nil for the start).
// Shard sync and garbage collection walk a shard with it.
func (s *Store) ShardBlobs(ctx context.Context, shard int, after *codec.BlobID, limit int) ([]codec.BlobID, error) {
	if err := s.checkShard(shard); err != nil {
		return nil, err
	}
	return s.pageBlobIDs(ctx, nodestore.Shard(uint16(shard)).String()+"/", after, limit, func(key string) (codec.BlobID, bool) {
		_, id, _, err := nodestore.ParseSliver(datastore.RawKey(key))
		return id, err == nil // not a sliver key: a foreign entry, ignored
	})
}

// pageBlobIDs walks the keys under prefix in order and returns the distinct blob IDs that
// parse names (false: not a key of the kind listed, skipped), above the exclusive cursor
// after, at most limit of them (0: all). Keys of one blob must be adjacent, and a key that
// parses to id must lie below prefix + lowercase hex(id) + "/", as every blob key in the
// layout does (node/store/keys.go). When the datastore is a [nodestore.KeyLister] the walk
// starts right after the cursor's keys; otherwise a query walks the prefix from its start,
// skipping the keys up to the cursor, which costs every page the keys of all earlier ones.
func (s *Store) pageBlobIDs(ctx context.Context, prefix string, after *codec.BlobID, limit int,
	parse func(key string) (codec.BlobID, bool)) ([]codec.BlobID, error) {
	var out []codec.BlobID
	// add takes one key and says whether the page wants more.
	add := func(key string) bool {
		id, ok := parse(key)
		if !ok || after != nil && string(id[:]) <= string(after[:]) {
			return true
		}
		if len(out) > 0 && out[len(out)-1] == id {
			return true // another key of the same blob (p and s slivers)
		}
		out = append(out, id)
		return limit <= 0 || len(out) < limit
	}
	if kl, ok := s.ds.(nodestore.KeyLister); ok {
		lower, upper := nodestore.PrefixBounds(prefix)
		if after != nil {
			// The cursor's keys are prefix + hex(after) + "/" + ...; the bound sorts after
			// them and before the keys of every greater blob ID, whose hex differs earlier.
			lower = nodestore.AfterDescendants(datastore.NewKey(prefix).ChildString(hex.EncodeToString(after[:])))
		}
		if err := kl.ListKeys(ctx, lower, upper, func(key []byte) bool { return add(string(key)) }); err != nil {
			return nil, fmt.Errorf("blobstore: list %s: %w", prefix, err)
		}
		return out, nil
	}
	res, err := s.ds.Query(ctx, query.Query{Prefix: prefix, KeysOnly: true, Orders: []query.Order{query.OrderByKey{}}})
	if err != nil {
		return nil, fmt.Errorf("blobstore: query %s: %w", prefix, err)
	}
	defer res.Close()
	for {
		r, ok := res.NextSync()
		if !ok {
			break
		}
		if r.Error != nil {
			return nil, fmt.Errorf("blobstore: query %s: %w", prefix, r.Error)
		}
		if !add(r.Key) {
			break
		}
	}
	return out, nil
}

// ShardState returns the state of shard; a shard never set is Active.
func (s *Store) ShardState(ctx context.Context, shard int) (ShardState, error) {
	if err := s.checkShard(shard); err != nil {
		return 0, err
	}
	b, err := s.ds.Get(ctx, shardStateKey(shard))
	if errors.Is(err, datastore.ErrNotFound) {
		return Active, nil
	}
	if err != nil {
		return 0, fmt.Errorf("blobstore: get shard state: %w", err)
	}
	if len(b) != 1 || b[0] < byte(Active) || b[0] > byte(Recovering) {
		return 0, fmt.Errorf("blobstore: corrupt state of shard %d", shard)
	}
	return ShardState(b[0]), nil
}

// SetShardState records the state of shard durably.
func (s *Store) SetShardState(ctx context.Context, shard int, st ShardState) error {
	if err := s.checkShard(shard); err != nil {
		return err
	}
	if st < Active || st > Recovering {
		return fmt.Errorf("blobstore: invalid shard state %d", st)
	}
	key := shardStateKey(shard)
	if err := s.ds.Put(ctx, key, []byte{byte(st)}); err != nil {
		return fmt.Errorf("blobstore: put shard state: %w", err)
	}
	return s.ds.Sync(ctx, key)
}

// DropSliver removes one stored sliver of id on shard and the shard's pair marker, so the
// pair counts as missing again: for a sliver that no longer verifies (bit rot, a damaged
// file), which blob sync then recovers. The metadata stays.
func (s *Store) DropSliver(ctx context.Context, id codec.BlobID, shard int, axis codec.Axis) error {
	if err := s.checkShard(shard); err != nil {
		return err
	}
	b, err := s.ds.Batch(ctx)
	if err != nil {
		return fmt.Errorf("blobstore: batch: %w", err)
	}
	if err := b.Delete(ctx, SliverKey(shard, id, axis)); err != nil {
		return fmt.Errorf("blobstore: delete sliver: %w", err)
	}
	if err := b.Delete(ctx, nodestore.BlobPair(id, uint16(shard))); err != nil {
		return fmt.Errorf("blobstore: delete pair marker: %w", err)
	}
	if err := b.Commit(ctx); err != nil {
		return fmt.Errorf("blobstore: commit drop: %w", err)
	}
	return s.ds.Sync(ctx, nodestore.Shard(uint16(shard)))
}
