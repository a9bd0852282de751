// Package protocol is the parent of walrus-go's libp2p request/response protocols, one
// package each (docs/architecture.md §2, docs/protocol.md §9):
//
//	sliver      /walrus/sliver/1         put sliver pairs, get slivers (data plane)
//	metadata    /walrus/metadata/1       put and get a blob's metadata (data plane)
//	confirm     /walrus/confirmation/1   a node's signed storage confirmation (data plane)
//	blobstatus  /walrus/status/1         one node's view of a blob (data plane)
//	tx          /walrus/tx/1             submit a signed transaction (control plane)
//	query       /walrus/query/1          ledger queries and receipt waits (control plane)
//	ledgersync  /walrus/ledger-sync/1    committed checkpoints for a follower (control plane)
//	recovery    /walrus/recovery-symbol/1 recovery symbols for a missing sliver (data plane)
//	nodestatus  /walrus/node-status/1    a node's report on itself: shards, blobs, sync, scrub, GC
//	inconsistency /walrus/inconsistency/1 an inconsistency proof in, an invalid-blob attestation out
//
// The rule, after go-libp2p's p2p/protocol/ping: a protocol's ID, its Spec (caps derived
// from the encoding parameters, timeout), its messages, their encoders and streaming
// parsers, and its framing overheads as named constants live in its package, which both
// the client (node/client) and the server (node/dataplane, node/ledger, node/consensus)
// import. Servers keep only their handlers, which need the node's storage and actors.
// A protocol package imports only p2p, internal/wire and the pure cores; scripts/check-deps.sh
// enforces that, and that no protocol ID is declared anywhere else.
package protocol
