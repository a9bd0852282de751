package codec

import (
	"errors"

	"github.com/walrus-go/walrus-go/internal/wire"
)

// Sentinel errors for every failure class of the codec. Errors returned by this package wrap
// one of these (or ErrBadShardCount, ErrBlobTooLarge, ErrBadBlobID), so callers can match
// them with errors.Is and treat a whole class alike. Those that mean "the input is unusable"
// (malformed, or failing a geometry, hash or proof check) are in wire.ErrInvalid's family,
// so a server answers "bad request" for all of them with one errors.Is(err, wire.ErrInvalid).
var (
	// ErrMalformed: untrusted bytes are not a canonical BCS encoding of the expected value.
	// It is a member of wire.ErrMalformed's family, so errors.Is(err, wire.ErrMalformed)
	// holds for it too.
	ErrMalformed = wire.Malformed("codec: malformed encoding")
	// ErrBadSliver: a sliver has the wrong axis, index or size for these parameters.
	ErrBadSliver = wire.Invalid("codec: sliver does not fit the blob geometry")
	// ErrSliverHashMismatch: a sliver does not hash to the value committed in the metadata.
	ErrSliverHashMismatch = wire.Invalid("codec: sliver does not match its metadata hash")
	// ErrBadMetadata: metadata is structurally invalid (hash count, length, encoding type).
	ErrBadMetadata = wire.Invalid("codec: invalid metadata")
	// ErrBlobIDMismatch: metadata does not hash to the claimed blob ID.
	ErrBlobIDMismatch = wire.Invalid("codec: metadata does not match blob ID")
	// ErrNotEnoughSlivers: too few distinct usable slivers to decode.
	ErrNotEnoughSlivers = errors.New("codec: not enough slivers to decode")
	// ErrNotEnoughSymbols: too few distinct usable recovery symbols to recover a sliver.
	ErrNotEnoughSymbols = errors.New("codec: not enough recovery symbols")
	// ErrBadSymbol: a recovery symbol has the wrong index, size or does not fit the target.
	ErrBadSymbol = wire.Invalid("codec: recovery symbol does not fit the target sliver")
	// ErrBadProof: a Merkle proof does not authenticate its data against the expected root.
	ErrBadProof = wire.Invalid("codec: Merkle proof does not verify")
	// ErrInconsistentBlob: the blob was encoded inconsistently with its metadata
	// (docs/protocol.md §4: every reader then reports "invalid blob").
	ErrInconsistentBlob = errors.New("codec: blob is inconsistently encoded")
	// ErrProofNotInconsistent: an inconsistency proof's symbols decode to a sliver that does
	// match its metadata hash, so the proof proves nothing.
	ErrProofNotInconsistent = wire.Invalid("codec: inconsistency proof shows a consistent sliver")
	// ErrBadInconsistencyProof: an inconsistency proof is malformed (count, target, symbols).
	ErrBadInconsistencyProof = wire.Invalid("codec: invalid inconsistency proof")
	// ErrInternal: an unexpected failure of the underlying Reed-Solomon library.
	ErrInternal = errors.New("codec: internal error")
)
