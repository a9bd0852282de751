package consensus

import (
	"context"
	"testing"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// TestGuardSurvivesRestart: a node that signed a prevote and restarts (a new guard over the
// same datastore) signs the same message again but never a conflicting one.
func TestGuardSurvivesRestart(t *testing.T) {
	key := epochtest.Key(1, 0)
	store := dssync.MutexWrap(ds.NewMapDatastore())
	var net epoch.NetworkID
	vote := func(h uint64, r int32, v byte) []byte {
		return tendermint.VoteSignBytes(net, 0, tendermint.Prevote, h, r, tendermint.Hash{v})
	}
	g, err := newGuard(context.Background(), key, store)
	if err != nil {
		t.Fatal(err)
	}
	zero := bls.Signature{}
	if s := g.Sign(vote(5, 1, 1)); s == zero || bls.Verify(key.PublicKey(), vote(5, 1, 1), s) != nil {
		t.Fatal("first prevote not signed")
	}
	// Precommits are tracked separately from prevotes.
	if s := g.Sign(tendermint.VoteSignBytes(net, 0, tendermint.Precommit, 5, 1, tendermint.Hash{1})); s == zero {
		t.Fatal("precommit refused")
	}
	g2, err := newGuard(context.Background(), key, store)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		msg  []byte
		ok   bool
	}{
		{"same prevote again", vote(5, 1, 1), true},
		{"other value, same round", vote(5, 1, 2), false},
		{"earlier round", vote(5, 0, 1), false},
		{"earlier height", vote(4, 3, 1), false},
		{"later round", vote(5, 2, 2), true},
		{"next height", vote(6, 0, 3), true},
		{"non-consensus message", []byte("storage confirmation"), true},
	} {
		if got := g2.Sign(c.msg) != zero; got != c.ok {
			t.Errorf("%s: signed %v, want %v", c.name, got, c.ok)
		}
	}
}
