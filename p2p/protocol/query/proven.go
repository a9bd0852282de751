package query

import (
	"encoding/binary"
	"fmt"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/staking"
)

// Proven answers (docs/protocol.md §9.7, docs/architecture.md §4 "Light clients"): the
// kinds 9 to 12 answer the same questions as blob status, account and info, but every fact
// comes with a proof against the state root of a committed checkpoint, and that checkpoint
// with its commit certificate. A client that trusts a committee checks the certificate,
// then the proofs, and believes nothing else a node says. Kind 12 gives the epoch-change
// links a client follows to trust each new committee from the one before. The old kinds
// stay as they were: old clients keep working, and a node too old for the new kinds
// refuses them as an unknown kind (bad request) instead of answering something unproven.

// Proven query kinds.
const (
	QueryProvenBlobStatus Kind = 9 + iota // blob_id[32] | at u64
	QueryProvenAccount                    // address[32] | at u64
	QueryProvenInfo                       // at u64
	QueryEpochLinks                       // from_epoch u32
)

// MaxLinksPerPage caps the epoch links of one answer.
const MaxLinksPerPage = 64

// Certified is a committed checkpoint with its commit certificate: the Tendermint precommits
// of members worth n-f shards of the committee that signed that height (the committee of
// the state before it) on (height, Round, Blake2b-256(Checkpoint)).
type Certified struct {
	Checkpoint []byte // the canonical staking.Checkpoint encoding, as committed
	Round      int32
	Cert       epoch.Certificate
}

// maxCheckpointBytes bounds a checkpoint in an answer: the response cap.
func maxCheckpointBytes() int { return Spec.MaxResponse }

func appendCertified(b []byte, c *Certified) []byte {
	b = wire.AppendU32Bytes(b, c.Checkpoint)
	b = wire.AppendU32(b, uint32(c.Round))
	cb, err := c.Cert.AppendBinary(nil)
	if err != nil {
		cb, _ = (&epoch.Certificate{Epoch: c.Cert.Epoch}).AppendBinary(nil) // never verifies
	}
	return append(b, cb...)
}

func readCertified(r *wire.Reader) Certified {
	var c Certified
	c.Checkpoint = r.U32Bytes(maxCheckpointBytes())
	c.Round = int32(r.U32())
	// epoch.Certificate's canonical encoding (AppendBinary): epoch u32 | u32 len | signer
	// bitmap | signature[96].
	c.Cert.Epoch = r.U32()
	signers := r.U32Bytes((epoch.MaxMembers + 7) / 8)
	if r.Err() == nil {
		c.Cert.Signers = append([]byte{}, signers...)
	}
	r.Fixed(c.Cert.Signature[:])
	return c
}

// ProvenEntry is a state entry's canonical value (nil: absent) with its proof.
type ProvenEntry = staking.ProvenEntry

func appendEntry(b []byte, e *ProvenEntry) []byte {
	b = wire.AppendBool(b, e.Value != nil)
	if e.Value != nil {
		b = wire.AppendU32Bytes(b, e.Value)
	}
	var pb []byte
	if e.Proof != nil {
		pb = e.Proof.Encode()
	}
	return wire.AppendU32Bytes(b, pb)
}

func readEntry(r *wire.Reader) ProvenEntry {
	var e ProvenEntry
	if r.Bool() {
		e.Value = r.U32Bytes(r.Len())
		if r.Err() == nil && e.Value == nil {
			e.Value = []byte{} // present but empty: never a valid entry, fails verification
		}
	}
	pb := r.U32Bytes(r.Len()) // staking.DecodeProof enforces the proof size cap
	if r.Err() != nil {
		return e
	}
	p, err := staking.DecodeProof(pb)
	if err != nil {
		r.Failf("proof: %v", err)
		return e
	}
	e.Proof = p
	return e
}

// ProvenBlobAnswer answers QueryProvenBlobStatus: the blob ID's record and its live objects
// proven at the certified checkpoint.
type ProvenBlobAnswer struct {
	Height uint64 // the checkpoint's height
	At     Certified
	Proof  staking.BlobStatusProof
}

