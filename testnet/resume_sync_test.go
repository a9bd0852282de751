package testnet_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/blobstore"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/store"
	"github.com/walrus-go/walrus-go/testnet"
)

// lightest is the running node that is the committee's lightest member, and that member.
func lightest(t *testing.T, c *testnet.Cluster, com *epoch.Committee) (int, int) {
	t.Helper()
	down, member := -1, 0
	for i := range c.N() {
		for m := range com.Members {
			if string(com.Members[m].PeerID) == string(c.Node(i).PeerID()) &&
				(down < 0 || com.Members[m].Weight() < com.Members[member].Weight()) {
				down, member = i, m
			}
		}
	}
	if down < 0 {
		t.Fatal("no node is a committee member")
	}
	return down, member
}

// waitHeld waits until member holds every pair of its shards of each blob of ids.
func waitHeld(ctx context.Context, t *testing.T, s *client.Session, m *epoch.Member, ids []codec.BlobID) {
	t.Helper()
	for _, id := range ids {
		for {
			st, err := s.Client.Status(ctx, m, id)
			if err == nil && st.ShardsHeld > 0 && st.ShardsStored == st.ShardsHeld {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("blob %s not recovered: %+v, %v", id, st, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// TestSyncCatchesUpPastQueue (issue 12): a node that was down while more blobs were
// certified than its blob-sync queue holds (blob_sync.queue = 2, twelve blobs, no periodic
// sweep within the test) recovers every one of them once back: the sweep goes on from its
// cursor as the queue drains, and the certifications dropped for lack of room start a new
// sweep, instead of waiting for the next periodic one.
func TestSyncCatchesUpPastQueue(t *testing.T) {
	c := testnet.New(t, 4, testnet.WithGenerate(func(o *testnet.Options) {
		o.NodeConfig = func(_ int, nc *node.Config) {
			nc.BlobSync.Delay = 200 * time.Millisecond
			nc.BlobSync.Sweep = time.Hour // only the start-up sweep runs
			nc.BlobSync.Queue = 2
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	down, member := lightest(t, c, com)
	c.Crash(down)
	const blobs = 12
	var ids []codec.BlobID
	rng := rand.NewChaCha8([32]byte{12})
	for range blobs {
		data := make([]byte, 20_000)
		rng.Read(data)
		sum, err := s.Store(ctx, data, client.StoreOptions{Epochs: 5})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sum.BlobID)
	}
	c.Restart(down)
	waitHeld(ctx, t, s, &com.Members[member], ids)
	if n := c.Unwrap(down).Health().Stats.RecoveredSlivers; n != uint64(2*blobs*com.Members[member].Weight()) {
		t.Fatalf("recovered %d slivers, want %d (every pair of %d shards of %d blobs, once)", n,
			2*blobs*com.Members[member].Weight(), com.Members[member].Weight(), blobs)
	}
}

// TestSyncResumesAfterRestart (issue 12, durable progress): a node restarted in the middle
// of recovering a blob larger than one recovery round (blob_sync.budget = 1 MiB, a 6 MiB
// blob at n = 100: a few pairs a round) keeps the pairs it stored and, once back, recovers only the others: the slivers it
// recovers after the restart are exactly the missing pairs' two each.
func TestSyncResumesAfterRestart(t *testing.T) {
	c := testnet.New(t, 4, testnet.WithShards(100), testnet.WithGenerate(func(o *testnet.Options) {
		o.NodeConfig = func(_ int, nc *node.Config) {
			nc.BlobSync.Delay = 200 * time.Millisecond
			nc.BlobSync.Sweep = time.Hour
			nc.BlobSync.Budget = 1 << 20
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	down, member := lightest(t, c, com)
	shards := com.Members[member].Shards
	c.Crash(down)
	data := make([]byte, 6<<20)
	rand.NewChaCha8([32]byte{13}).Read(data)
	sum, err := s.Store(ctx, data, client.StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Client.Params()
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	symbol := int(enc.SymbolSize)
	perRound := max(1, (1<<20)/(p.PrimarySliverSize(symbol)+p.SecondarySliverSize(symbol)))
	if len(shards) < 3*perRound {
		t.Fatalf("%d shards, %d per round: the blob is too small for several rounds", len(shards), perRound)
	}

	// Back, it recovers round after round; it is stopped once the first round is stored.
	c.Restart(down)
	for {
		if n := c.Unwrap(down).Health().Stats.RecoveredSlivers; n > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("node recovered nothing")
		}
		time.Sleep(2 * time.Millisecond)
	}
	c.Crash(down)
	ds, err := store.Open(filepath.Join(c.Layout.Nodes[down].DataDir, "datastore"))
	if err != nil {
		t.Fatal(err)
	}
	missing, err := blobstore.New(ds, p).MissingShards(ctx, sum.BlobID, shards)
	if cerr := ds.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped with %d of %d pairs stored (%d per round)", len(shards)-len(missing), len(shards), perRound)
	if len(missing) == 0 || len(missing) == len(shards) {
		t.Fatalf("stopped with %d of %d pairs missing: not in the middle of the recovery", len(missing), len(shards))
	}

	c.Restart(down)
	waitHeld(ctx, t, s, &com.Members[member], []codec.BlobID{sum.BlobID})
	if n := c.Unwrap(down).Health().Stats.RecoveredSlivers; n != uint64(2*len(missing)) {
		t.Fatalf("after the restart recovered %d slivers, want %d: the %d pairs it had were fetched again",
			n, 2*len(missing), len(shards)-len(missing))
	}
	// And it serves them: a read through the restarted node's slivers is byte-identical.
	if got, err := s.Read(ctx, sum.BlobID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}
}
