package staking

import (
	"bytes"
	"slices"
	"sort"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
)

// Config is the fixed part of the state, taken from genesis.
type Config struct {
	NShards       int
	EpochDuration int64 // ms
	GenesisTime   int64 // unix ms
}

// EpochStart is when epoch e starts: GenesisTime + e·EpochDuration (docs/protocol.md §7), the
// formula of epoch.EpochSchedule; AdvanceTime checks with epoch/ that the times it reaches
// do not overflow.
func (c Config) EpochStart(e uint32) int64 { return c.GenesisTime + int64(e)*c.EpochDuration }

// MidEpoch is when the committee of e+1 is selected: the start of e plus half a duration.
func (c Config) MidEpoch(e uint32) int64 { return c.EpochStart(e) + c.EpochDuration/2 }

// State is the whole ledger state. It is not safe for concurrent use; the ledger actor owns
// it. Construct it with NewState or Restore.
type State struct {
	network epoch.NetworkID
	cfg     Config

	// Checkpoint chain position.
	height   uint64
	lastHash [32]byte
	time     int64

	ep        uint32
	committee *epoch.Committee // of ep
	next      *epoch.Committee // of ep+1, selected at mid-epoch; nil before
	prices    Prices           // in force during ep
	nextPrice Prices           // chosen with next

	accounts map[Address]*Account
	storage  map[ObjectID]*Storage
	blobs    map[ObjectID]*Blob
	byBlobID map[codec.BlobID][]ObjectID // derived index, sorted; not part of the root
	invalid  map[codec.BlobID]uint32     // blob ID -> epoch it was invalidated
	nodes    map[epoch.NodeID]*Node
	stakes   map[ObjectID]*Stake
	income   map[uint32]uint64 // epoch -> FROST distributed at its end
	reserved map[uint32]uint64 // epoch -> bytes sold for it
	burned   uint64            // FROST burned so far

	syncDone   map[epoch.NodeID]bool    // committee members done syncing ep
	challenges map[[2]epoch.NodeID]bool // (target, attester) -> pass, for ep

	// preverified holds certificate checks done in parallel by ApplyCheckpoint; transient,
	// not part of the state.
	preverified map[*epoch.Certificate]error
}

func newEmptyState() *State {
	return &State{
		accounts:   map[Address]*Account{},
		storage:    map[ObjectID]*Storage{},
		blobs:      map[ObjectID]*Blob{},
		byBlobID:   map[codec.BlobID][]ObjectID{},
		invalid:    map[codec.BlobID]uint32{},
		nodes:      map[epoch.NodeID]*Node{},
		stakes:     map[ObjectID]*Stake{},
		income:     map[uint32]uint64{},
		reserved:   map[uint32]uint64{},
		syncDone:   map[epoch.NodeID]bool{},
		challenges: map[[2]epoch.NodeID]bool{},
	}
}

// Network is the network ID (hash of the genesis).
func (s *State) Network() epoch.NetworkID { return s.network }

// Config returns the genesis configuration.
func (s *State) Config() Config { return s.cfg }

// Epoch is the current epoch.
func (s *State) Epoch() uint32 { return s.ep }

// Height is the height of the last applied checkpoint (0 at genesis).
func (s *State) Height() uint64 { return s.height }

// LastHash is the hash of the last applied checkpoint (zero at genesis).
func (s *State) LastHash() [32]byte { return s.lastHash }

// Time is the time of the last applied checkpoint (the genesis time at genesis).
func (s *State) Time() int64 { return s.time }

// Committee is the committee of the current epoch. It is shared with clones of the state:
// callers must not modify it.
func (s *State) Committee() *epoch.Committee { return s.committee }

// NextCommittee is the committee selected for the next epoch, or nil before mid-epoch.
func (s *State) NextCommittee() *epoch.Committee { return s.next }

// Prices are the prices and capacity in force.
func (s *State) Prices() Prices { return s.prices }

// Burned is the total FROST burned so far.
func (s *State) Burned() uint64 { return s.burned }

// Account returns a copy of an account (zero if it does not exist).
func (s *State) Account(a Address) Account {
	if acc := s.accounts[a]; acc != nil {
		return *acc
	}
	return Account{}
}

// Storage returns a copy of a storage resource.
func (s *State) Storage(id ObjectID) (Storage, bool) {
	if st := s.storage[id]; st != nil {
		return *st, true
	}
	return Storage{}, false
}

// Blob returns a copy of a blob object.
func (s *State) Blob(id ObjectID) (Blob, bool) {
	if b := s.blobs[id]; b != nil {
		c := *b
		c.Attributes = append([]Attribute(nil), b.Attributes...)
		return c, true
	}
	return Blob{}, false
}

// Node returns a copy of a registered node.
func (s *State) Node(id epoch.NodeID) (Node, bool) {
	if n := s.nodes[id]; n != nil {
		c := *n
		c.Addrs = append([]string(nil), n.Addrs...)
		return c, true
	}
	return Node{}, false
}

// Stake returns a copy of a stake object.
func (s *State) Stake(id ObjectID) (Stake, bool) {
	if st := s.stakes[id]; st != nil {
		return *st, true
	}
	return Stake{}, false
}

// Nodes lists registered node IDs in ascending order.
func (s *State) Nodes() []epoch.NodeID { return sortedKeys(s.nodes, lessID32) }

// Stakes lists stake object IDs in ascending order.
func (s *State) Stakes() []ObjectID { return sortedKeys(s.stakes, lessObj) }

// SyncDone reports whether nodes worth n-f shards of the current committee announced
// sync done for the current epoch (docs/protocol.md §7: the epoch change is complete).
func (s *State) SyncDone() bool {
	w := 0
	for i := range s.committee.Members {
		if s.syncDone[s.committee.Members[i].Node] {
			w += s.committee.Members[i].Weight()
		}
	}
	return epoch.IsQuorum(w, s.committee.NShards)
}

