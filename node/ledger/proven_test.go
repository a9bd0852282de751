package ledger_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// TestPrecommitMessageIsTendermints: the light client's copy of the commit sign bytes is
// Tendermint's.
func TestPrecommitMessageIsTendermints(t *testing.T) {
	nw := epoch.NetworkID{1, 2, 3}
	val := []byte("a checkpoint")
	for _, r := range []int32{0, 1, 7} {
		want := tendermint.VoteSignBytes(nw, 5, tendermint.Precommit, 99, r, tendermint.HashValue(val))
		if got := query.PrecommitMessage(nw, 5, 99, r, val); !bytes.Equal(got, want) {
			t.Fatalf("round %d: %x, tendermint signs %x", r, got, want)
		}
	}
}

// TestProvenAnswersAndEpochLinks runs a ledger through several epochs and checks, as a
// light client would from the genesis committee alone, the epoch links it serves, then its
// proven info, account and blob status answers at the latest height and at a kept older
// one; an old height is not found; a restart from a snapshot checks the snapshot against
// the certified root and serves the same.
func TestProvenAnswersAndEpochLinks(t *testing.T) {
	f := newFixture(t, "ledgertest")
	l, sys := f.open(t, 4)
	srv, cli := newHost(t, 1), newHost(t, 2)
	if _, err := ledger.NewNet(l, ledger.NetConfig{Host: srv}); err != nil {
		t.Fatal(err)
	}
	if err := cli.Connect(ctx(t), peer.AddrInfo{ID: srv.ID(), Addrs: srv.Addrs()}); err != nil {
		t.Fatal(err)
	}
	ask := func(q *query.Query) ([]byte, error) {
		return p2p.Call(ctx(t), cli, srv.ID(), query.Spec, q.Encode())
	}
	if _, err := ask(&query.Query{Kind: query.QueryProvenInfo}); err == nil {
		t.Fatal("a proven answer at genesis, without a committed checkpoint")
	}
	genesisCom := l.View().SigningCommittee()
	nonce := uint64(0)
	commit := func(at int64) {
		t.Helper()
		v := l.View()
		cp, _, err := v.State().BuildCheckpoint(at, [][]byte{f.transfer(nonce, 1)})
		if err != nil {
			t.Fatal(err)
		}
		nonce++
		if _, err := l.Submit(ctx(t), f.certify(t, v, cp.Encode(), cp.Height, nil, false)); err != nil {
			t.Fatal(err)
		}
	}
	dur := f.genesis.EpochDuration
	for i := 1; i <= 5; i++ { // each crosses an epoch
		commit(genesisTime + int64(i)*dur + 10)
	}
	commit(genesisTime + 5*dur + 20)
	commit(genesisTime + 5*dur + 30) // two more heights in epoch 5
	if l.View().Epoch() != 5 {
		t.Fatalf("epoch %d", l.View().Epoch())
	}
	nw := f.genesis.NetworkID()

	// Follow the links from genesis.
	b, err := ask(&query.Query{Kind: query.QueryEpochLinks, FromEpoch: 0})
	if err != nil {
		t.Fatal(err)
	}
	la, err := query.DecodeEpochLinksAnswer(b)
	if err != nil {
		t.Fatal(err)
	}
	trusted := map[uint32]*epoch.Committee{0: genesisCom}
	cur := genesisCom
	for _, lk := range la.Links {
		cp, err := query.VerifyCertified(nw, cur, &lk.At)
		if err != nil {
			t.Fatal(err)
		}
		c, err := query.VerifyCommittee(cp, &lk.Committee, f.genesis.NShards)
		if err != nil {
			t.Fatal(err)
		}
		trusted[c.Epoch], cur = c, c
	}
	if cur.Epoch != 5 || len(la.Links) != 5 {
		t.Fatalf("links reach epoch %d in %d links", cur.Epoch, len(la.Links))
	}
	if b, err = ask(&query.Query{Kind: query.QueryEpochLinks, FromEpoch: 3}); err != nil {
		t.Fatal(err)
	}
	if la, err = query.DecodeEpochLinksAnswer(b); err != nil || len(la.Links) != 2 {
		t.Fatalf("links from epoch 3: %v, %d", err, len(la.Links))
	}

	check := func(at uint64) {
		t.Helper()
		b, err := ask(&query.Query{Kind: query.QueryProvenInfo, At: at})
		if err != nil {
			t.Fatal(err)
		}
		ia, err := query.DecodeProvenInfoAnswer(b)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := query.VerifyCertified(nw, trusted[ia.At.Cert.Epoch], &ia.At)
		if err != nil {
			t.Fatal(err)
		}
		if at != 0 && cp.Height != at {
			t.Fatalf("asked height %d, proven at %d", at, cp.Height)
		}
		par, err := query.VerifyParams(cp, &ia.Params)
		if err != nil || par.Epoch != 5 || par.Network != nw {
			t.Fatalf("params %+v, %v", par, err)
		}
		if _, err := query.VerifyCommittee(cp, &ia.Committee, f.genesis.NShards); err != nil {
			t.Fatal(err)
		}
		faucet := staking.AddressOf(f.faucet.Public().(ed25519.PublicKey))
		if b, err = ask(&query.Query{Kind: query.QueryProvenAccount, Address: faucet, At: at}); err != nil {
			t.Fatal(err)
		}
		aa, err := query.DecodeProvenAccountAnswer(b)
		if err != nil {
			t.Fatal(err)
		}
		cp, err = query.VerifyCertified(nw, trusted[aa.At.Cert.Epoch], &aa.At)
		if err != nil {
			t.Fatal(err)
		}
		acc, err := query.VerifyAccount(cp, faucet, &aa.Account)
		if err != nil || acc.Nonce != cp.Height {
			t.Fatalf("account %+v at height %d: %v", acc, cp.Height, err)
		}
		if b, err = ask(&query.Query{Kind: query.QueryProvenBlobStatus, At: at}); err != nil {
			t.Fatal(err)
		}
		ba, err := query.DecodeProvenBlobAnswer(b)
		if err != nil {
			t.Fatal(err)
		}
		if cp, err = query.VerifyCertified(nw, trusted[ba.At.Cert.Epoch], &ba.At); err != nil {
			t.Fatal(err)
		}
		if st, _, err := query.VerifyBlob(cp, [32]byte{}, &ba.Proof); err != nil || st.Kind != staking.StatusNonexistent {
			t.Fatalf("blob status %v, %v", st, err)
		}
	}
	check(0)
	check(l.Height() - 1)
	if _, err := ask(&query.Query{Kind: query.QueryProvenInfo, At: 100}); err == nil {
		t.Fatal("an answer at a height never committed")
	}

	// Restart: the snapshot (every 4 heights) is checked against the certified root and the
	// replayed heights are served again.
	_ = sys.Stop()
	l2, _ := f.open(t, 4)
	if l2.Height() != l.Height() || l2.View().Commit() == nil || l2.View().Commit().Height != l2.Height() {
		t.Fatalf("restarted at %d", l2.Height())
	}
}
