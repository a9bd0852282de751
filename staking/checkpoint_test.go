package staking_test

import (
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/staking"
)

// TestParallelPreverifyMatchesSequential: a checkpoint whose certificates are verified in
// parallel gives the same receipts and root as applying its transactions one by one, for
// valid, under-weight, forged, wrong-epoch and same-checkpoint-registered certificates.
// (Refused operations consume their nonce: bob's transactions carry consecutive nonces.)
func TestParallelPreverifyMatchesSequential(t *testing.T) {
	_, n := runScript(t, fuzzScript)
	net, ep := n.s.Network(), n.s.Epoch()
	c := n.s.Committee()
	sign := func(who string, nonce uint64, op staking.Op) []byte {
		return staking.Sign(net, n.acct(who), staking.Tx{Nonce: nonce, Op: op}).Encode()
	}
	b1, _ := n.s.Blob(n.obj("b1"))
	b2, _ := n.s.Blob(n.obj("b2"))
	msg1 := staking.ConfirmationMessage(net, ep, b1.BlobID, false, b1.ID)
	msg2 := staking.ConfirmationMessage(net, ep, b2.BlobID, true, b2.ID)
	forged := n.cert(c, ep, msg2, []string{"all"})
	forged.Signature = n.cert(c, ep, msg1, []string{"all"}).Signature
	wrongEpoch := n.cert(c, ep+1, msg1, []string{"all"})
	// A blob registered and certified in the same checkpoint: its object ID is predictable.
	alice := n.addr("alice")
	an := n.s.Account(alice).Nonce
	bn := n.s.Account(n.addr("bob")).Nonce
	newID, newRoot := blobFromSeed("fresh", 1234)
	newObj := staking.DeriveObjectID(alice, an, 0)
	bogus, _ := blobFromSeed("never-registered", 1)
	txs := [][]byte{
		sign("bob", bn, &staking.CertifyBlob{Blob: b2.ID, BlobID: b2.BlobID, Deletable: true, Cert: forged}),
		sign("bob", bn+1, &staking.CertifyBlob{Blob: b1.ID, BlobID: b1.BlobID, Cert: n.cert(c, ep, msg1, []string{"n4"})}),
		sign("bob", bn+2, &staking.CertifyBlob{Blob: b1.ID, BlobID: b1.BlobID, Cert: wrongEpoch}),
		sign("bob", bn+3, &staking.CertifyBlob{Blob: b1.ID, BlobID: b1.BlobID, Cert: n.cert(c, ep, msg1, []string{"all"})}),
		sign("alice", an, &staking.RegisterBlob{Storage: n.obj("r3"), BlobID: newID, Root: newRoot, Length: 1234, Encoding: codec.EncodingTypeRS2}),
		sign("bob", bn+4, &staking.CertifyBlob{Blob: newObj, BlobID: newID,
			Cert: n.cert(c, ep, staking.ConfirmationMessage(net, ep, newID, false, newObj), []string{"n1", "n2", "n3"})}),
		sign("bob", bn+5, &staking.InvalidateBlob{BlobID: bogus, Cert: n.cert(c, ep, staking.InvalidBlobMessage(net, ep, bogus), []string{"n2", "n3"})}),
		sign("bob", bn+6, &staking.InvalidateBlob{BlobID: b2.BlobID, Cert: n.cert(c, ep, staking.InvalidBlobMessage(net, ep, b2.BlobID), []string{"n3"})}),
	}
	want := []staking.Code{staking.CodeBadCertificate, staking.CodeBadCertificate, staking.CodeWrongEpoch, staking.OK,
		staking.OK, staking.OK, staking.OK, staking.CodeBadCertificate}
	now := n.s.Time() + 1
	seq := n.s.Clone()
	if _, err := seq.AdvanceTime(now); err != nil {
		t.Fatal(err)
	}
	cp, _, err := n.s.BuildCheckpoint(now, txs)
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.s.ApplyCheckpoint(cp)
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range txs {
		r := seq.Apply(raw)
		if r != res.Receipts[i] || r.Code != want[i] {
			t.Errorf("tx %d: parallel %v, sequential %v, want %s", i, res.Receipts[i], r, want[i])
		}
	}
	seq.RecordReceipts(cp.Height, txs, res.Receipts)
	if seq.Root() != n.s.Root() {
		t.Fatal("parallel and sequential application disagree on the state root")
	}
	if st := n.s.BlobStatus(newID); st.Kind != staking.StatusCertified {
		t.Fatalf("fresh blob status %v", st.Kind)
	}
}

func TestNewStateValidates(t *testing.T) {
	n := newTnet(t, 1)
	k := n.nodeKey("n1")
	good := func() *staking.Genesis {
		return &staking.Genesis{Network: "x", NShards: 10, EpochDuration: 100,
			Faucet: staking.GenesisAccount{Address: n.addr("faucet"), Balance: 1},
			Nodes:  []staking.GenesisNode{{BLSKey: k.PublicKey(), PoP: k.ProvePossession(), Stake: 5}}}
	}
	if _, err := staking.NewState(good()); err != nil {
		t.Fatalf("good genesis: %v", err)
	}
	cases := map[string]func(g *staking.Genesis){
		"shards":       func(g *staking.Genesis) { g.NShards = 3 },
		"duration":     func(g *staking.Genesis) { g.EpochDuration = 1 },
		"name":         func(g *staking.Genesis) { g.Network = "" },
		"no nodes":     func(g *staking.Genesis) { g.Nodes = nil },
		"no stake":     func(g *staking.Genesis) { g.Nodes[0].Stake = 0 },
		"dup account":  func(g *staking.Genesis) { g.Accounts = []staking.GenesisAccount{g.Faucet} },
		"dup node":     func(g *staking.Genesis) { g.Nodes = append(g.Nodes, g.Nodes[0]) },
		"bad pop":      func(g *staking.Genesis) { g.Nodes[0].PoP = bls.Signature{} },
		"commission":   func(g *staking.Genesis) { g.Nodes[0].Info.Commission = 10001 },
		"long peer ID": func(g *staking.Genesis) { g.Nodes[0].Info.PeerID = string(make([]byte, 200)) },
		"overflow": func(g *staking.Genesis) {
			g.Accounts = []staking.GenesisAccount{{Address: n.addr("a"), Balance: ^uint64(0)}}
		},
	}
	for name, mut := range cases {
		g := good()
		mut(g)
		if _, err := staking.NewState(g); !errors.Is(err, staking.ErrBadGenesis) {
			t.Errorf("%s: err %v, want ErrBadGenesis", name, err)
		}
	}
}
