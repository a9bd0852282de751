package blobstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/blobstore"
	nodestore "github.com/walrus-go/walrus-go/node/store"
)

func encode(t testing.TB, n, size int, seed uint64) *codec.EncodedBlob {
	t.Helper()
	data := make([]byte, size)
	rng := rand.New(rand.NewPCG(seed, 7))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	enc, err := codec.Encode(codec.MustParams(n), data)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return enc
}

func memStore(n int) *blobstore.Store {
	return blobstore.New(dssync.MutexWrap(datastore.NewMapDatastore()), codec.MustParams(n))
}

// pairFor returns the two slivers shard holds for enc.
func pairFor(enc *codec.EncodedBlob, shard int) (*codec.Sliver, *codec.Sliver) {
	return enc.Pair(enc.Params.PairIndexForShard(enc.BlobID, shard))
}

func TestStoreVerifiesAndServes(t *testing.T) {
	ctx := context.Background()
	st := memStore(10)
	enc := encode(t, 10, 1000, 1)
	id := enc.BlobID

	// Slivers before metadata cannot be verified.
	pr, se := pairFor(enc, 3)
	if err := st.PutSlivers(ctx, id, 3, pr, se); !errors.Is(err, blobstore.ErrNoMetadata) {
		t.Fatalf("PutSlivers before metadata: %v, want ErrNoMetadata", err)
	}
	// Metadata claiming another blob ID is refused.
	other := encode(t, 10, 1000, 2)
	if err := st.PutMetadata(ctx, other.BlobID, &enc.Metadata); !errors.Is(err, codec.ErrBlobIDMismatch) {
		t.Fatalf("PutMetadata(wrong id): %v, want ErrBlobIDMismatch", err)
	}
	if ok, _ := st.HasMetadata(ctx, other.BlobID); ok {
		t.Fatal("refused metadata was stored")
	}
	if err := st.PutMetadata(ctx, id, &enc.Metadata); err != nil {
		t.Fatalf("PutMetadata: %v", err)
	}
	got, err := st.Metadata(ctx, id)
	if err != nil || got.BlobID() != id {
		t.Fatalf("Metadata: %v, id %v", err, got.BlobID())
	}

	// The pair of another shard is refused on shard 3.
	wrongP, _ := pairFor(enc, 4)
	if err := st.PutSlivers(ctx, id, 3, wrongP); !errors.Is(err, blobstore.ErrWrongPair) {
		t.Fatalf("PutSlivers(wrong pair): %v, want ErrWrongPair", err)
	}
	// A corrupt sliver is refused and nothing of the batch is stored.
	bad := *se
	bad.Data = append([]byte(nil), se.Data...)
	bad.Data[0] ^= 1
	if err := st.PutSlivers(ctx, id, 3, pr, &bad); !errors.Is(err, codec.ErrSliverHashMismatch) {
		t.Fatalf("PutSlivers(corrupt): %v, want ErrSliverHashMismatch", err)
	}
	if _, err := st.Sliver(ctx, id, 3, codec.AxisPrimary); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("primary stored despite a corrupt batch: %v", err)
	}
	if ok, _ := st.HasSlivers(ctx, id, []uint16{3}); ok {
		t.Fatal("HasSlivers true before store")
	}

	for _, sh := range []int{3, 7} {
		pr, se := pairFor(enc, sh)
		if err := st.PutSlivers(ctx, id, sh, pr, se); err != nil {
			t.Fatalf("PutSlivers(%d): %v", sh, err)
		}
	}
	// A pair stored one sliver at a time (as recovery does) counts once both are in.
	pr5, se5 := pairFor(enc, 5)
	if err := st.PutSlivers(ctx, id, 5, se5); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.HasSlivers(ctx, id, []uint16{5}); ok {
		t.Fatal("HasSlivers true with only the secondary sliver stored")
	}
	if err := st.PutSlivers(ctx, id, 5, pr5); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.HasSlivers(ctx, id, []uint16{3, 5, 7}); err != nil || !ok {
		t.Fatalf("HasSlivers(3,5,7) = %v, %v", ok, err)
	}
	if _, err := st.MissingShards(ctx, id, []uint16{3, 10}); !errors.Is(err, blobstore.ErrBadShard) {
		t.Fatalf("MissingShards(shard 10): %v, want ErrBadShard", err)
	}
	if err := st.DeleteBlob(ctx, id, []uint16{5}); err != nil {
		t.Fatal(err)
	}
	if err := st.PutMetadata(ctx, id, &enc.Metadata); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.HasSlivers(ctx, id, []uint16{3, 7, 8}); ok {
		t.Fatal("HasSlivers true with shard 8 missing")
	}
	missing, err := st.MissingShards(ctx, id, []uint16{1, 3, 7})
	if err != nil || len(missing) != 1 || missing[0] != 1 {
		t.Fatalf("MissingShards = %v, %v", missing, err)
	}
	sl, err := st.Sliver(ctx, id, 7, codec.AxisSecondary)
	_, want := pairFor(enc, 7)
	if err != nil || sl.Index != want.Index || string(sl.Data) != string(want.Data) {
		t.Fatalf("Sliver(7, secondary): %v", err)
	}
	if _, err := st.Sliver(ctx, id, 10, codec.AxisPrimary); !errors.Is(err, blobstore.ErrBadShard) {
		t.Fatalf("Sliver(shard 10): %v, want ErrBadShard", err)
	}

	ids, err := st.ShardBlobs(ctx, 3, nil, 0)
	if err != nil || len(ids) != 1 || ids[0] != id {
		t.Fatalf("ShardBlobs(3) = %v, %v", ids, err)
	}

	if err := st.DeleteBlob(ctx, id, []uint16{3, 7}); err != nil {
		t.Fatalf("DeleteBlob: %v", err)
	}
	if ok, _ := st.HasMetadata(ctx, id); ok {
		t.Fatal("metadata survives DeleteBlob")
	}
	if ok, _ := st.HasSlivers(ctx, id, []uint16{3}); ok {
		t.Fatal("slivers survive DeleteBlob")
	}
	if _, err := st.Sliver(ctx, id, 3, codec.AxisPrimary); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("primary sliver survives DeleteBlob: %v", err)
	}
}

