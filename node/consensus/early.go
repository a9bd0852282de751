package consensus

import (
	"slices"

	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// Early messages. The `consensus` topic validator accepts messages up to two heights
// beyond the ledger's latest view (net.go), and the topic's replay cache then Ignores
// every later copy of the same content, the originators' re-broadcasts included
// (p2p/replay.go): a delivered message the actor drops is never delivered again. A node
// behind its peers (restarted, or still applying the height they decided) gets their
// messages for the height after its next one before it can start that height; if it
// dropped them, it would start that height only on its own mempool or the epoch clock,
// and peers needing its vote for a quorum would wait for it forever (no quorum of
// prevotes means no prevote timeout, so no new round and no new content either).
//
// So the actor keeps the messages for base+2 and base+3 that it cannot hand to the
// machine yet in a small buffer, bounded by count and bytes, and hands them to the machine
// right after it starts their height. It starts that height as soon as its base reaches
// the one before, as it does on a live delivery of a peer's message for base+1; so does a
// message for base+2 the machine keeps in its own buffer while it runs base+1. Their
// signatures were checked by the validator; the machine checks them again against the
// height's own committee when they are fed to it. Before judging a future message the
// actor moves to the ledger's latest view if its base is behind it (its commit events still
// queued), so that it does not drop what the validator, judging against that view, let in.
const (
	// maxEarly bounds the buffered messages.
	maxEarly = 1024
	// maxEarlyBytes bounds the buffered bytes, counted as earlySize does; the bound is at
	// least four maximal proposals (Consensus.earlyBytes).
	maxEarlyBytes = 16 << 20
	// earlyOverhead is what a message counts besides its value (signatures, certificate,
	// fields), roughly.
	earlyOverhead = 256
)

// earlyMsg is a buffered message with its eviction key and counted size.
type earlyMsg struct {
	m    tendermint.Message
	key  earlyKey
	size int
}

// earlyKey groups buffered messages for eviction: the height and the signer's member index
// (-1 for a decision, signed by a quorum).
type earlyKey struct {
	height uint64
	signer int64
}

// earlyBuffer holds early messages in arrival order. Over either bound it evicts the
// oldest message of the group (height, signer) holding the most (messages, or bytes when
// over the byte bound): a member signing many distinct messages, which the validator
// cannot tell from honest ones, then evicts its own rather than the others'.
type earlyBuffer struct {
	msgs     []earlyMsg
	bytes    int
	maxBytes int
}

// earlySize is what m counts against the byte bound.
func earlySize(m tendermint.Message) int {
	switch x := m.(type) {
	case *tendermint.Proposal:
		return earlyOverhead + len(x.Value)
	case *tendermint.Decision:
		return earlyOverhead + len(x.Value)
	}
	return earlyOverhead
}

// earlyKeyOf is m's eviction group.
func earlyKeyOf(m tendermint.Message) earlyKey {
	k := earlyKey{height: m.MsgHeight(), signer: -1}
	switch x := m.(type) {
	case *tendermint.Proposal:
		k.signer = int64(x.Proposer)
	case *tendermint.Vote:
		k.signer = int64(x.Validator)
	}
	return k
}

// add keeps m, evicting within the bounds.
func (b *earlyBuffer) add(m tendermint.Message) {
	e := earlyMsg{m: m, key: earlyKeyOf(m), size: earlySize(m)}
	if e.size > b.maxBytes {
		return // cannot happen with a value the decoder accepted (maxBytes ≥ 4·maxValue)
	}
	b.msgs = append(b.msgs, e)
	b.bytes += e.size
	for len(b.msgs) > maxEarly || b.bytes > b.maxBytes {
		b.evict(len(b.msgs) > maxEarly)
	}
}

// evict removes the oldest message of the group holding the most messages (byCount) or
// bytes.
func (b *earlyBuffer) evict(byCount bool) {
	load := make(map[earlyKey]int)
	var worst earlyKey
	most := 0
	for _, e := range b.msgs {
		w := e.size
		if byCount {
			w = 1
		}
		load[e.key] += w
		if load[e.key] > most {
			worst, most = e.key, load[e.key]
		}
	}
	for i, e := range b.msgs {
		if e.key == worst {
			b.bytes -= e.size
			b.msgs = slices.Delete(b.msgs, i, i+1)
			return
		}
	}
}

// take removes and returns the messages for height h, in arrival order.
func (b *earlyBuffer) take(h uint64) []tendermint.Message {
	var out []tendermint.Message
	b.filter(func(e earlyMsg) bool {
		if e.m.MsgHeight() == h {
			out = append(out, e.m)
			return false
		}
		return true
	})
	return out
}

// dropThrough removes the messages for heights up to h.
func (b *earlyBuffer) dropThrough(h uint64) {
	b.filter(func(e earlyMsg) bool { return e.m.MsgHeight() > h })
}

// has reports whether a message for height h is buffered.
func (b *earlyBuffer) has(h uint64) bool {
	for _, e := range b.msgs {
		if e.m.MsgHeight() == h {
			return true
		}
	}
	return false
}

// len is the number of buffered messages.
func (b *earlyBuffer) len() int { return len(b.msgs) }

// filter keeps the messages for which keep is true.
func (b *earlyBuffer) filter(keep func(earlyMsg) bool) {
	out := b.msgs[:0]
	for _, e := range b.msgs {
		if keep(e) {
			out = append(out, e)
		} else {
			b.bytes -= e.size
		}
	}
	clear(b.msgs[len(out):]) // let the dropped messages be collected
	b.msgs = out
}
