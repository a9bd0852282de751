package tendermint_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// TestSnapshotResume: a validator locked on v that precommitted it restarts from its snapshot;
// it keeps the lock (prevotes nil for a new value later), re-broadcasts its messages and does
// not vote again in the round it had voted in.
func TestSnapshotResume(t *testing.T) {
	h := newHarness(t, []int{1, 1, 1, 1, 1, 1, 1}, false, 0)
	var height uint64
	for height = 1; ; height++ {
		if h.proposerOf(height, 0) != 0 && h.proposerOf(height, 1) != 0 {
			break
		}
	}
	v := []byte("value-v")
	hv := tendermint.HashValue(v)
	h.step(0, tendermint.StartHeight{Height: height, Committee: h.c})
	h.step(0, h.proposal(h.proposerOf(height, 0), height, 0, -1, v))
	for i := 1; i <= 4; i++ {
		h.step(0, h.vote(i, tendermint.Prevote, height, 0, hv))
	}
	snap := h.ms[0].Snapshot()
	if snap.LockedRound != 0 || len(snap.Own) != 2 {
		t.Fatalf("snapshot %+v", snap)
	}
	b, err := snap.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := tendermint.DecodeSnapshot(b, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, snap) {
		t.Fatalf("snapshot round trip: %+v vs %+v", back, snap)
	}
	for k := 0; k < len(b); k++ {
		if _, err := tendermint.DecodeSnapshot(b[:k], 1<<20); err == nil {
			t.Fatalf("truncated snapshot (%d bytes) accepted", k)
		}
	}

	// Restart.
	m, err := tendermint.New(tendermint.Config{Network: testNet, Self: h.c.Members[0].Node, Signer: h.signers[0], Scheme: h.scheme, App: h.apps[0]})
	if err != nil {
		t.Fatal(err)
	}
	effs, err := m.Step(1000, tendermint.Resume{Committee: h.c, Snapshot: back})
	if err != nil {
		t.Fatal(err)
	}
	if got := broadcasts(effs); len(got) != 2 {
		t.Fatalf("re-broadcast %d messages, want 2", len(got))
	}
	if len(timeoutsOf(effs, tendermint.TimeoutPrecommit)) != 1 {
		t.Fatalf("resumed in step precommit without its timeout: %+v", effs)
	}
	if r, lh := m.Locked(); r != 0 || lh != hv {
		t.Fatalf("lock lost: %d", r)
	}
	// A conflicting prevote delivered now must not make it vote again in round 0.
	effs, err = m.Step(1000, h.vote(5, tendermint.Prevote, height, 0, hv))
	if err != nil || len(votesOf(effs, tendermint.Prevote))+len(votesOf(effs, tendermint.Precommit)) != 0 {
		t.Fatalf("voted again after resume: %+v %v", effs, err)
	}
	// Round 1: a fresh different value gets nil (still locked).
	if _, err := m.Step(1000, tendermint.Timeout{Kind: tendermint.TimeoutPrecommit, Height: height, Round: 0}); err != nil {
		t.Fatal(err)
	}
	effs, err = m.Step(1000, h.proposal(h.proposerOf(height, 1), height, 1, -1, []byte("value-w")))
	if err != nil {
		t.Fatal(err)
	}
	if pv := votesOf(effs, tendermint.Prevote); len(pv) != 1 || !pv[0].Value.IsNil() {
		t.Fatalf("resumed node forgot its lock: %+v", effs)
	}
}

func TestResumeRejects(t *testing.T) {
	h := newHarness(t, []int{1, 1, 1, 1}, false, 0)
	foreign := h.vote(2, tendermint.Prevote, 3, 0, tendermint.Hash{})
	cases := map[string]*tendermint.Snapshot{
		"foreign vote":   {Height: 3, LockedRound: -1, ValidRound: -1, Own: []tendermint.Message{foreign}},
		"other height":   {Height: 3, LockedRound: -1, ValidRound: -1, Own: []tendermint.Message{h.vote(0, tendermint.Prevote, 4, 0, tendermint.Hash{})}},
		"future round":   {Height: 3, LockedRound: -1, ValidRound: -1, Own: []tendermint.Message{h.vote(0, tendermint.Prevote, 3, 2, tendermint.Hash{})}},
		"lock w/o value": {Height: 3, LockedRound: 0, ValidRound: -1},
		"lock > round":   {Height: 3, Round: 0, LockedRound: 1, LockedValue: []byte("x"), ValidRound: -1},
		"decision":       {Height: 3, LockedRound: -1, ValidRound: -1, Own: []tendermint.Message{&tendermint.Decision{Height: 3}}},
	}
	for name, s := range cases {
		effs, err := h.ms[0].Step(0, tendermint.Resume{Committee: h.c, Snapshot: s})
		if !errors.Is(err, tendermint.ErrMalformed) || len(effs) != 0 {
			t.Errorf("%s: %v (%d effects)", name, err, len(effs))
		}
	}
	if _, err := h.ms[0].Step(0, tendermint.Resume{Snapshot: &tendermint.Snapshot{}}); !errors.Is(err, epoch.ErrBadCommittee) {
		t.Fatalf("no committee: %v", err)
	}
	// A good resume, then another at the same height is refused.
	ok := &tendermint.Snapshot{Height: 3, LockedRound: -1, ValidRound: -1}
	if _, err := h.ms[0].Step(0, tendermint.Resume{Committee: h.c, Snapshot: ok}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ms[0].Step(0, tendermint.Resume{Committee: h.c, Snapshot: ok}); !errors.Is(err, tendermint.ErrBadHeight) {
		t.Fatalf("second resume at the same height: %v", err)
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	s := &tendermint.Snapshot{Height: 2, Round: 1, LockedRound: 0, LockedValue: []byte("v"), ValidRound: -1,
		Own: sampleMessages()[:3]}
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := tendermint.DecodeSnapshot(data, 1<<16)
		if err != nil {
			return
		}
		if _, err := d.MarshalBinary(); err != nil {
			t.Fatal(err)
		}
	})
}
