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
