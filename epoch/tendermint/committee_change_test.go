package tendermint_test

import (
	"errors"
	"sort"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// changeCommittee builds the committee of epoch e of the validators listed (one shard each),
// validator i having key epochtest.Key(42, i).
func changeCommittee(t *testing.T, e uint32, validators ...int) *epoch.Committee {
	t.Helper()
	c := &epoch.Committee{Epoch: e, NShards: len(validators)}
	for _, i := range validators {
		k := epochtest.Key(42, i)
		c.Members = append(c.Members, epoch.Member{Node: epoch.NodeIDOf(k.PublicKey()), BLSKey: k.PublicKey()})
	}
	sort.Slice(c.Members, func(a, b int) bool { return string(c.Members[a].Node[:]) < string(c.Members[b].Node[:]) })
	for j := range c.Members {
		c.Members[j].Shards = []uint16{uint16(j)}
	}
	if err := c.Index(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCommitteeChange: height 1 is agreed by validators 0-3 (epoch 1), height 2 by 0, 1, 2
// and 4 (epoch 2). Validator 3 leaves: at height 2 it signs nothing, follows the others to
// the decision, and its votes under the index it had (validator 1's in epoch 2) do not
// count. Validator 4 joins: silent at height 1, it votes at height 2, where a message that
// reached it before it started height 2 is verified against height 2's committee and counts.
func TestCommitteeChange(t *testing.T) {
	id := func(i int) epoch.NodeID { return epoch.NodeIDOf(epochtest.Key(42, i).PublicKey()) }
	a := changeCommittee(t, 1, 0, 1, 2, 3)
	b := changeCommittee(t, 2, 0, 1, 2, 4)
	if a.MemberIndex(id(3)) != b.MemberIndex(id(1)) {
		t.Fatal("the test wants the leaver's old index to be validator 1's new one")
	}
	signer := func(i int) tendermint.FakeSigner { return tendermint.FakeSigner{PK: epochtest.Key(42, i).PublicKey()} }
	machine := func(i int) *tendermint.Machine {
		m, err := tendermint.New(tendermint.Config{Network: testNet, Self: id(i), Signer: signer(i), Scheme: tendermint.FakeScheme{}, App: &testApp{self: i}})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	vote := func(c *epoch.Committee, i int, ty tendermint.VoteType, h uint64, v tendermint.Hash) *tendermint.Vote {
		x := &tendermint.Vote{Type: ty, Height: h, Value: v, Validator: uint32(c.MemberIndex(id(i)))}
		x.Signature = signer(i).Sign(tendermint.VoteSignBytes(testNet, c.Epoch, ty, h, 0, v))
		return x
	}
	proposal := func(c *epoch.Committee, h uint64) (*tendermint.Proposal, int) {
		seq := tendermint.ProposerSequence(c)
		j := seq[h%uint64(len(seq))]
		val := []byte{'v', byte(h), byte(j)}
		p := &tendermint.Proposal{Height: h, ValidRound: -1, Value: val, Proposer: j}
		for i := 0; i <= 4; i++ {
			if id(i) == c.Members[j].Node {
				p.Signature = signer(i).Sign(tendermint.ProposalSignBytes(testNet, c.Epoch, h, 0, -1, tendermint.HashValue(val)))
				return p, i
			}
		}
		t.Fatal("no proposer")
		return nil, 0
	}
	step := func(m *tendermint.Machine, ev tendermint.Event) []tendermint.Effect {
		t.Helper()
		effs, err := m.Step(1000, ev)
		if err != nil {
			t.Fatalf("step %T: %v", ev, err)
		}
		return effs
	}
	// ownVotes returns the votes in effs that validator i signed for committee c.
	ownVotes := func(effs []tendermint.Effect, c *epoch.Committee, i int) int {
		n := 0
		for _, v := range append(votesOf(effs, tendermint.Prevote), votesOf(effs, tendermint.Precommit)...) {
			if v.Signature == signer(i).Sign(tendermint.VoteSignBytes(testNet, c.Epoch, v.Type, v.Height, v.Round, v.Value)) {
				n++
			}
		}
		return n
	}

	leaver, joiner := machine(3), machine(4)
	// Height 1, committee a: the joiner only follows.
	var effs []tendermint.Effect
	effs = append(effs, step(joiner, tendermint.StartHeight{Height: 1, Committee: a})...)
	step(leaver, tendermint.StartHeight{Height: 1, Committee: a})
	effs = append(effs, step(joiner, tendermint.Timeout{Kind: tendermint.TimeoutPropose, Height: 1})...)
	p1, _ := proposal(a, 1)
	h1 := tendermint.HashValue(p1.Value)
	for _, m := range []*tendermint.Machine{leaver, joiner} {
		var got []tendermint.Effect
		got = append(got, step(m, p1)...)
		for _, i := range []int{0, 1, 2} {
			got = append(got, step(m, vote(a, i, tendermint.Prevote, 1, h1))...)
		}
		for _, i := range []int{0, 1, 2} {
			got = append(got, step(m, vote(a, i, tendermint.Precommit, 1, h1))...)
		}
		if c := commitOf(got); c == nil || c.Hash != h1 {
			t.Fatalf("height 1 not decided: %+v", c)
		}
		if m == joiner {
			effs = append(effs, got...)
		}
	}
	if n := ownVotes(effs, a, 4); n != 0 {
		t.Fatalf("validator 4 signed %d votes at height 1, before joining", n)
	}

	// Height 2, committee b. A prevote for it reaches the joiner before it starts height 2.
	p2, _ := proposal(b, 2)
	h2 := tendermint.HashValue(p2.Value)
	early := vote(b, 1, tendermint.Prevote, 2, h2)
	step(joiner, early)
	// The leaver's votes for height 2, under the index it had in a, signed for either epoch.
	forged := []*tendermint.Vote{}
	for _, ty := range []tendermint.VoteType{tendermint.Prevote, tendermint.Precommit} {
		for _, c := range []*epoch.Committee{a, b} {
			v := &tendermint.Vote{Type: ty, Height: 2, Value: h2, Validator: uint32(a.MemberIndex(id(3)))}
			v.Signature = signer(3).Sign(tendermint.VoteSignBytes(testNet, c.Epoch, ty, 2, 0, h2))
			forged = append(forged, v)
		}
	}
	step(joiner, forged[0]) // buffered like any early message; dropped when found invalid

	effs = step(joiner, tendermint.StartHeight{Height: 2, Committee: b})
	effs = append(effs, step(joiner, p2)...)
	if n := ownVotes(effs, b, 4); n != 1 {
		t.Fatalf("the joiner signed %d votes on height 2's proposal, want its prevote", n)
	}
	// Its prevote, the early one and one more make a quorum (3 of 4): it precommits.
	effs = step(joiner, vote(b, 2, tendermint.Prevote, 2, h2))
	if pc := votesOf(effs, tendermint.Precommit); len(pc) != 1 || pc[0].Value != h2 {
		t.Fatalf("the joiner did not precommit after a quorum of prevotes including the early one: %v", pc)
	}
	// The leaver's precommits are refused: counted (as validator 1's), they would make the
	// third precommit below.
	for _, v := range forged[2:] {
		if _, err := joiner.Step(1000, v); !errors.Is(err, tendermint.ErrBadSignature) {
			t.Fatalf("a precommit of the validator that left was not refused: %v", err)
		}
	}
	if c := commitOf(step(joiner, vote(b, 2, tendermint.Precommit, 2, h2))); c != nil {
		t.Fatal("decided with the leaver's precommit counted")
	}
	c := commitOf(step(joiner, vote(b, 0, tendermint.Precommit, 2, h2)))
	if c == nil || c.Hash != h2 {
		t.Fatalf("the joiner did not decide height 2: %+v", c)
	}
	if err := tendermint.VerifyCommitWith(tendermint.FakeScheme{}, b, testNet, 2, h2, &c.Commit); err != nil {
		t.Fatalf("height 2's certificate does not verify against its committee: %v", err)
	}
	if err := tendermint.VerifyCommitWith(tendermint.FakeScheme{}, a, testNet, 2, h2, &c.Commit); err == nil {
		t.Fatal("height 2's certificate verifies against the previous committee")
	}

	// The leaver follows height 2 to its decision and signs nothing.
	effs = step(leaver, tendermint.StartHeight{Height: 2, Committee: b})
	effs = append(effs, step(leaver, tendermint.Timeout{Kind: tendermint.TimeoutPropose, Height: 2})...)
	effs = append(effs, step(leaver, p2)...)
	for _, i := range []int{1, 2, 4} {
		effs = append(effs, step(leaver, vote(b, i, tendermint.Prevote, 2, h2))...)
	}
	effs = append(effs, step(leaver, tendermint.Timeout{Kind: tendermint.TimeoutPrevote, Height: 2})...)
	for _, i := range []int{0, 2, 4} {
		effs = append(effs, step(leaver, vote(b, i, tendermint.Precommit, 2, h2))...)
	}
	if c := commitOf(effs); c == nil || c.Hash != h2 {
		t.Fatalf("the leaver did not follow height 2 to its decision: %+v", c)
	}
	for _, ep := range []*epoch.Committee{a, b} {
		if n := ownVotes(effs, ep, 3); n != 0 {
			t.Fatalf("the leaver signed %d votes at height 2", n)
		}
	}
	for _, m := range broadcasts(effs) {
		if p, ok := m.(*tendermint.Proposal); ok {
			t.Fatalf("the leaver proposed at height 2: %+v", p)
		}
	}
}
