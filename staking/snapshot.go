package staking

import (
	"bytes"
	"fmt"
	"math"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// snapshotMagic starts every snapshot; the last byte is the format version.
var snapshotMagic = []byte("wgstate\x01")

// Root is the state root: Blake2b-256 of the canonical encoding of the whole ledger state
// (everything in a snapshot except the chain position, height and last checkpoint hash,
// which a checkpoint cannot commit to without hashing itself). Maps are encoded in
// ascending key order, so equal states have equal roots on every node.
func (s *State) Root() [32]byte {
	e := &encoder{b: make([]byte, 0, 4096)}
	s.encodeBody(e)
	return blake2b.Sum256(e.b)
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

	accs := sortedKeys(s.accounts, lessAddr)
	e.count(len(accs))
	for _, a := range accs {
		e.fixed(a[:])
		e.u64(s.accounts[a].Balance)
		e.u64(s.accounts[a].Nonce)
	}
	sts := sortedKeys(s.storage, lessObj)
	e.count(len(sts))
	for _, id := range sts {
		encodeStorage(e, s.storage[id])
	}
	bls := sortedKeys(s.blobs, lessObj)
	e.count(len(bls))
	for _, id := range bls {
		b := s.blobs[id]
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
	inv := sortedKeys(s.invalid, func(a, b codec.BlobID) bool { return bytes.Compare(a[:], b[:]) < 0 })
	e.count(len(inv))
	for _, id := range inv {
		e.fixed(id[:])
		e.u32(s.invalid[id])
	}
	nodes := s.Nodes()
	e.count(len(nodes))
	for _, id := range nodes {
		n := s.nodes[id]
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
	}
	stakes := s.Stakes()
	e.count(len(stakes))
	for _, id := range stakes {
		st := s.stakes[id]
		e.fixed(st.ID[:])
		e.fixed(st.Owner[:])
		e.fixed(st.Node[:])
		e.u64(st.Amount)
		e.u32(st.Activation)
		e.boolean(st.Withdrawing)
		e.u32(st.WithdrawAt)
	}
	for _, m := range []map[uint32]uint64{s.income, s.reserved} {
		keys := sortedKeys(m, func(a, b uint32) bool { return a < b })
		e.count(len(keys))
		for _, k := range keys {
			e.u32(k)
			e.u64(m[k])
		}
	}
	e.u64(s.burned)
	done := sortedKeys(s.syncDone, lessID32)
	e.count(len(done))
	for _, id := range done {
		e.fixed(id[:])
	}
	ch := sortedKeys(s.challenges, func(a, b [2]epoch.NodeID) bool {
		return bytes.Compare(append(a[0][:], a[1][:]...), append(b[0][:], b[1][:]...)) < 0
	})
	e.count(len(ch))
	for _, k := range ch {
		e.fixed(k[0][:])
		e.fixed(k[1][:])
		e.boolean(s.challenges[k])
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
		s.accounts[a] = &Account{Balance: d.U64(), Nonce: d.U64()}
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 80); i < n && d.Err() == nil; i++ {
		st := new(Storage)
		decodeStorage(d, st)
		asc.next(st.ID[:])
		s.storage[st.ID] = st
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 200); i < n && d.Err() == nil; i++ {
		b := new(Blob)
		d.Fixed(b.ID[:])
		asc.next(b.ID[:])
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
		s.blobs[b.ID] = b
		s.indexBlob(b)
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 36); i < n && d.Err() == nil; i++ {
		var id codec.BlobID
		d.Fixed(id[:])
		asc.next(id[:])
		s.invalid[id] = d.U32()
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 160); i < n && d.Err() == nil; i++ {
		nd := new(Node)
		d.Fixed(nd.ID[:])
		asc.next(nd.ID[:])
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
		s.nodes[nd.ID] = nd
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 113); i < n && d.Err() == nil; i++ {
		st := new(Stake)
		d.Fixed(st.ID[:])
		asc.next(st.ID[:])
		d.Fixed(st.Owner[:])
		d.Fixed(st.Node[:])
		st.Amount = d.U64()
		st.Activation = d.U32()
		st.Withdrawing = d.Bool()
		st.WithdrawAt = d.U32()
		if d.Err() == nil && s.nodes[st.Node] == nil {
			d.Failf("stake for an unknown node")
		}
		s.stakes[st.ID] = st
	}
	for _, m := range []map[uint32]uint64{s.income, s.reserved} {
		var prev uint32
		for i, n := 0, readCount(d, maxCount, 12); i < n && d.Err() == nil; i++ {
			k := d.U32()
			if i > 0 && k <= prev {
				d.Failf("epochs not ascending")
			}
			prev = k
			m[k] = d.U64()
		}
	}
	s.burned = d.U64()
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 32); i < n && d.Err() == nil; i++ {
		var id epoch.NodeID
		d.Fixed(id[:])
		asc.next(id[:])
		s.syncDone[id] = true
	}
	asc = &ascending{d: d}
	for i, n := 0, readCount(d, maxCount, 65); i < n && d.Err() == nil; i++ {
		var k [2]epoch.NodeID
		d.Fixed(k[0][:])
		d.Fixed(k[1][:])
		asc.next(append(k[0][:], k[1][:]...))
		s.challenges[k] = d.Bool()
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
			if s.nodes[c.Members[i].Node] == nil {
				return nil, fmt.Errorf("%w: committee member is not a registered node", ErrDecode)
			}
		}
	}
	return s, nil
}

// Clone returns a deep copy of the state.
func (s *State) Clone() *State {
	c := newEmptyState()
	c.network, c.cfg, c.height, c.lastHash, c.time, c.ep = s.network, s.cfg, s.height, s.lastHash, s.time, s.ep
	// Committees are immutable once selected (the state only swaps pointers), so clones
	// share them, and with them epoch's cache of prepared BLS keys: a checkpoint applied on
	// a clone does not pay to decompress and validate the members' keys again.
	c.committee, c.next = s.committee, s.next
	c.prices, c.nextPrice, c.burned = s.prices, s.nextPrice, s.burned
	for k, v := range s.accounts {
		a := *v
		c.accounts[k] = &a
	}
	for k, v := range s.storage {
		st := *v
		c.storage[k] = &st
	}
	for k, v := range s.blobs {
		b := *v
		b.Attributes = append([]Attribute(nil), v.Attributes...)
		c.blobs[k] = &b
	}
	for k, v := range s.byBlobID {
		c.byBlobID[k] = append([]ObjectID(nil), v...)
	}
	for k, v := range s.invalid {
		c.invalid[k] = v
	}
	for k, v := range s.nodes {
		n := *v
		n.Addrs = append([]string(nil), v.Addrs...)
		c.nodes[k] = &n
	}
	for k, v := range s.stakes {
		st := *v
		c.stakes[k] = &st
	}
	for k, v := range s.income {
		c.income[k] = v
	}
	for k, v := range s.reserved {
		c.reserved[k] = v
	}
	for k, v := range s.syncDone {
		c.syncDone[k] = v
	}
	for k, v := range s.challenges {
		c.challenges[k] = v
	}
	return c
}
