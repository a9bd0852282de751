package epoch

import (
	"fmt"
	"sort"
)

// ShardMove is one shard changing owner at an epoch change. From is the zero NodeID when
// there was no previous owner (genesis).
type ShardMove struct {
	Shard uint16
	From  NodeID
	To    NodeID
}

// NodePlan is what an epoch change means for one node: the shards it gains (and must pull
// from their previous owner, docs/protocol.md §7), the shards it loses (locked to writes but still
// served until the change completes) and the shards it keeps. All lists are ascending.
type NodePlan struct {
	Node   NodeID
	Gained []uint16
	Lost   []uint16
	Kept   []uint16
}

// ChangePlan is the side-effect-free half of an epoch change ("Walrus splits plan
// and apply"): the epochchange actor applies it without deciding anything itself.
type ChangePlan struct {
	FromEpoch, ToEpoch uint32
	// Nodes covers every node of either committee, ordered by NodeID.
	Nodes []NodePlan
	// Moves lists every shard whose owner changes, ascending by shard.
	Moves []ShardMove
}

// Node returns the plan of node, or nil when it is in neither committee.
func (p *ChangePlan) Node(node NodeID) *NodePlan {
	i := sort.Search(len(p.Nodes), func(i int) bool { return !lessNode(p.Nodes[i].Node, node) })
	if i < len(p.Nodes) && p.Nodes[i].Node == node {
		return &p.Nodes[i]
	}
	return nil
}

// Plan computes the change from committee old to committee next. old may be nil (genesis):
// then every shard is gained with no source. Both committees must be Indexed, have the same
// shard count, and next must be a later epoch.
func Plan(old, next *Committee) (*ChangePlan, error) {
	if next == nil || next.owner == nil {
		return nil, fmt.Errorf("%w: next committee missing or not indexed", ErrBadCommittee)
	}
	p := &ChangePlan{ToEpoch: next.Epoch}
	byNode := make(map[NodeID]*NodePlan)
	get := func(id NodeID) *NodePlan {
		np, ok := byNode[id]
		if !ok {
			np = &NodePlan{Node: id}
			byNode[id] = np
		}
		return np
	}
	if old != nil {
		if old.owner == nil {
			return nil, fmt.Errorf("%w: old committee not indexed", ErrBadCommittee)
		}
		if old.NShards != next.NShards {
			return nil, fmt.Errorf("%w: shard count changes from %d to %d", ErrBadCommittee, old.NShards, next.NShards)
		}
		if next.Epoch <= old.Epoch {
			return nil, fmt.Errorf("%w: epoch %d does not follow %d", ErrBadCommittee, next.Epoch, old.Epoch)
		}
		p.FromEpoch = old.Epoch
		for i := range old.Members {
			get(old.Members[i].Node)
		}
	}
	for i := range next.Members {
		get(next.Members[i].Node)
	}
	// Shards are visited in ascending order, so every list comes out sorted.
	for s := 0; s < next.NShards; s++ {
		to := next.Members[next.owner[s]].Node
		if old == nil {
			np := get(to)
			np.Gained = append(np.Gained, uint16(s))
			p.Moves = append(p.Moves, ShardMove{Shard: uint16(s), To: to})
			continue
		}
		from := old.Members[old.owner[s]].Node
		if from == to {
			np := get(to)
			np.Kept = append(np.Kept, uint16(s))
			continue
		}
		get(to).Gained = append(get(to).Gained, uint16(s))
		get(from).Lost = append(get(from).Lost, uint16(s))
		p.Moves = append(p.Moves, ShardMove{Shard: uint16(s), From: from, To: to})
	}
	p.Nodes = make([]NodePlan, 0, len(byNode))
	for _, np := range byNode {
		p.Nodes = append(p.Nodes, *np)
	}
	sort.Slice(p.Nodes, func(a, b int) bool { return lessNode(p.Nodes[a].Node, p.Nodes[b].Node) })
	return p, nil
}
