package consensus

import (
	"testing"

	"github.com/walrus-go/walrus-go/staking"
)

// TestMempoolTakesByFee: a proposal takes the highest fee per byte first, each sender's
// transactions in nonce order (a high-fee transaction behind a low-fee one of the same
// sender waits for it), and one sender cannot exceed maxPerSender.
func TestMempoolTakesByFee(t *testing.T) {
	p := newMempool(1000, 1<<20)
	a, b, c := staking.Address{1}, staking.Address{2}, staking.Address{3}
	raw := func(tag byte) []byte { r := make([]byte, 100); r[0] = tag; return r }
	p.add([32]byte{1}, raw(1), a, 0, 100)  // a0: low
	p.add([32]byte{2}, raw(2), a, 1, 9000) // a1: high, behind a0
	p.add([32]byte{3}, raw(3), b, 0, 500)  // b0: middle
	p.add([32]byte{4}, raw(4), c, 0, 500)  // c0: middle, arrived after b0
	got := p.take(1<<20, 100)
	var order []byte
	for _, r := range got {
		order = append(order, r[0])
	}
	if string(order) != string([]byte{3, 4, 1, 2}) {
		t.Fatalf("take order %v, want b0 c0 a0 a1", order)
	}
	if got := p.take(250, 100); len(got) != 2 {
		t.Fatalf("byte bound: took %d", len(got))
	}
	for i := range maxPerSender - 1 { // c0 is there already
		if p.senderFull(c) {
			t.Fatalf("sender full after %d", i+1)
		}
		p.add([32]byte{9, byte(i), byte(i >> 8)}, raw(9), c, uint64(i+1), 1)
	}
	if !p.senderFull(c) || p.senderFull(b) {
		t.Fatal("per-sender cap not applied to the right sender")
	}
	p.filter(func(_ [32]byte, r []byte) bool { return r[0] != 9 })
	if p.senderFull(c) || p.len() != 4 {
		t.Fatalf("after filter: %d left, c full %v", p.len(), p.senderFull(c))
	}
}

// TestMempoolEvictsLowestTail: a full mempool names for eviction the lowest fee rate among
// other senders' last transactions — never a sender's earlier one (its later nonces would
// be stranded), never the newcomer's own sender's — and only ones paying strictly less than
// the newcomer; as many as the byte bound needs, at most maxEvict.
func TestMempoolEvictsLowestTail(t *testing.T) {
	a, b, c, d := staking.Address{1}, staking.Address{2}, staking.Address{3}, staking.Address{4}
	raw := func(tag byte) []byte { r := make([]byte, 100); r[0] = tag; return r }
	fill := func(max, maxBytes int) *mempool {
		p := newMempool(max, maxBytes)
		p.add([32]byte{1}, raw(1), a, 0, 5)   // a0: the lowest rate, but a1 follows it
		p.add([32]byte{2}, raw(2), a, 1, 900) // a1: a's last
		p.add([32]byte{3}, raw(3), b, 0, 100) // b0
		p.add([32]byte{4}, raw(4), c, 0, 200) // c0
		return p
	}
	tags := func(ts []*poolTx) string {
		var s []byte
		for _, t := range ts {
			s = append(s, '0'+t.raw[0])
		}
		return string(s)
	}
	rate := func(fee uint64) uint64 { return feeRate(fee, 100) }

	p := fill(4, 1<<20)
	if !p.full(100) {
		t.Fatal("not full")
	}
	if got := tags(p.evictFor(100, rate(150), d)); got != "3" {
		t.Fatalf("evicted %q for a newcomer paying 150, want b0 (a0 is lower but not a's last)", got)
	}
	if got := p.evictFor(100, rate(100), d); got != nil {
		t.Fatalf("evicted %q for a newcomer paying no more than the lowest", tags(got))
	}
	if got := tags(p.evictFor(100, rate(5000), b)); got != "4" {
		t.Fatalf("evicted %q for b's next transaction, want c0 (never b's own)", got)
	}
	// The byte bound: room for 300 bytes in a full 400-byte pool takes three evictions,
	// a's in nonce order from the last: b0, c0, then a1 (a0 becomes a's last but pays 5).
	p = fill(100, 400)
	if got := tags(p.evictFor(300, rate(1000), d)); got != "342" {
		t.Fatalf("evicted %q for 300 bytes, want b0 c0 a1", got)
	}
	if got := p.evictFor(300, rate(800), d); got != nil {
		t.Fatalf("evicted %q although a1 pays more than the newcomer", tags(got))
	}
	// remove keeps the rest in arrival order with consistent bounds.
	p.remove(p.evictFor(200, rate(1000), d))
	if p.len() != 2 || p.bytes != 200 || len(p.bySender[a]) != 2 || len(p.bySender[b]) != 0 || tags(p.order) != "12" {
		t.Fatalf("after removing b0 and c0: %d txs, %d bytes, order %q", p.len(), p.bytes, tags(p.order))
	}
	// At most maxEvict for one newcomer.
	p = newMempool(1000, 100*(maxEvict+1))
	for i := range maxEvict + 1 {
		p.add([32]byte{byte(i + 10)}, raw(9), staking.Address{byte(i + 10)}, 0, 1)
	}
	if got := p.evictFor(100*(maxEvict+1), rate(1000), d); got != nil {
		t.Fatalf("evicted %d transactions for one newcomer", len(got))
	}
}
