package consensus

import (
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// TestVerifyMessage checks the `consensus` topic's signature check: what members signed
// passes, a forged signature, a non-member index or a forged commit certificate fails.
func TestVerifyMessage(t *testing.T) {
	c, keys := epochtest.Committee(0, []int{3, 3, 3, 3}, 11)
	var network epoch.NetworkID
	network[0] = 1
	s := tendermint.BLSScheme{}
	val := []byte("checkpoint")
	h := tendermint.HashValue(val)

	vote := func(idx uint32, signer int) *tendermint.Vote {
		v := &tendermint.Vote{Type: tendermint.Prevote, Height: 4, Round: 1, Value: h, Validator: idx}
		v.Signature = keys[signer].Sign(tendermint.VoteSignBytes(network, c.Epoch, v.Type, v.Height, v.Round, v.Value))
		return v
	}
	if err := verifyMessage(s, c, network, vote(2, 2)); err != nil {
		t.Fatalf("member's vote: %v", err)
	}
	if err := verifyMessage(s, c, network, vote(2, 1)); err == nil {
		t.Fatal("vote signed by another member's key passed")
	}
	if err := verifyMessage(s, c, network, vote(9, 1)); err == nil {
		t.Fatal("vote from a non-member index passed")
	}
	var other epoch.NetworkID
	other[0] = 2
	if err := verifyMessage(s, c, other, vote(2, 2)); err == nil {
		t.Fatal("vote of another network passed")
	}

	p := &tendermint.Proposal{Height: 4, Round: 0, ValidRound: -1, Value: val, Proposer: 1}
	p.Signature = keys[1].Sign(tendermint.ProposalSignBytes(network, c.Epoch, p.Height, p.Round, p.ValidRound, h))
	if err := verifyMessage(s, c, network, p); err != nil {
		t.Fatalf("proposal: %v", err)
	}
	p.Value = []byte("other value")
	if err := verifyMessage(s, c, network, p); err == nil {
		t.Fatal("proposal with a swapped value passed")
	}

	b := epoch.NewCertBuilder(c, tendermint.VoteSignBytes(network, c.Epoch, tendermint.Precommit, 4, 0, h), epoch.ThresholdQuorum)
	for i := 0; i < 3; i++ {
		if _, err := b.Add(c.Members[i].Node, keys[i].Sign(tendermint.VoteSignBytes(network, c.Epoch, tendermint.Precommit, 4, 0, h))); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := b.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	d := &tendermint.Decision{Height: 4, Value: val, Commit: tendermint.CommitCert{Round: 0, Cert: *cert}}
	if err := verifyMessage(s, c, network, d); err != nil {
		t.Fatalf("decision: %v", err)
	}
	d.Height = 5
	if err := verifyMessage(s, c, network, d); err == nil {
		t.Fatal("decision moved to another height passed")
	}
}
