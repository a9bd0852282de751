package sim

import (
	"container/heap"

	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// The simulated network: the event queue, delivery with pre- and post-GST behaviour, the
// sync stream, and byzantine senders.

type evKind uint8

const (
	evDeliver evKind = 1 + iota
	evTimeout
	evTick
	evCrash
	evRestart
	evBoot
)

type event struct {
	at   int64
	seq  uint64
	kind evKind
	to   int
	from int
	msg  tendermint.Message
	tmo  tendermint.Timeout
}

// queue is a min-heap of events by (time, insertion order): ties break deterministically.
type queue []*event

func (q queue) Len() int { return len(q) }

func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}

func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }

func (q *queue) Push(x any) { *q = append(*q, x.(*event)) }

func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type twinKey struct {
	height uint64
	round  int32
}

func (s *simulator) push(e *event) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.q, e)
}

// syncInterval is how often a node asks again for the decision of a height it is stuck at
// (the ledger's periodic sync, sync_interval in the node).
const syncInterval = 1000

// syncFrom models the ledger sync stream: a node that hears of a later height asks that peer
// for the decision of its own height, again after syncInterval if that did not help (the
// answer may have been lost before GST).
func (s *simulator) syncFrom(peer, to int) {
	nd := s.nodes[to]
	d := s.nodes[peer].log[nd.height]
	if at, ok := nd.syncSent[nd.height]; d == nil || (ok && s.now-at < syncInterval) || s.nodes[peer].byz {
		return
	}
	nd.syncSent[nd.height] = s.now
	s.send(peer, to, d)
}

func (s *simulator) send(from, to int, msg tendermint.Message) {
	if s.now < s.o.GST {
		if s.partition != nil && s.partition[from] != s.partition[to] {
			return
		}
		if s.rng.Float64() < s.o.DropRate {
			return
		}
		copies := 1
		if s.rng.Float64() < s.o.DupRate {
			copies = 2
		}
		for k := 0; k < copies; k++ {
			s.push(&event{at: s.now + s.rng.Int64N(s.o.PreGSTMaxDelay+1), kind: evDeliver, to: to, from: from, msg: msg})
		}
		return
	}
	d := s.o.MinDelay + s.rng.Int64N(s.o.MaxDelay-s.o.MinDelay+1)
	s.push(&event{at: s.now + d, kind: evDeliver, to: to, from: from, msg: msg})
}

// byzantineBroadcast sends msg to some nodes and a conflicting, validly signed twin to the
// others: double proposals and double votes (the equivocations of docs/architecture.md §4).
func (s *simulator) byzantineBroadcast(i int, msg tendermint.Message) {
	nd := s.nodes[i]
	twin := tendermint.Message(nil)
	c := s.committeeFor(msg.MsgHeight())
	switch m := msg.(type) {
	case *tendermint.Proposal:
		if s.rng.Float64() < s.o.Equivocation {
			v := nd.app.value(m.Height, s.clock(i), s.rng.IntN(2) == 0)
			p := *m
			p.Value, p.ValidRound = v, -1
			p.Signature = nd.signer.Sign(tendermint.ProposalSignBytes(s.network, c.Epoch, p.Height, p.Round, p.ValidRound, tendermint.HashValue(v)))
			twin = &p
			// Remember both values: byzantine voters back one to some nodes and the other to
			// the rest, the split most likely to fork a flawed implementation.
			s.twins[twinKey{m.Height, m.Round}] = [2]tendermint.Hash{tendermint.HashValue(m.Value), tendermint.HashValue(v)}
		}
	case *tendermint.Vote:
		if s.rng.Float64() < s.o.Equivocation {
			v := *m
			pair, split := s.twins[twinKey{m.Height, m.Round}]
			switch {
			case split && v.Value == pair[0]:
				v.Value = pair[1]
			case split && v.Value == pair[1]:
				v.Value = pair[0]
			case split && s.rng.IntN(2) == 0:
				v.Value = pair[s.rng.IntN(2)]
			case v.Value.IsNil():
				v.Value = tendermint.HashValue(nd.app.value(m.Height, s.clock(i), false))
			default:
				v.Value = tendermint.Hash{}
			}
			v.Signature = nd.signer.Sign(tendermint.VoteSignBytes(s.network, c.Epoch, v.Type, v.Height, v.Round, v.Value))
			twin = &v
		}
	}
	for j := range s.nodes {
		if j == i {
			continue
		}
		if twin != nil && s.rng.IntN(2) == 0 {
			s.send(i, j, twin)
		} else {
			s.send(i, j, msg)
		}
	}
}
