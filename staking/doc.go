// Package staking is the ledger state machine of walrus-go (DESIGN.md §4): the deterministic
// function every node applies to committed checkpoints. It holds accounts (WAL/FROST),
// transfers, storage resources, the blob registry and lifecycle, the node registry, stake
// pools with delegation, committee selection (D'Hondt with minimal shard movement), price
// and capacity votes, challenge attestations, and epoch accounting (PROTOCOL.md §5–7).
//
// Everything here is pure: integer arithmetic only, iteration in sorted key order whenever
// the order can reach an output, no clock (time arrives in checkpoints), no randomness, no
// goroutines except a bounded fan-out that verifies a checkpoint's certificates in
// parallel inside ApplyCheckpoint.
//
// Rejected transactions change nothing at all: not the balance, not the nonce (there are no
// fees). The receipt carries a typed Code and a message. Spam of invalid transactions is
// thus free at this layer; the consensus actor is expected to drop transactions that fail
// Check before proposing them.
//
// Conventions: epochs are uint32, FROST amounts uint64 (1 WAL = 10^9 FROST), times unix
// milliseconds. Storage resources cover [Start, End) (End exclusive); a blob expires at the
// start of its End epoch (PROTOCOL.md §6).
package staking
