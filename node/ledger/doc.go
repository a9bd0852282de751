// Package ledger is the node's ledger actor (docs/architecture.md §4, §6): the one owner of the
// node's *staking.State, the replicated control-plane state that every node derives from
// the genesis file and the chain of committed checkpoints.
//
// The actor applies a checkpoint only with a commit certificate that verifies
// (tendermint.VerifyCommit) against the committee it derived itself for that height: the
// committee of the state after the previous height, because validator-set changes take
// effect at the next height as in Tendermint (docs/architecture.md §4). Checkpoints reach it from the
// consensus actor, from the `checkpoints` GossipSub topic, and from the catch-up stream
// /walrus/ledger-sync/1; all three go through the same verification.
//
// Durability (docs/architecture.md §7): every checkpoint is written with its certificate under
// /ledger/cp/<height> and synced before the actor reports it committed; every K heights a
// state snapshot goes to /ledger/snapshot. A restart restores the snapshot and replays the
// later checkpoints, so it neither trusts the network nor replays everything.
//
// Readers never touch the actor's mutable state: after each commit the actor publishes an
// immutable copy (a View), which queries, gossip validators and the consensus actor read
// without locks. Subscribers get typed events (checkpoint committed, blob registered,
// certified or invalidated, epoch changed) through bounded channels that drop rather than
// stall the actor.
package ledger
