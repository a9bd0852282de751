package staking

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// snapshotMagic starts every snapshot; the last byte is the format version.
var snapshotMagic = []byte("wgstate\x04")

// Root is the state root: the root of the authenticated tree holding every state entry
// (tables.go; the tree in staking/smt). The chain position, height and last checkpoint hash,
// are not entries: a checkpoint cannot commit to its own hash. Equal states have equal roots
// on every node, whatever order their entries were written in. It costs a hash of each entry
// changed since the last Root (and O(log n) hashes above it), not of the whole state.
func (s *State) Root() [32]byte {
	s.flush()
	return s.st.tree.Root()
}

// Snapshot serializes the whole state, chain position included. Restore(Snapshot()) yields
// a state with the same root that behaves identically.
func (s *State) Snapshot() []byte {
	e := &encoder{b: make([]byte, 0, 4096)}
	e.fixed(snapshotMagic)
	e.u64(s.height)
	e.fixed(s.lastHash[:])
	s.encodeBody(e)
	return e.b
}

func encodeCommittee(e *encoder, c *epoch.Committee) {
	e.u32(c.Epoch)
	e.u32(uint32(c.NShards))
	e.count(len(c.Members))
	for i := range c.Members {
		m := &c.Members[i]
		e.fixed(m.Node[:])
		e.fixed(m.BLSKey[:])
		e.str(m.PeerID)
		e.strs(m.Addrs)
		e.count(len(m.Shards))
		for _, sh := range m.Shards {
			e.u16(sh)
		}
	}
}

func encodeStorage(e *encoder, st *Storage) {
	e.fixed(st.ID[:])
	e.fixed(st.Owner[:])
	e.u32(st.Start)
	e.u32(st.End)
	e.u64(st.Size)
}