// EncodeProvenBlobAnswer encodes a ProvenBlobAnswer.
func EncodeProvenBlobAnswer(a *ProvenBlobAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = appendCertified(b, &a.At)
	b = appendEntry(b, &a.Proof.Record)
	b = wire.AppendU32(b, uint32(len(a.Proof.Objects)))
	for i := range a.Proof.Objects {
		b = appendEntry(b, &a.Proof.Objects[i])
	}
	return b
}

// DecodeProvenBlobAnswer parses an untrusted ProvenBlobAnswer (shape only; the client
// verifies).
func DecodeProvenBlobAnswer(b []byte) (*ProvenBlobAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &ProvenBlobAnswer{Height: r.U64()}
	a.At = readCertified(&r)
	a.Proof.Record = readEntry(&r)
	n := r.Count(1 + 4)
	if n > staking.MaxBlobObjects {
		r.Failf("%d objects", n)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		a.Proof.Objects = append(a.Proof.Objects, readEntry(&r))
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return a, nil
}

// ProvenAccountAnswer answers QueryProvenAccount.
type ProvenAccountAnswer struct {
	Height  uint64
	At      Certified
	Account ProvenEntry
}

// EncodeProvenAccountAnswer encodes a ProvenAccountAnswer.
func EncodeProvenAccountAnswer(a *ProvenAccountAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = appendCertified(b, &a.At)
	return appendEntry(b, &a.Account)
}

// DecodeProvenAccountAnswer parses an untrusted ProvenAccountAnswer.
func DecodeProvenAccountAnswer(b []byte) (*ProvenAccountAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &ProvenAccountAnswer{Height: r.U64()}
	a.At = readCertified(&r)
	a.Account = readEntry(&r)
	if err := r.End(); err != nil {
		return nil, err
	}
	return a, nil
}

// ProvenInfoAnswer answers QueryProvenInfo: the parameters entry (network, shards, epoch
// schedule, time, epoch, prices) and the current committee, proven; the members' stakes
// and the previous committee are the node's word (display and read routing only: a
// client takes the previous committee from its own verified chain).
type ProvenInfoAnswer struct {
	Height    uint64
	At        Certified
	Params    ProvenEntry
	Committee ProvenEntry
	Stakes    []uint64 // unproven, one per member of the committee
	Previous  bool     // the node says the change into this epoch is not complete
}

// EncodeProvenInfoAnswer encodes a ProvenInfoAnswer.
func EncodeProvenInfoAnswer(a *ProvenInfoAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = appendCertified(b, &a.At)
	b = appendEntry(b, &a.Params)
	b = appendEntry(b, &a.Committee)
	b = wire.AppendU32(b, uint32(len(a.Stakes)))
	for _, s := range a.Stakes {
		b = wire.AppendU64(b, s)
	}
	return wire.AppendBool(b, a.Previous)
}

// DecodeProvenInfoAnswer parses an untrusted ProvenInfoAnswer.
func DecodeProvenInfoAnswer(b []byte) (*ProvenInfoAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &ProvenInfoAnswer{Height: r.U64()}
	a.At = readCertified(&r)
	a.Params = readEntry(&r)
	a.Committee = readEntry(&r)
	if n := r.Count(8); n > 0 {
		a.Stakes = make([]uint64, n)
		for i := range a.Stakes {
			a.Stakes[i] = r.U64()
		}
	}
	a.Previous = r.Bool()
	if err := r.End(); err != nil {
		return nil, err
	}
	return a, nil
}

// EpochLink certifies a new committee: the checkpoint that changed the epoch, committed by
// the committee of the epoch before (its commit certificate), and the new current
// committee proven against that checkpoint's state root.
type EpochLink struct {
	At        Certified
	Committee ProvenEntry
}

// EncodeEpochLink encodes one link (also the node's stored form).
func EncodeEpochLink(l *EpochLink) []byte {
	return appendEntry(appendCertified(nil, &l.At), &l.Committee)
}

// DecodeEpochLink parses one untrusted link.
func DecodeEpochLink(b []byte) (*EpochLink, error) {
	r := wire.NewReader(b, ErrMalformed)
	l := &EpochLink{At: readCertified(&r)}
	l.Committee = readEntry(&r)
	if err := r.End(); err != nil {
		return nil, err
	}
	return l, nil
}

// EpochLinksAnswer answers QueryEpochLinks: consecutive links from the committee of the
// asked epoch on (the first is signed by it), at most MaxLinksPerPage; fewer when the
// node has no more (ask again from the last link's epoch for the rest).
type EpochLinksAnswer struct {
	Height uint64
	Links  []EpochLink
}

// EncodeEpochLinksAnswer encodes an EpochLinksAnswer.
func EncodeEpochLinksAnswer(a *EpochLinksAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = wire.AppendU32(b, uint32(len(a.Links)))
	for i := range a.Links {
		b = wire.AppendU32Bytes(b, EncodeEpochLink(&a.Links[i]))
	}
	return b
}

// DecodeEpochLinksAnswer parses an untrusted EpochLinksAnswer.
func DecodeEpochLinksAnswer(b []byte) (*EpochLinksAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &EpochLinksAnswer{Height: r.U64()}
	n := r.Count(4)
	if n > MaxLinksPerPage {
		r.Failf("%d links", n)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		lb := r.U32Bytes(r.Len())
		if r.Err() != nil {
			break
		}
		l, err := DecodeEpochLink(lb)
		if err != nil {
			return nil, err
		}
		a.Links = append(a.Links, *l)
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return a, nil
}

// ---- verification ----

// ErrUnverified is wrapped by every answer that fails verification: a certificate, a
// proof, or a fact that does not match what was asked.
var ErrUnverified = fmt.Errorf("query: answer does not verify")

// PrecommitMessage is the message a commit certificate signs: Tendermint's precommit sign
// bytes, SignedMessage(IntentPrecommit, network, signing epoch, height u64 | round u32 |
// Blake2b-256(checkpoint)) (epoch/tendermint.VoteSignBytes; a test checks they agree).
func PrecommitMessage(network epoch.NetworkID, signingEpoch uint32, height uint64, round int32, checkpoint []byte) []byte {
	h := blake2b.Sum256(checkpoint)
	body := make([]byte, 0, 8+4+32)
	body = binary.LittleEndian.AppendUint64(body, height)
	body = binary.LittleEndian.AppendUint32(body, uint32(round))
	body = append(body, h[:]...)
	return epoch.SignedMessage(epoch.IntentPrecommit, network, signingEpoch, body)
}

// maxRound is Tendermint's round bound (epoch/tendermint.MaxRound).
const maxRound = 1 << 30

// VerifyCertified checks that c is a checkpoint of network committed by com (the committee
// of its certificate's epoch, which the caller trusts) and returns the checkpoint. The
// checkpoint's epoch may be later than com's only at an epoch change.
func VerifyCertified(network epoch.NetworkID, com *epoch.Committee, c *Certified) (*staking.Checkpoint, error) {
	if com == nil {
		return nil, fmt.Errorf("%w: no committee for epoch %d", ErrUnverified, c.Cert.Epoch)
	}
	cp, err := staking.DecodeCheckpoint(c.Checkpoint)
	if err != nil {
		return nil, fmt.Errorf("%w: checkpoint: %v", ErrUnverified, err)
	}
	switch {
	case cp.Network != network:
		return nil, fmt.Errorf("%w: checkpoint of network %x, want %x", ErrUnverified, cp.Network[:8], network[:8])
	case c.Cert.Epoch != com.Epoch:
		return nil, fmt.Errorf("%w: certificate of epoch %d, committee of %d", ErrUnverified, c.Cert.Epoch, com.Epoch)
	case cp.Epoch < com.Epoch:
		return nil, fmt.Errorf("%w: checkpoint of epoch %d signed by the committee of %d", ErrUnverified, cp.Epoch, com.Epoch)
	case c.Round < 0 || c.Round >= maxRound:
		return nil, fmt.Errorf("%w: round %d", ErrUnverified, c.Round)
	}
	msg := PrecommitMessage(network, com.Epoch, cp.Height, c.Round, c.Checkpoint)
	if err := com.VerifyCertificate(msg, &c.Cert, epoch.ThresholdQuorum); err != nil {
		return nil, fmt.Errorf("%w: commit certificate of height %d: %v", ErrUnverified, cp.Height, err)
	}
	return cp, nil
}

// VerifyEntry checks a proven entry against a verified checkpoint's state root.
func VerifyEntry(cp *staking.Checkpoint, k staking.Key, e *ProvenEntry) error {
	if e.Proof == nil {
		return fmt.Errorf("%w: no proof", ErrUnverified)
	}
	if err := staking.VerifyProof(cp.StateRoot, k, e.Value, e.Proof); err != nil {
		return fmt.Errorf("%w: %v", ErrUnverified, err)
	}
	return nil
}

// VerifyCommittee checks a proven current-committee entry against a verified checkpoint
// and returns the committee: present, of the checkpoint's epoch, with nShards shards.
func VerifyCommittee(cp *staking.Checkpoint, e *ProvenEntry, nShards int) (*epoch.Committee, error) {
	if err := VerifyEntry(cp, staking.CommitteeKey(false), e); err != nil {
		return nil, fmt.Errorf("committee: %w", err)
	}
	if e.Value == nil {
		return nil, fmt.Errorf("%w: no committee", ErrUnverified)
	}
	c, err := staking.DecodeCommitteeEntry(e.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: committee: %v", ErrUnverified, err)
	}
	if c.Epoch != cp.Epoch || c.NShards != nShards || len(c.Members) == 0 {
		return nil, fmt.Errorf("%w: committee of epoch %d with %d shards in a checkpoint of epoch %d (want %d shards)",
			ErrUnverified, c.Epoch, c.NShards, cp.Epoch, nShards)
	}
	return c, nil
}

// VerifyParams checks a proven parameters entry against a verified checkpoint and returns
// it: present, of the checkpoint's network and epoch.
func VerifyParams(cp *staking.Checkpoint, e *ProvenEntry) (*staking.Params, error) {
	if err := VerifyEntry(cp, staking.ParamsKey(), e); err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}
	if e.Value == nil {
		return nil, fmt.Errorf("%w: no parameters", ErrUnverified)
	}
	p, err := staking.DecodeParams(e.Value)
	if err != nil {
		return nil, fmt.Errorf("%w: parameters: %v", ErrUnverified, err)
	}
	if p.Network != cp.Network || p.Epoch != cp.Epoch || p.Time != cp.Time {
		return nil, fmt.Errorf("%w: parameters of epoch %d time %d in a checkpoint of epoch %d time %d", ErrUnverified, p.Epoch, p.Time, cp.Epoch, cp.Time)
	}
	return p, nil
}

// VerifyAccount checks a proven account entry and returns the account (zero when absent).
func VerifyAccount(cp *staking.Checkpoint, a staking.Address, e *ProvenEntry) (staking.Account, error) {
	if err := VerifyEntry(cp, staking.AccountKey(a), e); err != nil {
		return staking.Account{}, fmt.Errorf("account: %w", err)
	}
	if e.Value == nil {
		return staking.Account{}, nil
	}
	addr, acc, err := staking.DecodeAccountEntry(e.Value)
	if err != nil || addr != a {
		return staking.Account{}, fmt.Errorf("%w: account entry of another address or malformed", ErrUnverified)
	}
	return acc, nil
}

// VerifyBlob checks a blob status proof against a verified checkpoint and returns the
// status with the live objects (in the record's order, attributes included).
func VerifyBlob(cp *staking.Checkpoint, id codec.BlobID, bp *staking.BlobStatusProof) (staking.BlobStatus, []staking.Blob, error) {
	st, err := staking.VerifyBlobStatus(cp.StateRoot, cp.Epoch, id, bp)
	if err != nil {
		return staking.BlobStatus{}, nil, fmt.Errorf("%w: blob status: %v", ErrUnverified, err)
	}
	objs := make([]staking.Blob, 0, len(bp.Objects))
	for _, pe := range bp.Objects {
		b, err := staking.DecodeBlobObject(pe.Value)
		if err != nil { // verified above; never
			return staking.BlobStatus{}, nil, fmt.Errorf("%w: %v", ErrUnverified, err)
		}
		objs = append(objs, *b)
	}
	return st, objs, nil
}