func TestShardStateGatesWrites(t *testing.T) {
	ctx := context.Background()
	st := memStore(10)
	enc := encode(t, 10, 100, 3)
	if err := st.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
		t.Fatal(err)
	}
	if s, err := st.ShardState(ctx, 2); err != nil || s != blobstore.Active {
		t.Fatalf("default state = %v, %v", s, err)
	}
	if err := st.SetShardState(ctx, 2, blobstore.LockedToMove); err != nil {
		t.Fatal(err)
	}
	pr, se := pairFor(enc, 2)
	if err := st.PutSlivers(ctx, enc.BlobID, 2, pr, se); !errors.Is(err, blobstore.ErrShardNotWritable) {
		t.Fatalf("PutSlivers on locked shard: %v", err)
	}
	if err := st.SetShardState(ctx, 2, blobstore.Syncing); err != nil {
		t.Fatal(err)
	}
	if err := st.PutSlivers(ctx, enc.BlobID, 2, pr, se); err != nil {
		t.Fatalf("PutSlivers on syncing shard: %v", err)
	}
}

func TestShardBlobsOrderAndPaging(t *testing.T) {
	ctx := context.Background()
	st := memStore(10)
	var ids []codec.BlobID
	for seed := uint64(10); seed < 16; seed++ {
		enc := encode(t, 10, 50+int(seed), seed)
		if err := st.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
			t.Fatal(err)
		}
		pr, se := pairFor(enc, 1)
		if err := st.PutSlivers(ctx, enc.BlobID, 1, pr, se); err != nil {
			t.Fatal(err)
		}
		// Shard 10 does not exist at n=10, but shard 0 must not leak into shard 1's walk.
		pr0, _ := pairFor(enc, 0)
		if err := st.PutSlivers(ctx, enc.BlobID, 0, pr0); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, enc.BlobID)
	}
	all, err := st.ShardBlobs(ctx, 1, nil, 0)
	if err != nil || len(all) != len(ids) {
		t.Fatalf("ShardBlobs = %d ids, %v; want %d", len(all), err, len(ids))
	}
	for i := 1; i < len(all); i++ {
		if string(all[i-1][:]) >= string(all[i][:]) {
			t.Fatalf("ShardBlobs not in blob-ID order at %d", i)
		}
	}
	page, err := st.ShardBlobs(ctx, 1, &all[2], 2)
	if err != nil || len(page) != 2 || page[0] != all[3] || page[1] != all[4] {
		t.Fatalf("ShardBlobs(after 2, limit 2) = %v, %v", page, err)
	}
}

func TestPersistenceAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	enc := encode(t, 13, 5000, 4)
	p := codec.MustParams(13)

	// The node's own opener: go-ds-pebble with synced writes.
	ds, err := nodestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := blobstore.New(ds, p)
	if err := st.PutMetadata(ctx, enc.BlobID, &enc.Metadata); err != nil {
		t.Fatal(err)
	}
	for _, sh := range []int{0, 5, 12} {
		pr, se := pairFor(enc, sh)
		if err := st.PutSlivers(ctx, enc.BlobID, sh, pr, se); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetShardState(ctx, 12, blobstore.Recovering); err != nil {
		t.Fatal(err)
	}
	if err := ds.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}

	ds2, err := nodestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ds2.(io.Closer).Close()
	st2 := blobstore.New(ds2, p)
	m, err := st2.Metadata(ctx, enc.BlobID)
	if err != nil || m.BlobID() != enc.BlobID {
		t.Fatalf("Metadata after reopen: %v", err)
	}
	if ok, err := st2.HasSlivers(ctx, enc.BlobID, []uint16{0, 5, 12}); err != nil || !ok {
		t.Fatalf("HasSlivers after reopen = %v, %v", ok, err)
	}
	pr, _ := pairFor(enc, 5)
	sl, err := st2.Sliver(ctx, enc.BlobID, 5, codec.AxisPrimary)
	if err != nil || string(sl.Data) != string(pr.Data) {
		t.Fatalf("Sliver after reopen: %v", err)
	}
	if s, err := st2.ShardState(ctx, 12); err != nil || s != blobstore.Recovering {
		t.Fatalf("ShardState after reopen = %v, %v", s, err)
	}
}

