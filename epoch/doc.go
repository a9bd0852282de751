// Package epoch holds the committee-level pure core of walrus-go: committees and shard maps,
// quorum math counted in shards, aggregate certificates, intent-prefixed signed messages,
// the epoch clock, epoch-change plans, and (in sub-packages) the Tendermint agreement
// algorithm as a pure state machine (Step(event) -> effects).
//
// Nothing here does I/O, starts goroutines, reads the clock or uses global randomness: time
// and seeds arrive as arguments. Section numbers refer to shared/docs/protocol.md and docs/architecture.md.
//
// # Contents
//
//   - Committee, Member, NodeID: who holds which shard in an epoch. Index validates and builds
//     the shard-owner table; MarshalBinary / DecodeCommittee give the one canonical encoding
//     (caps checked before any allocation), and Digest names a committee.
//   - Certificate: an aggregate BLS signature with a signer bitmap. VerifyCertificate checks it
//     against a committee at ThresholdQuorum (n-f shards, 3w >= 2n+1) or ThresholdValidity
//     (f+1, 3w >= n+1); CertBuilder collects and verifies signatures until the threshold.
//   - SignedMessage and the Intent values: every signature binds role, epoch and network.
//   - EpochAt, EpochSchedule, Crossed: the epoch clock as pure functions of checkpoint times.
//   - Plan: the side-effect-free half of an epoch change (gained, lost and kept shards per
//     node), which the epochchange actor applies (Walrus's plan/apply split).
//
// Sub-packages: epoch/bls (BLS12-381 min-pk on blst), epoch/tendermint (the agreement state
// machine, commit certificates and VerifyCommit), epoch/sim (the deterministic adversarial
// simulator that tests it), epoch/epochtest (deterministic committees for tests).
package epoch
