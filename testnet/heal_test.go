package testnet_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestMissedWriteIsRecovered (issue 12): a node that is down while a blob is stored and
// certified recovers every sliver of its shards from the other nodes' recovery symbols once
// it is back. Proven by reading the blob with the other nodes stopped but one: the
// survivors hold the blob only together with what the restarted node recovered.
func TestMissedWriteIsRecovered(t *testing.T) { missedWrite(t, false) }

// TestWipedNodeRecovers (issue 12): a node whose data directory is wiped while it is down
// (keys and config kept) re-syncs the ledger from its peers and recovers every sliver of its
// shards by itself; the same read proves it.
func TestWipedNodeRecovers(t *testing.T) { missedWrite(t, true) }

func missedWrite(t *testing.T, wipe bool) {
	c := testnet.New(t, 4, testnet.WithGenerate(func(o *testnet.Options) {
		o.NodeConfig = func(_ int, nc *node.Config) {
			nc.BlobSync.Delay = 200 * time.Millisecond
			nc.BlobSync.Sweep = time.Hour // the start-up sweep and the events do it
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The lightest member is down during the store: the others hold n-f shards or more.
	down, member := -1, 0
	for i := range 4 {
		for m := range com.Members {
			if string(com.Members[m].PeerID) == string(c.Node(i).PeerID()) &&
				(down < 0 || com.Members[m].Weight() < com.Members[member].Weight()) {
				down, member = i, m
			}
		}
	}
	c.Crash(down)
	data := make([]byte, 300_000)
	rand.NewChaCha8([32]byte{1}).Read(data)
	sum, err := s.Store(ctx, data, client.StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	if wipe {
		if err := os.RemoveAll(c.Layout.Nodes[down].DataDir); err != nil {
			t.Fatal(err)
		}
	}
	c.Restart(down)

	// It ends with every sliver of its shards.
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := s.Client.Status(ctx, &com.Members[member], sum.BlobID)
		if err == nil && st.ShardsHeld > 0 && st.ShardsStored == st.ShardsHeld {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %d did not recover its slivers: %+v, %v", down, st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Stop the others but one: the restarted node and that one hold R usable primary
	// slivers together, and the one alone fewer, so the read needs what was recovered.
	p := s.Client.Params()
	usable := func(m int) int {
		n := 0
		for _, sh := range com.Members[m].Shards {
			if p.PairIndexForShard(sum.BlobID, int(sh)) < p.UsablePrimarySlivers() {
				n++
			}
		}
		return n
	}
	keep := -1
	for i := range 4 {
		for m := range com.Members {
			if i != down && string(com.Members[m].PeerID) == string(c.Node(i).PeerID()) &&
				usable(m) < p.R && usable(m)+usable(member) >= p.R {
				keep = i
			}
		}
	}
	if keep < 0 {
		t.Fatal("no node pairs with the restarted one to hold exactly enough: change the blob")
	}
	for i := range 4 {
		if i != down && i != keep {
			c.Crash(i)
		}
	}
	got, err := s.Client.Read(ctx, com, sum.BlobID)
	if err != nil {
		t.Fatalf("read from the restarted node and one other: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("read back different bytes")
	}
}
