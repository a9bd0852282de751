package tendermint

import (
	"errors"
	"fmt"

	"github.com/walrus-go/walrus-go/epoch"
)

// App is the application the machine agrees for: the ledger. Propose builds a value for the
// node's turn (checkpoint time = now, docs/architecture.md §4); Validate accepts a value for a vote, e.g.
// the checkpoint time is after the previous one and within a bound of now, transactions
// valid, state root right. Validate must be deterministic in (height, value, now).
type App interface {
	Propose(height uint64, round int32, now int64) ([]byte, error)
	Validate(height uint64, value []byte, now int64) error
}

// Config configures a Machine. Durations are milliseconds. Zero fields get defaults in
// Validate.
type Config struct {
	Network epoch.NetworkID
	// Self is this node's ID; when it is not in a height's committee the machine follows
	// (decides from others' votes) without voting.
	Self   epoch.NodeID
	Signer Signer
	Scheme Scheme
	App    App

	// Timeout for a round r is Base + r*Delta (the paper's timeouts growing per round, so
	// that after GST they eventually exceed the real delays).
	ProposeBase, ProposeDelta     int64
	PrevoteBase, PrevoteDelta     int64
	PrecommitBase, PrecommitDelta int64
	// RebroadcastInterval is the period of the own-message re-broadcast on Tick.
	RebroadcastInterval int64
	// MaxValueSize bounds proposed values (a checkpoint).
	MaxValueSize int
	// MaxRoundsAhead bounds how far beyond the current round messages are stored; further
	// ones only count for the round skip.
	MaxRoundsAhead int32
	// MaxBuffered bounds messages for the next height held while the current one finishes.
	MaxBuffered int
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	if c.Signer == nil || c.Scheme == nil || c.App == nil {
		return errors.New("tendermint: config needs Signer, Scheme and App")
	}
	def := func(p *int64, v int64) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.ProposeBase, 3000)
	def(&c.ProposeDelta, 500)
	def(&c.PrevoteBase, 1000)
	def(&c.PrevoteDelta, 500)
	def(&c.PrecommitBase, 1000)
	def(&c.PrecommitDelta, 500)
	def(&c.RebroadcastInterval, 2000)
	if c.MaxValueSize == 0 {
		c.MaxValueSize = 16 << 20
	}
	if c.MaxRoundsAhead == 0 {
		c.MaxRoundsAhead = 16
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = 4096
	}
	for _, v := range []int64{c.ProposeBase, c.ProposeDelta, c.PrevoteBase, c.PrevoteDelta, c.PrecommitBase, c.PrecommitDelta, c.RebroadcastInterval} {
		if v < 0 {
			return fmt.Errorf("tendermint: negative duration %d", v)
		}
	}
	if c.MaxValueSize < 0 || c.MaxRoundsAhead < 0 || c.MaxBuffered < 0 {
		return errors.New("tendermint: negative limit")
	}
	return nil
}

func (c *Config) timeout(k TimeoutKind, r int32) int64 {
	switch k {
	case TimeoutPropose:
		return c.ProposeBase + int64(r)*c.ProposeDelta
	case TimeoutPrevote:
		return c.PrevoteBase + int64(r)*c.PrevoteDelta
	default:
		return c.PrecommitBase + int64(r)*c.PrecommitDelta
	}
}
