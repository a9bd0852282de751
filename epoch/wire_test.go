package epoch_test

import (
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/internal/wire"
	"golang.org/x/crypto/blake2b"
)

// TestNodeIDOf: a node ID is Blake2b-256 of the compressed BLS key.
func TestNodeIDOf(t *testing.T) {
	pk := epochtest.Key(1, 2).PublicKey()
	if got, want := epoch.NodeIDOf(pk), epoch.NodeID(blake2b.Sum256(pk[:])); got != want {
		t.Fatalf("NodeIDOf %x, want %x", got, want)
	}
}

// TestMalformedFamily: committee and certificate decoding failures, short reads and
// semantic caps alike, are ErrEncoding and wire.ErrMalformed.
func TestMalformedFamily(t *testing.T) {
	c, _ := epochtest.Committee(3, []int{2, 2}, 1)
	b, err := c.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	_, err1 := epoch.DecodeCommittee(b[:20])
	_, err2 := epoch.DecodeCommittee(append(b, 0))
	_, err3 := epoch.DecodeCertificate([]byte{0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff})
	_, _, err4 := epoch.ReadCertificate([]byte{1, 2, 3})
	for i, err := range []error{err1, err2, err3, err4} {
		if !errors.Is(err, epoch.ErrEncoding) || !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("case %d: %v is not in the malformed family", i+1, err)
		}
	}
}
