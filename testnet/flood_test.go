package testnet_test

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// feeCluster is a 4-node cluster whose ledger charges testnet.DefaultFees.
func feeCluster(t testing.TB) *testnet.Cluster {
	return testnet.New(t, 4, testnet.WithGenerate(func(o *testnet.Options) {
		o.Prices = testnet.DefaultPrices
		o.Prices.Fees = testnet.DefaultFees
	}))
}

// TestFeesOnCluster: on a network charging fees, a fresh account with no balance cannot
// submit anything (every node refuses it before its mempool), the wallet's transfer pays
// its fee, and the nodes' own accounts are funded to pay theirs.
func TestFeesOnCluster(t *testing.T) {
	c := feeCluster(t)
	c.WaitHeight(1)
	net := c.Layout.Genesis.NetworkID()
	fresh := floodKey(1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range 4 {
		raw := staking.Sign(net, fresh, staking.Tx{Op: &staking.Transfer{To: staking.Address{1}, Amount: 1}}).Encode()
		rep, err := c.Unwrap(i).Consensus().SubmitTx(ctx, raw)
		if err != nil || rep.Accepted || rep.Code != staking.CodeFee {
			t.Fatalf("node %d: zero-balance transfer: %+v %v, want refused with code fee", i, rep, err)
		}
	}
	wallet := c.Wallet()
	before := c.Unwrap(0).Ledger().Account(staking.AddressOf(wallet.Public().(ed25519.PublicKey)))
	rc := c.Submit(0, wallet, &staking.Transfer{To: staking.Address{2}, Amount: 5})
	if rc.Receipt.Code != staking.OK || rc.Receipt.Fee == 0 {
		t.Fatalf("wallet transfer: %+v", rc.Receipt)
	}
	after := c.Unwrap(0).Ledger().Account(staking.AddressOf(wallet.Public().(ed25519.PublicKey)))
	if before.Balance-after.Balance != 5+rc.Receipt.Fee {
		t.Fatalf("wallet paid %d, want 5 + fee %d", before.Balance-after.Balance, rc.Receipt.Fee)
	}
	for _, gn := range c.Layout.Genesis.Nodes {
		if b := c.Unwrap(0).Ledger().Account(gn.Operator).Balance; b < testnet.DefaultOperatorBalance {
			t.Fatalf("operator account holds %d", b)
		}
	}
}

func floodKey(kind, i int) ed25519.PrivateKey {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(kind))
	binary.LittleEndian.PutUint64(seed[8:], uint64(i))
	seed[31] = 0xf1
	return ed25519.NewKeyFromSeed(seed[:])
}

// BenchmarkFlood measures real transactions (transfers from the wallet and the faucet,
// each submitted and waited for in turn, alternately through the four nodes) on a 4-node
// cluster charging fees, with and without a flood of bogus transactions submitted to
// every node: fresh keys with no balance (transfers and sync-done with forged BLS
// signatures, register-node with the most and longest addresses, challenge results naming
// MaxChallengeList nodes), bad Ed25519 signatures from a funded account, future nonces of a
// funded account, and certificates that fail their BLS check from a funded account. It
// replays no valid gossip (BenchmarkE2EFloodNet does, over the network). It reports
// the real transactions' commit rate (tx/s), p50 and p99 latency, and the bogus
// transactions offered per second. Not a timing assertion:
//
//	go test ./testnet -run '^$' -bench Flood -benchtime 1x
func BenchmarkFlood(b *testing.B) {
	for _, flood := range []bool{false, true} {
		name := "quiet"
		if flood {
			name = "flood"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				benchFlood(b, flood, 15*time.Second)
			}
		})
	}
}

