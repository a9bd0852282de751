// Package blobstore is a storage node's persistent store of blob metadata and slivers
// (DESIGN.md §7), kept per shard on a go-datastore [datastore.Batching].
//
// It stores only verified data: metadata is checked against the blob ID it claims
// (PROTOCOL.md §3) and a sliver against that metadata's hash and against the pair the
// shard holds for the blob (PROTOCOL.md §2). Every write that a storage confirmation may
// later promise is synced before the call returns (DESIGN.md §7, PROTOCOL.md §5), so a
// node never signs for bytes a crash could lose.
//
// Key layout (DESIGN.md §7; the node's single key-layout file should list these):
//
//	/blobs/<blob-id>/meta        metadata, Walrus BCS
//	/shards/<s>/<blob-id>/p      primary sliver of the pair shard s holds, Walrus BCS
//	/shards/<s>/<blob-id>/s      secondary sliver of the pair shard s holds, Walrus BCS
//	/shardstate/<s>              shard state byte (absent means Active)
//
// <blob-id> is the blob ID in lowercase hex (not the printed base64url form, whose ASCII
// order differs from the ID's byte order) and <s> the decimal shard index, so a query on
// /shards/<s> walks one shard's blobs in blob-ID order, which is what shard-sync batches
// need (PROTOCOL.md §7).
//
// A Store is safe for concurrent use; it adds no locking of its own beyond what the
// datastore provides, because every key is written with whole, verified values.
package blobstore