// TotalSupply is the FROST in existence: balances + stakes + undistributed income. With the
// burned amount it always equals the genesis supply (conservation, tested).
func (s *State) TotalSupply() uint64 {
	var t uint64
	for _, a := range s.accounts {
		t += a.Balance
	}
	for _, st := range s.stakes {
		t += st.Amount
	}
	for _, v := range s.income {
		t += v
	}
	return t
}

// BlobStatusKind is the aggregate status of a blob ID (what `blob-status` prints).
type BlobStatusKind uint8

// Blob statuses.
const (
	StatusNonexistent BlobStatusKind = 1 + iota
	StatusRegistered
	StatusCertified
	StatusInvalid
	StatusExpired
)

// String names the status as `blob-status` prints it.
func (k BlobStatusKind) String() string {
	switch k {
	case StatusNonexistent:
		return "nonexistent"
	case StatusRegistered:
		return "registered"
	case StatusCertified:
		return "certified"
	case StatusInvalid:
		return "invalid"
	case StatusExpired:
		return "expired"
	}
	return "unknown"
}

// BlobStatus is the status of a blob ID across all its live blob objects.
type BlobStatus struct {
	Kind BlobStatusKind
	// EndEpoch is the latest end epoch among the objects giving the status (certified
	// objects when certified, registered ones when registered, all when expired); for
	// invalid it is the epoch of invalidation.
	EndEpoch uint32
	// Deletable reports whether every object giving the status is deletable.
	Deletable bool
	// Objects counts the objects giving the status.
	Objects int
}

// BlobStatus reports a blob ID's status at the current epoch: invalid if invalidated;
// else certified if any unexpired object is certified; else registered if any unexpired
// object exists; else expired if objects exist whose end epoch passed; else nonexistent.
// Deleted objects are gone and do not count.
func (s *State) BlobStatus(id codec.BlobID) BlobStatus {
	if e, ok := s.invalid[id]; ok {
		return BlobStatus{Kind: StatusInvalid, EndEpoch: e}
	}
	var cert, reg, exp BlobStatus
	cert.Deletable, reg.Deletable, exp.Deletable = true, true, true
	for _, oid := range s.byBlobID[id] {
		b := s.blobs[oid]
		var st *BlobStatus
		switch {
		case b.Storage.End <= s.ep:
			st = &exp
		case b.Certified:
			st = &cert
		default:
			st = &reg
		}
		st.Objects++
		st.EndEpoch = max(st.EndEpoch, b.Storage.End)
		st.Deletable = st.Deletable && b.Deletable
	}
	switch {
	case cert.Objects > 0:
		cert.Kind = StatusCertified
		return cert
	case reg.Objects > 0:
		reg.Kind = StatusRegistered
		return reg
	case exp.Objects > 0:
		exp.Kind = StatusExpired
		return exp
	}
	return BlobStatus{Kind: StatusNonexistent}
}

// Owned lists, in ascending ID order, the storage resources, blob objects (live or expired)
// and stakes owned by an account (for wallet and `list-blobs` commands). It scans the state.
func (s *State) Owned(a Address) (storage, blobs, stakes []ObjectID) {
	for _, id := range sortedKeys(s.storage, lessObj) {
		if s.storage[id].Owner == a {
			storage = append(storage, id)
		}
	}
	for _, id := range sortedKeys(s.blobs, lessObj) {
		if s.blobs[id].Owner == a {
			blobs = append(blobs, id)
		}
	}
	for _, id := range s.Stakes() {
		if s.stakes[id].Owner == a {
			stakes = append(stakes, id)
		}
	}
	return storage, blobs, stakes
}

// BlobObjects lists the live blob objects with a blob ID, ascending.
func (s *State) BlobObjects(id codec.BlobID) []ObjectID {
	return append([]ObjectID(nil), s.byBlobID[id]...)
}

func lessID32(a, b epoch.NodeID) bool { return string(a[:]) < string(b[:]) }
func lessObj(a, b ObjectID) bool      { return string(a[:]) < string(b[:]) }
func lessAddr(a, b Address) bool      { return string(a[:]) < string(b[:]) }

func sortedKeys[K comparable, V any](m map[K]V, less func(a, b K) bool) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return less(out[i], out[j]) })
	return out
}

func (s *State) indexBlob(b *Blob) {
	ids := s.byBlobID[b.BlobID]
	i := sort.Search(len(ids), func(i int) bool { return !lessObj(ids[i], b.ID) })
	ids = append(ids, ObjectID{})
	copy(ids[i+1:], ids[i:])
	ids[i] = b.ID
	s.byBlobID[b.BlobID] = ids
}

func (s *State) unindexBlob(b *Blob) {
	ids := s.byBlobID[b.BlobID]
	for i := range ids {
		if ids[i] == b.ID {
			ids = append(ids[:i:i], ids[i+1:]...)
			break
		}
	}
	if len(ids) == 0 {
		delete(s.byBlobID, b.BlobID)
	} else {
		s.byBlobID[b.BlobID] = ids
	}
}

// CertifiedBlobs lists, in ascending order, up to limit blob IDs above after whose status is
// certified (for a node's blob-sync sweep: every certified blob must have all its slivers
// on its shards' owners). It scans the blob index.
func (s *State) CertifiedBlobs(after codec.BlobID, limit int) []codec.BlobID {
	var out []codec.BlobID
	for id := range s.byBlobID {
		if string(id[:]) > string(after[:]) && s.BlobStatus(id).Kind == StatusCertified {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b codec.BlobID) int { return bytes.Compare(a[:], b[:]) })
	return out[:min(len(out), limit)]
}
