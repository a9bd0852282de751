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
// transactions by fee per byte, highest first, each sender's in nonce order. When full it
// can name the lowest-paying senders' last transactions to evict for a better-paying one
// (evictFor). It belongs to the consensus actor's goroutine.
type mempool struct {
	order []*poolTx
	txs   map[[32]byte]*poolTx
	// bySender holds each sender's transactions in arrival (= nonce) order.
	bySender map[staking.Address][]*poolTx
	bytes    int
	max      int
	maxBytes int
	seq      uint64
}

func newMempool(max, maxBytes int) *mempool {
	return &mempool{txs: make(map[[32]byte]*poolTx), bySender: make(map[staking.Address][]*poolTx), max: max, maxBytes: maxBytes}
}

func (p *mempool) len() int { return len(p.txs) }

func (p *mempool) has(h [32]byte) bool { _, ok := p.txs[h]; return ok }

// full reports whether a tx of n bytes would exceed a bound.
func (p *mempool) full(n int) bool { return len(p.txs) >= p.max || p.bytes+n > p.maxBytes }

// senderFull reports whether sender has maxPerSender transactions waiting.
func (p *mempool) senderFull(sender staking.Address) bool {
	return len(p.bySender[sender]) >= maxPerSender
}

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
	p.bySender[sender] = append(p.bySender[sender], t)
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
	}
	clear(p.order[len(order):])
	p.order = order
	clear(p.bySender)
	for _, t := range p.order {
		p.bySender[t.sender] = append(p.bySender[t.sender], t)
	}
}

// maxEvict bounds the transactions evicted to make room for one newcomer.
const maxEvict = 16

// evictFor names the transactions to evict so that a newcomer of size bytes from sender,
// paying rate (feeRate), fits the bounds: each time the last transaction of another sender
// (never an earlier one, which would leave a gap in that sender's nonces; never the
// newcomer's own, which it follows) with the lowest fee rate, latest arrival first among
// equals, and every one paying strictly less than the newcomer. At most maxEvict. It
// returns nil if that cannot make room; it changes nothing (remove does).
func (p *mempool) evictFor(size int, rate uint64, sender staking.Address) []*poolTx {
	n, bytes := len(p.txs), p.bytes
	taken := map[staking.Address]int{} // how many of each sender's last transactions are named
	var victims []*poolTx
	for n >= p.max || bytes+size > p.maxBytes {
		if len(victims) == maxEvict || n == 0 {
			return nil
		}
		var v *poolTx
		for s, q := range p.bySender {
			k := len(q) - taken[s]
			if s == sender || k == 0 {
				continue
			}
			if t := q[k-1]; v == nil || t.rate < v.rate || (t.rate == v.rate && t.seq > v.seq) {
				v = t
			}
		}
		if v == nil || v.rate >= rate {
			return nil
		}
		victims = append(victims, v)
		taken[v.sender]++
		n, bytes = n-1, bytes-len(v.raw)
	}
	return victims
}

// remove drops the given transactions.
func (p *mempool) remove(txs []*poolTx) {
	gone := make(map[[32]byte]bool, len(txs))
	for _, t := range txs {
		gone[t.h] = true
	}
	p.filter(func(h [32]byte, _ []byte) bool { return !gone[h] })
}
