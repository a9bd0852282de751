package testnet_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// These tests run real nodes: libp2p on 127.0.0.1, pebble under t.TempDir(), Tendermint
// over GossipSub.

func TestClusterCommits(t *testing.T) {
	c := testnet.New(t, 4)
	c.WaitHeight(1)
	n0 := c.Unwrap(0)
	if n0 == nil {
		t.Fatal("Unwrap(0) is nil for a real node")
	}
	// Every node derived the same committee from the generated genesis.
	com, err := n0.Ledger().Committee(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(com.Members) != 4 || com.NShards != testnet.DefaultClusterShards {
		t.Fatalf("committee: %d members, %d shards", len(com.Members), com.NShards)
	}
	if n0.Ledger().NetworkID() != c.Layout.Genesis.NetworkID() {
		t.Fatal("node runs another network than the generated genesis")
	}

	// The client reaches the nodes: an unknown blob is reported as not found by them.
	cl := c.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Metadata(ctx, com, codec.BlobID{1, 2, 3}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("metadata of an unknown blob: %v, want ErrNotFound", err)
	}
}

// busy is a cluster whose ledger keeps committing without transactions: nodes propose
// only when needed, and every mid-epoch and epoch-end crossing is needed.
func busy(t *testing.T) *testnet.Cluster {
	return testnet.New(t, 4, testnet.WithEpochDuration(2*time.Second))
}

func TestClusterCrashRestart(t *testing.T) {
	c := busy(t)
	c.WaitHeight(2)
	h := c.Node(3).Height()
	c.Crash(3)
	// Isolated while it restarts, node 3 can only have its height from its own data
	// directory, not from catching up.
	c.Partition([]int{0, 1, 2})
	c.Restart(3)
	if got := c.Node(3).Height(); got < h {
		t.Fatalf("restarted node at height %d, had %d", got, h)
	}
	c.Heal()
	c.WaitHeight(c.Node(0).Height() + 1)
	// With 2 s epochs the ledger crosses epochs by itself, restarted node included.
	c.WaitEpoch(2)
}

func TestClusterPartitionHeal(t *testing.T) {
	c := busy(t)
	c.WaitHeight(1)
	// Node 3 holds at most 3 of 10 shards (f = 3): the other three keep committing.
	c.Partition([]int{0, 1, 2}, []int{3})
	stuck := c.Node(3).Height()
	c.WaitHeight(stuck+3, 0, 1, 2)
	// Cut off, node 3 learned nothing of those heights.
	if got := c.Node(3).Height(); got != stuck {
		t.Fatalf("partitioned node moved from height %d to %d", stuck, got)
	}
	// Healed, node 3 catches up.
	c.Heal()
	c.WaitHeight(c.Node(0).Height())
}

func TestClusterTransfer(t *testing.T) {
	c := testnet.New(t, 4)
	c.WaitHeight(1)
	to := staking.Address{9, 9, 9}
	rc := c.Submit(1, c.Wallet(), &staking.Transfer{To: to, Amount: 1234})
	if !rc.OK() {
		t.Fatalf("transfer rejected: %v", rc.Err())
	}
	// Every node applies the committed checkpoint.
	c.WaitHeight(rc.Height)
	for i := 0; i < c.N(); i++ {
		if got := c.Unwrap(i).Ledger().Account(to).Balance; got != 1234 {
			t.Errorf("node %d sees balance %d, want 1234", i, got)
		}
	}
	// A second transfer takes the next nonce and commits a later height.
	rc2 := c.Submit(2, c.Faucet(), &staking.Transfer{To: to, Amount: 1})
	if !rc2.OK() || rc2.Height <= rc.Height {
		t.Fatalf("second transfer: %v at height %d (first at %d)", rc2.Err(), rc2.Height, rc.Height)
	}
}
