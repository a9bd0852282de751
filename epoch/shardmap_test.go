package epoch_test

import (
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
)

func TestShardMapHelpers(t *testing.T) {
	c, _ := epochtest.Committee(1, []int{3, 1, 2}, 6)
	for s := 0; s < c.NShards; s++ {
		id, ok := c.OwnerNode(s)
		if !ok || id != c.Members[c.Owner(s)].Node {
			t.Fatalf("OwnerNode(%d)", s)
		}
	}
	for _, s := range []int{-1, c.NShards, 1 << 20} {
		if _, ok := c.OwnerNode(s); ok {
			t.Fatalf("OwnerNode(%d) answered", s)
		}
	}
	unindexed := &epoch.Committee{NShards: 6, Members: c.Members}
	if _, ok := unindexed.OwnerNode(0); ok {
		t.Fatal("unindexed committee answered")
	}
	total := 0
	for _, m := range c.Members {
		got := c.ShardsOf(m.Node)
		if len(got) != m.Weight() {
			t.Fatalf("ShardsOf: %v", got)
		}
		total += len(got)
	}
	if total != c.NShards || c.ShardsOf(epoch.NodeID{9}) != nil {
		t.Fatal("ShardsOf does not partition the shards")
	}
	if w := c.WeightOf([]int{0, 1, 2}); w != 6 {
		t.Fatalf("WeightOf all = %d", w)
	}
	if w := c.WeightOf([]int{0, 0, -1, 7}); w != c.Members[0].Weight() {
		t.Fatalf("WeightOf with repeats and junk = %d", w)
	}
}
