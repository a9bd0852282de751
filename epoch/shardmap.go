package epoch

// Shard-map helpers: the questions the data plane asks of a committee (docs/protocol.md §2: which
// node holds shard s; docs/architecture.md §5: shard discovery cross-checks claims against this map).

// OwnerNode returns the NodeID holding shard s, and false when s is out of range or the
// committee is not Indexed. Unlike Owner it is safe on untrusted shard numbers.
func (c *Committee) OwnerNode(s int) (NodeID, bool) {
	if s < 0 || s >= len(c.owner) {
		return NodeID{}, false
	}
	return c.Members[c.owner[s]].Node, true
}

// ShardsOf returns the shards node holds in this epoch (ascending), or nil for a non-member.
// The slice is the committee's own: callers must not modify it.
func (c *Committee) ShardsOf(node NodeID) []uint16 {
	i := c.MemberIndex(node)
	if i < 0 {
		return nil
	}
	return c.Members[i].Shards
}

// WeightOf sums the shards of the members with the given indices, skipping out-of-range and
// repeated indices, so that a signer list from the network can be weighed safely.
func (c *Committee) WeightOf(idx []int) int {
	seen := make(map[int]bool, len(idx))
	w := 0
	for _, i := range idx {
		if i < 0 || i >= len(c.Members) || seen[i] {
			continue
		}
		seen[i] = true
		w += c.Members[i].Weight()
	}
	return w
}
