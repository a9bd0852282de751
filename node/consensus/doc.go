// Package consensus is the node's consensus actor (docs/architecture.md §4, §6): it drives the pure
// Tendermint machine of epoch/tendermint with messages from the `consensus` GossipSub topic,
// timer expiries and ticks from the actor clock, and it keeps the bounded mempool that feeds
// proposals.
//
// The application the machine agrees for is the ledger: Propose builds a checkpoint with
// staking.State.BuildProposal over the mempool (by fee per byte, each sender's in nonce
// order) on the ledger's latest View (never on the ledger's own state), leaving out any
// transaction that would make it invalid; Validate re-applies a proposed checkpoint on a
// clone, checks its time is after the previous checkpoint (ApplyCheckpoint) and within
// TimeBound of the local clock, checks its state root, and refuses (no prevote) a checkpoint
// holding any transaction that was not admitted (bad signature or nonce, expired, fee not
// payable) or whose BLS check failed (staking.CheckProposal).
//
// Transactions (the /walrus/tx/1 submissions, the `txs` and `certs` topics) are checked
// cheapest first before they reach the actor: size and decoding, expiry, the fee against
// the sender's balance, the nonce window (gossip), the Ed25519 signature, and only then
// their BLS check, in a bounded pool of goroutines off the actor, whose successes a
// staking.VerifyCache remembers for the actor's dry runs, proposals and validation
// (verifycache.go). They reach the actor through their own bounded queue, with at most one
// wake-up message in its mailbox, so consensus messages never wait behind transactions
// nor are dropped because of them. The mempool holds at most 1,024 transactions per
// sender; the side pool of future nonces (future.go) at most 16 per sender.
//
// Heights are started only when needed (docs/architecture.md §4: "empty checkpoints only when
// needed"): at genesis, so the first checkpoint commits at once; when the mempool holds a
// transaction; when the epoch clock has crossed mid-epoch or the epoch end (epochs advance on
// checkpoint time, so someone must propose a checkpoint after the boundary); or when a peer
// is already working on the next height. Otherwise the actor idles, and round timeouts do
// not grow while nothing happens. A node that starts a height for its own clients'
// transactions sends them straight to the height's round-0 proposer too (nudgeProposer,
// OutDirect): nothing else would start the proposer's height if it missed their gossip.
//
// A peer may work on a later height than ours: our ledger is still applying the height the
// peers decided, or catching up after a restart. Its messages for the two heights after our
// next one are kept, never dropped, since the `consensus` topic's replay cache Ignores every
// later copy of them, the peers' re-broadcasts included: the machine buffers those for the
// height after the one it runs, and the actor keeps the others in a small buffer bounded by
// count and bytes (early.go). When the ledger reaches the height before theirs, the actor
// starts that height as on a live message from a peer, and feeds the machine the kept
// messages right after starting it. Dropped, they would leave peers that need our vote for
// a quorum waiting for it at round 0 forever.
//
// On a commit the actor hands the decision to the ledger actor (which verifies and stores
// it), publishes it on the `checkpoints` topic for followers, and starts the next height
// when the ledger reports the new state, with that state's committee (validator-set changes
// take effect at the next height).
//
// Crash safety: before any of its own proposals or votes leaves the node, the actor writes
// the machine's Snapshot (round, lock, valid value, own messages) to the datastore, synced;
// a restarted actor resumes the height from it (tendermint.Resume), so it keeps its lock and
// never signs a conflicting message (wal.go). A snapshot that cannot be read makes the
// actor abstain at the next height: it follows that height with a machine that votes
// nothing, since it may have signed there already and cannot know what.
//
// Every consensus message is checked twice, by the topic validator (to Reject forgeries
// before they spread) and by the machine; a small cache of verified signatures makes the
// second check free (verifycache.go).
package consensus
