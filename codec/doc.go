// Package codec implements RedStuff (Walrus encoding type RS2) bit-compatibly with Walrus:
// the two-dimensional Reed-Solomon encoding over GF(2^16), slivers and sliver pairs, Blake2b
// Merkle commitments, blob metadata and blob IDs, recovery symbols, decoding, consistency
// checks and inconsistency proofs, and the canonical (BCS) byte encoding of each.
//
// It is a pure core: no goroutines of its own beyond bounded worker fan-out inside a call, no
// clock, no global randomness. Every function that takes untrusted bytes returns an error and
// never allocates from an unchecked length. Section numbers in comments refer to
// shared/docs/protocol.md.
//
// # Writing
//
// Encode returns all 2n slivers with the metadata and blob ID; EncodeTo streams the sliver
// pairs to a sink in under 3× the blob's size of memory (Encode's output alone is 4.5×);
// ComputeMetadata only commits (what a client needs to register a blob). The slivers, metadata and blob ID equal those of the Walrus
// reference encoder for the same n, byte for byte.
//
// # Reading
//
// VerifyMetadata checks metadata against a blob ID; VerifySliver checks a sliver against the
// metadata; DecodePrimary (R = n-2f primary slivers, from indices below
// Params.UsablePrimarySlivers) or DecodeSecondary (C = n-f secondary slivers) rebuild the blob
// and run the default consistency check; CheckConsistency also offers the strict one.
//
// # Recovery and inconsistency
//
// A node serving recovery symbols expands its sliver once (ExpandSliver) and hands out
// ExpandedSliver.RecoverySymbol(target). The recovering node checks each with
// VerifyRecoverySymbol and calls RecoverSliver, which either returns the sliver or, if the
// writer encoded the blob inconsistently, an InconsistencyProof that any node can check with
// VerifyInconsistencyProof.
//
// # Errors
//
// Every failure wraps one of the package's sentinel errors (ErrMalformed, ErrBadSliver,
// ErrSliverHashMismatch, ErrBadMetadata, ErrBlobIDMismatch, ErrNotEnoughSlivers,
// ErrNotEnoughSymbols, ErrBadSymbol, ErrBadProof, ErrInconsistentBlob,
// ErrProofNotInconsistent, ErrBadInconsistencyProof, ErrBadShardCount, ErrBlobTooLarge,
// ErrBadBlobID, ErrInternal); match them with errors.Is.
package codec
