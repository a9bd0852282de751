package staking

import (
	"encoding/binary"

	"github.com/walrus-go/walrus-go/epoch"
)

// Pruning: state that only grows is removed by rule, as part of the state transition (so
// every node removes the same entries at the same height and the state root moves the same
// way everywhere).
//
//   - A blob object is removed ExpiredRetention epochs after its end epoch: during epochs
//     End .. End+ExpiredRetention-1 `blob-status` answers "expired" (and the owner still lists
//     it); from then on the object is gone. Its blob-ID record goes with its last object,
//     unless the blob ID is invalid: an invalid record is never removed (a blob ID once
//     invalid stays invalid, as in Walrus), only its objects are, when they expire like any
//     other (a deletable one can still be deleted, its storage returned, until then).
//   - A storage resource is removed once its end epoch has started (nothing can use it).
//   - The owner and expiry index entries of both go with them (tables.go keeps them).
//   - A registered node with an empty pool (no stake object names it) outside the current
//     and next committees is idle; one idle at IdleNodeEpochs consecutive epoch starts is
//     removed at the last of them and its deposit returned to its operator's balance
//     (FROST stays conserved: the deposit moves from the node to a balance).
//
// Bounded work: objects and resources are found through their expiry index (kind || end
// epoch BE || ID), whose first entries are the ones to remove, and each checkpoint removes
// at most PruneBatch of them, blob objects first, after its time step. A backlog (more
// expiries than one checkpoint removes) is worked off by the following checkpoints in end-
// epoch order, with no cursor to keep: what was removed is no longer in the index.
// Idle nodes are checked once per epoch change, in the pass over the registry that the
// epoch change already makes.

// ExpiredRetention is how many epochs an expired blob object stays, answering "expired",
// before pruning removes it.
const ExpiredRetention = 2

// IdleNodeEpochs is how many consecutive epoch starts a node may be found idle (empty pool,
// in no committee) before it is removed and its deposit refunded.
const IdleNodeEpochs = 4

// PruneBatch bounds the blob objects plus storage resources one checkpoint removes.
const PruneBatch = 4096

// prune removes up to PruneBatch expired blob objects and storage resources (package doc
// above). It runs after every time step, before the checkpoint's transactions.
func (s *State) prune() {
	// The indexes are derived at flush: write pending changes of the indexed tables so the
	// tree shows every entry as it is now (after a Clone nothing is pending).
	if len(s.blobs.dirty)+len(s.storage.dirty) > 0 {
		s.flush()
	}
	left := PruneBatch
	if s.ep >= ExpiredRetention {
		for _, id := range s.expiring(kindExpiryBlob, s.ep-ExpiredRetention, left) {
			b := s.blobs.get(id)
			if b == nil {
				continue
			}
			s.blobs.del(id)
			s.unindexBlob(b)
			left--
		}
	}
	for _, id := range s.expiring(kindExpiryStorage, s.ep, left) {
		s.storage.del(id)
	}
}

// expiring lists, in index order, up to limit objects of the expiry index kind whose end
// epoch is at most last.
func (s *State) expiring(kind byte, last uint32, limit int) []ObjectID {
	var out []ObjectID
	if limit <= 0 {
		return nil
	}
	s.st.tree.Walk([]byte{kind}, func(_, _ [32]byte, p any) bool {
		id := p.([]byte)
		if binary.BigEndian.Uint32(id[:4]) > last {
			return false
		}
		out = append(out, ObjectID(id[4:]))
		return len(out) < limit
	})
	return out
}

// pruneNodes runs at the start of epoch s.ep (after the committees switched): it marks
// idle nodes, clears the mark of nodes no longer idle, and removes the nodes idle for
// IdleNodeEpochs epoch starts, refunding their deposits. It visits the registry in
// ascending node-ID order.
func (s *State) pruneNodes() {
	staked := map[epoch.NodeID]bool{}
	for _, st := range s.stakes.all() {
		staked[st.Node] = true
	}
	for _, id := range s.Nodes() {
		nd := s.nodes.get(id)
		idle := !staked[id] && s.committee.MemberIndex(id) < 0 && (s.next == nil || s.next.MemberIndex(id) < 0)
		switch {
		case !idle:
			if nd.IdleSince != 0 {
				s.nodes.mut(id).IdleSince = 0
			}
		case nd.IdleSince == 0:
			s.nodes.mut(id).IdleSince = s.ep
		case s.ep-nd.IdleSince+1 >= IdleNodeEpochs:
			s.nodes.del(id)
			if nd.Deposit > 0 {
				s.credit(nd.Operator, nd.Deposit)
			}
		}
	}
}

// Entries counts the entries of the state tree (every leaf: entries, indexes, receipts).
func (s *State) Entries() int {
	s.flush()
	n := 0
	s.st.tree.Walk(nil, func(_, _ [32]byte, _ any) bool { n++; return true })
	return n
}
