package consensus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/actors/actorstest"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/staking"
)

// TestRestartResumesHeight: the proposer of height 1 proposes and prevotes while its peers
// are silent, then restarts later (its clock has moved, so a fresh start would propose a
// different checkpoint). It must resume from its persisted snapshot and re-send exactly the
// messages it signed before, never a second proposal.
func TestRestartResumesHeight(t *testing.T) {
	g := &staking.Genesis{Network: "resume", NShards: 12, EpochDuration: 3_600_000, GenesisTime: start.Add(-time.Second).UnixMilli()}
	keys := addNodes(g, 21, staking.NodeInfo{})
	st, err := staking.NewState(g)
	if err != nil {
		t.Fatal(err)
	}
	com := st.Committee()
	seq := tendermint.ProposerSequence(com)
	proposer := com.Members[seq[1%uint64(len(seq))]].Node // height 1, round 0
	var key *bls.SecretKey
	for _, k := range keys {
		if epoch.NodeIDOf(k.PublicKey()) == proposer {
			key = k
		}
	}
	store := dssync.MutexWrap(ds.NewMapDatastore())
	clock := actorstest.NewManualClock(start, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	drain(ctx, clock)

	run := func(want int) ([][]byte, func()) {
		sys, err := actors.New("resume")
		if err != nil {
			t.Fatal(err)
		}
		l, err := ledger.New(sys, ledger.Config{Genesis: g, Datastore: store, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		c, err := consensus.New(sys, consensus.Config{Ledger: l, Key: key, Clock: clock, Datastore: store, Logger: quiet,
			ProposeTimeout: time.Second, TickInterval: 100 * time.Millisecond, RebroadcastInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		var got [][]byte
		deadline := time.After(20 * time.Second)
		for len(got) < want {
			select {
			case o := <-c.Out():
				if o.Topic == consensus.OutConsensus {
					got = append(got, o.Data[8:]) // without the publication sequence number
				}
			case <-deadline:
				t.Fatalf("saw %d consensus messages, want %d", len(got), want)
			}
		}
		return got, func() { c.Close(); _ = sys.Stop() }
	}

	before, stop := run(2) // proposal, then its own prevote
	stop()
	if m, _ := tendermint.Decode(before[0], 1<<20); fmt.Sprintf("%T", m) != "*tendermint.Proposal" {
		t.Fatalf("first message is %T, not the proposal", m)
	}
	clock.Advance(5 * time.Second) // a fresh proposal would carry another time
	after, stop := run(2)
	defer stop()
	for i := range before {
		if string(after[i]) != string(before[i]) {
			a, _ := tendermint.Decode(after[i], 1<<20)
			t.Fatalf("message %d (%T) after restart differs from the one signed before: equivocation", i, a)
		}
	}
}
