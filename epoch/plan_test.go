package epoch_test

import (
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
)

func TestPlanGenesis(t *testing.T) {
	c, _ := epochtest.Committee(0, []int{3, 2}, 1)
	p, err := epoch.Plan(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Moves) != 5 || len(p.Nodes) != 2 {
		t.Fatalf("moves %d nodes %d", len(p.Moves), len(p.Nodes))
	}
	for _, m := range c.Members {
		np := p.Node(m.Node)
		if np == nil || len(np.Gained) != m.Weight() || len(np.Lost)+len(np.Kept) != 0 {
			t.Fatalf("genesis plan for %x: %+v", m.Node[:4], np)
		}
	}
}

func TestPlanChange(t *testing.T) {
	// Same keys (seed) in both epochs; key 3 joins in epoch 2, and shards are reassigned.
	old, _ := epochtest.Committee(1, []int{4, 3, 3}, 8)
	next, _ := epochtest.Committee(2, []int{2, 3, 3, 2}, 8)
	p, err := epoch.Plan(old, next)
	if err != nil {
		t.Fatal(err)
	}
	if p.FromEpoch != 1 || p.ToEpoch != 2 || len(p.Nodes) != 4 {
		t.Fatalf("plan header %+v", p)
	}
	// Check against a dumb per-shard comparison.
	gained, lost := 0, 0
	for s := 0; s < 10; s++ {
		from := old.Members[old.Owner(s)].Node
		to := next.Members[next.Owner(s)].Node
		fp, tp := p.Node(from), p.Node(to)
		if from == to {
			if !contains(tp.Kept, s) || contains(tp.Gained, s) || contains(tp.Lost, s) {
				t.Fatalf("shard %d should be kept", s)
			}
			continue
		}
		gained++
		lost++
		if !contains(tp.Gained, s) || !contains(fp.Lost, s) {
			t.Fatalf("shard %d should move", s)
		}
	}
	if len(p.Moves) != gained {
		t.Fatalf("%d moves, want %d", len(p.Moves), gained)
	}
	total := 0
	for i, np := range p.Nodes {
		total += len(np.Gained) + len(np.Kept)
		if i > 0 && string(p.Nodes[i-1].Node[:]) >= string(np.Node[:]) {
			t.Fatal("nodes not ordered")
		}
		for _, l := range [][]uint16{np.Gained, np.Lost, np.Kept} {
			for j := 1; j < len(l); j++ {
				if l[j-1] >= l[j] {
					t.Fatal("shard list not ascending")
				}
			}
		}
	}
	if total != 10 {
		t.Fatalf("gained+kept covers %d shards", total)
	}
	if p.Node(epoch.NodeID{1}) != nil {
		t.Fatal("stranger has a plan")
	}
}

func contains(l []uint16, s int) bool {
	for _, x := range l {
		if int(x) == s {
			return true
		}
	}
	return false
}

func TestPlanRejects(t *testing.T) {
	a, _ := epochtest.Committee(1, []int{2, 2}, 1)
	b, _ := epochtest.Committee(1, []int{2, 2}, 1)
	c, _ := epochtest.Committee(2, []int{2, 3}, 1)
	if _, err := epoch.Plan(a, b); !errors.Is(err, epoch.ErrBadCommittee) {
		t.Fatalf("same epoch: %v", err)
	}
	if _, err := epoch.Plan(a, c); !errors.Is(err, epoch.ErrBadCommittee) {
		t.Fatalf("shard count change: %v", err)
	}
	if _, err := epoch.Plan(a, &epoch.Committee{Epoch: 2, NShards: 4}); !errors.Is(err, epoch.ErrBadCommittee) {
		t.Fatalf("unindexed: %v", err)
	}
	if _, err := epoch.Plan(a, nil); !errors.Is(err, epoch.ErrBadCommittee) {
		t.Fatalf("nil: %v", err)
	}
}
