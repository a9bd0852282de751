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

	// The entries, in the authenticated tree st (tables.go) behind one write buffer per kind.
	st         *store
	accounts   table[Address, acctEntry]
	storage    table[ObjectID, Storage]
	blobs      table[ObjectID, Blob]
	blobIDs    table[codec.BlobID, blobRec] // invalidation and live objects per blob ID
	nodes      table[epoch.NodeID, Node]
	stakes     table[ObjectID, Stake]
	income     table[uint32, epochAmount]             // epoch -> FROST distributed at its end
	reserved   table[uint32, epochAmount]             // epoch -> bytes sold for it
	syncDone   table[epoch.NodeID, syncEntry]         // committee members done syncing ep
	challenges table[[2]epoch.NodeID, challengeEntry] // (target, attester) -> pass, for ep
	receipts   table[receiptID, receiptEntry]         // the last ReceiptHeights heights' receipts (receipts.go)
	burned     uint64                                 // FROST burned so far

	// preverified holds certificate checks done in parallel by ApplyCheckpoint; transient,
	// not part of the state.
	preverified map[*epoch.Certificate]error
	// cache remembers successful BLS checks (verify.go); transient, shared by clones.
	cache *VerifyCache
}

func newEmptyState() *State {
	s := &State{st: &store{}}
	s.initTables()
	return s
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
	if acc := s.accounts.get(a); acc != nil {
		return acc.Account
	}
	return Account{}
}

// HasAccount reports whether an account exists: it received FROST or sent an admitted
// transaction. (Account returns a zero account for one that does not.)
func (s *State) HasAccount(a Address) bool { return s.accounts.get(a) != nil }

// Storage returns a copy of a storage resource.
func (s *State) Storage(id ObjectID) (Storage, bool) {
	if st := s.storage.get(id); st != nil {
		return *st, true
	}
	return Storage{}, false
}

// Blob returns a copy of a blob object.
func (s *State) Blob(id ObjectID) (Blob, bool) {
	if b := s.blobs.get(id); b != nil {
		c := *b
		c.Attributes = append([]Attribute(nil), b.Attributes...)
		return c, true
	}
	return Blob{}, false
}

// Node returns a copy of a registered node.
func (s *State) Node(id epoch.NodeID) (Node, bool) {
	if n := s.nodes.get(id); n != nil {
		c := *n
		c.Addrs = append([]string(nil), n.Addrs...)
		return c, true
	}
	return Node{}, false
}

// Stake returns a copy of a stake object.
func (s *State) Stake(id ObjectID) (Stake, bool) {
	if st := s.stakes.get(id); st != nil {
		return *st, true
	}
	return Stake{}, false
}

