package staking

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/staking/smt"
)

// Proofs of state entries against a state root (a checkpoint's StateRoot), for the query
// server to attach to its answers and the light client to check them.

// Proof proves an entry's value, or its absence, against a state root. Its encoding
// (Proof.Encode, DecodeProof) is canonical and at most smt.MaxProofSize bytes.
type Proof = smt.Proof

// ErrProof is wrapped by every proof that does not decode or does not verify.
var ErrProof = smt.ErrProof

// DecodeProof parses an encoded proof strictly (untrusted input).
func DecodeProof(b []byte) (*Proof, error) { return smt.DecodeProof(b) }

// Prove returns the canonical encoding of the entry at k (nil when there is none; no entry
// encodes to zero bytes) and the proof of it against s.Root().
func (s *State) Prove(k Key) (value []byte, p *Proof) {
	if k.b == "" {
		k = ParamsKey() // a zero Key proves nothing useful; never panic on it
	}
	s.flush()
	payload, ok, pr := s.st.tree.Prove(k.Path())
	if ok {
		value = encodePayload(payload)
	}
	return value, &pr
}

// VerifyProof checks that under root the entry at k is value (its canonical encoding), or
// that there is no entry at k when value is nil. It returns nil or an error wrapping
// ErrProof.
func VerifyProof(root [32]byte, k Key, value []byte, p *Proof) error {
	if k.b == "" {
		return fmt.Errorf("%w: no key", ErrProof)
	}
	var vh *[32]byte
	if value != nil {
		h := smt.ValueHash(value)
		vh = &h
	}
	return smt.Verify(root, k.Path(), vh, p)
}

// encodePayload is the canonical encoding of a leaf's payload.
func encodePayload(p any) []byte {
	e := &encoder{b: make([]byte, 0, 128)}
	switch v := p.(type) {
	case []byte: // the parameters entry
		return slices.Clone(v)
	case *epoch.Committee:
		encodeCommittee(e, v)
	case *acctEntry:
		encAccount(e, v)
	case *Storage:
		encodeStorage(e, v)
	case *Blob:
		encBlob(e, v)
	case *blobRec:
		encBlobRec(e, v)
	case *Node:
		encNode(e, v)
	case *Stake:
		encStake(e, v)
	case *epochAmount:
		encEpochAmount(e, v)
	case *syncEntry:
		encSync(e, v)
	case *challengeEntry:
		encChallenge(e, v)
	case *ownerIdx:
		return v.id()
	case *receiptEntry:
		encReceipt(e, v)
	default:
		panic(fmt.Sprintf("staking: leaf payload %T", p))
	}
	return e.b
}

// Decoders of proven entry values. Each parses its entry's canonical encoding strictly
// (untrusted input: caps and lengths checked before allocating, no trailing bytes).

// Params is the parameters entry (ParamsKey).
type Params struct {
	Network    epoch.NetworkID
	Config     Config
	Time       int64 // of the last checkpoint applied
	Epoch      uint32
	Prices     Prices // in force
	NextPrices Prices // chosen with the next committee (zero before mid-epoch)
	Burned     uint64
}

// DecodeParams decodes the parameters entry.
func DecodeParams(b []byte) (*Params, error) {
	d := newDecoder(b)
	p := new(Params)
	d.Fixed(p.Network[:])
	p.Config.NShards = int(d.U32())
	p.Config.EpochDuration = int64(d.U64())
	p.Config.GenesisTime = int64(d.U64())
	p.Time = int64(d.U64())
	p.Epoch = d.U32()
	p.Prices = decodePrices(d)
	p.NextPrices = decodePrices(d)
	p.Burned = d.U64()
	if err := d.End(); err != nil {
		return nil, err
	}
	return p, nil
}

// DecodeCommitteeEntry decodes a committee entry (CommitteeKey): a committee with its index
// built, so MemberIndex and certificate checks work.
func DecodeCommitteeEntry(b []byte) (*epoch.Committee, error) {
	d := newDecoder(b)
	c := decodeCommittee(d)
	if err := d.End(); err != nil {
		return nil, err
	}
	return c, nil
}

// DecodeAccountEntry decodes an account entry (AccountKey).
func DecodeAccountEntry(b []byte) (Address, Account, error) {
	d := newDecoder(b)
	var a Address
	d.Fixed(a[:])
	acc := Account{Balance: d.U64(), Nonce: d.U64()}
	if err := d.End(); err != nil {
		return Address{}, Account{}, err
	}
	return a, acc, nil
}

// DecodeStorageEntry decodes a storage resource entry (StorageKey).
func DecodeStorageEntry(b []byte) (*Storage, error) {
	d := newDecoder(b)
	st := new(Storage)
	decodeStorage(d, st)
	if err := d.End(); err != nil {
		return nil, err
	}
	return st, nil
}

// DecodeBlobObject decodes a blob object entry (BlobObjectKey).
func DecodeBlobObject(raw []byte) (*Blob, error) {
	d := newDecoder(raw)
	b := readBlob(d)
	if err := d.End(); err != nil {
		return nil, err
	}
	return b, nil
}

// BlobIDRecord is a blob ID's entry (BlobIDKey): whether it was invalidated (and in which
// epoch) and its live blob objects in ascending ID order.
type BlobIDRecord struct {
	ID        codec.BlobID
	Invalid   bool
	InvalidAt uint32
	Objects   []ObjectID
}

// MaxBlobObjects caps the objects of one blob-ID record a decoder accepts.
const MaxBlobObjects = 1 << 16

