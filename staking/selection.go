package staking

import (
	"container/heap"
	"errors"
	"math"
	"math/bits"
	"sort"

	"github.com/walrus-go/walrus-go/epoch"
)

// ErrNoStake is returned when committee selection finds no staked node.
var ErrNoStake = errors.New("staking: no node has stake")

// CapMinNodes is the node count from which one node may hold at most 10% of the shards
// (docs/protocol.md §7).
const CapMinNodes = 20

// ShardCap is the per-node shard cap for n shards and the number of staked candidates:
// max(1, n/10) when there are at least CapMinNodes candidates, else n (no cap). With >= 20
// candidates the cap always leaves room for all n shards (20·max(1, ⌊n/10⌋) >= n).
func ShardCap(n, candidates int) int {
	if candidates < CapMinNodes {
		return n
	}
	return max(1, n/10)
}

// quotientGreater reports a/(sa+1) > b/(sb+1) exactly, in 128-bit integers.
func quotientGreater(a uint64, sa int, b uint64, sb int) bool {
	h1, l1 := bits.Mul64(a, uint64(sb)+1)
	h2, l2 := bits.Mul64(b, uint64(sa)+1)
	return h1 > h2 || (h1 == h2 && l1 > l2)
}

type dhItem struct {
	idx   int
	stake uint64
	seats int
}

// dhHeap orders candidates by their next D'Hondt quotient (container/heap methods below).
type dhHeap []dhItem

func (h dhHeap) Len() int { return len(h) }
func (h dhHeap) Less(i, j int) bool {
	a, b := h[i], h[j]
	if quotientGreater(a.stake, a.seats, b.stake, b.seats) {
		return true
	}
	if quotientGreater(b.stake, b.seats, a.stake, a.seats) {
		return false
	}
	return a.idx < b.idx // equal quotients: the earlier candidate (lower node ID) first
}
func (h dhHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *dhHeap) Push(x any)   { *h = append(*h, x.(dhItem)) }
func (h *dhHeap) Pop() any     { old := *h; x := old[len(old)-1]; *h = old[:len(old)-1]; return x }

// DHondt apportions n seats (shards) to candidates by their stakes with the D'Hondt method
// (docs/protocol.md §7): seat by seat, the candidate with the largest stake/(seats+1) wins, equal
// quotients going to the lower index; a candidate at capSeats seats takes no more; zero
// stake takes nothing. It returns the seats per candidate, which sum to n unless fewer
// seats can be placed (no stake, or caps too tight). O(n log m).
func DHondt(stakes []uint64, n, capSeats int) []int {
	seats := make([]int, len(stakes))
	h := make(dhHeap, 0, len(stakes))
	for i, st := range stakes {
		if st > 0 && capSeats > 0 {
			h = append(h, dhItem{idx: i, stake: st})
		}
	}
	heap.Init(&h)
	for placed := 0; placed < n && len(h) > 0; placed++ {
		top := &h[0]
		top.seats++
		seats[top.idx] = top.seats
		if top.seats >= capSeats {
			heap.Pop(&h)
		} else {
			heap.Fix(&h, 0)
		}
	}
	return seats
}

// AssignShards places shard IDs 0..n-1 given, per candidate, the shards it held before
// (prev, ascending; nil for a newcomer) and the count it must hold now (counts, summing to
// n), moving as few shards as possible (docs/protocol.md §7): a candidate keeps its lowest
// min(prev, count) shards, shrinking candidates give up their highest, shards of departed
// nodes are free, and candidates short of their count take the free shards in ascending
// order, candidates in index order. Every output list is ascending.
func AssignShards(n int, prev [][]uint16, counts []int) [][]uint16 {
	out := make([][]uint16, len(counts))
	kept := make([]bool, n)
	for i, c := range counts {
		k := min(c, len(prev[i]))
		out[i] = make([]uint16, 0, c)
		out[i] = append(out[i], prev[i][:k]...)
		for _, sh := range prev[i][:k] {
			kept[sh] = true
		}
	}
	next := 0
	for i, c := range counts {
		for len(out[i]) < c {
			for kept[next] {
				next++
			}
			out[i] = append(out[i], uint16(next))
			kept[next] = true
		}
		sort.Slice(out[i], func(a, b int) bool { return out[i][a] < out[i][b] })
	}
	return out
}

// QuorumBelow is the lowest vote p such that voters worth a quorum of the n shards
// (3w >= 2n+1) voted <= p: the 2/3 point by shard weight, used for prices (docs/protocol.md §6).
// Zero-weight voters do not count. It returns 0 when the weights never reach a quorum.
func QuorumBelow(votes []uint64, weights []int, n int) uint64 {
	idx := sortedVoteIdx(votes, weights)
	w := 0
	for _, i := range idx {
		w += weights[i]
		if epoch.IsQuorum(w, n) {
			return votes[i]
		}
	}
	return 0
}

