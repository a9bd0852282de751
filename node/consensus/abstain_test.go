package consensus_test

import (
	"context"
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
	"github.com/walrus-go/walrus-go/node/store"
	"github.com/walrus-go/walrus-go/staking"
)

// TestUnreadableSnapshotAbstains: a node whose consensus snapshot cannot be read may have
// signed at the height it was for, and cannot know what. It must not start that height
// afresh: the proposer of height 1 with a corrupt snapshot sends no proposal and no vote at
// height 1, however long it waits (with a readable or absent snapshot it proposes at once,
// TestRestartResumesHeight).
func TestUnreadableSnapshotAbstains(t *testing.T) {
	g := &staking.Genesis{Network: "abstain", NShards: 12, EpochDuration: 3_600_000, GenesisTime: start.Add(-time.Second).UnixMilli()}
	keys := addNodes(g, 22, staking.NodeInfo{})
	st, err := staking.NewState(g)
	if err != nil {
		t.Fatal(err)
	}
	com := st.Committee()
	seq := tendermint.ProposerSequence(com)
	proposer := com.Members[seq[1%uint64(len(seq))]].Node
	var key *bls.SecretKey
	for _, k := range keys {
		if epoch.NodeIDOf(k.PublicKey()) == proposer {
			key = k
		}
	}
	dstore := dssync.MutexWrap(ds.NewMapDatastore())
	if err := dstore.Put(context.Background(), store.ConsensusState(), []byte("not a snapshot")); err != nil {
		t.Fatal(err)
	}
	clock := actorstest.NewManualClock(start, 64)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	drain(ctx, clock)
	sys, err := actors.New("abstain")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sys.Stop() }()
	l, err := ledger.New(sys, ledger.Config{Genesis: g, Datastore: dstore, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c, err := consensus.New(sys, consensus.Config{Ledger: l, Key: key, Clock: clock, Datastore: dstore, Logger: quiet,
		ProposeTimeout: time.Second, TickInterval: 100 * time.Millisecond, RebroadcastInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 40 {
		clock.Advance(250 * time.Millisecond)
		time.Sleep(5 * time.Millisecond)
		for {
			select {
			case o := <-c.Out():
				if o.Topic != consensus.OutConsensus {
					continue
				}
				m, err := consensus.DecodeWire(o.Data, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				switch m.(type) {
				case *tendermint.Proposal, *tendermint.Vote:
					t.Fatalf("signed a %T at height %d despite an unreadable snapshot", m, m.MsgHeight())
				}
				continue
			default:
			}
			break
		}
	}
}
