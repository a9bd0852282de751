package tendermint

import "github.com/walrus-go/walrus-go/epoch"

// Event is an input to Machine.Step: StartHeight, Tick, Timeout, or a received Message
// (*Proposal, *Vote, *Decision).
type Event interface{ isEvent() }

// StartHeight begins agreement on Height with the committee of that height. The driver sends
// it once at start and again after each Commit, with the committee that the committed state
// selects (validator-set changes apply from the next height).
type StartHeight struct {
	Height    uint64
	Committee *epoch.Committee // Indexed
}

// Tick tells the machine time has passed; it re-broadcasts its own messages every
// Config.RebroadcastInterval (see package doc on liveness).
type Tick struct{}

// TimeoutKind names the three timeouts of Algorithm 1.
type TimeoutKind uint8

// Timeout kinds.
const (
	TimeoutPropose TimeoutKind = 1 + iota
	TimeoutPrevote
	TimeoutPrecommit
)

// Timeout is the expiry of a timer the machine asked for with ScheduleTimeout.
type Timeout struct {
	Kind   TimeoutKind
	Height uint64
	Round  int32
}

func (StartHeight) isEvent() {}
func (Tick) isEvent()        {}
func (Timeout) isEvent()     {}

// Effect is an output of Machine.Step: Broadcast, ScheduleTimeout, Commit or Evidence.
type Effect interface{ isEffect() }

// Broadcast asks the driver to send Msg to every member (GossipSub in the node).
type Broadcast struct{ Msg Message }

// ScheduleTimeout asks the driver to Step Timeout after Duration milliseconds.
type ScheduleTimeout struct {
	Timeout
	Duration int64
}

// Commit reports the decision of Height. The driver applies Value, then sends StartHeight for
// the next height.
type Commit struct {
	Height uint64
	Value  []byte
	Hash   Hash
	Commit CommitCert
}

// Evidence reports a member that signed two conflicting messages for one (height, round,
// type): two different votes, or two different proposals. Both are validly signed, so either
// is proof enough for a penalty.
type Evidence struct {
	Member        uint32
	First, Second Message
}

func (Broadcast) isEffect()       {}
func (ScheduleTimeout) isEffect() {}
func (Commit) isEffect()          {}
func (Evidence) isEffect()        {}
