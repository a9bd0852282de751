package codec

import "github.com/walrus-go/walrus-go/internal/wire"

// Size limits of the codec's BCS encodings, for protocol caps (p2p/protocol/...): the most
// bytes an honest encoding can take for geometry p, so a reader can refuse anything larger
// before allocating for it.

// MaxMetadataBCSLen is the longest Metadata.MarshalBCS for geometry p: version and encoding
// type, the u64 length, the uleb128 hash count, and per pair two tagged hashes.
func (p Params) MaxMetadataBCSLen() int {
	return 2 + 8 + wire.MaxULEB128Len + p.N*2*(1+HashLen)
}

// MaxRecoverySymbolBCSLen is the longest RecoverySymbol.MarshalBCS for any geometry: the u16
// source index, the uleb128 length and at most MaxSymbolSize bytes of data, and a Merkle
// proof of at most maxProofDepth tagged nodes and its u64 leaf index.
const MaxRecoverySymbolBCSLen = 2 + wire.MaxULEB128Len + MaxSymbolSize +
	wire.MaxULEB128Len + maxProofDepth*(1+HashLen) + 8