// QuorumAbove is the highest vote c such that voters worth a quorum voted >= c: the 1/3
// point of the ascending distribution, used for capacity (docs/protocol.md §6). It returns 0 when
// the weights never reach a quorum.
func QuorumAbove(votes []uint64, weights []int, n int) uint64 {
	idx := sortedVoteIdx(votes, weights)
	w := 0
	for j := len(idx) - 1; j >= 0; j-- {
		i := idx[j]
		w += weights[i]
		if epoch.IsQuorum(w, n) {
			return votes[i]
		}
	}
	return 0
}

func sortedVoteIdx(votes []uint64, weights []int) []int {
	idx := make([]int, 0, len(votes))
	for i := range votes {
		if weights[i] > 0 {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool { return votes[idx[a]] < votes[idx[b]] })
	return idx
}

// stakeFor sums, per registered node in ascending ID order, the stake that counts for the
// committee of epoch target (see Stake).
func (s *State) stakeFor(target uint32) ([]epoch.NodeID, []uint64) {
	ids := s.Nodes()
	pos := make(map[epoch.NodeID]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	amt := make([]uint64, len(ids))
	for _, st := range s.stakes.all() {
		if st.Activation <= target && (!st.Withdrawing || st.WithdrawAt > target) {
			// Sums cannot overflow: total supply fits in uint64 (checked at genesis).
			amt[pos[st.Node]] += st.Amount
		}
	}
	return ids, amt
}

// StakeOf is the stake (FROST) counting for node in the committee of epoch target: the sum
// of its pool's delegations active for that epoch (the same sum committee selection uses).
func (s *State) StakeOf(node epoch.NodeID, target uint32) uint64 {
	var sum uint64
	for _, st := range s.stakes.all() {
		if st.Node == node && st.Activation <= target && (!st.Withdrawing || st.WithdrawAt > target) {
			sum += st.Amount
		}
	}
	return sum
}

// selectCommittee chooses the committee of epoch target from the stake counting for it,
// moving as few shards as possible relative to prev (nil at genesis).
func (s *State) selectCommittee(target uint32, prev *epoch.Committee) (*epoch.Committee, error) {
	ids, amt := s.stakeFor(target)
	cand := 0
	for _, a := range amt {
		if a > 0 {
			cand++
		}
	}
	if cand == 0 {
		return nil, ErrNoStake
	}
	n := s.cfg.NShards
	counts := DHondt(amt, n, ShardCap(n, cand))
	prevShards := make([][]uint16, len(ids))
	if prev != nil {
		for i, id := range ids {
			if m := prev.MemberIndex(id); m >= 0 {
				prevShards[i] = prev.Members[m].Shards
			}
		}
	}
	shards := AssignShards(n, prevShards, counts)
	c := &epoch.Committee{Epoch: target, NShards: n}
	for i, id := range ids {
		if counts[i] == 0 {
			continue
		}
		nd := s.nodes.get(id)
		c.Members = append(c.Members, epoch.Member{
			Node: id, BLSKey: nd.BLSKey, PeerID: nd.PeerID,
			Addrs: append([]string(nil), nd.Addrs...), Shards: shards[i],
		})
	}
	if err := c.Index(); err != nil {
		return nil, err
	}
	return c, nil
}

// votePrices computes the prices and capacity for committee c from its members' votes,
// weighted by their shards in c. A node's capacity vote is what it can store itself, so it
// is turned into a per-shard capacity (vote / its shards); the system capacity is the
// quorum-above per-shard value times n, saturating at the uint64 maximum.
func (s *State) votePrices(c *epoch.Committee) Prices {
	m := len(c.Members)
	sp, wp, cp := make([]uint64, m), make([]uint64, m), make([]uint64, m)
	fb, fy, fv, fd := make([]uint64, m), make([]uint64, m), make([]uint64, m), make([]uint64, m)
	w := make([]int, m)
	for i := range c.Members {
		nd := s.nodes.get(c.Members[i].Node)
		w[i] = c.Members[i].Weight()
		sp[i], wp[i] = nd.StoragePrice, nd.WritePrice
		fb[i], fy[i], fv[i], fd[i] = nd.FeeVote.Base, nd.FeeVote.PerByte, nd.FeeVote.PerVerify, nd.FeeVote.Deposit
		if w[i] > 0 {
			cp[i] = nd.Capacity / uint64(w[i])
		}
	}
	capacity, ok := mul(QuorumAbove(cp, w, c.NShards), uint64(c.NShards))
	if !ok {
		capacity = math.MaxUint64
	}
	return Prices{
		Storage:  QuorumBelow(sp, w, c.NShards),
		Write:    QuorumBelow(wp, w, c.NShards),
		Capacity: capacity,
		// The fee schedule and the deposit follow the storage prices' rule, component by
		// component: the lowest value that members worth a quorum voted at or above.
		Fees: Fees{
			Base:      QuorumBelow(fb, w, c.NShards),
			PerByte:   QuorumBelow(fy, w, c.NShards),
			PerVerify: QuorumBelow(fv, w, c.NShards),
			Deposit:   QuorumBelow(fd, w, c.NShards),
		},
	}
}
