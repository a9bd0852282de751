package staking

import (
	"crypto/ed25519"
	"fmt"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// Kind is the transaction type byte of the canonical encoding.
type Kind uint8

// Transaction kinds (docs/architecture.md §4).
const (
	KindTransfer Kind = 1 + iota
	KindReserveStorage
	KindSplitStorageEpoch
	KindSplitStorageSize
	KindRegisterBlob
	KindCertifyBlob
	KindInvalidateBlob
	KindDeleteBlob
	KindExtendBlob
	KindSetAttribute
	KindRemoveAttribute
	KindRegisterNode
	KindUpdateNode
	KindStake
	KindRequestWithdraw
	KindWithdraw
	KindSyncDone
	KindChallengeResults
	kindEnd
)

var kindNames = [...]string{"", "transfer", "reserve-storage", "split-storage-epoch",
	"split-storage-size", "register-blob", "certify-blob", "invalidate-blob", "delete-blob",
	"extend-blob", "set-attribute", "remove-attribute", "register-node", "update-node", "stake",
	"request-withdraw", "withdraw", "sync-done", "challenge-results"}

// String names the kind.
func (k Kind) String() string {
	if k >= 1 && k < kindEnd {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Op is the body of a transaction: one of the *Op types of this file.
type Op interface {
	Kind() Kind
	encode(e *encoder)
	decode(d *wire.Reader)
}

// Transfer moves Amount FROST from the sender to To.
type Transfer struct {
	To     Address
	Amount uint64
}

// ReserveStorage buys Size bytes for epochs [Start, End) at the current storage price
// (docs/protocol.md §6). Start must be >= the current epoch and End <= current + 53. The
// resource's ID is DeriveObjectID(sender, nonce, 0).
type ReserveStorage struct {
	Size       uint64
	Start, End uint32
}

// SplitStorageEpoch splits a resource in time: the original keeps [Start, At), a new
// resource DeriveObjectID(sender, nonce, 0) gets [At, End).
type SplitStorageEpoch struct {
	Storage ObjectID
	At      uint32
}

// SplitStorageSize splits a resource in size: the original keeps Size-Take bytes, a new
// resource DeriveObjectID(sender, nonce, 0) gets Take bytes over the same epochs.
type SplitStorageSize struct {
	Storage ObjectID
	Take    uint64
}

// RegisterBlob registers a blob on a storage resource the sender owns, paying the write fee
// (docs/protocol.md §6). The blob object's ID is DeriveObjectID(sender, nonce, 0).
type RegisterBlob struct {
	Storage   ObjectID
	BlobID    codec.BlobID
	Root      [32]byte
	Length    uint64
	Encoding  uint8
	Deletable bool
}

// CertifyBlob certifies a registered blob object with an aggregate storage certificate
// (docs/protocol.md §5). BlobID and Deletable repeat the object's fields so that the signed
// message is known from the transaction alone (certificates of a checkpoint are verified in
// parallel before it is applied); they must match the object. Anyone may submit it.
type CertifyBlob struct {
	Blob      ObjectID
	BlobID    codec.BlobID
	Deletable bool
	Cert      epoch.Certificate
}

// InvalidateBlob marks a blob ID invalid with an invalid-blob certificate worth f+1 shards.
type InvalidateBlob struct {
	BlobID codec.BlobID
	Cert   epoch.Certificate
}

// DeleteBlob deletes a deletable blob the sender owns; its storage resource comes back to
// the sender as DeriveObjectID(sender, nonce, 0).
type DeleteBlob struct{ Blob ObjectID }

// ExtendBlob pays for the blob object to live until End (exclusive) at the current price.
type ExtendBlob struct {
	Blob ObjectID
	End  uint32
}

// SetAttribute sets one attribute of a blob object the sender owns.
type SetAttribute struct {
	Blob       ObjectID
	Key, Value string
}

// RemoveAttribute removes one attribute of a blob object the sender owns.
type RemoveAttribute struct {
	Blob ObjectID
	Key  string
}

// NodeInfo are the fields a node operator announces and may later update.
type NodeInfo struct {
	PeerID       string
	Addrs        []string
	Commission   uint16 // basis points
	StoragePrice uint64 // vote, FROST per MiB per epoch
	WritePrice   uint64 // vote, FROST per MiB
	Capacity     uint64 // vote, bytes this node can store (see Prices.Capacity)
	Fees         Fees   // vote on the fee schedule and the registration deposit
}

// RegisterNode registers a storage node; the sender becomes its operator. NodeID =
// Blake2b-256(BLSKey); PoP must be the key's BLS signature on PossessionMessage(network,
// sender, BLSKey), which binds the sender's account (as Walrus's binds the sender address), so
// a registration seen in the mempool cannot be front-run from another account. It holds
// Fees.Deposit of the sender's balance in the node.
type RegisterNode struct {
	BLSKey bls.PublicKey
	PoP    bls.Signature
	Info   NodeInfo
}

// UpdateNode replaces a node's info; only its operator may. A commission change takes
// effect two epochs later (docs/protocol.md §6); votes count from the next selection; the peer ID
// and addresses reach committees from the next selection on (a committee is a snapshot).
type UpdateNode struct {
	Node epoch.NodeID
	Info NodeInfo
}

// StakeOp delegates Amount FROST to Node's pool; the stake object's ID is
// DeriveObjectID(sender, nonce, 0).
type StakeOp struct {
	Node   epoch.NodeID
	Amount uint64
}

// RequestWithdraw starts withdrawing a stake the sender owns.
type RequestWithdraw struct{ Stake ObjectID }

// Withdraw returns a withdrawable stake (and its rewards) to the sender's balance.
type Withdraw struct{ Stake ObjectID }

// SyncDone is a node's signed announcement that it holds all its shards of Epoch
// (docs/protocol.md §7). Sig is the node's BLS signature on SyncDoneMessage. Anyone may submit it.
type SyncDone struct {
	Node  epoch.NodeID
	Epoch uint32
	Sig   bls.Signature
}

// ChallengeResult is one attested outcome: did Node pass its storage challenge?
type ChallengeResult struct {
	Node epoch.NodeID
	Pass bool
}

// ChallengeResults is Attester's signed list of challenge outcomes for Epoch (placeholder
// shape, docs/protocol.md §7). Sig is the attester's BLS signature on ChallengeMessage.
type ChallengeResults struct {
	Attester epoch.NodeID
	Epoch    uint32
	Results  []ChallengeResult
	Sig      bls.Signature
}

// Kind implements Op.
func (*Transfer) Kind() Kind { return KindTransfer }

// Kind implements Op.
func (*ReserveStorage) Kind() Kind { return KindReserveStorage }

// Kind implements Op.
func (*SplitStorageEpoch) Kind() Kind { return KindSplitStorageEpoch }

// Kind implements Op.
func (*SplitStorageSize) Kind() Kind { return KindSplitStorageSize }

// Kind implements Op.
func (*RegisterBlob) Kind() Kind { return KindRegisterBlob }

// Kind implements Op.
func (*CertifyBlob) Kind() Kind { return KindCertifyBlob }

// Kind implements Op.
func (*InvalidateBlob) Kind() Kind { return KindInvalidateBlob }

// Kind implements Op.
func (*DeleteBlob) Kind() Kind { return KindDeleteBlob }

// Kind implements Op.
func (*ExtendBlob) Kind() Kind { return KindExtendBlob }

// Kind implements Op.
func (*SetAttribute) Kind() Kind { return KindSetAttribute }

// Kind implements Op.
func (*RemoveAttribute) Kind() Kind { return KindRemoveAttribute }

// Kind implements Op.
func (*RegisterNode) Kind() Kind { return KindRegisterNode }

// Kind implements Op.
func (*UpdateNode) Kind() Kind { return KindUpdateNode }

// Kind implements Op.
func (*StakeOp) Kind() Kind { return KindStake }

// Kind implements Op.
func (*RequestWithdraw) Kind() Kind { return KindRequestWithdraw }

// Kind implements Op.
func (*Withdraw) Kind() Kind { return KindWithdraw }

// Kind implements Op.
func (*SyncDone) Kind() Kind { return KindSyncDone }

// Kind implements Op.
func (*ChallengeResults) Kind() Kind { return KindChallengeResults }

func (o *Transfer) encode(e *encoder)     { e.fixed(o.To[:]); e.u64(o.Amount) }
func (o *Transfer) decode(d *wire.Reader) { d.Fixed(o.To[:]); o.Amount = d.U64() }

func (o *ReserveStorage) encode(e *encoder)     { e.u64(o.Size); e.u32(o.Start); e.u32(o.End) }
func (o *ReserveStorage) decode(d *wire.Reader) { o.Size = d.U64(); o.Start = d.U32(); o.End = d.U32() }

func (o *SplitStorageEpoch) encode(e *encoder)     { e.fixed(o.Storage[:]); e.u32(o.At) }
func (o *SplitStorageEpoch) decode(d *wire.Reader) { d.Fixed(o.Storage[:]); o.At = d.U32() }

func (o *SplitStorageSize) encode(e *encoder)     { e.fixed(o.Storage[:]); e.u64(o.Take) }
func (o *SplitStorageSize) decode(d *wire.Reader) { d.Fixed(o.Storage[:]); o.Take = d.U64() }

func (o *RegisterBlob) encode(e *encoder) {
	e.fixed(o.Storage[:])
	e.fixed(o.BlobID[:])
	e.fixed(o.Root[:])
	e.u64(o.Length)
	e.u8(o.Encoding)
	e.boolean(o.Deletable)
}

func (o *RegisterBlob) decode(d *wire.Reader) {
	d.Fixed(o.Storage[:])
	d.Fixed(o.BlobID[:])
	d.Fixed(o.Root[:])
	o.Length = d.U64()
	o.Encoding = d.U8()
	o.Deletable = d.Bool()
}

func encodeCert(e *encoder, c *epoch.Certificate) {
	e.u32(c.Epoch)
	e.bytes(c.Signers)
	e.fixed(c.Signature[:])
}

// maxSignerBytes caps a certificate bitmap: one bit per member, at most one member per shard.
const maxSignerBytes = (codec.MaxShards + 7) / 8

func decodeCert(d *wire.Reader, c *epoch.Certificate) {
	c.Epoch = d.U32()
	c.Signers = readBytes(d, maxSignerBytes)
	d.Fixed(c.Signature[:])
}

func (o *CertifyBlob) encode(e *encoder) {
	e.fixed(o.Blob[:])
	e.fixed(o.BlobID[:])
	e.boolean(o.Deletable)
	encodeCert(e, &o.Cert)
}

func (o *CertifyBlob) decode(d *wire.Reader) {
	d.Fixed(o.Blob[:])
	d.Fixed(o.BlobID[:])
	o.Deletable = d.Bool()
	decodeCert(d, &o.Cert)
}

func (o *InvalidateBlob) encode(e *encoder)     { e.fixed(o.BlobID[:]); encodeCert(e, &o.Cert) }
func (o *InvalidateBlob) decode(d *wire.Reader) { d.Fixed(o.BlobID[:]); decodeCert(d, &o.Cert) }

func (o *DeleteBlob) encode(e *encoder)     { e.fixed(o.Blob[:]) }
func (o *DeleteBlob) decode(d *wire.Reader) { d.Fixed(o.Blob[:]) }

func (o *ExtendBlob) encode(e *encoder)     { e.fixed(o.Blob[:]); e.u32(o.End) }
func (o *ExtendBlob) decode(d *wire.Reader) { d.Fixed(o.Blob[:]); o.End = d.U32() }

func (o *SetAttribute) encode(e *encoder) { e.fixed(o.Blob[:]); e.str(o.Key); e.str(o.Value) }
func (o *SetAttribute) decode(d *wire.Reader) {
	d.Fixed(o.Blob[:])
	o.Key = readStr(d, MaxAttrKeyLen)
	o.Value = readStr(d, MaxAttrValueLen)
}

func (o *RemoveAttribute) encode(e *encoder) { e.fixed(o.Blob[:]); e.str(o.Key) }
func (o *RemoveAttribute) decode(d *wire.Reader) {
	d.Fixed(o.Blob[:])
	o.Key = readStr(d, MaxAttrKeyLen)
}

func (n *NodeInfo) encode(e *encoder) {
	e.str(n.PeerID)
	e.strs(n.Addrs)
	e.u16(n.Commission)
	e.u64(n.StoragePrice)
	e.u64(n.WritePrice)
	e.u64(n.Capacity)
	encodeFees(e, n.Fees)
}

func (n *NodeInfo) decode(d *wire.Reader) {
	n.PeerID = readStr(d, MaxPeerIDLen)
	n.Addrs = readStrs(d, MaxAddrs, MaxAddrLen)
	n.Commission = d.U16()
	n.StoragePrice = d.U64()
	n.WritePrice = d.U64()
	n.Capacity = d.U64()
	n.Fees = decodeFees(d)
}

func encodeFees(e *encoder, f Fees) {
	e.u64(f.Base)
	e.u64(f.PerByte)
	e.u64(f.PerVerify)
	e.u64(f.Deposit)
}
func decodeFees(d *wire.Reader) Fees {
	return Fees{Base: d.U64(), PerByte: d.U64(), PerVerify: d.U64(), Deposit: d.U64()}
}

func (o *RegisterNode) encode(e *encoder) { e.fixed(o.BLSKey[:]); e.fixed(o.PoP[:]); o.Info.encode(e) }
func (o *RegisterNode) decode(d *wire.Reader) {
	d.Fixed(o.BLSKey[:])
	d.Fixed(o.PoP[:])
	o.Info.decode(d)
}

func (o *UpdateNode) encode(e *encoder)     { e.fixed(o.Node[:]); o.Info.encode(e) }
func (o *UpdateNode) decode(d *wire.Reader) { d.Fixed(o.Node[:]); o.Info.decode(d) }

func (o *StakeOp) encode(e *encoder)     { e.fixed(o.Node[:]); e.u64(o.Amount) }
func (o *StakeOp) decode(d *wire.Reader) { d.Fixed(o.Node[:]); o.Amount = d.U64() }

func (o *RequestWithdraw) encode(e *encoder)     { e.fixed(o.Stake[:]) }
func (o *RequestWithdraw) decode(d *wire.Reader) { d.Fixed(o.Stake[:]) }

func (o *Withdraw) encode(e *encoder)     { e.fixed(o.Stake[:]) }
func (o *Withdraw) decode(d *wire.Reader) { d.Fixed(o.Stake[:]) }

func (o *SyncDone) encode(e *encoder)     { e.fixed(o.Node[:]); e.u32(o.Epoch); e.fixed(o.Sig[:]) }
func (o *SyncDone) decode(d *wire.Reader) { d.Fixed(o.Node[:]); o.Epoch = d.U32(); d.Fixed(o.Sig[:]) }

func encodeResults(e *encoder, rs []ChallengeResult) {
	e.count(len(rs))
	for _, r := range rs {
		e.fixed(r.Node[:])
		e.boolean(r.Pass)
	}
}

func (o *ChallengeResults) encode(e *encoder) {
	e.fixed(o.Attester[:])
	e.u32(o.Epoch)
	encodeResults(e, o.Results)
	e.fixed(o.Sig[:])
}

func (o *ChallengeResults) decode(d *wire.Reader) {
	d.Fixed(o.Attester[:])
	o.Epoch = d.U32()
	n := readCount(d, MaxChallengeList, 33)
	if n > 0 {
		o.Results = make([]ChallengeResult, n)
		for i := range o.Results {
			d.Fixed(o.Results[i].Node[:])
			o.Results[i].Pass = d.Bool()
		}
	}
	d.Fixed(o.Sig[:])
}

func newOp(k Kind) Op {
	switch k {
	case KindTransfer:
		return new(Transfer)
	case KindReserveStorage:
		return new(ReserveStorage)
	case KindSplitStorageEpoch:
		return new(SplitStorageEpoch)
	case KindSplitStorageSize:
		return new(SplitStorageSize)
	case KindRegisterBlob:
		return new(RegisterBlob)
	case KindCertifyBlob:
		return new(CertifyBlob)
	case KindInvalidateBlob:
		return new(InvalidateBlob)
	case KindDeleteBlob:
		return new(DeleteBlob)
	case KindExtendBlob:
		return new(ExtendBlob)
	case KindSetAttribute:
		return new(SetAttribute)
	case KindRemoveAttribute:
		return new(RemoveAttribute)
	case KindRegisterNode:
		return new(RegisterNode)
	case KindUpdateNode:
		return new(UpdateNode)
	case KindStake:
		return new(StakeOp)
	case KindRequestWithdraw:
		return new(RequestWithdraw)
	case KindWithdraw:
		return new(Withdraw)
	case KindSyncDone:
		return new(SyncDone)
	case KindChallengeResults:
		return new(ChallengeResults)
	}
	return nil
}

// Tx is an unsigned transaction: the sender's Ed25519 public key, its nonce, its expiry
// height, the fee it offers, and one Op.
type Tx struct {
	Sender ed25519.PublicKey
	Nonce  uint64
	// Expiry is the last checkpoint height that may include the transaction; later it is
	// refused (CodeTxExpired). 0 means no expiry.
	Expiry uint64
	// Fee is the fee offered in FROST. The transaction pays max(Fee, the schedule's
	// minimum, RequiredFee): 0 pays the minimum; more is a priority bid (the mempool
	// orders by fee per byte).
	Fee uint64
	Op  Op
}

// SignedTx is a transaction with the sender's Ed25519 signature over
// (network ID || Tx.Encode()) (docs/architecture.md §3: a signature is valid on one network only).
type SignedTx struct {
	Tx  Tx
	Sig []byte
}

// Encode returns the canonical bytes of the transaction: sender (32) || nonce u64 LE ||
// expiry u64 LE || fee u64 LE || kind u8 || op fields.
func (t *Tx) Encode() []byte {
	e := &encoder{b: make([]byte, 0, 128)}
	t.encode(e)
	return e.b
}

func (t *Tx) encode(e *encoder) {
	var pk [ed25519.PublicKeySize]byte
	copy(pk[:], t.Sender)
	e.fixed(pk[:])
	e.u64(t.Nonce)
	e.u64(t.Expiry)
	e.u64(t.Fee)
	e.u8(uint8(t.Op.Kind()))
	t.Op.encode(e)
}

func (t *Tx) decode(d *wire.Reader) {
	pk := make([]byte, ed25519.PublicKeySize)
	d.Fixed(pk)
	t.Sender = pk
	t.Nonce = d.U64()
	t.Expiry = d.U64()
	t.Fee = d.U64()
	k := Kind(d.U8())
	if d.Err() != nil {
		return
	}
	t.Op = newOp(k)
	if t.Op == nil {
		d.Failf("unknown transaction kind %d", k)
		return
	}
	t.Op.decode(d)
}

// SigningBytes are the bytes the sender signs: network ID || Encode().
func (t *Tx) SigningBytes(network epoch.NetworkID) []byte {
	e := &encoder{b: make([]byte, 0, 160)}
	e.fixed(network[:])
	t.encode(e)
	return e.b
}

// Sign signs tx for network with the sender's key.
func Sign(network epoch.NetworkID, key ed25519.PrivateKey, tx Tx) *SignedTx {
	tx.Sender = key.Public().(ed25519.PublicKey)
	return &SignedTx{Tx: tx, Sig: ed25519.Sign(key, tx.SigningBytes(network))}
}

// Encode returns the canonical bytes of the signed transaction: Tx bytes || signature (64).
func (s *SignedTx) Encode() []byte {
	e := &encoder{b: make([]byte, 0, 192)}
	s.Tx.encode(e)
	var sig [ed25519.SignatureSize]byte
	copy(sig[:], s.Sig)
	e.fixed(sig[:])
	return e.b
}

// DecodeSignedTx parses a signed transaction strictly (caps on every length, no trailing
// bytes, canonical booleans). It does not verify the signature; Apply does.
func DecodeSignedTx(b []byte) (*SignedTx, error) {
	if len(b) > MaxTxSize {
		return nil, fmt.Errorf("%w: transaction of %d bytes over cap %d", ErrDecode, len(b), MaxTxSize)
	}
	d := newDecoder(b)
	s := new(SignedTx)
	s.Tx.decode(d)
	s.Sig = make([]byte, ed25519.SignatureSize)
	d.Fixed(s.Sig)
	if err := d.End(); err != nil {
		return nil, err
	}
	return s, nil
}

// Size is the length of the signed encoding (what the per-byte fee counts).
func (s *SignedTx) Size() int {
	e := &encoder{b: make([]byte, 0, 192)}
	s.Tx.encode(e)
	return len(e.b) + ed25519.SignatureSize
}

// VerifyCount is the number of BLS verifications op costs a validator: one for a proof of
// possession, a certificate (one aggregate check), a sync done or a challenge result list;
// none otherwise (the Ed25519 check is in Fees.Base).
func VerifyCount(op Op) int {
	switch op.(type) {
	case *RegisterNode, *CertifyBlob, *InvalidateBlob, *SyncDone, *ChallengeResults:
		return 1
	}
	return 0
}

// RequiredFee is the schedule's minimum fee for tx (of size bytes signed); ok is false on
// overflow. The fee charged is max(tx.Fee, RequiredFee).
func RequiredFee(f Fees, tx *Tx, size int) (uint64, bool) {
	if tx.Op == nil {
		return 0, false
	}
	return f.TxFee(size, VerifyCount(tx.Op))
}

// Verify checks the Ed25519 signature for network.
func (s *SignedTx) Verify(network epoch.NetworkID) bool {
	if len(s.Tx.Sender) != ed25519.PublicKeySize || len(s.Sig) != ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(s.Tx.Sender, s.Tx.SigningBytes(network), s.Sig)
}
