package consensus

import (
	"testing"

	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

type countingScheme struct {
	tendermint.FakeScheme
	calls int
}

func (c *countingScheme) Verify(pk bls.PublicKey, msg []byte, sig bls.Signature) error {
	c.calls++
	return c.FakeScheme.Verify(pk, msg, sig)
}

// TestCachedSchemeCachesOnlySuccess: a verified signature is not verified again, a bad one
// is verified (and refused) every time, and the cache stays bounded.
func TestCachedSchemeCachesOnlySuccess(t *testing.T) {
	inner := &countingScheme{}
	s := newCachedScheme(inner)
	var pk bls.PublicKey
	pk[0] = 1
	good := tendermint.FakeSigner{PK: pk}.Sign([]byte("m"))
	for i := 0; i < 3; i++ {
		if err := s.Verify(pk, []byte("m"), good); err != nil {
			t.Fatal(err)
		}
	}
	if inner.calls != 1 {
		t.Fatalf("%d verifications of one good signature", inner.calls)
	}
	for i := 0; i < 2; i++ {
		if err := s.Verify(pk, []byte("other"), good); err == nil {
			t.Fatal("bad signature accepted")
		}
	}
	if inner.calls != 3 {
		t.Fatalf("bad signature cached: %d calls", inner.calls)
	}
	for i := 0; i < 2*verifyCacheSize; i++ {
		msg := []byte{byte(i), byte(i >> 8), byte(i >> 16)}
		if err := s.Verify(pk, msg, tendermint.FakeSigner{PK: pk}.Sign(msg)); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.ok) > verifyCacheSize {
		t.Fatalf("cache grew to %d", len(s.ok))
	}
}
