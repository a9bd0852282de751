package staking_test

import (
	"crypto/ed25519"
	"fmt"
	"math/big"
	"runtime"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/staking"
)

// blsOrder is the order r of the BLS12-381 groups.
var blsOrder, _ = new(big.Int).SetString("73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001", 16)

// sumKey returns the secret key Σ sk_i mod r: its signature on m equals the aggregate of the
// individual signatures on m, so a benchmark can build 1000 real certificates with 1000
// signatures instead of 70 000.
func sumKey(tb testing.TB, keys []*bls.SecretKey) *bls.SecretKey {
	acc := new(big.Int)
	for _, k := range keys {
		acc.Add(acc, new(big.Int).SetBytes(k.Bytes()))
	}
	acc.Mod(acc, blsOrder)
	var b [32]byte
	acc.FillBytes(b[:])
	k, err := bls.SecretKeyFromBytes(b[:])
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

type benchNet struct {
	s       *staking.State
	blobs   *staking.Checkpoint // 1000 registrations + 1000 certifications
	regOnly *staking.Checkpoint // the 1000 registrations alone
	cert    epoch.Certificate
	msg     []byte
}

// newBenchNet builds n = 1000 shards over a 100-node committee (10 shards each), 1000 storage
// resources already bought, and the checkpoint under test; certificates carry the real
// aggregate signature of the first 70 members (700 shards >= n-f = 667).
func newBenchNet(b *testing.B) *benchNet {
	const nodes, shards, blobs, signers = 100, 1000, 1000, 70
	alice, bob := acctKey("alice"), acctKey("bob")
	g := &staking.Genesis{Network: "bench", NShards: shards, EpochDuration: 1_000_000, GenesisTime: 0,
		Prices:   staking.Prices{Storage: 1, Write: 1, Capacity: 1 << 50},
		Faucet:   staking.GenesisAccount{Address: staking.AddressOf(alice.Public().(ed25519.PublicKey)), Balance: 1 << 60},
		Accounts: []staking.GenesisAccount{{Address: staking.AddressOf(bob.Public().(ed25519.PublicKey)), Balance: 1}}}
	keys := map[epoch.NodeID]*bls.SecretKey{}
	for i := 0; i < nodes; i++ {
		k := epochtest.Key(42, i)
		keys[epoch.NodeIDOf(k.PublicKey())] = k
		g.Nodes = append(g.Nodes, staking.GenesisNode{BLSKey: k.PublicKey(), PoP: k.ProvePossession(), Stake: 1000})
	}
	s, err := staking.NewState(g)
	if err != nil {
		b.Fatal(err)
	}
	c := s.Committee()
	if len(c.Members) != nodes || c.Members[0].Weight() != shards/nodes {
		b.Fatalf("committee of %d members", len(c.Members))
	}
	var sk []*bls.SecretKey
	cert := epoch.Certificate{Epoch: 0, Signers: make([]byte, (nodes+7)/8)}
	for i := 0; i < signers; i++ {
		sk = append(sk, keys[c.Members[i].Node])
		cert.Signers[i/8] |= 1 << (i % 8)
	}
	agg := sumKey(b, sk)
	p := codec.MustParams(shards)
	enc, _ := p.EncodedLength(10_000)
	var reserve [][]byte
	for i := 0; i < blobs; i++ {
		reserve = append(reserve, staking.Sign(s.Network(), alice, staking.Tx{Nonce: uint64(i), Op: &staking.ReserveStorage{Size: enc, Start: 0, End: 5}}).Encode())
	}
	cp, _, err := s.BuildCheckpoint(1, reserve)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.ApplyCheckpoint(cp); err != nil {
		b.Fatal(err)
	}
	aliceAddr := staking.AddressOf(alice.Public().(ed25519.PublicKey))
	var regs, certs [][]byte
	bn := &benchNet{s: s}
	for i := 0; i < blobs; i++ {
		id, root := blobFromSeed(fmt.Sprint(i), 10_000)
		nonce := uint64(blobs + i)
		regs = append(regs, staking.Sign(s.Network(), alice, staking.Tx{Nonce: nonce, Op: &staking.RegisterBlob{
			Storage: staking.DeriveObjectID(aliceAddr, uint64(i), 0), BlobID: id, Root: root, Length: 10_000, Encoding: codec.EncodingTypeRS2}}).Encode())
		obj := staking.DeriveObjectID(aliceAddr, nonce, 0)
		msg := staking.ConfirmationMessage(s.Network(), 0, id, false, obj)
		ct := cert
		ct.Signature = agg.Sign(msg)
		certs = append(certs, staking.Sign(s.Network(), bob, staking.Tx{Nonce: uint64(i), Op: &staking.CertifyBlob{Blob: obj, BlobID: id, Cert: ct}}).Encode())
		bn.cert, bn.msg = ct, msg
	}
	if bn.blobs, _, err = s.BuildCheckpoint(2, append(append([][]byte(nil), regs...), certs...)); err != nil {
		b.Fatal(err)
	}
	if bn.regOnly, _, err = s.BuildCheckpoint(2, regs); err != nil {
		b.Fatal(err)
	}
	return bn
}

func benchApply(b *testing.B, base *staking.State, cp *staking.Checkpoint) {
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		s := base.Clone()
		b.StartTimer()
		c0 := cpuTime()
		res, err := s.ApplyCheckpoint(cp)
		cpu += cpuTime() - c0
		if err != nil {
			b.Fatal(err)
		}
		for j, r := range res.Receipts {
			if !r.OK() {
				b.Fatalf("tx %d: %v", j, r)
			}
		}
	}
	b.ReportMetric(float64(len(cp.Txs)), "txs/op")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkApplyCheckpoint: one checkpoint of 1000 blob registrations + 1000 certifications
// at n = 1000 shards with a 100-node committee, certificates verified in parallel (default)
// or on one core; and the registrations alone, to show what BLS costs.
func BenchmarkApplyCheckpoint(b *testing.B) {
	bn := newBenchNet(b)
	b.Run("register+certify/parallel", func(b *testing.B) { benchApply(b, bn.s, bn.blobs) })
	b.Run("register+certify/gomaxprocs=1", func(b *testing.B) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
		benchApply(b, bn.s, bn.blobs)
	})
	b.Run("register-only", func(b *testing.B) { benchApply(b, bn.s, bn.regOnly) })
	after := bn.s.Clone()
	if _, err := after.ApplyCheckpoint(bn.blobs); err != nil {
		b.Fatal(err)
	}
	// Root and Clone after the checkpoint (1000 blob objects, 100 nodes): Root hashes only
	// what changed since the last Root (nothing here), Clone is O(1) (BenchmarkStateRoot).
	b.Run("root/1000-blobs", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_ = after.Root()
		}
	})
	b.Run("clone/1000-blobs", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_ = after.Clone()
		}
	})
	b.Run("verify-certificate", func(b *testing.B) {
		c := bn.s.Committee()
		c0 := cpuTime()
		for i := 0; i < b.N; i++ {
			if err := c.VerifyCertificate(bn.msg, &bn.cert, epoch.ThresholdQuorum); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64((cpuTime()-c0).Microseconds())/float64(b.N), "cpu-us/op")
	})
}
