// Package dataplane is a storage node's side of the Walrus data plane (docs/architecture.md §5
// "Store" and "Read", docs/protocol.md §2, §4, §5): libp2p request/response protocols to put
// and get blob metadata and sliver pairs, to ask for a signed storage confirmation, and to
// ask for a blob's status on this node.
//
// A [Service] registers the protocols on the node's host (p2p.Handle: one request frame,
// one status-prefixed response frame, a deadline and a size cap derived from the encoding
// parameters on every stream, Reset on any error) and serves them through one actor
// (docs/architecture.md §6) that owns the confirmation cache and hands verification, storage and
// signing to a bounded worker pool; a saturated node answers "unavailable" instead of
// queueing without bound.
//
// What the node accepts: metadata only for blobs the ledger lists as registered or
// certified, and only when it verifies against the blob ID; sliver pairs only for shards
// this node holds in the current epoch, only after the metadata, and only when both slivers
// verify against it (node/blobstore). What it signs: a storage confirmation
// (staking.ConfirmationMessage) only for a live registration with the requested
// persistence, in the current epoch, once every shard it holds has both slivers durably
// stored (docs/protocol.md §5, all or nothing per node). A hostile peer gets a typed error
// (p2p.Code) and changes nothing.
//
// The ledger is reached through the [Ledger] interface, which node/ledger.Ledger
// satisfies; tests use an in-memory fake.
package dataplane
