package consensus_test

import (
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/consensus"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/staking"
)

// startNet starts a consensus actor for key on l, and its gossip handlers on a fresh host
// seeded with seed; closeNet closes the three, actor first.
func startNet(t *testing.T, sys *actors.System, l *ledger.Ledger, network string, key *bls.SecretKey, seed byte) (c *consensus.Consensus, n *consensus.Net, closeNet func()) {
	t.Helper()
	h, gs := gossipHost(t, seed, network)
	closeNet = func() { gs.Close(); h.Close() }
	var err error
	if c, err = consensus.New(sys, consensus.Config{Ledger: l, Key: key, Logger: quiet}); err != nil {
		closeNet()
		t.Fatal(err)
	}
	closeNet = func() { c.Close(); gs.Close(); h.Close() }
	if n, err = consensus.NewNet(c, consensus.NetConfig{Host: h, Gossip: gs}); err != nil {
		closeNet()
		t.Fatal(err)
	}
	return c, n, closeNet
}

// gossipHost starts a fresh host seeded with seed and GossipSub on it for network; close
// the gossip, then the host.
func gossipHost(t *testing.T, seed byte, network string) (host.Host, *p2p.Gossip) {
	t.Helper()
	var s [32]byte
	s[0] = seed
	h := p2ptest.Host(t, rand.NewChaCha8(s))
	gs, err := p2p.NewGossip(h, network)
	if err != nil {
		h.Close()
		t.Fatal(err)
	}
	return h, gs
}

// TestValidateConsensus checks the `consensus` topic validator's verdicts: forged and
// malformed messages are rejected, other heights ignored, members' messages accepted.
func TestValidateConsensus(t *testing.T) {
	g := &staking.Genesis{Network: "valtest", NShards: 12, EpochDuration: 3_600_000, GenesisTime: start.UnixMilli()}
	keys := map[[32]byte]*bls.SecretKey{}
	for _, k := range addNodes(g, 8, staking.NodeInfo{}) {
		keys[epoch.NodeIDOf(k.PublicKey())] = k
	}
	sys, err := actors.New("val")
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Stop()
	l, err := ledger.New(sys, ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore()), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c, n, closeNet := startNet(t, sys, l, g.Network, epochtest.Key(8, 0), 4)
	defer closeNet()
	v := l.View()
	com := v.SigningCommittee()
	vote := func(height uint64, member uint32, k *bls.SecretKey) []byte {
		m := &tendermint.Vote{Type: tendermint.Prevote, Height: height, Round: 0, Value: tendermint.Hash{1}, Validator: member}
		m.Signature = k.Sign(tendermint.VoteSignBytes(v.Network(), com.Epoch, m.Type, m.Height, m.Round, m.Value))
		b, err := tendermint.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return consensus.EncodeWire(uint64(height), b)
	}
	k1 := keys[com.Members[1].Node]
	other := peer.ID("relay")
	for _, tc := range []struct {
		name string
		data []byte
		want p2p.Verdict
	}{
		{"garbage", []byte{0xff, 1, 2}, p2p.Reject},
		{"no sequence number", vote(1, 1, k1)[8:], p2p.Reject},
		{"member's prevote for the next height", vote(1, 1, k1), p2p.Accept},
		{"prevote signed with another key", vote(1, 1, epochtest.Key(999, 0)), p2p.Reject},
		{"non-member index", vote(1, 9, k1), p2p.Reject},
		{"the height after next, valid", vote(2, 1, k1), p2p.Accept},
		{"the height after next, unverifiable", vote(2, 1, epochtest.Key(999, 0)), p2p.Ignore},
		{"far future", vote(9, 1, k1), p2p.Ignore},
		{"stale", vote(0, 1, k1), p2p.Ignore},
	} {
		if got := n.ValidateConsensus(context.Background(), p2p.Message{From: other, ReceivedFrom: other, Data: tc.data}); got != tc.want {
			t.Errorf("%s: verdict %d, want %d", tc.name, got, tc.want)
		}
	}
	// Sync hints come only from verified messages: a far-ahead vote by a member hints, one
	// signed with a stranger's key does not (both are ignored).
	var hints []uint64
	c.SetHint(func(_ peer.ID, h uint64) { hints = append(hints, h) })
	for _, tc := range []struct {
		data []byte
		hint bool
	}{{vote(9, 1, epochtest.Key(999, 0)), false}, {vote(9, 9, k1), false}, {vote(9, 1, k1), true}} {
		hints = nil
		time.Sleep(300 * time.Millisecond) // the hint-check budget refills (4 a second)
		if got := n.ValidateConsensus(context.Background(), p2p.Message{From: other, ReceivedFrom: other, Data: tc.data}); got != p2p.Ignore {
			t.Errorf("far future: verdict %d, want Ignore", got)
		}
		if (len(hints) == 1 && hints[0] == 8) != tc.hint || len(hints) > 1 {
			t.Errorf("far-future vote (verifies: %v): hints %v", tc.hint, hints)
		}
	}
	tx := staking.Sign(g.NetworkID(), testAccountKey(), staking.Tx{Op: &staking.Transfer{Amount: 1}}).Encode()
	if got := n.ValidateTx(context.Background(), p2p.Message{Data: consensus.EncodeTxWire(7, tx)}); got != p2p.Accept {
		t.Errorf("signed tx: verdict %d", got)
	}
	if got := n.ValidateTx(context.Background(), p2p.Message{Data: tx[:5]}); got != p2p.Reject {
		t.Errorf("a payload shorter than its sequence prefix: verdict %d", got)
	}
	tx[len(tx)-1] ^= 1
	if got := n.ValidateTx(context.Background(), p2p.Message{Data: consensus.EncodeTxWire(8, tx)}); got != p2p.Reject {
		t.Errorf("tampered tx: verdict %d", got)
	}
}

