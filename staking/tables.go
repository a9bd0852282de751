package staking

import (
	"bytes"
	"encoding/binary"
	"slices"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/staking/smt"
)

// The state lives in one authenticated tree (staking/smt): every state entry is a leaf at the
// path of its canonical key, holding the hash of the entry's canonical encoding and, as the
// leaf's payload, the decoded entry itself (immutable once in the tree). A State reads
// through a small write buffer per table (the entries changed since the last flush, owned by
// that State and mutable) into the tree, and flush writes the buffer into a new tree — so
// Clone is O(1) after a flush and the state root costs O(changed entries · log n).
//
// Rule for the code in this package: a pointer from table.get is read-only (it may be shared
// with other States through the tree); to change an entry, take it with table.mut (a private
// copy in the buffer), or replace it with table.put. Pointers from mut are valid until the
// next flush (Root, Clone, Snapshot, Prove), never across one.

// Entry kinds: the first byte of every key and of every path.
const (
	kindParams    byte = 0x01 // the one parameters entry: network, config, time, epoch, prices, burned
	kindCommittee byte = 0x02 // the current (0) and next (1) committees
	kindAccount   byte = 0x03 // by Address
	kindStorage   byte = 0x04 // storage resource by ObjectID
	kindBlob      byte = 0x05 // blob object by ObjectID
	kindBlobID    byte = 0x06 // blob-ID record (invalidation, live objects) by codec.BlobID
	kindNode      byte = 0x07 // by epoch.NodeID
	kindStake     byte = 0x08 // by ObjectID
	kindIncome    byte = 0x09 // epoch income by epoch (u32 LE)
	kindReserved  byte = 0x0a // bytes sold for an epoch by epoch (u32 LE)
	kindSyncDone  byte = 0x0b // a member's sync-done for the current epoch by epoch.NodeID
	kindChallenge byte = 0x0c // a challenge attestation by target NodeID || attester NodeID
	// Derived and short-lived kinds whose paths are not hashed whole (pathOf): the owner
	// indexes make each owner's stakes and blob objects one contiguous range of paths, so a
	// page of them is provable complete (proof.go, ProvePage); receipts sit in height order
	// so that the ones leaving the retention window are one range to delete (receipts.go).
	kindOwnerStake byte = 0x0d // owner-index entry of a stake by owner || stake ObjectID
	kindOwnerBlob  byte = 0x0e // owner-index entry of a blob object by owner || blob ObjectID
	kindReceipt    byte = 0x0f // a transaction's receipt by height (u64 BE) || index (u32 BE)
	// Expiry indexes (prune.go): each blob object and storage resource has an entry at
	// kind || end epoch u32 BE || objectID[0:27], so the ones whose end epoch passed are the
	// first entries of their kind's subtree, found without scanning the state.
	kindExpiryBlob    byte = 0x10 // expiry-index entry of a blob object by end epoch || ObjectID
	kindExpiryStorage byte = 0x11 // expiry-index entry of a storage resource by end epoch || ObjectID
)

// Key is the canonical key of a state entry: a kind byte followed by the entry's identifier
// (see the key constructors). Its tree path is Path().
type Key struct{ b string }

func makeKey(kind byte, id []byte) Key {
	b := make([]byte, 1+len(id))
	b[0] = kind
	copy(b[1:], id)
	return Key{string(b)}
}

// Bytes returns the canonical key bytes.
func (k Key) Bytes() []byte { return []byte(k.b) }

// Kind is the key's first byte (0 for the zero Key).
func (k Key) Kind() byte {
	if k.b == "" {
		return 0
	}
	return k.b[0]
}

// Path is where the key's entry sits in the state tree: the kind byte, then bytes 1..31 of
// Blake2b-256(key bytes). The kind byte groups each kind of entry in one subtree (a scan of
// one kind walks that subtree); the hash spreads entries evenly whatever their identifiers.
// The owner-index and receipt kinds are the exceptions (pathOf).
func (k Key) Path() [32]byte { return keyPath(k.b) }

func keyPath(b string) [32]byte { return pathOf(b[0], []byte(b[1:])) }