// DecodeBlobIDRecord decodes a blob-ID record.
func DecodeBlobIDRecord(b []byte) (*BlobIDRecord, error) {
	d := newDecoder(b)
	r := new(BlobIDRecord)
	d.Fixed(r.ID[:])
	r.Invalid = d.Bool()
	r.InvalidAt = d.U32()
	n := readCount(d, MaxBlobObjects, 32)
	for i := 0; i < n && d.Err() == nil; i++ {
		var o ObjectID
		d.Fixed(o[:])
		if i > 0 && bytes.Compare(r.Objects[i-1][:], o[:]) >= 0 {
			d.Failf("objects not ascending")
		}
		r.Objects = append(r.Objects, o)
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	if !r.Invalid && (r.InvalidAt != 0 || len(r.Objects) == 0) {
		return nil, fmt.Errorf("%w: blob-ID record neither invalid nor with objects", ErrDecode)
	}
	return r, nil
}

// DecodeNodeEntry decodes a node entry (NodeKey).
func DecodeNodeEntry(b []byte) (*Node, error) {
	d := newDecoder(b)
	n := readNode(d)
	if err := d.End(); err != nil {
		return nil, err
	}
	return n, nil
}

// DecodeStakeEntry decodes a stake entry (StakeKey).
func DecodeStakeEntry(b []byte) (*Stake, error) {
	d := newDecoder(b)
	st := readStake(d)
	if err := d.End(); err != nil {
		return nil, err
	}
	return st, nil
}

// StatusOf is BlobStatus's rule over a blob ID's record (nil: none) and its live objects at
// epoch ep: the same function for the ledger and for a client checking proven entries.
func StatusOf(ep uint32, rec *BlobIDRecord, objs []*Blob) BlobStatus {
	if rec == nil {
		return BlobStatus{Kind: StatusNonexistent}
	}
	if rec.Invalid {
		return BlobStatus{Kind: StatusInvalid, EndEpoch: rec.InvalidAt}
	}
	var cert, reg, exp BlobStatus
	cert.Deletable, reg.Deletable, exp.Deletable = true, true, true
	for _, b := range objs {
		var st *BlobStatus
		switch {
		case b.Storage.End <= ep:
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

// ProvenEntry is an entry's value (nil: absent) with its proof.
type ProvenEntry struct {
	Value []byte
	Proof *Proof
}

// BlobStatusProof proves a blob ID's status: its record and, unless it is invalid, each of
// its live objects, in the record's order.
type BlobStatusProof struct {
	Record  ProvenEntry
	Objects []ProvenEntry
}

// ProveBlobStatus returns the blob ID's status with its proof against s.Root().
func (s *State) ProveBlobStatus(id codec.BlobID) (BlobStatus, *BlobStatusProof) {
	bp := new(BlobStatusProof)
	bp.Record.Value, bp.Record.Proof = s.Prove(BlobIDKey(id))
	if rec := s.blobIDs.get(id); rec != nil && !rec.Invalid {
		for _, o := range rec.Objects {
			var pe ProvenEntry
			pe.Value, pe.Proof = s.Prove(BlobObjectKey(o))
			bp.Objects = append(bp.Objects, pe)
		}
	}
	return s.BlobStatus(id), bp
}

// VerifyBlobStatus checks bp against root and returns the blob ID's status at epoch ep (the
// epoch of the checkpoint whose state root is root).
func VerifyBlobStatus(root [32]byte, ep uint32, id codec.BlobID, bp *BlobStatusProof) (BlobStatus, error) {
	if bp == nil || bp.Record.Proof == nil {
		return BlobStatus{}, fmt.Errorf("%w: no proof", ErrProof)
	}
	if err := VerifyProof(root, BlobIDKey(id), bp.Record.Value, bp.Record.Proof); err != nil {
		return BlobStatus{}, fmt.Errorf("blob-ID record: %w", err)
	}
	if bp.Record.Value == nil {
		if len(bp.Objects) != 0 {
			return BlobStatus{}, fmt.Errorf("%w: objects for an absent blob ID", ErrProof)
		}
		return StatusOf(ep, nil, nil), nil
	}
	rec, err := DecodeBlobIDRecord(bp.Record.Value)
	if err != nil {
		return BlobStatus{}, err
	}
	if rec.ID != id {
		return BlobStatus{}, fmt.Errorf("%w: record of another blob ID", ErrProof)
	}
	if rec.Invalid {
		if len(bp.Objects) != 0 {
			return BlobStatus{}, fmt.Errorf("%w: objects for an invalid blob ID", ErrProof)
		}
		return StatusOf(ep, rec, nil), nil
	}
	if len(bp.Objects) != len(rec.Objects) {
		return BlobStatus{}, fmt.Errorf("%w: %d objects proven, the record has %d", ErrProof, len(bp.Objects), len(rec.Objects))
	}
	objs := make([]*Blob, len(rec.Objects))
	for i, o := range rec.Objects {
		pe := bp.Objects[i]
		if pe.Value == nil || pe.Proof == nil {
			return BlobStatus{}, fmt.Errorf("%w: object %s missing", ErrProof, o)
		}
		if err := VerifyProof(root, BlobObjectKey(o), pe.Value, pe.Proof); err != nil {
			return BlobStatus{}, fmt.Errorf("blob object %s: %w", o, err)
		}
		b, err := DecodeBlobObject(pe.Value)
		if err != nil {
			return BlobStatus{}, err
		}
		if b.ID != o || b.BlobID != id {
			return BlobStatus{}, fmt.Errorf("%w: object %s does not match the record", ErrProof, o)
		}
		objs[i] = b
	}
	return StatusOf(ep, rec, objs), nil
}
