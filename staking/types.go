package staking

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
)

// FrostPerWAL is the number of FROST in one WAL (docs/protocol.md §6).
const FrostPerWAL uint64 = 1_000_000_000

// MaxEpochsAhead is how far ahead storage may be bought: End <= current epoch + 53
// (docs/protocol.md §6).
const MaxEpochsAhead = 53

// BillingUnit is the storage billing unit, 1 MiB (docs/protocol.md §6).
const BillingUnit = 1 << 20

// BasisPoints is 100% in commission units.
const BasisPoints = 10_000

// BurnPercent of each epoch's storage income is burned (docs/protocol.md §6).
const BurnPercent = 3

// Caps on variable-length fields, so decoding never allocates more than the input justifies.
const (
	MaxAddrs         = 8
	MaxAddrLen       = 256
	MaxPeerIDLen     = 128
	MaxAttributes    = 32
	MaxAttrKeyLen    = 64
	MaxAttrValueLen  = 1024
	MaxChallengeList = 1024
	MaxTxSize        = 1 << 16
	MaxTxsPerCP      = 100_000
	MaxNetworkName   = 64
)

// Address names an account: Blake2b-256 of its Ed25519 public key (docs/architecture.md §3).
type Address [32]byte

// AddressOf derives the account address of an Ed25519 public key.
func AddressOf(pub ed25519.PublicKey) Address { return Address(blake2b.Sum256(pub)) }

// String prints the address in hex.
func (a Address) String() string { return hex.EncodeToString(a[:]) }

// ObjectID names a ledger object (storage resource, blob object, stake). Object IDs are
// derived from the creating transaction's sender and nonce, so a client can predict them
// before its transaction is committed (it needs the ID to sign deletable confirmations).
type ObjectID [32]byte

// String prints the object ID in hex.
func (o ObjectID) String() string { return hex.EncodeToString(o[:]) }

// DeriveObjectID is the ID of the idx-th object created by the transaction of sender with
// nonce: Blake2b-256("walrus-go/object" || sender || nonce u64 LE || idx u8).
func DeriveObjectID(sender Address, nonce uint64, idx uint8) ObjectID {
	var buf [16 + 32 + 8 + 1]byte
	copy(buf[:], "walrus-go/object")
	copy(buf[16:], sender[:])
	binary.LittleEndian.PutUint64(buf[48:], nonce)
	buf[56] = idx
	return ObjectID(blake2b.Sum256(buf[:]))
}

// Account is a balance and the nonce the account's next transaction must carry.
type Account struct {
	Balance uint64
	Nonce   uint64
}

// Storage is a storage resource: Size bytes for epochs [Start, End).
type Storage struct {
	ID         ObjectID
	Owner      Address
	Start, End uint32
	Size       uint64
}

// Attribute is one string key/value pair riding on a blob registration.
type Attribute struct{ Key, Value string }

// Blob is one blob object in the registry (docs/protocol.md §6). Several objects may share a
// blob ID; its status is the aggregate over them (see State.BlobStatus).
type Blob struct {
	ID          ObjectID
	Owner       Address
	BlobID      codec.BlobID
	Root        [32]byte
	Length      uint64
	Encoding    uint8
	EncodedSize uint64
	Storage     Storage // the resource the registration consumed; End is the blob's end epoch
	Deletable   bool
	Registered  uint32 // epoch of registration
	Certified   bool
	CertEpoch   uint32 // epoch of certification, valid when Certified
	Attributes  []Attribute
}

// Node is a registered storage node and its votes (docs/protocol.md §6–7).
type Node struct {
	ID         epoch.NodeID // Blake2b-256 of the BLS public key
	Operator   Address      // the account that registered it; receives commission
	BLSKey     bls.PublicKey
	PeerID     string
	Addrs      []string
	Commission uint16 // basis points, in force now
	// NextCommission takes effect at the start of epoch NextCommissionEpoch (0 = none).
	NextCommission      uint16
	NextCommissionEpoch uint32
	StoragePrice        uint64 // FROST per MiB per epoch
	WritePrice          uint64 // FROST per MiB
	Capacity            uint64 // bytes
	FeeVote             Fees   // the node's vote on the fee schedule
	// Deposit is the FROST held since `register node` (Fees.Deposit at the time; zero for
	// genesis nodes). It is part of the supply; it returns to the operator's balance when
	// the node is pruned (prune.go).
	Deposit uint64
	// IdleSince is the first of the consecutive epochs at whose start the node was found
	// idle — no stake object names it and it is in neither committee — or 0 when it was not
	// idle at the last epoch start. Idle for IdleNodeEpochs epoch starts, it is removed.
	IdleSince uint32
}

// Stake is a delegation of Amount FROST from Owner to Node's pool. It counts for the
// committees of epochs >= Activation, and once Withdrawing only for those < WithdrawAt; it
// earns rewards in exactly those epochs (docs/protocol.md §6 mid-epoch rule). It may be withdrawn
// from epoch WithdrawAt on.
type Stake struct {
	ID          ObjectID
	Owner       Address
	Node        epoch.NodeID
	Amount      uint64
	Activation  uint32
	Withdrawing bool
	WithdrawAt  uint32
}

// Prices are the committee-chosen prices and capacity for an epoch (docs/protocol.md §6).
type Prices struct {
	Storage uint64 // FROST per MiB per epoch
	Write   uint64 // FROST per MiB
	// Capacity is the total bytes sellable per epoch: the quorum-above point of the
	// members' per-shard capacities (capacity vote / shards) times n.
	Capacity uint64
	// Fees is the transaction fee schedule and the node registration deposit, voted like
	// the storage prices (the quorum-below point of the members' votes).
	Fees Fees
}

// Fees is the transaction fee schedule (docs/protocol.md §11 "Fees"). A transaction of size
// bytes (its signed encoding) that costs v BLS verifications (VerifyCount) pays at least
// Base + PerByte·size + PerVerify·v FROST, whether its operation succeeds or not, once it
// passes the signature, nonce, expiry and fee checks. Deposit is what `register node` holds.
type Fees struct {
	Base      uint64 // FROST per transaction (covers the Ed25519 check)
	PerByte   uint64 // FROST per byte of the signed transaction
	PerVerify uint64 // FROST per BLS (pairing) verification the transaction's operation costs
	Deposit   uint64 // FROST held by `register node`
}

// TxFee is the minimum fee of a transaction of size bytes with verifies BLS verifications;
// ok is false on overflow.
func (f Fees) TxFee(size, verifies int) (uint64, bool) {
	b, ok1 := mul(f.PerByte, uint64(size))
	v, ok2 := mul(f.PerVerify, uint64(verifies))
	t := f.Base + b
	if !ok1 || !ok2 || t < b || t+v < t {
		return 0, false
	}
	return t + v, true
}