// pathOf is the path of the entry of kind with identifier id.
//
// Owner indexes: kind || Blake2b-256(owner)[0:15] || objectID[0:16]. Why this shape: the
// first 16 bytes are the same for all of one owner's objects, so they form one range of
// paths (ownerRange) that a multiproof shows complete; the owner is hashed so that the
// ranges spread over the tree like every other kind (an address is chosen by its holder);
// object IDs are already Blake2b outputs (DeriveObjectID), so their first 16 bytes keep
// one owner's entries apart (a clash needs about 2^64 objects of one owner) and spread them
// within the range. Two owners whose hashes share 120 bits would share a range: the
// entry's value names its owner, and a listing skips the other's entries.
//
// Receipts: kind || height u64 BE || index u32 BE || 19 zero bytes, so one height's
// receipts are one range (pruned together) and a receipt is found from where the node
// says it was committed.
func pathOf(kind byte, id []byte) [32]byte {
	switch {
	case (kind == kindOwnerStake || kind == kindOwnerBlob) && len(id) == 64:
		var p [32]byte
		p[0] = kind
		oh := blake2b.Sum256(id[:32])
		copy(p[1:16], oh[:15])
		copy(p[16:], id[32:48])
		return p
	case kind == kindReceipt && len(id) == 12:
		var p [32]byte
		p[0] = kind
		copy(p[1:13], id)
		return p
	case (kind == kindExpiryBlob || kind == kindExpiryStorage) && len(id) == 36:
		var p [32]byte
		p[0] = kind
		copy(p[1:], id)
		return p
	}
	var buf [1 + 64]byte
	buf[0] = kind
	n := copy(buf[1:], id)
	h := blake2b.Sum256(buf[:1+n])
	h[0] = kind
	return h
}

// Key constructors, one per kind of entry a query can ask about.

// ParamsKey is the key of the parameters entry (EncodeParams).
func ParamsKey() Key { return makeKey(kindParams, nil) }

// CommitteeKey is the key of the current committee (next = false) or of the committee
// selected for the next epoch (next = true; absent before mid-epoch).
func CommitteeKey(next bool) Key { return makeKey(kindCommittee, []byte{b2u(next)}) }

// AccountKey is the key of an account.
func AccountKey(a Address) Key { return makeKey(kindAccount, a[:]) }

// StorageKey is the key of a storage resource.
func StorageKey(id ObjectID) Key { return makeKey(kindStorage, id[:]) }

// BlobObjectKey is the key of a blob object.
func BlobObjectKey(id ObjectID) Key { return makeKey(kindBlob, id[:]) }

// BlobIDKey is the key of a blob ID's record: its invalidation and its live blob objects.
// With the records of those objects it proves BlobStatus.
func BlobIDKey(id codec.BlobID) Key { return makeKey(kindBlobID, id[:]) }

// NodeKey is the key of a registered node.
func NodeKey(id epoch.NodeID) Key { return makeKey(kindNode, id[:]) }

// StakeKey is the key of a stake object.
func StakeKey(id ObjectID) Key { return makeKey(kindStake, id[:]) }

// IncomeKey is the key of the FROST an epoch distributes at its end.
func IncomeKey(e uint32) Key { return makeKey(kindIncome, le32(e)) }

// ReservedKey is the key of the bytes sold for an epoch.
func ReservedKey(e uint32) Key { return makeKey(kindReserved, le32(e)) }

// SyncDoneKey is the key of a member's sync-done announcement for the current epoch.
func SyncDoneKey(id epoch.NodeID) Key { return makeKey(kindSyncDone, id[:]) }

// ChallengeKey is the key of attester's challenge result about target in the current epoch.
func ChallengeKey(target, attester epoch.NodeID) Key {
	return makeKey(kindChallenge, append(target[:], attester[:]...))
}

// ReceiptKey is the key of the receipt of the index-th transaction of height's checkpoint
// (kept ReceiptHeights heights).
func ReceiptKey(height uint64, index uint32) Key {
	return makeKey(kindReceipt, receiptID{height, index}.bytes())
}

// StakeIndexKey is the key of a stake's owner-index entry.
func StakeIndexKey(owner Address, id ObjectID) Key {
	return makeKey(kindOwnerStake, append(owner[:], id[:]...))
}

// BlobIndexKey is the key of a blob object's owner-index entry.
func BlobIndexKey(owner Address, id ObjectID) Key {
	return makeKey(kindOwnerBlob, append(owner[:], id[:]...))
}

func le32(v uint32) []byte { return []byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v >> 24)} }

// Internal entry types: each holds its own key, so a scan of the tree knows what it found.

type acctEntry struct {
	Addr Address
	Account
}

type blobRec = BlobIDRecord

type epochAmount struct {
	Epoch  uint32
	Amount uint64
}

type syncEntry struct{ Node epoch.NodeID }

