package tendermint

import "github.com/walrus-go/walrus-go/epoch"

// maxSmoothWork bounds the work of the smooth weighted round robin (shards × members); larger
// committees use the stride sequence instead.
const maxSmoothWork = 1 << 24

// ProposerSequence returns the proposer rotation of committee c: a sequence of NShards member
// indices in which each member appears once per shard it holds, so proposing is weighted by
// shards (docs/architecture.md §4). proposer(h, r) = seq[(h + r) mod NShards]. The sequence is
// Tendermint's proposer-priority algorithm (smooth weighted round robin) run for one full
// period from zero priorities, which spreads a member's turns evenly instead of bunching them.
// It depends only on the committee, so every node computes the same one.
func ProposerSequence(c *epoch.Committee) []uint32 {
	n := c.NShards
	m := len(c.Members)
	seq := make([]uint32, n)
	if n*m > maxSmoothWork {
		// Stride through the shards: step coprime with n, near n/φ, so consecutive heights
		// land on far-apart shards, and the shard owner proposes.
		step := n*618/1000 + 1
		for gcd(step, n) != 1 {
			step++
		}
		for k := range seq {
			seq[k] = uint32(c.Owner((k * step) % n))
		}
		return seq
	}
	prio := make([]int64, m)
	total := int64(n)
	for k := range seq {
		best := -1
		for i := range prio {
			w := int64(c.Members[i].Weight())
			if w == 0 {
				continue
			}
			prio[i] += w
			if best < 0 || prio[i] > prio[best] {
				best = i
			}
		}
		prio[best] -= total
		seq[k] = uint32(best)
	}
	return seq
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// proposerOf picks from a ProposerSequence.
func proposerOf(seq []uint32, height uint64, round int32) uint32 {
	n := uint64(len(seq))
	return seq[(height%n+uint64(round)%n)%n]
}
