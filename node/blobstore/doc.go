// Package blobstore is a storage node's persistent store of blob metadata and slivers
// (docs/architecture.md §7), kept per shard on a go-datastore [datastore.Batching].
//
// It stores only verified data: metadata is checked against the blob ID it claims
// (docs/protocol.md §3) and a sliver against that metadata's hash and against the pair the
// shard holds for the blob (docs/protocol.md §2). Every write that a storage confirmation may
// later promise is synced before the call returns (docs/architecture.md §7, docs/protocol.md §5), so a
// node never signs for bytes a crash could lose.
//
// Keys come from node/store's layout file (docs/architecture.md §7): /blobs/<hex id>/meta for
// metadata and /shards/<s>/<hex id>/{p,s} for the pair a shard holds, so a query on a
// shard's prefix walks its blobs in blob-ID order, which is what shard-sync batches need
// (docs/protocol.md §7). Shard states live under /shardstate/<s> (node/store's key layout).
//
// A Store is safe for concurrent use; it adds no locking of its own beyond what the
// datastore provides, because every key is written with whole, verified values.
package blobstore