func TestPutPairsStoresTheValidOnes(t *testing.T) {
	ctx := context.Background()
	st := memStore(10)
	enc := encode(t, 10, 4000, 5)
	id := enc.BlobID
	p0, s0 := pairFor(enc, 0)
	if _, err := st.PutPairs(ctx, id, []blobstore.PairWrite{{Shard: 0, Primary: p0, Secondary: s0}}); !errors.Is(err, blobstore.ErrNoMetadata) {
		t.Fatalf("PutPairs before metadata: %v", err)
	}
	if err := st.PutMetadata(ctx, id, &enc.Metadata); err != nil {
		t.Fatal(err)
	}
	p1, s1 := pairFor(enc, 1)
	p2, s2 := pairFor(enc, 2)
	bad := *s2
	bad.Data = append([]byte(nil), s2.Data...)
	bad.Data[3] ^= 8
	errs, err := st.PutPairs(ctx, id, []blobstore.PairWrite{
		{Shard: 0, Primary: p0, Secondary: s0},
		{Shard: 1, Primary: p0, Secondary: s0}, // shard 0's pair on shard 1
		{Shard: 2, Primary: p2, Secondary: &bad},
		{Shard: 1, Primary: p1, Secondary: p1}, // two primaries
		{Shard: 11, Primary: p1, Secondary: s1},
	})
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || !errors.Is(errs[1], blobstore.ErrWrongPair) || !errors.Is(errs[2], codec.ErrSliverHashMismatch) ||
		errs[3] == nil || !errors.Is(errs[4], blobstore.ErrBadShard) {
		t.Fatalf("PutPairs errors: %v", errs)
	}
	if ok, _ := st.HasSlivers(ctx, id, []uint16{0}); !ok {
		t.Fatal("valid pair not stored")
	}
	for _, sh := range []uint16{1, 2} {
		if ok, _ := st.HasSlivers(ctx, id, []uint16{sh}); ok {
			t.Fatalf("invalid pair stored on shard %d", sh)
		}
		if _, err := st.Sliver(ctx, id, int(sh), codec.AxisPrimary); !errors.Is(err, blobstore.ErrNotFound) {
			t.Fatalf("half of an invalid pair stored on shard %d: %v", sh, err)
		}
	}
}

// TestPutPairsRawEncodings checks PairWrite's as-received encodings: an exact encoding is
// stored as is, and raw bytes that are not exactly the verified sliver's canonical
// encoding (other data, a non-canonical length prefix, trailing bytes) never reach the
// store: the verified sliver is re-encoded instead.
func TestPutPairsRawEncodings(t *testing.T) {
	ctx := context.Background()
	st := memStore(10)
	enc := encode(t, 10, 4000, 5)
	id := enc.BlobID
	if err := st.PutMetadata(ctx, id, &enc.Metadata); err != nil {
		t.Fatal(err)
	}
	p0, s0 := pairFor(enc, 0)
	p1, s1 := pairFor(enc, 1)
	p2, s2 := pairFor(enc, 2)
	other := p1.MarshalBCS() // a valid encoding, of another sliver
	// The same sliver with its ULEB128 length padded by a redundant zero group.
	canon := p2.MarshalBCS()
	l := 1
	for canon[l-1]&0x80 != 0 {
		l++
	}
	nonCanon := append(append(append([]byte(nil), canon[:l]...), 0), canon[l:]...)
	nonCanon[l-1] |= 0x80
	trailing := append(s2.MarshalBCS(), 0)
	writes := []blobstore.PairWrite{
		{Shard: 0, Primary: p0, Secondary: s0, PrimaryBCS: p0.MarshalBCS(), SecondaryBCS: s0.MarshalBCS()},
		{Shard: 1, Primary: p1, Secondary: s1, SecondaryBCS: other},
		{Shard: 2, Primary: p2, Secondary: s2, PrimaryBCS: nonCanon, SecondaryBCS: trailing},
	}
	errs, err := st.PutPairs(ctx, id, writes)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range writes {
		if errs[i] != nil {
			t.Fatalf("pair %d: %v", i, errs[i])
		}
		for _, want := range []*codec.Sliver{w.Primary, w.Secondary} {
			b, err := st.SliverBytes(ctx, id, w.Shard, want.Axis)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b, want.MarshalBCS()) {
				t.Fatalf("shard %d %s: stored bytes are not the verified sliver's encoding", w.Shard, want.Axis)
			}
		}
	}
}
