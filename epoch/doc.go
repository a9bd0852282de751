// Package epoch holds the committee-level pure core of walrus-go: committees and shard maps,
// quorum math counted in shards, aggregate certificates, intent-prefixed signed messages,
// the epoch clock, epoch-change plans, and the Tendermint agreement algorithm as a pure
// state machine (Step(event) -> effects).
//
// Nothing here does I/O, starts goroutines, reads the clock or uses global randomness: time
// and seeds arrive as arguments. Section numbers refer to shared/PROTOCOL.md and DESIGN.md.
package epoch
