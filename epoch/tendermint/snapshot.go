package tendermint

import (
	"encoding/binary"
	"fmt"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// Snapshot is what a validator must not forget when it restarts in the middle of a height,
// Tendermint's write-ahead log reduced to its safety-relevant part: the lock (line 38) and
// valid value (line 42), the round, and every proposal and vote it signed at this height.
// Forgetting the lock would let a restarted node prevote another value without a newer proof
// of lock; forgetting its votes would let it sign a conflicting one. A driver persists
// Machine.Snapshot (durably) after every Step that broadcast a message of its own and before
// sending it, and restarts with a Resume event.
type Snapshot struct {
	Height      uint64
	Round       int32
	LockedRound int32 // -1: unlocked
	LockedValue []byte
	ValidRound  int32 // -1: none
	ValidValue  []byte
	Own         []Message // *Proposal and *Vote signed by this node at Height, in order
}

// Resume restarts a machine from a Snapshot at its height, with the committee of that
// height, instead of StartHeight. The machine re-enters Snapshot.Round in the step its own
// messages show (it never signs a second vote for a round it voted in), keeps its lock, and
// re-broadcasts its messages.
type Resume struct {
	Committee *epoch.Committee
	Snapshot  *Snapshot
}

func (Resume) isEvent() {}

// Snapshot returns the machine's state for persistence. It shares value and message memory
// with the machine (neither is ever mutated).
func (m *Machine) Snapshot() *Snapshot {
	s := &Snapshot{
		Height: m.height, Round: m.round,
		LockedRound: m.lockedRound, LockedValue: m.lockedValue,
		ValidRound: m.validRound, ValidValue: m.validValue,
	}
	for _, msg := range m.own {
		switch msg.(type) {
		case *Proposal, *Vote:
			s.Own = append(s.Own, msg)
		}
	}
	return s
}

func (m *Machine) resume(e Resume) error {
	s, c := e.Snapshot, e.Committee
	if s == nil || c == nil || c.NShards <= 0 || len(c.Members) == 0 {
		return fmt.Errorf("%w: Resume without snapshot or committee", epoch.ErrBadCommittee)
	}
	if m.started && s.Height <= m.height {
		return fmt.Errorf("%w: resume at %d after %d", ErrBadHeight, s.Height, m.height)
	}
	if s.Round < 0 || s.Round >= MaxRound || s.LockedRound < -1 || s.LockedRound > s.Round ||
		s.ValidRound < -1 || s.ValidRound > s.Round || (s.LockedRound >= 0) != (s.LockedValue != nil) ||
		(s.ValidRound >= 0) != (s.ValidValue != nil) {
		return fmt.Errorf("%w: inconsistent snapshot", ErrMalformed)
	}
	self := c.MemberIndex(m.cfg.Self)
	for _, msg := range s.Own {
		ok := msg.MsgHeight() == s.Height
		switch x := msg.(type) {
		case *Proposal:
			ok = ok && int64(x.Proposer) == int64(self) && x.Round <= s.Round && x.Round >= 0
		case *Vote:
			ok = ok && int64(x.Validator) == int64(self) && x.Round <= s.Round && x.Round >= 0 &&
				(x.Type == Prevote || x.Type == Precommit)
		default:
			ok = false
		}
		if !ok {
			return fmt.Errorf("%w: snapshot holds a message that is not this node's at height %d", ErrMalformed, s.Height)
		}
	}
	m.reset(s.Height, c)
	m.lockedRound, m.lockedValue = s.LockedRound, s.LockedValue
	if s.LockedValue != nil {
		m.lockedHash = HashValue(s.LockedValue)
	}
	m.validRound, m.validValue = s.ValidRound, s.ValidValue
	if s.ValidValue != nil {
		m.validHash = HashValue(s.ValidValue)
	}
	m.round, m.step = s.Round, stepPropose
	m.roundState(s.Round)
	proposed := false
	for _, msg := range s.Own {
		m.own = append(m.own, msg)
		m.emit(Broadcast{Msg: msg})
		switch x := msg.(type) {
		case *Proposal:
			m.addProposal(x, HashValue(x.Value))
			proposed = proposed || x.Round == s.Round
		case *Vote:
			rs := m.roundState(x.Round)
			if rs.votes[x.Type-1][x.Validator] == nil {
				m.addVote(rs, x)
			}
			if x.Round == s.Round {
				if x.Type == Precommit {
					m.step = stepPrecommit
				} else if m.step == stepPropose {
					m.step = stepPrevote
				}
			}
		}
	}
	// Re-enter the round where we were; timeouts only ever cost liveness, so scheduling the
	// current step's timeout at once is safe and saves waiting for messages that may not
	// come again.
	switch m.step {
	case stepPropose:
		if !proposed {
			m.propose(s.Round)
		}
		m.schedule(TimeoutPropose, s.Round)
	case stepPrevote:
		m.schedule(TimeoutPrevote, s.Round)
	case stepPrecommit:
		m.schedule(TimeoutPrecommit, s.Round)
	}
	m.replayBuffered()
	return nil
}

// MarshalBinary encodes the snapshot: height u64, round u32, locked_round u32, locked value
// (u32 length + bytes, 0xffffffff for none), valid_round u32, valid value (same), message
// count u32, then each message as u32 length + Encode bytes.
func (s *Snapshot) MarshalBinary() ([]byte, error) {
	b := binary.LittleEndian.AppendUint64(nil, s.Height)
	b = binary.LittleEndian.AppendUint32(b, uint32(s.Round))
	b = binary.LittleEndian.AppendUint32(b, uint32(s.LockedRound))
	b = appendOptional(b, s.LockedValue)
	b = binary.LittleEndian.AppendUint32(b, uint32(s.ValidRound))
	b = appendOptional(b, s.ValidValue)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.Own)))
	for _, msg := range s.Own {
		e, err := Encode(msg)
		if err != nil {
			return nil, err
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e)))
		b = append(b, e...)
	}
	return b, nil
}

func appendOptional(b, v []byte) []byte {
	if v == nil {
		return binary.LittleEndian.AppendUint32(b, 0xffffffff)
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// DecodeSnapshot parses a snapshot written by MarshalBinary; values longer than maxValue are
// rejected. A snapshot is local, trusted-ish data, but a corrupt one must still fail cleanly.
func DecodeSnapshot(b []byte, maxValue int) (*Snapshot, error) {
	r := wire.NewReader(b, ErrMalformed)
	s := &Snapshot{Height: r.U64(), Round: int32(r.U32()), LockedRound: int32(r.U32())}
	s.LockedValue = readOptional(&r, maxValue)
	s.ValidRound = int32(r.U32())
	s.ValidValue = readOptional(&r, maxValue)
	n := r.U32()
	if err := r.Err(); err != nil {
		return nil, err
	}
	// A message takes at least 4 bytes of length prefix.
	if int64(n) > int64(r.Len())/4 {
		return nil, fmt.Errorf("%w: %d messages", ErrMalformed, n)
	}
	for i := uint32(0); i < n; i++ {
		l := r.U32()
		raw := r.Take(int(l))
		if err := r.Err(); err != nil {
			return nil, err
		}
		msg, err := Decode(raw, maxValue)
		if err != nil {
			return nil, err
		}
		s.Own = append(s.Own, msg)
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return s, nil
}

// readOptional reads appendOptional's form: nil for the 0xffffffff marker, else a value as
// readValue reads it (non-nil, possibly empty).
func readOptional(r *wire.Reader, maxValue int) []byte {
	n := r.U32()
	if n == 0xffffffff {
		return nil
	}
	return valueOf(r, n, maxValue)
}
