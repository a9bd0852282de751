package p2p

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"
)

// Each protocol's ID, spec, messages and framing live in its own package under
// p2p/protocol/<name>, imported by both its client and its server (docs/architecture.md
// §2). IDs follow /walrus/<name>/<version>; a breaking change to a protocol's messages bumps
// its version, and a node may serve two versions during an upgrade.

// Protocol is a request/response protocol: its ID, the largest request and response body
// either side accepts, and how long one exchange may take end to end. Caps are enforced on
// read before any allocation, so a peer cannot make us buffer more than the cap.
type Protocol struct {
	// ID is the libp2p protocol ID.
	ID protocol.ID
	// MaxRequest caps a request body in bytes.
	MaxRequest int
	// MaxResponse caps a response body in bytes (the status byte is extra).
	MaxResponse int
	// Timeout bounds one whole exchange (open, write, handle, read) on both sides.
	Timeout time.Duration
}

// maxProtocolCap bounds any protocol's caps far from integer overflow (cap arithmetic adds
// status bytes and headers) while leaving room for the largest geometry: at n = 65535 a
// single sliver may reach C·MaxSymbolSize ≈ 2.9 GB.
const maxProtocolCap int64 = 1 << 40

// Validate reports whether p is usable.
func (p Protocol) Validate() error {
	if p.ID == "" || p.MaxRequest < 0 || p.MaxResponse < 0 || p.Timeout <= 0 ||
		int64(p.MaxRequest) > maxProtocolCap || int64(p.MaxResponse) > maxProtocolCap {
		return fmt.Errorf("p2p: invalid protocol spec %+v", p)
	}
	return nil
}
