package sim

import (
	"encoding/binary"
	"fmt"
)

// app is the simulated ledger: a value is height u64 | time i64 | valid u8 | author u32.
// Honest Validate checks the height, the validity flag, and that the time is after the last
// committed checkpoint and at most TimeBound ahead of the voter's clock (docs/architecture.md §4).
// Byzantine apps propose invalid values half the time (always with Options.JunkProposals)
// and accept everything.
type app struct {
	sim      *simulator
	self     int
	byz      bool
	lastTime int64
}

type value struct {
	height uint64
	time   int64
	valid  bool
}

func (a *app) value(h uint64, now int64, valid bool) []byte {
	t := now
	if t <= a.lastTime {
		t = a.lastTime + 1
	}
	b := binary.LittleEndian.AppendUint64(nil, h)
	b = binary.LittleEndian.AppendUint64(b, uint64(t))
	if valid {
		b = append(b, 1)
	} else {
		b = append(b, 0)
	}
	return binary.LittleEndian.AppendUint32(b, uint32(a.self))
}

func parseValue(b []byte) (value, error) {
	if len(b) != 21 {
		return value{}, fmt.Errorf("value of %d bytes", len(b))
	}
	return value{height: binary.LittleEndian.Uint64(b), time: int64(binary.LittleEndian.Uint64(b[8:])), valid: b[16] == 1}, nil
}

// Propose implements tendermint.App.
func (a *app) Propose(h uint64, _ int32, now int64) ([]byte, error) {
	if a.byz {
		return a.value(h, now, !a.sim.o.JunkProposals && a.sim.rng.IntN(2) == 0), nil
	}
	return a.value(h, now, true), nil
}

// Validate implements tendermint.App.
func (a *app) Validate(h uint64, b []byte, now int64) error {
	if a.byz {
		return nil
	}
	v, err := parseValue(b)
	switch {
	case err != nil:
		return err
	case v.height != h:
		return fmt.Errorf("value for height %d at %d", v.height, h)
	case !v.valid:
		return fmt.Errorf("invalid transactions")
	case v.time <= a.lastTime:
		return fmt.Errorf("checkpoint time %d not after %d", v.time, a.lastTime)
	case v.time > now+a.sim.o.TimeBound:
		return fmt.Errorf("checkpoint time %d too far ahead of %d", v.time, now)
	}
	return nil
}

func (a *app) applied(b []byte) {
	if v, err := parseValue(b); err == nil && v.time > a.lastTime {
		a.lastTime = v.time
	}
}