type challengeEntry struct {
	Target, Attester epoch.NodeID
	Pass             bool
}

// store is the tree a State reads through, with what the tree holds of the State's fields
// outside tables (so flush writes them only when they changed). One store per State; stores
// share subtrees, never mutate them.
type store struct {
	tree       smt.Tree[any]
	params     []byte
	cur, next  *epoch.Committee
	paramsSeen bool
}

// table is one kind of entry: a write buffer over the State's tree.
type table[K comparable, V any] struct {
	st    *store
	kind  byte
	id    func(K) []byte
	key   func(*V) K
	dup   func(*V) *V
	enc   func(*encoder, *V)
	dirty map[K]*V // nil: deleted
	// indexes are derived entries: ops keeps, for every entry, one entry of each index
	// (created with it, moved when its identifier changes, deleted with it), so the state
	// machine's create and delete sites need no change.
	indexes []tableIndex[V]
}

// tableIndex is a derived index of a table: kind, the index entry's identifier for an
// entry (its path is pathOf(kind, id)), and the payload the tree keeps for it (whose
// canonical encoding, encodePayload, is id).
type tableIndex[V any] struct {
	kind    byte
	id      func(*V) []byte
	payload func(id []byte) any
}

func newTable[K comparable, V any](st *store, kind byte, id func(K) []byte, key func(*V) K, dup func(*V) *V, enc func(*encoder, *V)) table[K, V] {
	return table[K, V]{st: st, kind: kind, id: id, key: key, dup: dup, enc: enc, dirty: map[K]*V{}}
}

// fork is an empty-buffered table of the same kind over st.
func (t *table[K, V]) fork(st *store) table[K, V] {
	c := newTable(st, t.kind, t.id, t.key, t.dup, t.enc)
	c.indexes = t.indexes
	return c
}

func (t *table[K, V]) path(k K) [32]byte { return pathOf(t.kind, t.id(k)) }

// get returns the entry (read-only) or nil.
func (t *table[K, V]) get(k K) *V {
	if v, ok := t.dirty[k]; ok {
		return v
	}
	p, _, ok := t.st.tree.Get(t.path(k))
	if !ok {
		return nil
	}
	return p.(*V)
}

func (t *table[K, V]) has(k K) bool { return t.get(k) != nil }

// mut returns a private, writable copy of the entry (nil if absent).
func (t *table[K, V]) mut(k K) *V {
	if v, ok := t.dirty[k]; ok {
		return v
	}
	p, _, ok := t.st.tree.Get(t.path(k))
	if !ok {
		return nil
	}
	c := t.dup(p.(*V))
	t.dirty[k] = c
	return c
}

// put sets the entry to v, which the table then owns.
func (t *table[K, V]) put(k K, v *V) { t.dirty[k] = v }

func (t *table[K, V]) del(k K) { t.dirty[k] = nil }

// all lists every entry (read-only), in a deterministic order: the tree's path order, then
// entries new since the last flush in path order. Callers that need key order sort.
func (t *table[K, V]) all() []*V {
	var out []*V
	t.st.tree.Walk([]byte{t.kind}, func(_, _ [32]byte, p any) bool {
		v := p.(*V)
		if d, ok := t.dirty[t.key(v)]; ok {
			v = d
		}
		if v != nil {
			out = append(out, v)
		}
		return true
	})
	type fresh struct {
		p [32]byte
		v *V
	}
	var add []fresh
	for k, v := range t.dirty {
		if v == nil {
			continue
		}
		p := t.path(k)
		if _, _, ok := t.st.tree.Get(p); !ok {
			add = append(add, fresh{p, v})
		}
	}
	slices.SortFunc(add, func(a, b fresh) int { return bytes.Compare(a.p[:], b.p[:]) })
	for _, f := range add {
		out = append(out, f.v)
	}
	return out
}

