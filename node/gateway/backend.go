package gateway

import (
	"context"
	"errors"
	"io"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/staking"
)

// The gateway talks to the network through two small interfaces, so that the HTTP layer
// does not depend on how a blob is fetched or stored. Session (session.go) implements both
// over a light-client session (node/client); tests may wrap or fake them.

// Errors a Reader or Publisher returns so the gateway can choose the status code. Others
// are internal errors (500), except for a read, where a failure after a successful Stat is
// the network's (503, retryable).
var (
	// ErrBlobNotFound: the ledger has no live blob with this ID (never stored, expired or
	// deleted): 404.
	ErrBlobNotFound = errors.New("gateway: blob not found")
	// ErrBlobInvalid: the blob was found to be inconsistently encoded: 404.
	ErrBlobInvalid = errors.New("gateway: blob is invalid")
	// ErrBlobUnavailable: the blob cannot be read now but may be later: registered and not
	// yet certified, or too few nodes answered (503, retryable).
	ErrBlobUnavailable = errors.New("gateway: blob not retrievable now")
	// ErrNetworkUnavailable: no node answered (503, retryable).
	ErrNetworkUnavailable = errors.New("gateway: network unavailable")
	// ErrStoreTimeout: the store did not complete in time: too few confirmations or a
	// commit that did not come (504).
	ErrStoreTimeout = errors.New("gateway: store timed out")
	// ErrNoQuorum: confirmations worth n-f shards could not be collected (504).
	ErrNoQuorum = errors.New("gateway: no quorum of storage confirmations")
	// ErrLedgerRejected: the ledger refused a transaction of the store (500).
	ErrLedgerRejected = errors.New("gateway: the ledger refused the store")
	// ErrTooLarge: the blob is over the network's maximum blob size (413).
	ErrTooLarge = errors.New("gateway: blob too large for the network")
)

// BlobInfo is what Stat learns about a readable blob before reading it.
type BlobInfo struct {
	// Size is the blob's unencoded length in bytes (from its verified metadata).
	Size uint64
	// Handle is the Reader's own state for reads of this blob (Session: the committee and
	// the verified metadata), handed back to ReadRangeTo and ReadSecondarySlivers so that
	// they do not fetch it again. The gateway does not look inside.
	Handle any
}

// Reader reads certified blobs for the aggregator routes. Reads stream: the gateway
// decides the status and headers from Stat's answer and the first bytes, then passes the
// rest on as the Reader writes it.
type Reader interface {
	// Params is the network's encoding geometry (quilt layouts depend on it).
	Params() codec.Params
	// Stat checks that blob id is readable (certified) and learns what reading it needs
	// (its metadata, verified against id), without reading any of its data. It fails with
	// ErrBlobNotFound, ErrBlobInvalid, ErrBlobUnavailable or ErrNetworkUnavailable.
	Stat(ctx context.Context, id codec.BlobID) (BlobInfo, error)
	// ReadRangeTo writes bytes [off, off+n) of blob id to w as they are verified, fetching
	// only what holds them, and returns how many it wrote (on an error, a verified prefix).
	// info is Stat's answer; the caller has checked the range against info.Size.
	ReadRangeTo(ctx context.Context, id codec.BlobID, info BlobInfo, off, n uint64, w io.Writer) (int64, error)
	// ReadSecondarySlivers returns the data of secondary slivers cols of blob id (columns
	// of its source matrix: a quilt's index and patches), each verified; when some cannot
	// be had it returns the others and an error.
	ReadSecondarySlivers(ctx context.Context, id codec.BlobID, info BlobInfo, cols []int) (map[int][]byte, error)
}

// StoreRequest is a publisher request's parameters.
type StoreRequest struct {
	// Epochs is how many epochs ahead to store the blob (1 to staking.MaxEpochsAhead).
	Epochs uint32
	// Deletable makes a deletable blob object (Walrus's default since v1.33).
	Deletable bool
	// Force stores the blob under a new blob object even when it is already certified
	// for long enough.
	Force bool
}

// StoreResult is what a store did, with what the Walrus response needs.
type StoreResult struct {
	BlobID codec.BlobID
	// AlreadyCertified: nothing was stored; Object is a certified object of the blob and
	// EndEpoch its end epoch.
	AlreadyCertified bool
	// Object is the blob object created (or, when AlreadyCertified, one that certifies it).
	Object staking.Blob
	// EndEpoch is the epoch until which the blob is stored (exclusive).
	EndEpoch uint32
	// Cost is the storage cost paid in FROST (0 when nothing was bought).
	Cost uint64
	// EncodedLength is the encoded size the storage was reserved for.
	EncodedLength uint64
	// EpochsAhead is the number of epochs the storage was bought for.
	EpochsAhead uint32
	// ReusedRegistration: a registration of ours from an earlier attempt was reused
	// instead of buying storage (Walrus's reuseRegistration).
	ReusedRegistration bool
}

// Publisher stores blobs for the publisher route.
type Publisher interface {
	// Params is the network's encoding geometry (quilt layouts depend on it).
	Params() codec.Params
	// Store stores data and reports the outcome. Errors: ErrTooLarge, ErrNoQuorum,
	// ErrStoreTimeout, ErrLedgerRejected, ErrNetworkUnavailable, or others (500).
	Store(ctx context.Context, data []byte, req StoreRequest) (*StoreResult, error)
}