// Nodes lists registered node IDs in ascending order.
func (s *State) Nodes() []epoch.NodeID {
	var out []epoch.NodeID
	for _, n := range s.nodes.all() {
		out = append(out, n.ID)
	}
	slices.SortFunc(out, func(a, b epoch.NodeID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// Stakes lists stake object IDs in ascending order.
func (s *State) Stakes() []ObjectID {
	return sortedIDs(s.stakes.all(), func(v *Stake) ObjectID { return v.ID })
}

// sortedIDs lists the object IDs of entries in ascending order.
func sortedIDs[V any](vs []*V, id func(*V) ObjectID) []ObjectID {
	out := make([]ObjectID, 0, len(vs))
	for _, v := range vs {
		out = append(out, id(v))
	}
	slices.SortFunc(out, func(a, b ObjectID) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// SyncDone reports whether nodes worth n-f shards of the current committee announced
// sync done for the current epoch (docs/protocol.md §7: the epoch change is complete).
func (s *State) SyncDone() bool {
	w := 0
	for i := range s.committee.Members {
		if s.syncDone.has(s.committee.Members[i].Node) {
			w += s.committee.Members[i].Weight()
		}
	}
	return epoch.IsQuorum(w, s.committee.NShards)
}

// TotalSupply is the FROST in existence: balances + stakes + undistributed income (fees
// included) + node deposits. With the burned amount it always equals the genesis supply
// (conservation, tested).
func (s *State) TotalSupply() uint64 {
	var t uint64
	for _, a := range s.accounts.all() {
		t += a.Balance
	}
	for _, st := range s.stakes.all() {
		t += st.Amount
	}
	for _, v := range s.income.all() {
		t += v.Amount
	}
	for _, n := range s.nodes.all() {
		t += n.Deposit
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
	rec := s.blobIDs.get(id)
	var objs []*Blob
	if rec != nil && !rec.Invalid {
		objs = make([]*Blob, len(rec.Objects))
		for i, oid := range rec.Objects {
			objs[i] = s.blobs.get(oid)
		}
	}
	return StatusOf(s.ep, rec, objs)
}

// Owned lists, in ascending ID order, the storage resources, blob objects (live or expired)
// and stakes owned by an account (for wallet and `list-blobs` commands). It scans the state.
func (s *State) Owned(a Address) (storage, blobs, stakes []ObjectID) {
	for _, st := range s.storage.all() {
		if st.Owner == a {
			storage = append(storage, st.ID)
		}
	}
	for _, b := range s.blobs.all() {
		if b.Owner == a {
			blobs = append(blobs, b.ID)
		}
	}
	for _, st := range s.stakes.all() {
		if st.Owner == a {
			stakes = append(stakes, st.ID)
		}
	}
	for _, l := range [][]ObjectID{storage, blobs, stakes} {
		slices.SortFunc(l, func(a, b ObjectID) int { return bytes.Compare(a[:], b[:]) })
	}
	return storage, blobs, stakes
}

// BlobObjects lists the live blob objects with a blob ID, ascending.
func (s *State) BlobObjects(id codec.BlobID) []ObjectID {
	if rec := s.blobIDs.get(id); rec != nil {
		return append([]ObjectID(nil), rec.Objects...)
	}
	return nil
}

func lessID32(a, b epoch.NodeID) bool { return string(a[:]) < string(b[:]) }
func lessObj(a, b ObjectID) bool      { return string(a[:]) < string(b[:]) }
func (s *State) indexBlob(b *Blob) {
	rec := s.blobIDs.mut(b.BlobID)
	if rec == nil {
		rec = &blobRec{ID: b.BlobID}
		s.blobIDs.put(b.BlobID, rec)
	}
	ids := rec.Objects
	i := sort.Search(len(ids), func(i int) bool { return !lessObj(ids[i], b.ID) })
	ids = append(ids, ObjectID{})
	copy(ids[i+1:], ids[i:])
	ids[i] = b.ID
	rec.Objects = ids
}

func (s *State) unindexBlob(b *Blob) {
	rec := s.blobIDs.mut(b.BlobID)
	if rec == nil {
		return
	}
	for i := range rec.Objects {
		if rec.Objects[i] == b.ID {
			rec.Objects = append(rec.Objects[:i:i], rec.Objects[i+1:]...)
			break
		}
	}
	if len(rec.Objects) == 0 && !rec.Invalid {
		s.blobIDs.del(b.BlobID)
	}
}

// CertifiedBlobs lists up to limit blob IDs whose status is certified, in the order of the
// state tree (by a hash of the blob ID, as every blob-ID record is placed): the first page
// with after zero, the next ones after the last ID of the previous page (for a node's
// blob-sync sweep: every certified blob must have all its slivers on its shards' owners).
// Pages of different heights chain: the order does not depend on the state. The zero blob
// ID is never listed. A page walks the blob index from after, holding only its own IDs.
func (s *State) CertifiedBlobs(after codec.BlobID, limit int) []codec.BlobID {
	var out []codec.BlobID
	if limit <= 0 {
		return nil
	}
	var from *[32]byte
	if after != (codec.BlobID{}) {
		p := s.blobIDs.path(after)
		from = &p
	}
	s.blobIDs.from(from, func(rec *blobRec) bool {
		if rec.ID != (codec.BlobID{}) && s.BlobStatus(rec.ID).Kind == StatusCertified {
			out = append(out, rec.ID)
		}
		return len(out) < limit
	})
	return out
}