// from calls fn for every entry (read-only) whose path is after (strictly; nil: from the
// first), in path order, until fn returns false: the tree's entries in the range, as the
// buffer changed them, merged with the entries new since the last flush. It holds no more
// than the new entries past after, so a page of a large table costs memory by the page.
func (t *table[K, V]) from(after *[32]byte, fn func(*V) bool) {
	lo := [32]byte{t.kind}
	if after != nil {
		if after[0] != t.kind {
			return
		}
		lo = *after
		i := 31
		for ; i > 0 && lo[i] == 0xff; i-- {
			lo[i] = 0
		}
		if i == 0 {
			return // after is the last path of the kind
		}
		lo[i]++
	}
	hi := [32]byte{t.kind}
	for i := 1; i < 32; i++ {
		hi[i] = 0xff
	}
	type fresh struct {
		p [32]byte
		v *V
	}
	var add []fresh
	for k, v := range t.dirty {
		if v == nil {
			continue
		}
		if p := t.path(k); bytes.Compare(p[:], lo[:]) >= 0 {
			if _, _, ok := t.st.tree.Get(p); !ok {
				add = append(add, fresh{p, v})
			}
		}
	}
	slices.SortFunc(add, func(a, b fresh) int { return bytes.Compare(a.p[:], b.p[:]) })
	more := true
	t.st.tree.WalkRange(lo, hi, func(p, _ [32]byte, val any) bool {
		for len(add) > 0 && bytes.Compare(add[0].p[:], p[:]) < 0 {
			if more = fn(add[0].v); !more {
				return false
			}
			add = add[1:]
		}
		v := val.(*V)
		if d, ok := t.dirty[t.key(v)]; ok {
			v = d
		}
		if v != nil {
			more = fn(v)
		}
		return more
	})
	for ; more && len(add) > 0; add = add[1:] {
		more = fn(add[0].v)
	}
}

// ops moves the buffer into tree updates (with the owner-index updates of an indexed
// table: the tree still holds the entries as they were).
func (t *table[K, V]) ops(out []smt.Op[any]) []smt.Op[any] {
	for k, v := range t.dirty {
		p := t.path(k)
		if len(t.indexes) > 0 {
			out = t.indexOps(out, p, v)
		}
		if v == nil {
			out = append(out, smt.Op[any]{Path: p, Delete: true})
			continue
		}
		e := encoder{b: make([]byte, 0, 128)}
		t.enc(&e, v)
		out = append(out, smt.Op[any]{Path: p, ValueHash: smt.ValueHash(e.b), Val: v})
	}
	clear(t.dirty)
	return out
}

// indexOps updates the indexes for the entry at p becoming v (nil: deleted).
func (t *table[K, V]) indexOps(out []smt.Op[any], p [32]byte, v *V) []smt.Op[any] {
	var old *V
	if o, _, ok := t.st.tree.Get(p); ok {
		old = o.(*V)
	}
	for _, ix := range t.indexes {
		var had, has []byte
		if old != nil {
			had = ix.id(old)
		}
		if v != nil {
			has = ix.id(v)
		}
		if had != nil && (has == nil || !bytes.Equal(had, has)) {
			out = append(out, smt.Op[any]{Path: pathOf(ix.kind, had), Delete: true})
		}
		if has != nil && (had == nil || !bytes.Equal(had, has)) {
			out = append(out, smt.Op[any]{Path: pathOf(ix.kind, has), ValueHash: smt.ValueHash(has), Val: ix.payload(has)})
		}
	}
	return out
}

// ownerIdx is an owner-index entry; its value is owner || object ID.
type ownerIdx struct {
	Owner Address
	ID    ObjectID
}

func (o *ownerIdx) id() []byte { return append(o.Owner[:], o.ID[:]...) }

// ownerIndex is the owner index of kind over the entries of a table.
func ownerIndex[V any](kind byte, f func(*V) (Address, ObjectID)) tableIndex[V] {
	return tableIndex[V]{kind: kind,
		id: func(v *V) []byte { o, id := f(v); return (&ownerIdx{o, id}).id() },
		payload: func(id []byte) any {
			o := &ownerIdx{}
			copy(o.Owner[:], id[:32])
			copy(o.ID[:], id[32:])
			return o
		}}
}

// expiryIndex is the expiry index of kind: end epoch u32 BE || object ID, its payload the
// identifier bytes themselves.
func expiryIndex[V any](kind byte, f func(*V) (uint32, ObjectID)) tableIndex[V] {
	return tableIndex[V]{kind: kind,
		id: func(v *V) []byte {
			end, id := f(v)
			return append(binary.BigEndian.AppendUint32(make([]byte, 0, 36), end), id[:]...)
		},
		payload: func(id []byte) any { return id }}
}

// Entry encodings: the value each leaf commits to (the hash of these bytes). They are the
// snapshot's encodings of the same entries, and never empty.

func encAccount(e *encoder, a *acctEntry) {
	e.fixed(a.Addr[:])
	e.u64(a.Balance)
	e.u64(a.Nonce)
}