func testAccountKey() ed25519.PrivateKey {
	var s [32]byte
	s[0] = 5
	_, k, _ := ed25519.GenerateKey(rand.NewChaCha8(s))
	return k
}

// TestValidateConsensusAcrossEpochs: once the next committee is selected, a message for the
// height after next may come from it (the next checkpoint may cross the epoch end, and the
// signed bytes carry the epoch): the validator accepts it if it verifies against either
// committee, instead of dropping every message of a new epoch's first height.
func TestValidateConsensusAcrossEpochs(t *testing.T) {
	g := &staking.Genesis{Network: "valepoch", NShards: 12, EpochDuration: 3_600_000, GenesisTime: start.UnixMilli()}
	keys := map[[32]byte]*bls.SecretKey{}
	for _, k := range addNodes(g, 8, staking.NodeInfo{}) {
		keys[epoch.NodeIDOf(k.PublicKey())] = k
	}
	sys, err := actors.New("valepoch")
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Stop()
	l, err := ledger.New(sys, ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore()), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// Height 1 at mid-epoch: it selects the committee of epoch 1.
	v := l.View()
	cp, _, err := v.State().BuildCheckpoint(start.UnixMilli()+1_800_000, nil)
	if err != nil {
		t.Fatal(err)
	}
	c0 := v.SigningCommittee()
	val := cp.Encode()
	msg := tendermint.VoteSignBytes(v.Network(), c0.Epoch, tendermint.Precommit, 1, 0, tendermint.HashValue(val))
	cert := epoch.Certificate{Epoch: c0.Epoch, Signers: make([]byte, (len(c0.Members)+7)/8)}
	var sigs []bls.Signature
	for i, m := range c0.Members {
		sigs = append(sigs, keys[m.Node].Sign(msg))
		cert.Signers[i/8] |= 1 << (i % 8)
	}
	if cert.Signature, err = bls.Aggregate(sigs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := l.Submit(ctx, &tendermint.Decision{Height: 1, Value: val, Commit: tendermint.CommitCert{Cert: cert}}); err != nil {
		t.Fatal(err)
	}
	v = l.View()
	c1 := v.State().NextCommittee()
	if v.Height() != 1 || c1 == nil || c1.Epoch != c0.Epoch+1 {
		t.Fatalf("height %d, next committee %v", v.Height(), c1)
	}

	_, n, closeNet := startNet(t, sys, l, g.Network, epochtest.Key(8, 0), 6)
	defer closeNet()
	vote := func(com *epoch.Committee, height uint64, member uint32) []byte {
		m := &tendermint.Vote{Type: tendermint.Prevote, Height: height, Value: tendermint.Hash{1}, Validator: member}
		m.Signature = keys[com.Members[member].Node].Sign(tendermint.VoteSignBytes(v.Network(), com.Epoch, m.Type, m.Height, m.Round, m.Value))
		b, err := tendermint.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		return consensus.EncodeWire(height, b)
	}
	other := peer.ID("relay")
	for _, tc := range []struct {
		name string
		data []byte
		want p2p.Verdict
	}{
		{"next height, current committee", vote(c0, 2, 1), p2p.Accept},
		{"next height, next committee", vote(c1, 2, 1), p2p.Reject},
		{"height after next, current committee", vote(c0, 3, 1), p2p.Accept},
		{"height after next, next committee", vote(c1, 3, 1), p2p.Accept},
	} {
		if got := n.ValidateConsensus(context.Background(), p2p.Message{From: other, ReceivedFrom: other, Data: tc.data}); got != tc.want {
			t.Errorf("%s: verdict %d, want %d", tc.name, got, tc.want)
		}
	}
}
