package node_test

import (
	"testing"

	"github.com/walrus-go/walrus-go/staking"
)

// BenchmarkTxCommit measures the latency of one transfer on a 4-node loopback network, from
// submission over /walrus/tx/1 to the receipt over /walrus/query/1 (mempool, gossip,
// proposal, two voting steps, verified apply and synced write on the node asked).
func BenchmarkTxCommit(b *testing.B) {
	tn := newTestNet(b, 4)
	for i := range tn.nodes {
		tn.start(b, i)
	}
	tn.connectAll(b)
	tn.waitHeight(b, 1, 0, 1, 2, 3)
	cl := newClient(b)
	var dest staking.Address
	dest[0] = 1
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep := submit(b, cl, tn, i%4, tn.transfer(uint64(i), dest, 1))
		if !rep.Accepted {
			b.Fatalf("refused: %+v", rep)
		}
		if w := waitTx(b, cl, tn, i%4, rep.Hash); !w.Receipt.OK() {
			b.Fatalf("receipt %v", w.Receipt)
		}
	}
}
