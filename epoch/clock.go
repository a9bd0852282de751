package epoch

import (
	"errors"
	"fmt"
	"math"
)

// ErrClock reports clock parameters or times outside the epoch schedule.
var ErrClock = errors.New("epoch: time outside the epoch schedule")

// EpochTimes is one epoch's schedule in unix milliseconds. Epoch e covers [Start, End); the
// next committee is selected by the first checkpoint at or after Mid (docs/protocol.md §7,
// docs/architecture.md §4).
type EpochTimes struct {
	Epoch uint32
	Start int64
	Mid   int64
	End   int64
}

// EpochAt returns the epoch containing time t (unix ms) for a network whose epoch 0 starts at
// genesis (unix ms) and whose epochs last duration ms. Checkpoint times are what callers pass,
// so every replica computes the same answer; nothing here reads a clock.
func EpochAt(genesis, duration, t int64) (EpochTimes, error) {
	if duration <= 0 {
		return EpochTimes{}, fmt.Errorf("%w: epoch duration %d", ErrClock, duration)
	}
	if t < genesis {
		return EpochTimes{}, fmt.Errorf("%w: time %d before genesis %d", ErrClock, t, genesis)
	}
	// t-genesis cannot overflow: t >= genesis, and both are int64, so the difference is at
	// most MaxInt64 when genesis >= 0; guard the negative-genesis case explicitly.
	if genesis < 0 && t > math.MaxInt64+genesis {
		return EpochTimes{}, fmt.Errorf("%w: time span overflows", ErrClock)
	}
	e := (t - genesis) / duration
	if e > math.MaxUint32 {
		return EpochTimes{}, fmt.Errorf("%w: epoch number overflows", ErrClock)
	}
	return EpochSchedule(genesis, duration, uint32(e))
}

// EpochSchedule returns the times of epoch e.
func EpochSchedule(genesis, duration int64, e uint32) (EpochTimes, error) {
	if duration <= 0 {
		return EpochTimes{}, fmt.Errorf("%w: epoch duration %d", ErrClock, duration)
	}
	// (e+1)*duration must fit, and so must genesis plus it.
	if duration > (math.MaxInt64-1)/(int64(e)+1) {
		return EpochTimes{}, fmt.Errorf("%w: epoch %d end overflows", ErrClock, e)
	}
	span := (int64(e) + 1) * duration
	if genesis > 0 && span > math.MaxInt64-genesis {
		return EpochTimes{}, fmt.Errorf("%w: epoch %d end overflows", ErrClock, e)
	}
	start := genesis + int64(e)*duration
	return EpochTimes{Epoch: e, Start: start, Mid: start + duration/2, End: start + duration}, nil
}

// Crossing says which epoch boundaries lie in (prev, cur] for consecutive checkpoint times,
// the question the ledger asks of each new checkpoint (docs/architecture.md §4): MidEpoch is set when
// some epoch's mid point lies in (prev, cur], EpochEnd when cur is in a later epoch than prev.
type Crossing struct {
	MidEpoch bool
	EpochEnd bool
}

// Crossed reports the boundaries crossed between checkpoint times prev and cur (prev < cur).
// When several epochs were skipped (a long outage) EpochEnd is set once; the caller advances
// one epoch per checkpoint, and the following checkpoints catch up.
func Crossed(genesis, duration, prev, cur int64) (Crossing, error) {
	if cur <= prev {
		return Crossing{}, fmt.Errorf("%w: checkpoint time %d not after %d", ErrClock, cur, prev)
	}
	a, err := EpochAt(genesis, duration, prev)
	if err != nil {
		return Crossing{}, err
	}
	b, err := EpochAt(genesis, duration, cur)
	if err != nil {
		return Crossing{}, err
	}
	var c Crossing
	c.EpochEnd = b.Epoch > a.Epoch
	// Some epoch's mid point lies in (prev, cur]: prev's own, cur's own, or (after a skip)
	// any epoch in between.
	c.MidEpoch = (prev < a.Mid && a.Mid <= cur) || (prev < b.Mid && b.Mid <= cur) || b.Epoch > a.Epoch+1
	return c, nil
}
