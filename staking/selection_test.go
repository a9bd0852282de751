package staking_test

import (
	"math/big"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/staking"
)

// naiveDHondt is the textbook method: for each seat, scan every candidate for the largest
// stake/(seats+1), compared exactly as rationals; equal quotients go to the lower index.
func naiveDHondt(stakes []uint64, n, capSeats int) []int {
	seats := make([]int, len(stakes))
	for seat := 0; seat < n; seat++ {
		best := -1
		var bq *big.Rat
		for i, s := range stakes {
			if s == 0 || seats[i] >= capSeats {
				continue
			}
			q := new(big.Rat).SetFrac(new(big.Int).SetUint64(s), big.NewInt(int64(seats[i]+1)))
			if best < 0 || q.Cmp(bq) > 0 {
				best, bq = i, q
			}
		}
		if best < 0 {
			break
		}
		seats[best]++
	}
	return seats
}

// iters is n, or 50·n under WALRUS_LONG=1 (make test-long).
func iters(n int) int {
	if os.Getenv("WALRUS_LONG") == "1" {
		return 50 * n
	}
	return n
}

func TestDHondtMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < iters(300); iter++ {
		m := 1 + r.IntN(40)
		n := 4 + r.IntN(300)
		stakes := make([]uint64, m)
		for i := range stakes {
			switch r.IntN(4) {
			case 0:
				stakes[i] = 0
			case 1:
				stakes[i] = uint64(1 + r.IntN(4)) // many exact ties
			case 2:
				stakes[i] = r.Uint64() >> r.IntN(64) // huge: exercises the 128-bit compare
			default:
				stakes[i] = uint64(r.IntN(1_000_000))
			}
		}
		positive := 0
		for _, s := range stakes {
			if s > 0 {
				positive++
			}
		}
		capSeats := staking.ShardCap(n, positive)
		got := staking.DHondt(stakes, n, capSeats)
		want := naiveDHondt(stakes, n, capSeats)
		if !slices.Equal(got, want) {
			t.Fatalf("iter %d: stakes %v n=%d cap=%d: got %v, naive %v", iter, stakes, n, capSeats, got, want)
		}
		sum := 0
		for i, s := range got {
			sum += s
			if s > capSeats || (stakes[i] == 0 && s != 0) {
				t.Fatalf("iter %d: candidate %d has %d seats (cap %d, stake %d)", iter, i, s, capSeats, stakes[i])
			}
		}
		if positive > 0 && sum != n {
			t.Fatalf("iter %d: %d seats placed of %d", iter, sum, n)
		}
	}
}

func TestShardCapAtTwentyNodes(t *testing.T) {
	stakes := make([]uint64, 20)
	stakes[0] = 1 << 40 // one whale
	for i := 1; i < 20; i++ {
		stakes[i] = 1
	}
	seats := staking.DHondt(stakes, 100, staking.ShardCap(100, 20))
	if seats[0] != 10 {
		t.Fatalf("whale got %d of 100 shards with 20 nodes, want the 10%% cap", seats[0])
	}
	seats = staking.DHondt(stakes[:19], 100, staking.ShardCap(100, 19))
	if seats[0] != 100 {
		t.Fatalf("whale got %d of 100 shards with 19 nodes, want all (no cap below 20)", seats[0])
	}
}

// TestAssignShardsMinimalMovement checks on random reshuffles that every candidate keeps its
// lowest min(prev, count) shards, so exactly n - Σ min(prev_i, count_i) shards move, which is
// the least any assignment can move (candidate i can keep at most min(prev_i, count_i)).
func TestAssignShardsMinimalMovement(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for iter := 0; iter < iters(300); iter++ {
		n := 4 + r.IntN(200)
		m := 1 + r.IntN(12)
		old := m + r.IntN(4) // old owners; those >= m have departed
		perm := r.Perm(n)
		prev := make([][]uint16, old)
		for _, s := range perm {
			o := r.IntN(old)
			prev[o] = append(prev[o], uint16(s))
		}
		for _, p := range prev {
			slices.Sort(p)
		}
		counts := make([]int, m)
		for i := 0; i < n; i++ {
			counts[r.IntN(m)]++
		}
		out := staking.AssignShards(n, prev[:m], counts)
		seen := make([]bool, n)
		kept := 0
		for i := range out {
			if len(out[i]) != counts[i] || !slices.IsSorted(out[i]) {
				t.Fatalf("iter %d: candidate %d got %v, want %d sorted shards", iter, i, out[i], counts[i])
			}
			for _, s := range out[i] {
				if seen[s] {
					t.Fatalf("iter %d: shard %d assigned twice", iter, s)
				}
				seen[s] = true
			}
			k := min(counts[i], len(prev[i]))
			for _, s := range prev[i][:k] {
				if !slices.Contains(out[i], s) {
					t.Fatalf("iter %d: candidate %d lost shard %d it could keep", iter, i, s)
				}
			}
			for _, s := range prev[i][k:] {
				if slices.Contains(out[i], s) {
					t.Fatalf("iter %d: shrinking candidate %d kept high shard %d", iter, i, s)
				}
			}
			kept += k
		}
		moved := 0
		for i := range out {
			for _, s := range out[i] {
				if i >= len(prev) || !slices.Contains(prev[i], s) {
					moved++
				}
			}
		}
		if moved != n-kept {
			t.Fatalf("iter %d: moved %d shards, minimum is %d", iter, moved, n-kept)
		}
	}
}

func weightAt(votes []uint64, w []int, keep func(v uint64) bool) int {
	t := 0
	for i, v := range votes {
		if keep(v) {
			t += w[i]
		}
	}
	return t
}

func TestQuorumPriceOnRandomWeights(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for iter := 0; iter < iters(500); iter++ {
		m := 1 + r.IntN(30)
		votes := make([]uint64, m)
		w := make([]int, m)
		n := 0
		for i := range votes {
			votes[i] = uint64(r.IntN(20))
			w[i] = r.IntN(10)
			n += w[i]
		}
		if n == 0 {
			continue
		}
		p := staking.QuorumBelow(votes, w, n)
		if !epoch.IsQuorum(weightAt(votes, w, func(v uint64) bool { return v <= p }), n) {
			t.Fatalf("iter %d: price %d lacks a quorum at or below", iter, p)
		}
		for q := uint64(0); q < p; q++ {
			if epoch.IsQuorum(weightAt(votes, w, func(v uint64) bool { return v <= q }), n) {
				t.Fatalf("iter %d: lower price %d already has a quorum (chose %d)", iter, q, p)
			}
		}
		c := staking.QuorumAbove(votes, w, n)
		if !epoch.IsQuorum(weightAt(votes, w, func(v uint64) bool { return v >= c }), n) {
			t.Fatalf("iter %d: capacity %d lacks a quorum at or above", iter, c)
		}
		for q := c + 1; q < 21; q++ {
			if epoch.IsQuorum(weightAt(votes, w, func(v uint64) bool { return v >= q }), n) {
				t.Fatalf("iter %d: higher capacity %d has a quorum (chose %d)", iter, q, c)
			}
		}
	}
}