func benchFlood(b *testing.B, flood bool, dur time.Duration) {
	c := feeCluster(b)
	c.WaitHeight(1)
	net := c.Layout.Genesis.NetworkID()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var offered atomic.Int64
	var wg sync.WaitGroup
	if flood {
		wallet := c.Wallet()
		waddr := staking.AddressOf(wallet.Public().(ed25519.PublicKey))
		com, err := c.Unwrap(0).Ledger().Committee(0)
		if err != nil {
			b.Fatal(err)
		}
		member := com.Members[0].Node
		// A well-formed signature on another message: checking it costs a full pairing.
		jk, err := bls.GenerateKey(crand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		junkSig := jk.Sign([]byte("junk"))
		hugeInfo, hugeResults := hugeNodeInfo(), hugeChallengeResults()
		bogus := func(w, i int) []byte {
			switch i % 7 {
			case 5: // fresh key, register-node with the largest addresses and a bogus proof of possession
				op := &staking.RegisterNode{BLSKey: jk.PublicKey(), PoP: junkSig, Info: hugeInfo}
				return staking.Sign(net, floodKey(w+100, i), staking.Tx{Op: op}).Encode()
			case 6: // fresh key, challenge results naming MaxChallengeList nodes
				op := &staking.ChallengeResults{Attester: member, Results: hugeResults, Sig: junkSig}
				return staking.Sign(net, floodKey(w+200, i), staking.Tx{Op: op}).Encode()
			case 0: // fresh key, no balance
				return staking.Sign(net, floodKey(w, i), staking.Tx{Op: &staking.Transfer{To: waddr, Amount: 1}}).Encode()
			case 1: // fresh key, forged sync done (a BLS check if it ever got that far)
				return staking.Sign(net, floodKey(w, i), staking.Tx{Op: &staking.SyncDone{Node: member, Sig: junkSig}}).Encode()
			case 2: // funded sender, bad signature
				raw := staking.Sign(net, wallet, staking.Tx{Nonce: uint64(i), Op: &staking.Transfer{To: waddr, Amount: 1}}).Encode()
				raw[len(raw)-1] ^= 0xff
				return raw
			case 3: // funded sender, far-future nonce
				return staking.Sign(net, c.Faucet(), staking.Tx{Nonce: 1_000_000 + uint64(i), Op: &staking.Transfer{To: waddr, Amount: 1}}).Encode()
			default: // funded sender, certificate failing its BLS check
				var id codec.BlobID
				binary.LittleEndian.PutUint64(id[:], uint64(i))
				cert := epoch.Certificate{Epoch: 0, Signers: []byte{0x0f}, Signature: junkSig}
				return staking.Sign(net, wallet, staking.Tx{Op: &staking.InvalidateBlob{BlobID: id, Cert: cert}}).Encode()
			}
		}
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := c.Unwrap(w)
				for i := 0; ctx.Err() == nil; i++ {
					raw := bogus(w+10, i)
					sctx, scancel := context.WithTimeout(ctx, time.Second)
					_, _ = n.Consensus().SubmitTx(sctx, raw)
					scancel()
					_ = n.Consensus().GossipTx(raw)
					offered.Add(2)
				}
			}()
		}
	}

	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(dur)
	senders := []ed25519.PrivateKey{c.Wallet(), c.Faucet()}
	start := time.Now()
	for s, key := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				rc := c.Submit((s+i)%4, key, &staking.Transfer{To: staking.Address{byte(s + 1)}, Amount: 1})
				if rc.Receipt.Code != staking.OK {
					b.Errorf("real transfer: %v", rc.Receipt)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	// Wait for the real senders; then stop the flood.
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(lat) == 0 {
		b.Fatal("no real transaction committed")
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(q*float64(len(lat))))] }
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "tx/s")
	b.ReportMetric(float64(p(0.5).Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p(0.99).Milliseconds()), "p99-ms")
	b.ReportMetric(float64(offered.Load())/elapsed.Seconds(), "bogus/s")
	b.Log(fmt.Sprintf("flood=%v: %d real transfers in %v, p50 %v, p99 %v, %d bogus offered, height %d",
		flood, len(lat), elapsed.Round(time.Millisecond), p(0.5), p(0.99), offered.Load(), c.Node(0).Height()))
}