func encBlob(e *encoder, b *Blob) {
	e.fixed(b.ID[:])
	e.fixed(b.Owner[:])
	e.fixed(b.BlobID[:])
	e.fixed(b.Root[:])
	e.u64(b.Length)
	e.u8(b.Encoding)
	e.u64(b.EncodedSize)
	encodeStorage(e, &b.Storage)
	e.boolean(b.Deletable)
	e.u32(b.Registered)
	e.boolean(b.Certified)
	e.u32(b.CertEpoch)
	e.count(len(b.Attributes))
	for _, a := range b.Attributes {
		e.str(a.Key)
		e.str(a.Value)
	}
}

func encBlobRec(e *encoder, r *blobRec) {
	e.fixed(r.ID[:])
	e.boolean(r.Invalid)
	e.u32(r.InvalidAt)
	e.count(len(r.Objects))
	for _, o := range r.Objects {
		e.fixed(o[:])
	}
}

func encNode(e *encoder, n *Node) {
	e.fixed(n.ID[:])
	e.fixed(n.Operator[:])
	e.fixed(n.BLSKey[:])
	e.str(n.PeerID)
	e.strs(n.Addrs)
	e.u16(n.Commission)
	e.u16(n.NextCommission)
	e.u32(n.NextCommissionEpoch)
	e.u64(n.StoragePrice)
	e.u64(n.WritePrice)
	e.u64(n.Capacity)
	encodeFees(e, n.FeeVote)
	e.u64(n.Deposit)
	e.u32(n.IdleSince)
}

func encStake(e *encoder, st *Stake) {
	e.fixed(st.ID[:])
	e.fixed(st.Owner[:])
	e.fixed(st.Node[:])
	e.u64(st.Amount)
	e.u32(st.Activation)
	e.boolean(st.Withdrawing)
	e.u32(st.WithdrawAt)
}

func encEpochAmount(e *encoder, a *epochAmount) { e.u32(a.Epoch); e.u64(a.Amount) }
func encSync(e *encoder, s *syncEntry)          { e.fixed(s.Node[:]) }
func encChallenge(e *encoder, c *challengeEntry) {
	e.fixed(c.Target[:])
	e.fixed(c.Attester[:])
	e.boolean(c.Pass)
}

func copyOf[V any](v *V) *V { c := *v; return &c }

func ident[K ~[32]byte](k K) []byte { return k[:] }

// initTables wires s's tables to s.st.
func (s *State) initTables() {
	st := s.st
	s.accounts = newTable(st, kindAccount, func(a Address) []byte { return a[:] }, func(v *acctEntry) Address { return v.Addr }, copyOf, encAccount)
	s.storage = newTable(st, kindStorage, ident[ObjectID], func(v *Storage) ObjectID { return v.ID }, copyOf, encodeStorage)
	s.blobs = newTable(st, kindBlob, ident[ObjectID], func(v *Blob) ObjectID { return v.ID }, func(v *Blob) *Blob {
		c := *v
		c.Attributes = slices.Clone(v.Attributes)
		return &c
	}, encBlob)
	s.blobIDs = newTable(st, kindBlobID, ident[codec.BlobID], func(v *blobRec) codec.BlobID { return v.ID }, func(v *blobRec) *blobRec {
		c := *v
		c.Objects = slices.Clone(v.Objects)
		return &c
	}, encBlobRec)
	s.nodes = newTable(st, kindNode, ident[epoch.NodeID], func(v *Node) epoch.NodeID { return v.ID }, func(v *Node) *Node {
		c := *v
		c.Addrs = slices.Clone(v.Addrs)
		return &c
	}, encNode)
	s.stakes = newTable(st, kindStake, ident[ObjectID], func(v *Stake) ObjectID { return v.ID }, copyOf, encStake)
	epochKey := func(v *epochAmount) uint32 { return v.Epoch }
	s.income = newTable(st, kindIncome, le32, epochKey, copyOf, encEpochAmount)
	s.reserved = newTable(st, kindReserved, le32, epochKey, copyOf, encEpochAmount)
	s.syncDone = newTable(st, kindSyncDone, ident[epoch.NodeID], func(v *syncEntry) epoch.NodeID { return v.Node }, copyOf, encSync)
	s.stakes.indexes = []tableIndex[Stake]{ownerIndex(kindOwnerStake, func(v *Stake) (Address, ObjectID) { return v.Owner, v.ID })}
	s.blobs.indexes = []tableIndex[Blob]{
		ownerIndex(kindOwnerBlob, func(v *Blob) (Address, ObjectID) { return v.Owner, v.ID }),
		expiryIndex(kindExpiryBlob, func(v *Blob) (uint32, ObjectID) { return v.Storage.End, v.ID }),
	}
	s.storage.indexes = []tableIndex[Storage]{expiryIndex(kindExpiryStorage, func(v *Storage) (uint32, ObjectID) { return v.End, v.ID })}
	s.receipts = newTable(st, kindReceipt, receiptID.bytes, func(v *receiptEntry) receiptID { return receiptID{v.Height, v.Index} }, copyOf, encReceipt)
	s.challenges = newTable(st, kindChallenge, func(k [2]epoch.NodeID) []byte { return append(k[0][:], k[1][:]...) },
		func(v *challengeEntry) [2]epoch.NodeID { return [2]epoch.NodeID{v.Target, v.Attester} }, copyOf, encChallenge)
}

