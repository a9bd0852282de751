package codec

import (
	"fmt"

	"github.com/walrus-go/walrus-go/internal/wire"
)

// InconsistencyProof shows that a blob was encoded inconsistently (docs/protocol.md §4): exactly
// the recovery threshold of recovery symbols for one target sliver, each authenticated
// against the metadata, which decode to a sliver whose hash differs from the committed one.
// Any node can check it with VerifyInconsistencyProof and then sign InvalidBlob(blob_id).
//
// The BCS form is Walrus's InconsistencyProof<T, MerkleProof>: u16 LE target_sliver_index ||
// uleb128(count) || count × RecoverySymbol; the axis is carried by context.
type InconsistencyProof struct {
	Target      Axis
	TargetIndex uint16
	Symbols     []RecoverySymbol
}

// MarshalBCS encodes the proof (see InconsistencyProof).
func (ip *InconsistencyProof) MarshalBCS() []byte {
	b := appendU16(nil, ip.TargetIndex)
	b = wire.AppendULEB128(b, uint64(len(ip.Symbols)))
	for i := range ip.Symbols {
		b = ip.Symbols[i].appendBCS(b)
	}
	return b
}

// UnmarshalInconsistencyProofBCS decodes an untrusted proof whose target has the given axis.
// At most n symbols are accepted and each is shape-checked; VerifyInconsistencyProof does the
// rest.
func UnmarshalInconsistencyProofBCS(p Params, target Axis, b []byte) (InconsistencyProof, error) {
	if err := p.check(); err != nil {
		return InconsistencyProof{}, err
	}
	if !target.Valid() {
		return InconsistencyProof{}, fmt.Errorf("%w: bad axis %d", ErrBadInconsistencyProof, target)
	}
	r := newBCSReader(b)
	ip := InconsistencyProof{Target: target, TargetIndex: r.U16()}
	count := r.Length(p.N)
	if r.Err() == nil {
		ip.Symbols = make([]RecoverySymbol, 0, count)
		for range count {
			ip.Symbols = append(ip.Symbols, readRecoverySymbol(&r, target))
			if r.Err() != nil {
				break
			}
		}
	}
	if err := r.End(); err != nil {
		return InconsistencyProof{}, err
	}
	if int(ip.TargetIndex) >= p.N {
		return InconsistencyProof{}, fmt.Errorf("%w: target %d >= n=%d", ErrBadInconsistencyProof, ip.TargetIndex, p.N)
	}
	for i := range ip.Symbols {
		if err := checkSymbolShape(p, &ip.Symbols[i]); err != nil {
			return InconsistencyProof{}, err
		}
	}
	return ip, nil
}

// VerifyInconsistencyProof returns nil iff the proof shows that the blob described by the
// (verified) metadata is inconsistent: exactly RecoveryThreshold(target) symbols with distinct
// source indices, every one verifying for the target, decoding to a sliver that does not match
// its committed hash. A proof of a consistent sliver yields ErrProofNotInconsistent; any other
// defect ErrBadInconsistencyProof (wrapping the cause).
//
// Limitation: for a secondary target only source indices 0..R+K-1 can be decoded here (the
// low-rate step-1 code, see DecodePrimary); proofs built by RecoverSliver always qualify, and
// a proof using other sources is rejected as ErrBadInconsistencyProof.
func VerifyInconsistencyProof(p Params, m *Metadata, ip *InconsistencyProof) error {
	if err := p.check(); err != nil {
		return err
	}
	if !ip.Target.Valid() || int(ip.TargetIndex) >= p.N {
		return fmt.Errorf("%w: target %s %d", ErrBadInconsistencyProof, ip.Target, ip.TargetIndex)
	}
	code, err := recoveryCode(p, ip.Target)
	if err != nil {
		return err
	}
	if len(ip.Symbols) != code.k {
		return fmt.Errorf("%w: %d symbols, want exactly %d", ErrBadInconsistencyProof, len(ip.Symbols), code.k)
	}
	seen := make([]bool, p.N)
	used := make([]*RecoverySymbol, len(ip.Symbols))
	for i := range ip.Symbols {
		sym := &ip.Symbols[i]
		if err := VerifyRecoverySymbol(p, m, ip.Target, int(ip.TargetIndex), sym); err != nil {
			return fmt.Errorf("%w: symbol %d: %w", ErrBadInconsistencyProof, i, err)
		}
		if seen[sym.Index] {
			return fmt.Errorf("%w: source %d repeated", ErrBadInconsistencyProof, sym.Index)
		}
		if int(sym.Index) >= code.usable() {
			return fmt.Errorf("%w: source %d outside the decodable range 0..%d", ErrBadInconsistencyProof, sym.Index, code.usable()-1)
		}
		seen[sym.Index] = true
		used[i] = sym
	}
	sl, err := decodeSymbols(p, code, ip.Target, int(ip.TargetIndex), used)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadInconsistencyProof, err)
	}
	h, err := sliverHash(new(expandScratch), p, ip.Target, sl.Data, int(sl.SymbolSize))
	if err != nil {
		return err
	}
	if h == m.sliverHash(ip.Target, int(ip.TargetIndex)) {
		return fmt.Errorf("%w: %s sliver %d", ErrProofNotInconsistent, ip.Target, ip.TargetIndex)
	}
	return nil
}
