package consensus

// mempool is the bounded, FIFO set of transactions waiting for a checkpoint, deduplicated
// by hash. It belongs to the consensus actor's goroutine.
type mempool struct {
	order    [][32]byte
	txs      map[[32]byte][]byte
	bytes    int
	max      int
	maxBytes int
}

func newMempool(max, maxBytes int) *mempool {
	return &mempool{txs: make(map[[32]byte][]byte), max: max, maxBytes: maxBytes}
}

func (p *mempool) len() int { return len(p.txs) }

func (p *mempool) has(h [32]byte) bool { _, ok := p.txs[h]; return ok }

// full reports whether a tx of n bytes would exceed a bound.
func (p *mempool) full(n int) bool { return len(p.txs) >= p.max || p.bytes+n > p.maxBytes }

func (p *mempool) add(h [32]byte, raw []byte) {
	p.txs[h] = raw
	p.order = append(p.order, h)
	p.bytes += len(raw)
}

// take returns transactions in arrival order up to maxBytes in total and maxCount.
func (p *mempool) take(maxBytes, maxCount int) [][]byte {
	var out [][]byte
	size := 0
	for _, h := range p.order {
		raw := p.txs[h]
		if len(out) >= maxCount || size+len(raw) > maxBytes {
			break
		}
		out = append(out, raw)
		size += len(raw)
	}
	return out
}

// filter keeps the transactions for which keep returns true, in order.
func (p *mempool) filter(keep func(h [32]byte, raw []byte) bool) {
	order := p.order[:0]
	for _, h := range p.order {
		raw := p.txs[h]
		if keep(h, raw) {
			order = append(order, h)
			continue
		}
		delete(p.txs, h)
		p.bytes -= len(raw)
	}
	clear(p.order[len(order):])
	p.order = order
}
