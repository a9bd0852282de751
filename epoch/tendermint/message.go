package tendermint

import (
	"encoding/binary"
	"fmt"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/wire"
	"golang.org/x/crypto/blake2b"
)

// Hash names a value: Blake2b-256 of its bytes. The zero Hash stands for nil in votes.
type Hash [32]byte

// HashValue returns the Hash of v.
func HashValue(v []byte) Hash { return blake2b.Sum256(v) }

// IsNil reports whether h is the nil vote.
func (h Hash) IsNil() bool { return h == Hash{} }

// VoteType tells prevotes from precommits.
type VoteType uint8

// Vote types.
const (
	Prevote VoteType = 1 + iota
	Precommit
)

// String names the vote type.
func (t VoteType) String() string {
	switch t {
	case Prevote:
		return "prevote"
	case Precommit:
		return "precommit"
	}
	return fmt.Sprintf("VoteType(%d)", uint8(t))
}

func (t VoteType) intent() epoch.Intent {
	if t == Precommit {
		return epoch.IntentPrecommit
	}
	return epoch.IntentPrevote
}

// MaxRound bounds round numbers on the wire, so arithmetic on rounds never overflows.
const MaxRound = 1 << 30

// Message is a Proposal, a Vote or a Decision. Every Message is also an Event.
type Message interface {
	Event
	// MsgHeight is the height the message is about.
	MsgHeight() uint64
}

// Proposal is PROPOSAL(h, r, v, vr) of the paper, from proposer(h, r).
type Proposal struct {
	Height     uint64
	Round      int32
	ValidRound int32 // -1 when none
	Value      []byte
	Proposer   uint32 // member index in the height's committee
	Signature  bls.Signature
}

// Vote is PREVOTE or PRECOMMIT(h, r, id(v)); Value is the zero Hash for nil.
type Vote struct {
	Type      VoteType
	Height    uint64
	Round     int32
	Value     Hash
	Validator uint32 // member index in the height's committee
	Signature bls.Signature
}

// Decision is a committed value with its commit certificate. Nodes re-broadcast the last one
// so that a node that missed precommits can still decide (see package doc).
type Decision struct {
	Height uint64
	Value  []byte
	Commit CommitCert
}

// CommitCert proves a commit: the aggregate of precommits on (height, Round, value hash) by
// members worth n-f shards.
type CommitCert struct {
	Round int32
	Cert  epoch.Certificate
}

func (*Proposal) isEvent() {}
func (*Vote) isEvent()     {}
func (*Decision) isEvent() {}

// MsgHeight implements Message.
func (p *Proposal) MsgHeight() uint64 { return p.Height }

// MsgHeight implements Message.
func (v *Vote) MsgHeight() uint64 { return v.Height }

// MsgHeight implements Message.
func (d *Decision) MsgHeight() uint64 { return d.Height }

// ProposalSignBytes is what a proposer signs: SignedMessage(IntentProposal, network, epoch,
// height u64 | round u32 | valid_round u32 (-1 as 0xffffffff) | Blake2b-256(value)).
func ProposalSignBytes(network epoch.NetworkID, ep uint32, height uint64, round, validRound int32, value Hash) []byte {
	body := make([]byte, 0, 8+4+4+32)
	body = binary.LittleEndian.AppendUint64(body, height)
	body = binary.LittleEndian.AppendUint32(body, uint32(round))
	body = binary.LittleEndian.AppendUint32(body, uint32(validRound))
	body = append(body, value[:]...)
	return epoch.SignedMessage(epoch.IntentProposal, network, ep, body)
}

// VoteSignBytes is what a voter signs: SignedMessage(IntentPrevote or IntentPrecommit,
// network, epoch, height u64 | round u32 | value hash[32]). Precommits on the same triple are
// identical bytes, which is what lets them aggregate into a commit certificate.
func VoteSignBytes(network epoch.NetworkID, ep uint32, t VoteType, height uint64, round int32, value Hash) []byte {
	body := make([]byte, 0, 8+4+32)
	body = binary.LittleEndian.AppendUint64(body, height)
	body = binary.LittleEndian.AppendUint32(body, uint32(round))
	body = append(body, value[:]...)
	return epoch.SignedMessage(t.intent(), network, ep, body)
}

// Wire tags of Encode.
const (
	tagProposal  = 1
	tagPrevote   = 2
	tagPrecommit = 3
	tagDecision  = 4
)

