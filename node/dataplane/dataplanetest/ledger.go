// Package dataplanetest holds test helpers for the data plane and the code that talks to
// it: an in-memory [dataplane.Ledger] whose blob objects the test sets, so that storage
// nodes (node/dataplane) run against real hosts without a ledger, consensus or network.
//
// It is imported by tests only.
package dataplanetest

import (
	"sync"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/dataplane"
	"github.com/walrus-go/walrus-go/staking"
)

// Ledger is an in-memory [dataplane.Ledger]: one committee, whose epoch is the current
// one; blob objects recorded by the test; statuses derived from them as
// staking.State.BlobStatus does. It is safe for concurrent use.
type Ledger struct {
	params  codec.Params
	network epoch.NetworkID

	mu      sync.Mutex
	com     *epoch.Committee
	prev    *epoch.Committee // the committee Advance replaced, nil before
	blobs   map[codec.BlobID][]staking.Blob
	invalid map[codec.BlobID]bool
}

var _ dataplane.Ledger = (*Ledger)(nil)

// NewLedger returns a ledger with geometry p, network ID network and committee com (the
// committee of the current epoch, com.Epoch), and no blobs.
func NewLedger(p codec.Params, network epoch.NetworkID, com *epoch.Committee) *Ledger {
	return &Ledger{params: p, network: network, com: com,
		blobs: map[codec.BlobID][]staking.Blob{}, invalid: map[codec.BlobID]bool{}}
}

// Params returns the geometry given to NewLedger.
func (l *Ledger) Params() codec.Params { return l.params }

// NetworkID returns the network ID given to NewLedger.
func (l *Ledger) NetworkID() epoch.NetworkID { return l.network }

// CurrentEpoch is the committee's epoch.
func (l *Ledger) CurrentEpoch() uint32 { return l.CurrentCommittee().Epoch }

// Committee returns the current committee for its epoch, the one Advance replaced for
// its epoch, and epoch.ErrBadCommittee for any other.
func (l *Ledger) Committee(e uint32) (*epoch.Committee, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range []*epoch.Committee{l.com, l.prev} {
		if c != nil && c.Epoch == e {
			return c, nil
		}
	}
	return nil, epoch.ErrBadCommittee
}

// CurrentCommittee is the committee given to NewLedger, or the last given to Advance.
func (l *Ledger) CurrentCommittee() *epoch.Committee {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.com
}

// Advance starts the epoch of next (the current one plus one), whose committee it is;
// the committee it replaces stays readable by Committee.
func (l *Ledger) Advance(next *epoch.Committee) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if next.Epoch != l.com.Epoch+1 {
		panic("dataplanetest: Advance to a committee not of the next epoch")
	}
	l.prev, l.com = l.com, next
}

// BlobInfo returns the status of id and its blob objects: invalid if SetInvalid marked it;
// otherwise certified beats registered beats expired (an object whose storage ends at or
// before the current epoch), and nonexistent when there is no object.
func (l *Ledger) BlobInfo(id codec.BlobID) (staking.BlobStatus, []staking.Blob) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.invalid[id] {
		return staking.BlobStatus{Kind: staking.StatusInvalid, EndEpoch: l.com.Epoch}, nil
	}
	objs := l.blobs[id]
	st := staking.BlobStatus{Kind: staking.StatusNonexistent}
	for _, b := range objs {
		k := staking.StatusRegistered
		switch {
		case b.Storage.End <= l.com.Epoch:
			k = staking.StatusExpired
		case b.Certified:
			k = staking.StatusCertified
		}
		if rank[k] > rank[st.Kind] {
			st.Kind, st.EndEpoch = k, b.Storage.End
		}
		st.Objects++
	}
	return st, objs
}

// rank orders statuses as staking does: certified beats registered beats expired.
var rank = map[staking.BlobStatusKind]int{staking.StatusNonexistent: 0, staking.StatusExpired: 1,
	staking.StatusRegistered: 2, staking.StatusCertified: 3}

// Add records the blob object b (of blob ID b.BlobID) as it is.
func (l *Ledger) Add(b staking.Blob) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.blobs[b.BlobID] = append(l.blobs[b.BlobID], b)
}

// Register records an uncertified registration of id, live for five epochs from the
// current one, and returns its blob object, whose object ID is {k, 0xAB}, k being one more
// than the number of blob IDs that had objects before the call.
func (l *Ledger) Register(id codec.BlobID, deletable bool) staking.Blob {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := staking.Blob{ID: staking.ObjectID{byte(len(l.blobs) + 1), 0xAB}, BlobID: id, Deletable: deletable,
		Storage: staking.Storage{Start: l.com.Epoch, End: l.com.Epoch + 5}}
	l.blobs[id] = append(l.blobs[id], b)
	return b
}

// SetInvalid marks id invalid (an invalid-blob certificate was committed): from then on
// BlobInfo reports it invalid whatever its objects.
func (l *Ledger) SetInvalid(id codec.BlobID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.invalid[id] = true
}
