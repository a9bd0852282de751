package consensus

import (
	"fmt"
	"testing"

	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// TestEarlyBufferBounds: the early-message buffer stays within its count and byte bounds,
// a member flooding it evicts its own oldest messages rather than the others', and its
// messages leave it by height, in arrival order.
func TestEarlyBufferBounds(t *testing.T) {
	vote := func(h uint64, member uint32, round int32) *tendermint.Vote {
		return &tendermint.Vote{Type: tendermint.Prevote, Height: h, Round: round, Validator: member}
	}
	const value = 1000
	prop := func(h uint64, member uint32, round int32) *tendermint.Proposal {
		return &tendermint.Proposal{Height: h, Round: round, ValidRound: -1, Value: make([]byte, value), Proposer: member}
	}

	// By count: member 1's vote arrives last, after member 0 filled the buffer.
	b := earlyBuffer{maxBytes: maxEarlyBytes}
	b.add(vote(5, 2, 0))
	for r := range int32(maxEarly) {
		b.add(vote(5, 0, r))
	}
	b.add(vote(5, 1, 0))
	if b.len() != maxEarly || b.bytes != maxEarly*earlyOverhead {
		t.Fatalf("%d messages, %d bytes: want %d, %d", b.len(), b.bytes, maxEarly, maxEarly*earlyOverhead)
	}
	got := b.take(5)
	if len(got) != maxEarly || b.len() != 0 || b.bytes != 0 {
		t.Fatalf("took %d, left %d messages and %d bytes", len(got), b.len(), b.bytes)
	}
	if v := got[0].(*tendermint.Vote); v.Validator != 2 {
		t.Errorf("member 2's only vote was evicted")
	}
	if v := got[1].(*tendermint.Vote); v.Validator != 0 || v.Round != 2 {
		t.Errorf("second message: member %d round %d, want member 0's round 2 (its two oldest evicted)", v.Validator, v.Round)
	}
	if v := got[len(got)-1].(*tendermint.Vote); v.Validator != 1 {
		t.Errorf("member 1's vote was evicted")
	}

	// By bytes: three proposals and two votes fit. Member 3's proposal, a fourth, evicts
	// the oldest of member 2 (holding the most bytes), not the older vote of member 0.
	b = earlyBuffer{maxBytes: 3*(value+earlyOverhead) + 2*earlyOverhead}
	b.add(vote(6, 0, 0))
	for r := range int32(3) {
		b.add(prop(6, 2, r))
	}
	b.add(vote(7, 1, 0))
	b.add(prop(6, 3, 0))
	if b.len() != 5 || b.bytes > b.maxBytes {
		t.Fatalf("%d messages, %d bytes over %d", b.len(), b.bytes, b.maxBytes)
	}
	if !b.has(7) || b.has(8) {
		t.Fatalf("has(7) %v, has(8) %v", b.has(7), b.has(8))
	}
	var order []string
	for _, m := range b.take(6) {
		switch m := m.(type) {
		case *tendermint.Vote:
			order = append(order, fmt.Sprintf("v%d", m.Validator))
		case *tendermint.Proposal:
			order = append(order, fmt.Sprintf("p%d.%d", m.Proposer, m.Round))
		}
	}
	if got, want := fmt.Sprint(order), "[v0 p2.1 p2.2 p3.0]"; got != want {
		t.Fatalf("took %s from height 6, want %s", got, want)
	}
	if b.len() != 1 || b.bytes != earlyOverhead {
		t.Fatalf("left %d messages, %d bytes: want height 7's vote", b.len(), b.bytes)
	}
	b.dropThrough(7)
	if b.len() != 0 || b.bytes != 0 {
		t.Fatalf("after dropping height 7: %d messages, %d bytes", b.len(), b.bytes)
	}
}
