package consensus_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// TestTxsValidatorCheapFirst: the `txs` topic validator decides every message it can from
// cheap checks without asking for a pairing — an oversize message, garbage, an expired
// transaction, a sender that cannot pay (a fresh key Rejected, an existing account Ignored),
// a used or far-future nonce (Ignored), a bad Ed25519 signature: the BLS stand-in is never
// called, although every one of them carries a BLS check (sync done). Only a transaction
// that passes all of them reaches the pool: a valid sync done is Accepted, a forged one
// Rejected, and one that finds no free worker Ignored instead of waiting.
func TestTxsValidatorCheapFirst(t *testing.T) {
	var seed [32]byte
	seed[0] = 21
	_, faucet, _ := ed25519.GenerateKey(rand.NewChaCha8(seed))
	seed[0] = 22
	_, poor, _ := ed25519.GenerateKey(rand.NewChaCha8(seed)) // an account that cannot pay
	seed[0] = 23
	_, fresh, _ := ed25519.GenerateKey(rand.NewChaCha8(seed)) // no account at all
	g := &staking.Genesis{
		Network: "txsval", NShards: 12, EpochDuration: 3_600_000, GenesisTime: start.Add(-time.Second).UnixMilli(),
		Prices:   staking.Prices{Storage: 10, Write: 10, Capacity: 1 << 40, Fees: testFees},
		Faucet:   staking.GenesisAccount{Address: staking.AddressOf(faucet.Public().(ed25519.PublicKey)), Balance: 1 << 50},
		Accounts: []staking.GenesisAccount{{Address: staking.AddressOf(poor.Public().(ed25519.PublicKey)), Balance: 500}},
	}
	keys := map[epoch.NodeID]*bls.SecretKey{}
	for _, k := range addNodes(g, 41, staking.NodeInfo{StoragePrice: 10, WritePrice: 10, Capacity: 1 << 40, Fees: testFees}) {
		keys[epoch.NodeIDOf(k.PublicKey())] = k
	}
	network := g.NetworkID()
	sys, err := actors.New("txsval")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sys.Stop() }()
	l, err := ledger.New(sys, ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore()), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// Height 1 uses the faucet's nonce 0, so that a stale nonce and a passed expiry exist.
	var to staking.Address
	to[0] = 0x33
	commitHeight(t, l, keys, staking.Sign(network, faucet, staking.Tx{Op: &staking.Transfer{To: to, Amount: 1}}).Encode())

	c, n, closeNet := startNet(t, sys, l, g.Network, epochtest.Key(41, 0), 24)
	defer closeNet()

	com := l.View().SigningCommittee()
	node := com.Members[1].Node
	syncDone := &staking.SyncDone{Node: node, Epoch: com.Epoch, Sig: keys[node].Sign(staking.SyncDoneMessage(network, com.Epoch, node))}
	forgedOp := &staking.SyncDone{Node: node, Epoch: com.Epoch, Sig: epochtest.Key(999, 0).Sign(staking.SyncDoneMessage(network, com.Epoch, node))}
	sign := func(key ed25519.PrivateKey, tx staking.Tx) []byte { return staking.Sign(network, key, tx).Encode() }
	valid := sign(faucet, staking.Tx{Nonce: 1, Op: syncDone})
	forged := sign(faucet, staking.Tx{Nonce: 1, Op: forgedOp})
	badSig := bytes.Clone(valid)
	badSig[len(badSig)-1] ^= 1 // the signature is last
	oversize := append(bytes.Clone(valid), make([]byte, staking.MaxTxSize)...)

	var pairings atomic.Int64
	counting := func(context.Context, *staking.State, *staking.SignedTx) error {
		pairings.Add(1)
		return nil
	}
	saturated := func(ctx context.Context, _ *staking.State, _ *staking.SignedTx) error {
		<-ctx.Done() // no worker frees up
		return ctx.Err()
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	check := func(name string, data []byte, verify func(context.Context, *staking.State, *staking.SignedTx) error, want p2p.Verdict) {
		t.Helper()
		if got := n.ValidateTxWith(ctx, data, verify); got != want {
			t.Errorf("%s: verdict %v, want %v", name, got, want)
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
		want p2p.Verdict
	}{
		{"oversize", oversize, p2p.Reject},
		{"garbage", []byte("not a transaction"), p2p.Reject},
		{"expired", sign(faucet, staking.Tx{Nonce: 1, Expiry: 1, Op: syncDone}), p2p.Reject},
		{"a fresh key that cannot pay", sign(fresh, staking.Tx{Op: syncDone}), p2p.Reject},
		{"an existing account that cannot pay", sign(poor, staking.Tx{Op: syncDone}), p2p.Ignore},
		{"a used nonce", sign(faucet, staking.Tx{Nonce: 0, Op: syncDone}), p2p.Ignore},
		{"a far-future nonce", sign(faucet, staking.Tx{Nonce: 1 + 17, Op: syncDone}), p2p.Ignore},
		{"a bad Ed25519 signature", badSig, p2p.Reject},
	} {
		check(tc.name, tc.data, counting, tc.want)
	}
	if got := pairings.Load(); got != 0 {
		t.Fatalf("%d pairings asked for messages the cheap checks decide", got)
	}
	check("a nonce within the window", sign(faucet, staking.Tx{Nonce: 1 + 16, Op: syncDone}), counting, p2p.Accept)
	if got := pairings.Load(); got != 1 {
		t.Fatalf("%d pairings for one transaction past the cheap checks, want 1", got)
	}
	check("a forged sync done", forged, c.VerifyBLS, p2p.Reject)
	// The pubsub validation deadline (here a short one) passes before a worker frees up.
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if got := n.ValidateTxWith(short, valid, saturated); got != p2p.Ignore {
		t.Errorf("a valid sync done, pool saturated: verdict %v, want Ignore", got)
	}
	check("a valid sync done", valid, c.VerifyBLS, p2p.Accept)
}

// commitHeight commits the next height of l, holding txs, with a certificate of every
// member (keys by node ID).
func commitHeight(t *testing.T, l *ledger.Ledger, keys map[epoch.NodeID]*bls.SecretKey, txs ...[]byte) {
	t.Helper()
	v := l.View()
	cp, _, err := v.State().BuildCheckpoint(v.State().Time()+1, txs)
	if err != nil {
		t.Fatal(err)
	}
	com := v.SigningCommittee()
	val := cp.Encode()
	msg := tendermint.VoteSignBytes(v.Network(), com.Epoch, tendermint.Precommit, cp.Height, 0, tendermint.HashValue(val))
	cert := epoch.Certificate{Epoch: com.Epoch, Signers: make([]byte, (len(com.Members)+7)/8)}
	var sigs []bls.Signature
	for i, m := range com.Members {
		sigs = append(sigs, keys[m.Node].Sign(msg))
		cert.Signers[i/8] |= 1 << (i % 8)
	}
	if cert.Signature, err = bls.Aggregate(sigs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := l.Submit(ctx, &tendermint.Decision{Height: cp.Height, Value: val, Commit: tendermint.CommitCert{Cert: cert}}); err != nil {
		t.Fatal(err)
	}
	if l.Height() != cp.Height {
		t.Fatalf("height %d after committing %d", l.Height(), cp.Height)
	}
}
