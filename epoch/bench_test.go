package epoch_test

import (
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
)

// BenchmarkVerifyCertificate: 100 members of 10 shards (n=1000), 67 signers (670 shards, just
// over the 667 quorum), the Walrus-Mainnet-sized case of docs/architecture.md §3.
func BenchmarkVerifyCertificate67of100(b *testing.B) {
	w := make([]int, 100)
	for i := range w {
		w[i] = 10
	}
	c, keys := epochtest.Committee(1, w, 1)
	msg := epoch.SignedMessage(epoch.IntentStorageConfirmation, epoch.NetworkID{}, 1, make([]byte, 40))
	builder := epoch.NewCertBuilder(c, msg, epoch.ThresholdQuorum)
	for i := 0; i < 67; i++ {
		if _, err := builder.Add(c.Members[i].Node, keys[i].Sign(msg)); err != nil {
			b.Fatal(err)
		}
	}
	cert, err := builder.Certificate()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if err := c.VerifyCertificate(msg, cert, epoch.ThresholdQuorum); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAggregate67 measures building the aggregate itself from 67 verified signatures.
func BenchmarkAggregate67(b *testing.B) {
	msg := []byte("m")
	sigs := make([]bls.Signature, 67)
	for i := range sigs {
		sigs[i] = epochtest.Key(2, i).Sign(msg)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := bls.Aggregate(sigs); err != nil {
			b.Fatal(err)
		}
	}
}
