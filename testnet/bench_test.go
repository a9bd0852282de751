package testnet_test

import (
	"context"
	"io"
	"os"
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

// BenchmarkUpReady measures `walrus testnet up` from an empty directory to "ready": the
// default 4 nodes and 1000 shards, generated, each node a real node.Node in its own
// process (this test binary re-executed as the node), until a checkpoint is committed;
// the stop after it is not timed.
func BenchmarkUpReady(b *testing.B) {
	b.Setenv(realNodeEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- testnet.Up(ctx, testnet.UpOptions{Dir: b.TempDir(), Binary: exe, Out: io.Discard,
				OnReady: func(*testnet.Layout) { close(ready) }})
		}()
		select {
		case <-ready:
		case err := <-done:
			cancel()
			b.Fatalf("Up: %v", err)
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
