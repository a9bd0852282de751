package tendermint_test

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

var testNet = epoch.NetworkID{1, 2, 3}

// testApp proposes "v<height>/<proposer>/<round>" and rejects values starting with "bad".
type testApp struct {
	self      int
	proposals int
}

func (a *testApp) Propose(h uint64, r int32, _ int64) ([]byte, error) {
	a.proposals++
	b := []byte("v")
	b = binary.LittleEndian.AppendUint64(b, h)
	b = append(b, byte(a.self), byte(r))
	return b, nil
}

func (a *testApp) Validate(_ uint64, v []byte, _ int64) error {
	if len(v) >= 3 && string(v[:3]) == "bad" {
		return errors.New("bad value")
	}
	return nil
}

type harness struct {
	t       *testing.T
	c       *epoch.Committee
	keys    []*bls.SecretKey
	scheme  tendermint.Scheme
	signers []tendermint.Signer
	ms      []*tendermint.Machine
	apps    []*testApp
}

// newHarness builds machines for the members listed in live (member indices) over committee
// weights; the others exist only as keys the test can sign with.
func newHarness(t *testing.T, weights []int, real bool, live ...int) *harness {
	t.Helper()
	c, keys := epochtest.Committee(1, weights, 42)
	h := &harness{t: t, c: c, keys: keys}
	if real {
		h.scheme = tendermint.BLSScheme{}
	} else {
		h.scheme = tendermint.FakeScheme{}
	}
	for i, k := range keys {
		if real {
			h.signers = append(h.signers, k)
		} else {
			h.signers = append(h.signers, tendermint.FakeSigner{PK: k.PublicKey()})
		}
		_ = i
	}
	h.ms = make([]*tendermint.Machine, len(keys))
	h.apps = make([]*testApp, len(keys))
	for _, i := range live {
		h.apps[i] = &testApp{self: i}
		m, err := tendermint.New(tendermint.Config{Network: testNet, Self: c.Members[i].Node, Signer: h.signers[i], Scheme: h.scheme, App: h.apps[i]})
		if err != nil {
			t.Fatal(err)
		}
		h.ms[i] = m
	}
	return h
}

func (h *harness) step(i int, ev tendermint.Event) []tendermint.Effect {
	h.t.Helper()
	effs, err := h.ms[i].Step(1000, ev)
	if err != nil {
		h.t.Fatalf("machine %d: %v", i, err)
	}
	return effs
}

func (h *harness) vote(i int, t tendermint.VoteType, height uint64, r int32, v tendermint.Hash) *tendermint.Vote {
	vote := &tendermint.Vote{Type: t, Height: height, Round: r, Value: v, Validator: uint32(i)}
	vote.Signature = h.signers[i].Sign(tendermint.VoteSignBytes(testNet, h.c.Epoch, t, height, r, v))
	return vote
}

func (h *harness) proposal(i int, height uint64, r, vr int32, v []byte) *tendermint.Proposal {
	p := &tendermint.Proposal{Height: height, Round: r, ValidRound: vr, Value: v, Proposer: uint32(i)}
	p.Signature = h.signers[i].Sign(tendermint.ProposalSignBytes(testNet, h.c.Epoch, height, r, vr, tendermint.HashValue(v)))
	return p
}

// proposerOf finds the proposer of (height, round) the way the machine does.
func (h *harness) proposerOf(height uint64, r int32) int {
	seq := tendermint.ProposerSequence(h.c)
	n := uint64(len(seq))
	return int(seq[(height%n+uint64(r)%n)%n])
}

func broadcasts(effs []tendermint.Effect) []tendermint.Message {
	var out []tendermint.Message
	for _, e := range effs {
		if b, ok := e.(tendermint.Broadcast); ok {
			out = append(out, b.Msg)
		}
	}
	return out
}

func votesOf(effs []tendermint.Effect, t tendermint.VoteType) []*tendermint.Vote {
	var out []*tendermint.Vote
	for _, m := range broadcasts(effs) {
		if v, ok := m.(*tendermint.Vote); ok && v.Type == t {
			out = append(out, v)
		}
	}
	return out
}

func commitOf(effs []tendermint.Effect) *tendermint.Commit {
	for _, e := range effs {
		if c, ok := e.(tendermint.Commit); ok {
			return &c
		}
	}
	return nil
}

func timeoutsOf(effs []tendermint.Effect, k tendermint.TimeoutKind) []tendermint.ScheduleTimeout {
	var out []tendermint.ScheduleTimeout
	for _, e := range effs {
		if s, ok := e.(tendermint.ScheduleTimeout); ok && s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}