// ErrMalformed reports bytes or fields that are not a well-formed message. It is a member of
// wire.ErrMalformed's family.
var ErrMalformed = wire.Malformed("tendermint: malformed message")

// Encode returns the wire form of m: a tag byte, then little-endian fields. Proposal: height
// u64, round u32, valid_round u32, proposer u32, value (u32 length + bytes), signature[96].
// Vote: height, round, value hash[32], validator u32, signature. Decision: height, value,
// round u32, certificate (epoch.Certificate encoding).
func Encode(m Message) ([]byte, error) {
	var b []byte
	switch m := m.(type) {
	case *Proposal:
		b = append(b, tagProposal)
		b = binary.LittleEndian.AppendUint64(b, m.Height)
		b = binary.LittleEndian.AppendUint32(b, uint32(m.Round))
		b = binary.LittleEndian.AppendUint32(b, uint32(m.ValidRound))
		b = binary.LittleEndian.AppendUint32(b, m.Proposer)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(m.Value)))
		b = append(b, m.Value...)
		b = append(b, m.Signature[:]...)
	case *Vote:
		switch m.Type {
		case Prevote:
			b = append(b, tagPrevote)
		case Precommit:
			b = append(b, tagPrecommit)
		default:
			return nil, fmt.Errorf("%w: vote type %d", ErrMalformed, m.Type)
		}
		b = binary.LittleEndian.AppendUint64(b, m.Height)
		b = binary.LittleEndian.AppendUint32(b, uint32(m.Round))
		b = append(b, m.Value[:]...)
		b = binary.LittleEndian.AppendUint32(b, m.Validator)
		b = append(b, m.Signature[:]...)
	case *Decision:
		b = append(b, tagDecision)
		b = binary.LittleEndian.AppendUint64(b, m.Height)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(m.Value)))
		b = append(b, m.Value...)
		b = binary.LittleEndian.AppendUint32(b, uint32(m.Commit.Round))
		var err error
		if b, err = m.Commit.Cert.AppendBinary(b); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: unknown message type %T", ErrMalformed, m)
	}
	return b, nil
}

// Decode parses a message from untrusted bytes. Values longer than maxValue are rejected
// before anything is allocated for them. Decode checks shape only; the Machine checks
// membership, rounds and signatures.
func Decode(b []byte, maxValue int) (Message, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrMalformed)
	}
	r := wire.NewReader(b[1:], ErrMalformed)
	var m Message
	switch b[0] {
	case tagProposal:
		p := &Proposal{Height: r.U64(), Round: int32(r.U32()), ValidRound: int32(r.U32()), Proposer: r.U32()}
		p.Value = readValue(&r, maxValue)
		r.Fixed(p.Signature[:])
		m = p
	case tagPrevote, tagPrecommit:
		v := &Vote{Type: Prevote, Height: r.U64(), Round: int32(r.U32())}
		if b[0] == tagPrecommit {
			v.Type = Precommit
		}
		r.Fixed(v.Value[:])
		v.Validator = r.U32()
		r.Fixed(v.Signature[:])
		m = v
	case tagDecision:
		d := &Decision{Height: r.U64()}
		d.Value = readValue(&r, maxValue)
		d.Commit.Round = int32(r.U32())
		if r.Err() == nil {
			cert, rest, err := epoch.ReadCertificate(r.Rest())
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			d.Commit.Cert = *cert
			if len(rest) != 0 {
				return nil, fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(rest))
			}
		}
		m = d
	default:
		return nil, fmt.Errorf("%w: tag %d", ErrMalformed, b[0])
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return m, nil
}

// readValue reads a value: u32 length + bytes, at most maxValue (see valueOf).
func readValue(r *wire.Reader, maxValue int) []byte { return valueOf(r, r.U32(), maxValue) }

// valueOf reads a value of n bytes, refusing n over maxValue before taking anything, and
// copies it, so a message never aliases the buffer it came from; an empty value is non-nil.
func valueOf(r *wire.Reader, n uint32, maxValue int) []byte {
	if r.Err() != nil {
		return nil
	}
	if int64(n) > int64(maxValue) {
		r.Failf("value of %d bytes exceeds %d", n, maxValue)
		return nil
	}
	v := r.Take(int(n))
	if v == nil {
		return nil
	}
	return append(make([]byte, 0, len(v)), v...)
}
