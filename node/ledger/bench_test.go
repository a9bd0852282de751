package ledger_test

import (
	"fmt"
	"testing"

	"github.com/walrus-go/walrus-go/node/store"
)

// BenchmarkSubmit measures one committed checkpoint through the ledger actor: commit
// certificate verification (one BLS aggregate check), apply, and the synced write of the
// checkpoint to a real pebble datastore. Building the checkpoint and its certificate is
// outside the timer.
func BenchmarkSubmit(b *testing.B) {
	for _, ntx := range []int{0, 100} {
		b.Run(fmt.Sprintf("txs=%d", ntx), func(b *testing.B) {
			f := newFixture(b, "ledgerbench")
			d, err := store.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			f.store = d
			l, _ := f.open(b, 0)
			nonce := uint64(0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				txs := make([][]byte, ntx)
				for k := range txs {
					txs[k] = f.transfer(nonce, 1)
					nonce++
				}
				dec := f.decide(b, l.View(), txs, nil, false)
				b.StartTimer()
				if _, err := l.Submit(ctx(b), dec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
