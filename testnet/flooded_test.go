package testnet_test

import (
	"context"
	"crypto/ed25519"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/staking"
)

// TestRealTransfersCommitUnderFlood is the short form of BenchmarkE2EFloodNet that `make
// test` runs: on a 4-node cluster charging fees, a flooder peer (a fresh identity every
// second) publishes over GossipSub as fast as it can — transfers and bogus BLS from fresh
// keys, bad signatures, far-future nonces, register-node with the largest addresses,
// MaxChallengeList challenge results, MaxTxSize garbage, and replays of the valid gossip a
// listening peer recorded — while four funded accounts, one per node, each send three
// transfers in turn. At least 10 of the 12 must commit, each within 20 s; the flood must
// have published replays and huge messages while they did. No timing is asserted beyond
// those bounds.
func TestRealTransfersCommitUnderFlood(t *testing.T) {
	const senders, perSender, need = 4, 3, 10
	c := feeCluster(t)
	c.WaitHeight(1)
	// The recorder listens before the senders are funded, so their funding is gossip it
	// can replay from the start.
	rec := newGossipRecorder(t, c)
	keys := fundSenders(t, c, senders)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	counts := &floodCounts{}
	var floodWG sync.WaitGroup
	floodWG.Add(1)
	go func() {
		defer floodWG.Done()
		runNetFlooder(ctx, t, c, rec, time.Second, counts)
	}()
	defer floodWG.Wait() // after cancel (deferred later, so run first)
	defer cancel()

	// The flood is under way (replays and huge messages included) before the real work.
	warm := time.Now().Add(20 * time.Second)
	for counts.replayed.Load() == 0 || counts.huge.Load() == 0 || counts.published.Load() < 200 {
		if time.Now().After(warm) {
			t.Fatalf("flood not under way after 20 s: %d published, %d replays, %d huge",
				counts.published.Load(), counts.replayed.Load(), counts.huge.Load())
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := counts.published.Load()
	replayedBefore, hugeBefore := counts.replayed.Load(), counts.huge.Load()

	net := c.Layout.Genesis.NetworkID()
	var committed atomic.Int32
	var wg sync.WaitGroup
	for j, key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := c.Unwrap(j)
			addr := staking.AddressOf(key.Public().(ed25519.PublicKey))
			for i := range perSender {
				// The proven nonce: a transfer lost to the flood is not counted, and the next
				// one takes its nonce.
				nonce := n.Ledger().Account(addr).Nonce
				raw := staking.Sign(net, key, staking.Tx{Nonce: nonce, Op: &staking.Transfer{To: staking.Address{1}, Amount: 1}}).Encode()
				tctx, tcancel := context.WithTimeout(ctx, 20*time.Second)
				reply, err := n.Consensus().SubmitTx(tctx, raw)
				if err == nil && !reply.Accepted {
					t.Logf("sender %d transfer %d: node %d refused it: %v %s", j, i, j, reply.Code, reply.Message)
				} else if err == nil {
					var rc, werr = n.Ledger().WaitTx(tctx, reply.Hash)
					switch {
					case werr != nil:
						t.Logf("sender %d transfer %d: not committed within 20 s: %v", j, i, werr)
					case rc.Receipt.Code != staking.OK:
						t.Logf("sender %d transfer %d: receipt %v", j, i, rc.Receipt)
					default:
						committed.Add(1)
					}
				} else {
					t.Logf("sender %d transfer %d: %v", j, i, err)
				}
				tcancel()
			}
		}()
	}
	wg.Wait()
	during := counts.published.Load() - before
	t.Logf("%d of %d real transfers committed; the flood published %d messages meanwhile (%d replays, %d huge in all), height %d",
		committed.Load(), senders*perSender, during, counts.replayed.Load(), counts.huge.Load(), c.Node(0).Height())
	if got := committed.Load(); got < need {
		t.Errorf("%d of %d real transfers committed under the flood, want at least %d", got, senders*perSender, need)
	}
	if during == 0 || counts.replayed.Load() == replayedBefore && counts.huge.Load() == hugeBefore {
		t.Errorf("the flood stalled while the real transfers ran: %d published, replays %d -> %d, huge %d -> %d",
			during, replayedBefore, counts.replayed.Load(), hugeBefore, counts.huge.Load())
	}
}
