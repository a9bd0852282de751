package staking

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"testing"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/staking/smt"
)

// benchAddr is the i-th account of the benchmark states.
func benchAddr(i int) Address {
	var k [8]byte
	binary.LittleEndian.PutUint64(k[:], uint64(i))
	return Address(blake2b.Sum256(k[:]))
}

// benchState is a genesis state plus n accounts, written straight into the tree in one batch
// (what Restore of such a state costs, without decoding a snapshot).
func benchState(tb testing.TB, n int) *State {
	k := epochtest.Key(1, 0)
	s, err := NewState(&Genesis{Network: "bench", NShards: 10, EpochDuration: 1_000_000,
		Faucet: GenesisAccount{Address: Address{1}, Balance: 1},
		Nodes:  []GenesisNode{{BLSKey: k.PublicKey(), PoP: k.ProvePossession(), Stake: 5}}})
	if err != nil {
		tb.Fatal(err)
	}
	ops := make([]smt.Op[any], n)
	e := &encoder{}
	for i := range ops {
		a := &acctEntry{Addr: benchAddr(i), Account: Account{Balance: uint64(i) + 1}}
		e.b = e.b[:0]
		encAccount(e, a)
		ops[i] = smt.Op[any]{Path: pathOf(kindAccount, a.Addr[:]), ValueHash: smt.ValueHash(e.b), Val: a}
	}
	s.st.tree = s.st.tree.Update(ops)
	return s
}

// benchSizes are the state sizes of the root benchmarks: 10^5 and 10^6 entries, and 10^7 when
// WALRUS_BENCH_STATE_1E7 is set (about 5 GiB and a few minutes to build).
func benchSizes() []int {
	sizes := []int{100_000, 1_000_000}
	if os.Getenv("WALRUS_BENCH_STATE_1E7") != "" {
		sizes = append(sizes, 10_000_000)
	}
	return sizes
}

// BenchmarkStateRoot is the state-root work of one checkpoint: clone the state (as
// execute, BuildCheckpoint and the consensus validation do), change `changed` entries (account
// balances, spread over the tree), and compute the new root. Before the authenticated tree
// this was O(state): Root encoded and hashed the whole state and Clone copied it
// (10^5 accounts: Root 344 ms, Clone 42 ms; 10^6: Root 6.5 s, Clone 3.6 s, on this machine).
// Now it grows with the changed entries, not with the state: compare the sizes side by side.
func BenchmarkStateRoot(b *testing.B) {
	for _, n := range benchSizes() {
		s := benchState(b, n)
		runtime.GC()
		for _, changed := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("entries=%d/changed=%d", n, changed), func(b *testing.B) {
				round := 0
				for i := 0; i < b.N; i++ {
					c := s.Clone()
					for j := 0; j < changed; j++ {
						round++
						c.account(benchAddr((round*7919)%n)).Balance++
					}
					_ = c.Root()
				}
			})
		}
		b.Run(fmt.Sprintf("entries=%d/clone", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_ = s.Clone()
			}
		})
		root := s.Root()
		var size, count int
		b.Run(fmt.Sprintf("entries=%d/prove", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				_, p := s.Prove(AccountKey(benchAddr(i % n)))
				size += len(p.Encode())
				count++
			}
			b.ReportMetric(float64(size)/float64(count), "proof-bytes")
		})
		type proven struct {
			k   Key
			v   []byte
			enc []byte
		}
		var ps []proven
		for i := 0; i < 1000; i++ {
			k := AccountKey(benchAddr(i * 13 % n))
			if i%2 == 1 {
				k = AccountKey(benchAddr(n + i)) // absent
			}
			v, p := s.Prove(k)
			ps = append(ps, proven{k, v, p.Encode()})
		}
		b.Run(fmt.Sprintf("entries=%d/verify", n), func(b *testing.B) {
			var bytes int
			for i := 0; i < b.N; i++ {
				x := &ps[i%len(ps)]
				p, err := DecodeProof(x.enc)
				if err != nil {
					b.Fatal(err)
				}
				if err := VerifyProof(root, x.k, x.v, p); err != nil {
					b.Fatal(err)
				}
				bytes += len(x.enc)
			}
			b.ReportMetric(float64(bytes)/float64(b.N), "proof-bytes")
		})
	}
}

// BenchmarkReceiptsRoot is the state-root cost of keeping receipts in the state
// (receipts.go): a checkpoint of txs transfers changes 2·txs accounts; with receipts it
// also writes txs receipt entries and deletes the txs entries of the height leaving the
// window (the window is full: ReceiptHeights heights of txs receipts each). Compare
// receipts=false and receipts=true side by side.
func BenchmarkReceiptsRoot(b *testing.B) {
	n := 100_000
	if os.Getenv("WALRUS_BENCH_STATE_1E6") != "" {
		n = 1_000_000
	}
	s := benchState(b, n)
	for _, txs := range []int{10, 100} {
		raw := make([][]byte, txs)
		for i := range raw {
			raw[i] = binary.LittleEndian.AppendUint64(nil, uint64(i))
		}
		rs := make([]Receipt, txs)
		w := s.Clone()
		for h := uint64(1); h <= ReceiptHeights; h++ {
			w.recordReceipts(h, raw, rs)
			w.Root()
		}
		for _, with := range []bool{false, true} {
			b.Run(fmt.Sprintf("entries=%d/txs=%d/receipts=%v", n, txs, with), func(b *testing.B) {
				round := 0
				for i := 0; i < b.N; i++ {
					c := w.Clone()
					for j := 0; j < 2*txs; j++ {
						round++
						c.account(benchAddr((round*7919)%n)).Balance++
					}
					if with {
						c.recordReceipts(ReceiptHeights+1, raw, rs)
					}
					_ = c.Root()
				}
			})
		}
	}
}
