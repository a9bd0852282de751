// Package tendermint is the ledger's agreement core: Tendermint as in Buchman, Kwon and
// Milosevic, "The latest gossip on BFT consensus" (2018), Algorithm 1, written as a pure state
// machine in the style of etcd-io/raft. docs/architecture.md §4 explains where it sits: the
// storage committee agrees on ledger checkpoints with it, and a consensus actor drives it with
// GossipSub messages, timer expiries and ticks.
//
// # Driving it
//
// A Machine consumes one event at a time through Step(now, event) and returns the effects the
// driver must carry out: Broadcast a message, ScheduleTimeout (call Step with the Timeout after
// the duration), Commit a value with its certificate, record Evidence of equivocation. It
// starts no goroutines and reads no clock: now (unix milliseconds) comes with every event, and
// is what the application's Validate sees as "the voter's clock". After a Commit the machine
// waits for StartHeight(h+1) with the committee of the next height, because validator-set
// changes decided at height h take effect at h+1, as in Tendermint; messages for h+1 that
// arrive meanwhile are buffered (boundedly) and replayed.
//
// A validator that may crash persists Machine.Snapshot (its lock, valid value, round and the
// messages it signed at this height) durably after each Step that broadcast its own message
// and before sending, and restarts with Resume instead of StartHeight: otherwise it could
// forget a lock or sign a second, conflicting vote, which is equivocation. The simulator
// restarts crashed validators this way.
//
// # The algorithm
//
// Line numbers in comments refer to Algorithm 1 of the paper. Weights are shards, not nodes:
// "2f+1" is epoch.IsQuorum (3w >= 2n+1) and "f+1" epoch.IsValidity (3w >= n+1). Values are
// opaque bytes named by their Blake2b-256 hash; votes carry the hash, the zero hash meaning nil.
// Two small deviations, both safe because safety in Tendermint never depends on when a round
// starts or on the decider re-checking validity:
//
//   - Round skip (line 55) jumps to the highest round R such that members worth f+1 shards have
//     sent some message in a round >= R. The paper's rule (f+1 in one round) is a special case;
//     counting per sender's highest round also lets a node rejoin from far behind without
//     storing messages of every far-future round.
//   - The decision (line 49) does not call Validate again: n-f shards precommitted the value, so
//     at least one honest member prevoted it after its own Validate succeeded. This keeps a node
//     whose clock drifted from being stuck on a value everyone else committed.
//
// Liveness needs every message sent by a correct node to reach every correct node eventually
// (the paper's gossip assumption: what one correct node received, all eventually receive).
// Over a lossy network that comes from Tick: every RebroadcastInterval the machine
// re-broadcasts its own messages of the current height, relays the others' votes of the
// current and previous round and the proof of lock of its valid value, and repeats the
// decision of the previous height, so lost messages are repaired once the network heals. A
// crashed member's votes survive in these relays, which the simulator showed to matter.
// Catching up over more than one height is the ledger sync stream's job, not this package's.
//
// # Signatures and certificates
//
// Proposals and votes are intent-signed epoch.SignedMessage bytes (IntentProposal, Prevote,
// Precommit) bound to the network ID and the committee's epoch. The commit certificate is the
// aggregate of precommits worth n-f shards on (height, round, value hash), an
// epoch.Certificate that followers check with VerifyCommit. Signing goes through the Signer
// and Scheme interfaces: BLSScheme is the real one (a *bls.SecretKey is a Signer); FakeScheme
// is a cheap deterministic stand-in for large simulations, with no security whatsoever.
package tendermint
