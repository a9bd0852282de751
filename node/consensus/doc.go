// Package consensus is the node's consensus actor (docs/architecture.md §4, §6): it drives the pure
// Tendermint machine of epoch/tendermint with messages from the `consensus` GossipSub topic,
// timer expiries and ticks from the actor clock, and it keeps the bounded mempool that feeds
// proposals.
//
// The application the machine agrees for is the ledger: Propose builds a checkpoint with
// staking.State.BuildCheckpoint over the mempool on the ledger's latest View (never on the
// ledger's own state), and Validate re-applies a proposed checkpoint on a clone, checks its
// time is after the previous checkpoint (ApplyCheckpoint) and within TimeBound of the local
// clock, and checks its state root.
//
// Heights are started only when needed (docs/architecture.md §4: "empty checkpoints only when
// needed"): at genesis, so the first checkpoint commits at once; when the mempool holds a
// transaction; when the epoch clock has crossed mid-epoch or the epoch end (epochs advance on
// checkpoint time, so someone must propose a checkpoint after the boundary); or when a peer
// is already working on the next height. Otherwise the actor idles, and round timeouts do
// not grow while nothing happens.
//
// On a commit the actor hands the decision to the ledger actor (which verifies and stores
// it), publishes it on the `checkpoints` topic for followers, and starts the next height
// when the ledger reports the new state, with that state's committee (validator-set changes
// take effect at the next height).
//
// Crash safety: before any of its own proposals or votes leaves the node, the actor writes
// the machine's Snapshot (round, lock, valid value, own messages) to the datastore, synced;
// a restarted actor resumes the height from it (tendermint.Resume), so it keeps its lock and
// never signs a conflicting message (wal.go).
//
// Every consensus message is checked twice, by the topic validator (to Reject forgeries
// before they spread) and by the machine; a small cache of verified signatures makes the
// second check free (verifycache.go).
package consensus