// forkTables gives c empty-buffered copies of s's tables over c.st.
func (s *State) forkTables(c *State) {
	c.accounts, c.storage, c.blobs, c.blobIDs = s.accounts.fork(c.st), s.storage.fork(c.st), s.blobs.fork(c.st), s.blobIDs.fork(c.st)
	c.nodes, c.stakes, c.income, c.reserved = s.nodes.fork(c.st), s.stakes.fork(c.st), s.income.fork(c.st), s.reserved.fork(c.st)
	c.syncDone, c.challenges, c.receipts = s.syncDone.fork(c.st), s.challenges.fork(c.st), s.receipts.fork(c.st)
}

// EncodeParams is the parameters entry (ParamsKey): network ID, shards, epoch duration,
// genesis time, time of the last checkpoint, epoch, prices in force, prices chosen with the
// next committee, FROST burned so far.
func (s *State) encodeParams(e *encoder) {
	e.fixed(s.network[:])
	e.u32(uint32(s.cfg.NShards))
	e.i64(s.cfg.EpochDuration)
	e.i64(s.cfg.GenesisTime)
	e.i64(s.time)
	e.u32(s.ep)
	encodePrices(e, s.prices)
	encodePrices(e, s.nextPrice)
	e.u64(s.burned)
}

func committeeBytes(c *epoch.Committee) []byte {
	e := &encoder{b: make([]byte, 0, 256)}
	encodeCommittee(e, c)
	return e.b
}

// flush writes every buffered change, and the fields outside tables that changed, into a new
// tree. A State with nothing to write is not modified at all (readers of a published State
// may call Root, Clone or Prove concurrently).
func (s *State) flush() {
	e := &encoder{b: make([]byte, 0, 160)}
	s.encodeParams(e)
	st := s.st
	paramsChanged := !st.paramsSeen || !bytes.Equal(e.b, st.params)
	if !paramsChanged && st.cur == s.committee && st.next == s.next && s.clean() {
		return
	}
	var ops []smt.Op[any]
	if paramsChanged {
		ops = append(ops, smt.Op[any]{Path: pathOf(kindParams, nil), ValueHash: smt.ValueHash(e.b), Val: e.b})
		st.params, st.paramsSeen = e.b, true
	}
	for i, c := range []*epoch.Committee{s.committee, s.next} {
		old := &st.cur
		if i == 1 {
			old = &st.next
		}
		if c == *old {
			continue
		}
		p := pathOf(kindCommittee, []byte{byte(i)})
		if c == nil {
			ops = append(ops, smt.Op[any]{Path: p, Delete: true})
		} else {
			ops = append(ops, smt.Op[any]{Path: p, ValueHash: smt.ValueHash(committeeBytes(c)), Val: c})
		}
		*old = c
	}
	ops = s.accounts.ops(ops)
	ops = s.storage.ops(ops)
	ops = s.blobs.ops(ops)
	ops = s.blobIDs.ops(ops)
	ops = s.nodes.ops(ops)
	ops = s.stakes.ops(ops)
	ops = s.income.ops(ops)
	ops = s.reserved.ops(ops)
	ops = s.syncDone.ops(ops)
	ops = s.challenges.ops(ops)
	ops = s.receipts.ops(ops)
	st.tree = st.tree.Update(ops)
}

func (s *State) clean() bool {
	return len(s.accounts.dirty)+len(s.storage.dirty)+len(s.blobs.dirty)+len(s.blobIDs.dirty)+
		len(s.nodes.dirty)+len(s.stakes.dirty)+len(s.income.dirty)+len(s.reserved.dirty)+
		len(s.syncDone.dirty)+len(s.challenges.dirty)+len(s.receipts.dirty) == 0
}
