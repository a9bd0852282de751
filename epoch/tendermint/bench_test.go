package tendermint_test

import (
	"testing"

	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

// BenchmarkVerifyCommit67of100: a follower checking one commit certificate of 67 precommits
// at n=1000 shards (100 members of 10).
func BenchmarkVerifyCommit67of100(b *testing.B) {
	w := make([]int, 100)
	for i := range w {
		w[i] = 10
	}
	c, keys := epochtest.Committee(1, w, 1)
	v := tendermint.HashValue([]byte("checkpoint"))
	msg := tendermint.VoteSignBytes(testNet, c.Epoch, tendermint.Precommit, 12, 0, v)
	cc := &tendermint.CommitCert{Round: 0}
	cc.Cert.Epoch = c.Epoch
	cc.Cert.Signers = make([]byte, 13)
	var sigs []bls.Signature
	for i := 0; i < 67; i++ {
		cc.Cert.Signers[i/8] |= 1 << (i % 8)
		sigs = append(sigs, keys[i].Sign(msg))
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		b.Fatal(err)
	}
	cc.Cert.Signature = agg
	b.ResetTimer()
	for b.Loop() {
		if err := tendermint.VerifyCommit(c, testNet, 12, v, cc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProposerSequence100: the per-committee rotation table at n=1000, 100 members.
func BenchmarkProposerSequence100(b *testing.B) {
	w := make([]int, 100)
	for i := range w {
		w[i] = 10
	}
	c, _ := epochtest.Committee(1, w, 1)
	for b.Loop() {
		tendermint.ProposerSequence(c)
	}
}
