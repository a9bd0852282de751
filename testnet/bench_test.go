package testnet_test

import (
	"context"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/testnet"
)

// BenchmarkGenerateDefault measures generating the default testnet (4 nodes, 1000 shards):
// key generation, proofs of possession, configs and the genesis check with staking.NewState.
func BenchmarkGenerateDefault(b *testing.B) {
	for b.Loop() {
		if _, err := testnet.Generate(testnet.Options{Dir: b.TempDir(), Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClusterFirstCheckpoint measures an in-process 4-node cluster from nothing to
// its first committed checkpoint on every node (generation, node start, libp2p
// connections, one Tendermint height).
func BenchmarkClusterFirstCheckpoint(b *testing.B) {
	for b.Loop() {
		c := testnet.New(b, 4)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := c.WaitHeightContext(ctx, 1); err != nil {
			b.Fatal(err)
		}
		cancel()
		b.StopTimer()
		c.Close()
		b.StartTimer()
	}
}