func (s *State) encodeBody(e *encoder) {
	e.fixed(s.network[:])
	e.u32(uint32(s.cfg.NShards))
	e.i64(s.cfg.EpochDuration)
	e.i64(s.cfg.GenesisTime)
	e.i64(s.time)
	e.u32(s.ep)
	encodeCommittee(e, s.committee)
	e.boolean(s.next != nil)
	if s.next != nil {
		encodeCommittee(e, s.next)
	}
	encodePrices(e, s.prices)
	encodePrices(e, s.nextPrice)

	accs := s.accounts.all()
	slices.SortFunc(accs, func(a, b *acctEntry) int { return bytes.Compare(a.Addr[:], b.Addr[:]) })
	e.count(len(accs))
	for _, a := range accs {
		encAccount(e, a)
	}
	sts := s.storage.all()
	slices.SortFunc(sts, func(a, b *Storage) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	e.count(len(sts))
	for _, st := range sts {
		encodeStorage(e, st)
	}
	bls := s.blobs.all()
	slices.SortFunc(bls, func(a, b *Blob) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	e.count(len(bls))
	for _, b := range bls {
		encBlob(e, b)
	}
	var inv []*blobRec
	for _, r := range s.blobIDs.all() {
		if r.Invalid {
			inv = append(inv, r)
		}
	}
	slices.SortFunc(inv, func(a, b *blobRec) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	e.count(len(inv))
	for _, r := range inv {
		e.fixed(r.ID[:])
		e.u32(r.InvalidAt)
	}
	nodes := s.nodes.all()
	slices.SortFunc(nodes, func(a, b *Node) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	e.count(len(nodes))
	for _, n := range nodes {
		encNode(e, n)
	}
	stakes := s.stakes.all()
	slices.SortFunc(stakes, func(a, b *Stake) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	e.count(len(stakes))
	for _, st := range stakes {
		encStake(e, st)
	}
	for _, t := range []*table[uint32, epochAmount]{&s.income, &s.reserved} {
		vs := t.all()
		slices.SortFunc(vs, func(a, b *epochAmount) int { return cmp.Compare(a.Epoch, b.Epoch) })
		e.count(len(vs))
		for _, v := range vs {
			encEpochAmount(e, v)
		}
	}
	e.u64(s.burned)
	done := s.syncDone.all()
	slices.SortFunc(done, func(a, b *syncEntry) int { return bytes.Compare(a.Node[:], b.Node[:]) })
	e.count(len(done))
	for _, d := range done {
		encSync(e, d)
	}
	ch := s.challenges.all()
	slices.SortFunc(ch, func(a, b *challengeEntry) int {
		return bytes.Compare(append(a.Target[:], a.Attester[:]...), append(b.Target[:], b.Attester[:]...))
	})
	e.count(len(ch))
	for _, c := range ch {
		encChallenge(e, c)
	}
	rs := s.receipts.all() // (the owner indexes are derived: Restore rebuilds them)
	slices.SortFunc(rs, func(a, b *receiptEntry) int {
		return bytes.Compare(receiptID{a.Height, a.Index}.bytes(), receiptID{b.Height, b.Index}.bytes())
	})
	e.count(len(rs))
	for _, r := range rs {
		encReceipt(e, r)
	}
}

const maxCount = math.MaxInt32

func decodeCommittee(d *wire.Reader) *epoch.Committee {
	c := &epoch.Committee{Epoch: d.U32(), NShards: int(d.U32())}
	n := readCount(d, codec.MaxShards, 32+48+12)
	if n > 0 {
		c.Members = make([]epoch.Member, n)
	}
	for i := 0; i < n && d.Err() == nil; i++ {
		m := &c.Members[i]
		d.Fixed(m.Node[:])
		d.Fixed(m.BLSKey[:])
		m.PeerID = readStr(d, MaxPeerIDLen)
		m.Addrs = readStrs(d, MaxAddrs, MaxAddrLen)
		k := readCount(d, codec.MaxShards, 2)
		if k > 0 {
			m.Shards = make([]uint16, k)
		}
		for j := 0; j < k && d.Err() == nil; j++ {
			m.Shards[j] = d.U16()
		}
	}
	if d.Err() == nil {
		if err := c.Index(); err != nil {
			d.Failf("committee: %v", err)
		}
	}
	return c
}

func decodeStorage(d *wire.Reader, st *Storage) {
	d.Fixed(st.ID[:])
	d.Fixed(st.Owner[:])
	st.Start = d.U32()
	st.End = d.U32()
	st.Size = d.U64()
}

// ascending checks strict key order as entries are read, so a snapshot is canonical.
type ascending struct {
	prev []byte
	d    *wire.Reader
}

func (a *ascending) next(k []byte) {
	if a.prev != nil && bytes.Compare(a.prev, k) >= 0 {
		a.d.Failf("keys not strictly ascending")
	}
	a.prev = append(a.prev[:0], k...)
}

// Restore rebuilds a state from Snapshot bytes, strictly: canonical order, caps, and the
// cross-references the state machine relies on (committees index, stakes and committee
// members name registered nodes).
func Restore(b []byte) (*State, error) {
	d := newDecoder(b)
	if !bytes.Equal(d.Take(len(snapshotMagic)), snapshotMagic) {
		return nil, fmt.Errorf("%w: not a state snapshot", ErrDecode)
	}
	s := newEmptyState()
	s.height = d.U64()
	d.Fixed(s.lastHash[:])
	d.Fixed(s.network[:])
	s.cfg.NShards = int(d.U32())
	s.cfg.EpochDuration = int64(d.U64())
	s.cfg.GenesisTime = int64(d.U64())
	s.time = int64(d.U64())
	s.ep = d.U32()
	if _, err := codec.NewParams(s.cfg.NShards); err != nil || s.cfg.EpochDuration < 2 {
		d.Failf("bad config")
	}
	s.committee = decodeCommittee(d)
	if d.Bool() {
		s.next = decodeCommittee(d)
	}
	s.prices = decodePrices(d)
	s.nextPrice = decodePrices(d)

	asc := &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 48); i < n && d.Err() == nil; i++ {
		var a Address
		d.Fixed(a[:])
		asc.next(a[:])
		s.accounts.put(a, &acctEntry{Addr: a, Account: Account{Balance: d.U64(), Nonce: d.U64()}})
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 80); i < n && d.Err() == nil; i++ {
		st := new(Storage)
		decodeStorage(d, st)
		asc.next(st.ID[:])
		s.storage.put(st.ID, st)
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 200); i < n && d.Err() == nil; i++ {
		b := readBlob(d)
		asc.next(b.ID[:])
		s.blobs.put(b.ID, b)
		s.indexBlob(b)
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 36); i < n && d.Err() == nil; i++ {
		var id codec.BlobID
		d.Fixed(id[:])
		asc.next(id[:])
		rec := s.blobIDs.mut(id)
		if rec == nil {
			rec = &blobRec{ID: id}
			s.blobIDs.put(id, rec)
		}
		rec.Invalid, rec.InvalidAt = true, d.U32()
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 160); i < n && d.Err() == nil; i++ {
		nd := readNode(d)
		asc.next(nd.ID[:])
		s.nodes.put(nd.ID, nd)
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 113); i < n && d.Err() == nil; i++ {
		st := readStake(d)
		asc.next(st.ID[:])
		if d.Err() == nil && !s.nodes.has(st.Node) {
			d.Failf("stake for an unknown node")
		}
		s.stakes.put(st.ID, st)
	}
	for _, t := range []*table[uint32, epochAmount]{&s.income, &s.reserved} {
		var prev uint32
		for i, n := 0, readCount(d, maxCount, 12); i < n && d.Err() == nil; i++ {
			k := d.U32()
			if i > 0 && k <= prev {
				d.Failf("epochs not ascending")
			}
			prev = k
			t.put(k, &epochAmount{Epoch: k, Amount: d.U64()})
		}
	}
	s.burned = d.U64()
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 32); i < n && d.Err() == nil; i++ {
		var id epoch.NodeID
		d.Fixed(id[:])
		asc.next(id[:])
		s.syncDone.put(id, &syncEntry{Node: id})
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 65); i < n && d.Err() == nil; i++ {
		var k [2]epoch.NodeID
		d.Fixed(k[0][:])
		d.Fixed(k[1][:])
		asc.next(append(k[0][:], k[1][:]...))
		s.challenges.put(k, &challengeEntry{Target: k[0], Attester: k[1], Pass: d.Bool()})
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 85); i < n && d.Err() == nil; i++ {
		r := &receiptEntry{Height: d.U64(), Index: d.U32()}
		d.Fixed(r.TxHash[:])
		r.Code, r.Fee = Code(d.U8()), d.U64()
		d.Fixed(r.Created[:])
		id := receiptID{r.Height, r.Index}
		asc.next(id.bytes())
		if r.Code >= codeEnd || r.Height > s.height || r.Height+ReceiptHeights <= s.height {
			d.Failf("receipt out of the window")
		}
		s.receipts.put(id, r)
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	for _, c := range []*epoch.Committee{s.committee, s.next} {
		if c == nil {
			continue
		}
		if c.NShards != s.cfg.NShards {
			return nil, fmt.Errorf("%w: committee of %d shards", ErrDecode, c.NShards)
		}
		for i := range c.Members {
			if !s.nodes.has(c.Members[i].Node) {
				return nil, fmt.Errorf("%w: committee member is not a registered node", ErrDecode)
			}
		}
	}
	s.flush()
	return s, nil
}

// Clone returns an independent copy of the state. It is O(1) after writing the state's
// buffered changes into its tree (the copy shares the tree, whose nodes never change).
// Cloning a State with nothing buffered (every State from NewState, Restore, Clone or
// ApplyCheckpoint) does not modify it, so published states may be cloned concurrently.
func (s *State) Clone() *State {
	s.flush()
	c := &State{
		network: s.network, cfg: s.cfg, height: s.height, lastHash: s.lastHash, time: s.time, ep: s.ep,
		// Committees are immutable once selected (the state only swaps pointers), so clones
		// share them, and with them epoch's cache of prepared BLS keys: a checkpoint applied
		// on a clone does not pay to decompress and validate the members' keys again.
		committee: s.committee, next: s.next,
		prices: s.prices, nextPrice: s.nextPrice, burned: s.burned, cache: s.cache,
	}
	st := *s.st
	c.st = &st
	s.forkTables(c)
	return c
}

func readBlob(d *wire.Reader) *Blob {
	b := new(Blob)
	d.Fixed(b.ID[:])
	d.Fixed(b.Owner[:])
	d.Fixed(b.BlobID[:])
	d.Fixed(b.Root[:])
	b.Length = d.U64()
	b.Encoding = d.U8()
	b.EncodedSize = d.U64()
	decodeStorage(d, &b.Storage)
	b.Deletable = d.Bool()
	b.Registered = d.U32()
	b.Certified = d.Bool()
	b.CertEpoch = d.U32()
	for j, k := 0, readCount(d, MaxAttributes, 8); j < k && d.Err() == nil; j++ {
		a := Attribute{Key: readStr(d, MaxAttrKeyLen), Value: readStr(d, MaxAttrValueLen)}
		if j > 0 && b.Attributes[j-1].Key >= a.Key {
			d.Failf("attributes not ascending")
		}
		b.Attributes = append(b.Attributes, a)
	}
	return b
}

func readNode(d *wire.Reader) *Node {
	nd := new(Node)
	d.Fixed(nd.ID[:])
	d.Fixed(nd.Operator[:])
	d.Fixed(nd.BLSKey[:])
	nd.PeerID = readStr(d, MaxPeerIDLen)
	nd.Addrs = readStrs(d, MaxAddrs, MaxAddrLen)
	nd.Commission = d.U16()
	nd.NextCommission = d.U16()
	nd.NextCommissionEpoch = d.U32()
	nd.StoragePrice = d.U64()
	nd.WritePrice = d.U64()
	nd.Capacity = d.U64()
	nd.FeeVote = decodeFees(d)
	nd.Deposit = d.U64()
	nd.IdleSince = d.U32()
	return nd
}

func readStake(d *wire.Reader) *Stake {
	st := new(Stake)
	d.Fixed(st.ID[:])
	d.Fixed(st.Owner[:])
	d.Fixed(st.Node[:])
	st.Amount = d.U64()
	st.Activation = d.U32()
	st.Withdrawing = d.Bool()
	st.WithdrawAt = d.U32()
	return st
}
