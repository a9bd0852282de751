// Package codec implements RedStuff (Walrus encoding type RS2) bit-compatibly with Walrus:
// the two-dimensional Reed-Solomon encoding over GF(2^16), slivers and sliver pairs, Blake2b
// Merkle commitments, blob metadata and blob IDs, recovery symbols, decoding, consistency
// checks and inconsistency proofs, and the canonical (BCS) byte encoding of each.
//
// It is a pure core: no goroutines of its own beyond bounded worker fan-out inside a call, no
// clock, no global randomness. Every function that takes untrusted bytes returns an error and
// never allocates from an unchecked length. Section numbers in comments refer to
// shared/PROTOCOL.md.
package codec
