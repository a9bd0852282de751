package codec

import (
	"encoding/binary"

	"github.com/walrus-go/walrus-go/internal/wire"
)

// Minimal BCS (Binary Canonical Serialization, as Walrus and Sui use it): little-endian
// fixed-width integers, uleb128 lengths and enum tags. Decoding goes through wire.Reader,
// which is strict: it rejects non-canonical uleb128, lengths beyond a caller-given bound (so
// untrusted input never drives an unchecked allocation) and trailing bytes. Its failures wrap
// ErrMalformed (and so wire.ErrMalformed).

func appendU16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// newBCSReader returns a cursor over untrusted BCS whose failures wrap ErrMalformed.
func newBCSReader(b []byte) wire.Reader { return wire.NewReader(b, ErrMalformed) }

// readBytes reads a uleb128-length-prefixed byte vector of at most max bytes (copied).
func readBytes(r *wire.Reader, max int) []byte {
	s := r.Take(r.Length(max))
	if s == nil {
		return nil
	}
	return append([]byte(nil), s...)
}
