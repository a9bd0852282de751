package testnet_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestStoreReadWithFaultyNodes runs the whole stack (real ledger, consensus, data plane,
// client) on in-process 4- and 7-node networks: blobs of 0 B, 1 B, 1 MiB and 20 MiB are
// stored and read back; then nodes worth up to f shards are crashed, and stores and reads
// (of old and new blobs) still succeed, as the ledger keeps committing on n-f shards; the
// crashed nodes come back on their data and catch up.
func TestStoreReadWithFaultyNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("full-stack fault test; runs without -short")
	}
	for _, tc := range []struct {
		nodes, shards int
	}{{4, 40}, {7, 70}} {
		t.Run(fmtNodes(tc.nodes), func(t *testing.T) {
			storeReadWithFaults(t, tc.nodes, tc.shards)
		})
	}
}

func fmtNodes(n int) string { return fmt.Sprintf("%d-nodes", n) }

func storeReadWithFaults(t *testing.T, nodes, shards int) {
	c := testnet.New(t, nodes, testnet.WithShards(shards))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := c.Session(ctx)

	rng := rand.New(rand.NewPCG(uint64(nodes), 7))
	blob := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	stored := map[codec.BlobID][]byte{}
	storeAll := func(stage string) {
		t.Helper()
		for _, size := range []int{0, 1, 1 << 20, 20 << 20} {
			data := blob(size)
			sum, err := s.Store(ctx, data, client.StoreOptions{Epochs: 2})
			if err != nil {
				t.Fatalf("%s: store %d bytes: %v", stage, size, err)
			}
			if sum.UnencodedLength != uint64(size) {
				t.Fatalf("%s: store %d bytes: summary %+v", stage, size, sum)
			}
			stored[sum.BlobID] = data
		}
	}
	readAll := func(stage string) {
		t.Helper()
		for id, want := range stored {
			st, err := s.Ledger.BlobStatus(ctx, id)
			if err != nil || st.Status.Kind != staking.StatusCertified {
				t.Fatalf("%s: status of %s: %+v, %v", stage, id, st, err)
			}
			got, err := s.Read(ctx, id)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: read %s: %v (%d of %d bytes)", stage, id, err, len(got), len(want))
			}
		}
	}
	storeAll("all up")
	readAll("all up")

	// Crash the lightest nodes while their shards stay within f.
	in, err := s.Ledger.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	weight := map[string]int{}
	for _, m := range in.Committee.Members {
		weight[m.PeerID] = m.Weight()
	}
	idx := make([]int, nodes)
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool {
		return weight[string(c.Node(idx[a]).PeerID())] < weight[string(c.Node(idx[b]).PeerID())]
	})
	f := epoch.MaxFaulty(shards)
	var crashed []int
	down := 0
	for _, i := range idx {
		w := weight[string(c.Node(i).PeerID())]
		if w == 0 || down+w > f {
			break
		}
		down += w
		crashed = append(crashed, i)
	}
	if len(crashed) == 0 {
		t.Fatalf("no node fits within f = %d shards: weights %v", f, weight)
	}
	t.Logf("crashing nodes %v: %d of %d shards (f = %d)", crashed, down, shards, f)
	for _, i := range crashed {
		c.Crash(i)
	}
	readAll("f down")
	storeAll("f down")
	readAll("f down, new blobs")

	for _, i := range crashed {
		c.Restart(i)
	}
	var live []int
	for i := 0; i < nodes; i++ {
		live = append(live, i)
	}
	h := c.Node(idx[len(idx)-1]).Height()
	if err := c.WaitHeightContext(ctx, h, live...); err != nil {
		t.Fatalf("restarted nodes did not catch up to height %d: %v", h, err)
	}
}
