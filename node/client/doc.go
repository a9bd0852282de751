// Package client is walrus-go's light client, data path (docs/architecture.md §5 "Store" and
// "Read"): it encodes a blob with RedStuff, sends each committee member its metadata and
// sliver pairs over the data-plane protocols (node/dataplane), collects and verifies the
// members' signed storage confirmations into a certificate once they are worth n-f shards
// (docs/protocol.md §5), and reads a blob back by fetching verified metadata and primary
// slivers from the shards' owners and decoding them (docs/protocol.md §4).
//
// The ledger steps of a store (reserve storage, register blob, certify blob, waiting for
// commits) are not here: [LedgerHooks] names them for the ledger client to implement, and
// [Client.Upload] is the part between registration and certification.
//
// Every byte from a node is untrusted: metadata must match the blob ID, slivers their
// metadata hashes, confirmations the expected message under the member's BLS key. A node
// that is down, slow or lying costs time, never correctness.
package client
