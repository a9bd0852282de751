package consensus_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/staking"
)

// TestFullMempoolEvictsLowerFee: a full mempool does not simply refuse newcomers: one
// paying more per byte than the lowest-paying sender's last transaction takes its place,
// one paying less is refused (unavailable). The evicted transaction is gone — offered again
// at its old fee it is refused — and the next better-paying newcomer evicts the next
// lowest. Until a commit rebuilds the dry-run state the evicted transaction's nonce counts
// as used there (nothing is re-applied per eviction): its sender's replacement is refused
// as bad-nonce, not admitted on a guess.
func TestFullMempoolEvictsLowerFee(t *testing.T) {
	actorstest.CheckLeaks(t)
	keys := make([]ed25519.PrivateKey, 5)
	g := &staking.Genesis{
		Network: "evict", NShards: 12, EpochDuration: 3_600_000, GenesisTime: start.Add(-time.Second).UnixMilli(),
		Prices: staking.Prices{Storage: 10, Write: 10, Capacity: 1 << 40, Fees: testFees},
	}
	for i := range keys {
		var seed [32]byte
		seed[0], seed[1] = 51, byte(i)
		_, keys[i], _ = ed25519.GenerateKey(rand.NewChaCha8(seed))
		g.Accounts = append(g.Accounts, staking.GenesisAccount{Address: staking.AddressOf(keys[i].Public().(ed25519.PublicKey)), Balance: 1 << 40})
	}
	nodeKeys := addNodes(g, 51, staking.NodeInfo{StoragePrice: 10, WritePrice: 10, Capacity: 1 << 40, Fees: testFees})
	clock := actorstest.NewManualClock(start, 64) // frozen: alone, the node commits nothing
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	drain(ctx, clock)
	sys, err := actors.New("evict")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sys.Stop() }()
	l, err := ledger.New(sys, ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore()), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c, err := consensus.New(sys, consensus.Config{Ledger: l, Key: nodeKeys[0], Clock: clock, Logger: quiet, MaxMempool: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var to staking.Address
	to[0] = 0xee
	// A transfer is 161 bytes: the minimum fee is 1,000 + 10·161 = 2,610.
	transfer := func(from int, nonce, fee uint64) []byte {
		return staking.Sign(g.NetworkID(), keys[from], staking.Tx{Nonce: nonce, Fee: fee, Op: &staking.Transfer{To: to, Amount: 1}}).Encode()
	}
	accepted := func(name string, raw []byte) {
		t.Helper()
		if rep, err := c.SubmitTx(ctx, raw); err != nil || !rep.Accepted {
			t.Fatalf("%s: %+v, %v", name, rep, err)
		}
	}
	refused := func(name string, raw []byte) {
		t.Helper()
		if rep, err := c.SubmitTx(ctx, raw); !errors.Is(err, consensus.ErrMempoolFull) {
			t.Fatalf("%s: %+v, %v; want the mempool full", name, rep, err)
		}
	}
	low := transfer(0, 0, 3_000)
	accepted("fee 3000", low)
	accepted("fee 4000", transfer(1, 0, 4_000))
	accepted("fee 5000", transfer(2, 0, 5_000))
	refused("a newcomer paying less than the lowest", transfer(3, 0, 2_900))
	accepted("a newcomer paying more than the lowest", transfer(3, 0, 4_500))
	if n := c.MempoolSize(); n != 3 {
		t.Fatalf("mempool holds %d, want 3", n)
	}
	refused("the evicted transaction again", low)
	accepted("a transaction still held, again", transfer(1, 0, 4_000))
	if rep, err := c.SubmitTx(ctx, transfer(0, 0, 6_000)); err != nil || rep.Accepted || rep.Code != staking.CodeBadNonce {
		t.Fatalf("the evicted sender's replacement before a commit: %+v, %v; want bad-nonce", rep, err)
	}
	accepted("a newcomer paying more than the now lowest (4000)", transfer(4, 0, 6_000))
	refused("the fee-4000 transaction, evicted", transfer(1, 0, 4_000))
	if n := c.MempoolSize(); n != 3 {
		t.Fatalf("mempool holds %d, want 3", n)
	}
}
