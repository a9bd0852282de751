package p2p

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/walrus-go/walrus-go/codec"
)

// This file is the one place protocol IDs are defined (DESIGN.md §5). IDs follow
// /walrus/<name>/<version>; a breaking change to a protocol's messages bumps its version,
// and a node may serve two versions during an upgrade.

// Protocol IDs of the data plane (DESIGN.md §5) and of the control plane (DESIGN.md §4).
const (
	// IDSliver stores a sliver (client → node) or fetches one (reader → node).
	IDSliver protocol.ID = "/walrus/sliver/1"
	// IDMetadata stores or fetches a blob's metadata (PROTOCOL.md §3).
	IDMetadata protocol.ID = "/walrus/metadata/1"
	// IDConfirmation asks a node for its signed storage confirmation (PROTOCOL.md §5).
	IDConfirmation protocol.ID = "/walrus/confirmation/1"
	// IDRecoverySymbol fetches recovery symbols with Merkle proofs (PROTOCOL.md §4).
	IDRecoverySymbol protocol.ID = "/walrus/recovery-symbol/1"
	// IDInconsistency submits an inconsistency proof for an invalid-blob attestation
	// (PROTOCOL.md §4).
	IDInconsistency protocol.ID = "/walrus/inconsistency/1"
	// IDStatus asks a node for a blob's status and for its own health.
	IDStatus protocol.ID = "/walrus/status/1"
	// IDShardSync pulls a batch of a shard's slivers, ordered by blob ID, from the shard's
	// previous owner during an epoch change (PROTOCOL.md §7).
	IDShardSync protocol.ID = "/walrus/shard-sync/1"
	// IDChallenge carries storage-challenge questions and answers (DESIGN.md §5).
	IDChallenge protocol.ID = "/walrus/challenge/1"
	// IDLedgerSync fetches committed checkpoints a follower is missing (DESIGN.md §4).
	IDLedgerSync protocol.ID = "/walrus/ledger-sync/1"
	// IDTx submits a signed transaction to a node's mempool (DESIGN.md §4).
	IDTx protocol.ID = "/walrus/tx/1"
	// IDQuery asks a node about its ledger: height, blob status, account, committee and
	// info, or waits for a transaction's receipt.
	IDQuery protocol.ID = "/walrus/query/1"
)

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

// Fixed-size messages: small caps with room for growth of the encodings.
const (
	smallMessageCap = 4 << 10 // blob ID + sliver index + flags, status answers
	certificateCap  = 64 << 10
	// maxSliverHeader is room for the envelope around sliver bytes (blob ID, index, kind,
	// framing of the codec's sliver encoding).
	maxSliverHeader = 1 << 10
)

// SliverCap is the largest encoded sliver for geometry p: a primary sliver has C symbols
// and a secondary R (PROTOCOL.md §1–2), each of at most codec.MaxSymbolSize bytes.
func SliverCap(p codec.Params) int {
	return max(p.R, p.C)*codec.MaxSymbolSize + maxSliverHeader
}

// MetadataCap is the largest encoded metadata for geometry p: n pairs of hashes in their
// BCS form, each hash behind a one-byte tag, 2·(1+32) bytes a pair (codec.Metadata.
// MarshalBCS; 64n would miss the tags, 2n bytes, and refuse n = 1000 metadata), plus the
// blob ID, length, encoding type and vector length.
func MetadataCap(p codec.Params) int {
	return 2*(1+codec.HashLen)*p.N + 32 + maxSliverHeader
}

// Protocols returns the data-plane protocol table for geometry p. Caps derive from the
// encoding parameters (DESIGN.md §5: every read a size cap derived from the encoding
// parameters); timeouts are sized for a full-size sliver over a slow link (≈44 MB at
// n=1000 in 2 minutes needs ~3 Mbit/s... more precisely ~370 KB/s) and for small answers
// that need no transfer time.
func Protocols(p codec.Params) []Protocol {
	sliver := SliverCap(p)
	meta := MetadataCap(p)
	// A shard-sync batch carries many slivers; 256 MiB bounds one batch's memory, and the
	// requester asks for batches that fit.
	const syncBatch = 256 << 20
	return []Protocol{
		{ID: IDSliver, MaxRequest: sliver, MaxResponse: sliver, Timeout: 2 * time.Minute},
		{ID: IDMetadata, MaxRequest: meta, MaxResponse: meta, Timeout: 30 * time.Second},
		{ID: IDConfirmation, MaxRequest: smallMessageCap, MaxResponse: smallMessageCap, Timeout: 30 * time.Second},
		// A recovery-symbol answer carries up to one symbol per requested target plus
		// ⌈log2 n⌉ hashes of proof each; cap at one sliver's worth.
		{ID: IDRecoverySymbol, MaxRequest: smallMessageCap, MaxResponse: sliver, Timeout: time.Minute},
		// An inconsistency proof carries a recovery threshold (≤ n-f) of symbols with proofs.
		{ID: IDInconsistency, MaxRequest: sliver + p.N*(32*17), MaxResponse: certificateCap, Timeout: time.Minute},
		{ID: IDStatus, MaxRequest: smallMessageCap, MaxResponse: smallMessageCap, Timeout: 10 * time.Second},
		{ID: IDShardSync, MaxRequest: certificateCap, MaxResponse: syncBatch, Timeout: 5 * time.Minute},
		{ID: IDChallenge, MaxRequest: 1 << 20, MaxResponse: 16 << 20, Timeout: time.Minute},
		// Checkpoints are bounded by the gossip message cap; a batch carries up to 64.
		{ID: IDLedgerSync, MaxRequest: smallMessageCap, MaxResponse: 64 * MaxGossipMessage, Timeout: time.Minute},
	}
}

// ProtocolFor returns the entry for id in Protocols(p).
func ProtocolFor(p codec.Params, id protocol.ID) (Protocol, bool) {
	for _, pr := range Protocols(p) {
		if pr.ID == id {
			return pr, true
		}
	}
	return Protocol{}, false
}
