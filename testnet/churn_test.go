package testnet_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestEpochChurnWorkload (issue 13): a write/read/verify workload runs while the network
// goes through ten epoch changes. Before each, stake delegated to one of three nodes (in
// turn) gives it about half the shards of the next committee, so every change moves a large
// part of them; midway the fourth node's operator withdraws its stake and the node leaves the
// committee. At the end every blob that was certified reads back byte-identical and every
// member of the last committee holds every sliver of its shards of every blob. (A node
// joining through the CLI is TestE2EJoinAndStake's.)
//
// It takes about three minutes, so it is a soak test: `make test-churn` runs it.
func TestEpochChurnWorkload(t *testing.T) {
	if os.Getenv("WALRUS_CHURN") == "" {
		t.Skip("soak test: run with WALRUS_CHURN=1 (make test-churn)")
	}
	const d = 8 * time.Second // a change's migration ends well within an epoch
	c := testnet.New(t, 4, testnet.WithEpochDuration(d), testnet.WithGenerate(func(o *testnet.Options) {
		o.Shards = 100
		o.WalletBalance = 1_000_000_000 * staking.FrostPerWAL // stake that doubles ten times
		prev := o.NodeConfig
		o.NodeConfig = func(i int, nc *node.Config) {
			if prev != nil {
				prev(i, nc)
			}
			nc.BlobSync.Delay = 500 * time.Millisecond
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	led := c.Unwrap(0).Ledger()

	// The workload: store small blobs and read back earlier ones, until told to stop.
	type stored struct {
		id   codec.BlobID
		data []byte
	}
	var (
		mu          sync.Mutex
		blobs       []stored
		storeFailed int
		readFailed  int
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		rng := rand.New(rand.NewPCG(7, 8))
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			data := make([]byte, 1000+rng.IntN(60_000))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			sum, err := s.Store(ctx, data, client.StoreOptions{Epochs: 53})
			mu.Lock()
			if err != nil {
				storeFailed++
				t.Logf("store %d: %v", i, err)
			} else {
				blobs = append(blobs, stored{sum.BlobID, data})
			}
			var pick *stored
			if len(blobs) > 0 {
				pick = &blobs[rng.IntN(len(blobs))]
			}
			mu.Unlock()
			if pick != nil {
				if got, err := s.Read(ctx, pick.id); err != nil || !bytes.Equal(got, pick.data) {
					mu.Lock()
					readFailed++
					mu.Unlock()
					t.Logf("read of %s: %v", pick.id, err)
				}
			}
		}
	}()

	// The churn: ten epoch changes, each after a selection that counted new stake.
	nodeIDs := make([]epoch.NodeID, c.N())
	for i := range nodeIDs {
		nodeIDs[i] = c.Unwrap(i).DataPlane().NodeID()
	}
	leaving := nodeIDs[3]
	amount := uint64(400_000) * staking.FrostPerWAL // about the genesis total: the target gets half
	start := led.View().Epoch()
	moved := 0
	for k := 0; k < 10; k++ {
		target := nodeIDs[k%3]
		if _, err := s.Ledger.Submit(ctx, &staking.StakeOp{Node: target, Amount: amount}); err != nil {
			t.Fatalf("change %d: stake: %v", k, err)
		}
		amount *= 2
		if k == 4 {
			withdrawOperatorStake(ctx, t, c, 3)
		}
		// The stake counts from the next selection: wait for two epoch changes at most,
		// until a committee gives the target more shards than before.
		before := led.View().SigningCommittee()
		from := led.View().Epoch()
		for {
			v := led.View()
			com := v.SigningCommittee()
			if com.Epoch > from {
				plan, err := epoch.Plan(before, com)
				if err != nil {
					t.Fatal(err)
				}
				if len(plan.Moves) > 0 {
					moved += len(plan.Moves)
					t.Logf("change %d: epoch %d moves %d of 100 shards", k, com.Epoch, len(plan.Moves))
					break
				}
				before, from = com, com.Epoch
			}
			if ctx.Err() != nil {
				t.Fatalf("change %d: no committee moved shards", k)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	final := led.View().SigningCommittee()
	if final.MemberIndex(leaving) >= 0 {
		t.Errorf("node 3 is still a member of epoch %d after withdrawing its stake", final.Epoch)
	}
	close(stop)
	<-done
	// Let the last change complete, then check everything.
	waitFrom := time.Now()
	for !led.View().State().SyncDone() {
		if ctx.Err() != nil {
			t.Fatal("the last change did not complete")
		}
		if time.Since(waitFrom) > 3*d {
			v := led.View()
			for i := 0; i < c.N(); i++ {
				t.Logf("epoch %d: node %d member %v sync done %v, changer %+v", v.Epoch(), i,
					v.SigningCommittee().MemberIndex(nodeIDs[i]) >= 0, v.State().NodeSyncDone(nodeIDs[i]), c.Unwrap(i).EpochChange())
			}
			waitFrom = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	final = led.View().SigningCommittee()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d epochs (from %d to %d), %d shard moves; %d blobs certified, %d stores and %d reads failed during the churn",
		final.Epoch-start, start, final.Epoch, moved, len(blobs), storeFailed, readFailed)
	if len(blobs) == 0 {
		t.Fatal("no blob was stored during the churn")
	}
	for _, b := range blobs {
		got, err := s.Read(ctx, b.id)
		if err != nil || !bytes.Equal(got, b.data) {
			t.Fatalf("certified blob %s after the churn: %v", b.id, err)
		}
	}
	for m := range final.Members {
		for _, b := range blobs {
			for {
				st, err := s.Client.Status(ctx, &final.Members[m], b.id)
				if err == nil && st.ShardsStored == st.ShardsHeld {
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("member %d of epoch %d, blob %s: %+v %v", m, final.Epoch, b.id, st, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}

// withdrawOperatorStake has node i's operator request the withdrawal of its genesis stake,
// through a session whose wallet is the operator's key.
func withdrawOperatorStake(ctx context.Context, t *testing.T, c *testnet.Cluster, i int) {
	t.Helper()
	fc, err := client.LoadFileConfig(c.Layout.ClientConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	fc.WalletKeyFile = c.Layout.Nodes[i].OperatorKeyFile
	path := filepath.Join(t.TempDir(), "operator.yaml")
	if err := client.WriteFileConfig(path, fc); err != nil {
		t.Fatal(err)
	}
	op, err := client.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	stakes, err := op.Ledger.StakesOf(ctx, op.Ledger.Address())
	if err != nil || len(stakes.Stakes) == 0 {
		t.Fatalf("operator %d's stakes: %+v %v", i, stakes, err)
	}
	for _, st := range stakes.Stakes {
		if _, err := op.Ledger.RequestWithdrawStake(ctx, st.ID); err != nil {
			t.Fatalf("operator %d: request withdraw: %v", i, err)
		}
	}
}
