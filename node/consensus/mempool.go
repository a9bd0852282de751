package consensus

import (
	"container/heap"

	"github.com/walrus-go/walrus-go/staking"
)

// maxPerSender caps one sender's transactions in the mempool (docs/architecture.md §4 "The
// mempool"): one account cannot fill it (10,000 by default), and a flood needs many funded
// accounts, each paying fees. It leaves room for a client pipelining hundreds of stores
// through one wallet.
const maxPerSender = 1024

// poolTx is one waiting transaction.
type poolTx struct {
	h      [32]byte
	raw    []byte
	sender staking.Address
	nonce  uint64
	rate   uint64 // fee per KiB: the priority
	seq    uint64 // arrival
}

// mempool is the bounded set of transactions waiting for a checkpoint, deduplicated by
// hash, at most maxPerSender per sender. It keeps arrival order (the order of the dry runs
// on the scratch state, which each sender's nonces follow) and hands proposals the
// transactions by fee per byte, highest first, each sender's in nonce order. It belongs to
// the consensus actor's goroutine.
type mempool struct {
	order     []*poolTx
	txs       map[[32]byte]*poolTx
	perSender map[staking.Address]int
	bytes     int
	max       int
	maxBytes  int
	seq       uint64
}

func newMempool(max, maxBytes int) *mempool {
	return &mempool{txs: make(map[[32]byte]*poolTx), perSender: make(map[staking.Address]int), max: max, maxBytes: maxBytes}
}

func (p *mempool) len() int { return len(p.txs) }

func (p *mempool) has(h [32]byte) bool { _, ok := p.txs[h]; return ok }

// full reports whether a tx of n bytes would exceed a bound.
func (p *mempool) full(n int) bool { return len(p.txs) >= p.max || p.bytes+n > p.maxBytes }

// senderFull reports whether sender has maxPerSender transactions waiting.
func (p *mempool) senderFull(sender staking.Address) bool { return p.perSender[sender] >= maxPerSender }

// feeRate is fee per KiB of a transaction of size bytes (saturating).
func feeRate(fee uint64, size int) uint64 {
	if size <= 0 {
		return 0
	}
	if fee > ^uint64(0)/1024 {
		return ^uint64(0) / uint64(size)
	}
	return fee * 1024 / uint64(size)
}

func (p *mempool) add(h [32]byte, raw []byte, sender staking.Address, nonce, fee uint64) {
	p.seq++
	t := &poolTx{h: h, raw: raw, sender: sender, nonce: nonce, rate: feeRate(fee, len(raw)), seq: p.seq}
	p.txs[h] = t
	p.order = append(p.order, t)
	p.perSender[sender]++
	p.bytes += len(raw)
}

// take returns up to maxBytes and maxCount of transactions for a proposal: by fee per
// byte, highest first (ties: earliest arrival), each sender's in the order they arrived
// (their nonce order). A transaction that does not fit ends its sender's run.
func (p *mempool) take(maxBytes, maxCount int) [][]byte {
	queues := map[staking.Address][]*poolTx{}
	for _, t := range p.order {
		queues[t.sender] = append(queues[t.sender], t)
	}
	h := &senderHeap{}
	for _, q := range queues {
		*h = append(*h, q)
	}
	heap.Init(h)
	var out [][]byte
	size := 0
	for h.Len() > 0 && len(out) < maxCount {
		q := (*h)[0]
		t := q[0]
		if size+len(t.raw) > maxBytes {
			heap.Pop(h)
			continue
		}
		out = append(out, t.raw)
		size += len(t.raw)
		if len(q) == 1 {
			heap.Pop(h)
		} else {
			(*h)[0] = q[1:]
			heap.Fix(h, 0)
		}
	}
	return out
}

// senderHeap orders senders' queues by their head's fee rate, then arrival.
type senderHeap [][]*poolTx

func (h senderHeap) Len() int { return len(h) }
func (h senderHeap) Less(i, j int) bool {
	a, b := h[i][0], h[j][0]
	if a.rate != b.rate {
		return a.rate > b.rate
	}
	return a.seq < b.seq
}
func (h senderHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *senderHeap) Push(x any)   { *h = append(*h, x.([]*poolTx)) }
func (h *senderHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// filter keeps the transactions for which keep returns true, in arrival order.
func (p *mempool) filter(keep func(h [32]byte, raw []byte) bool) {
	order := p.order[:0]
	for _, t := range p.order {
		if keep(t.h, t.raw) {
			order = append(order, t)
			continue
		}
		delete(p.txs, t.h)
		p.bytes -= len(t.raw)
		if p.perSender[t.sender]--; p.perSender[t.sender] <= 0 {
			delete(p.perSender, t.sender)
		}
	}
	clear(p.order[len(order):])
	p.order = order
}
