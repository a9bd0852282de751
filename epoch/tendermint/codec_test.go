package tendermint_test

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
)

func toSigs(s [][96]byte) []bls.Signature {
	out := make([]bls.Signature, len(s))
	for i := range s {
		out[i] = s[i]
	}
	return out
}

func sampleMessages() []tendermint.Message {
	var sig bls.Signature
	sig[0], sig[95] = 0xaa, 0xbb
	return []tendermint.Message{
		&tendermint.Proposal{Height: 9, Round: 3, ValidRound: -1, Value: []byte("value"), Proposer: 2, Signature: sig},
		&tendermint.Proposal{Height: 9, Round: 3, ValidRound: 1, Value: []byte{}, Proposer: 0, Signature: sig},
		&tendermint.Vote{Type: tendermint.Prevote, Height: 1 << 40, Round: 7, Value: tendermint.HashValue([]byte("v")), Validator: 3, Signature: sig},
		&tendermint.Vote{Type: tendermint.Precommit, Height: 2, Round: 0, Validator: 1, Signature: sig},
		&tendermint.Decision{Height: 5, Value: []byte("d"), Commit: tendermint.CommitCert{Round: 4, Cert: epoch.Certificate{Epoch: 2, Signers: []byte{7}, Signature: sig}}},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for i, m := range sampleMessages() {
		b, err := tendermint.Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		d, err := tendermint.Decode(b, 1<<20)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if !reflect.DeepEqual(d, m) {
			t.Fatalf("message %d: got %+v want %+v", i, d, m)
		}
		for k := 0; k < len(b); k++ {
			if _, err := tendermint.Decode(b[:k], 1<<20); err == nil {
				t.Fatalf("message %d truncated to %d accepted", i, k)
			}
		}
		if _, err := tendermint.Decode(append(b, 0), 1<<20); !errors.Is(err, tendermint.ErrMalformed) {
			t.Fatalf("message %d with trailing byte: %v", i, err)
		}
	}
	// Value cap is enforced before allocation.
	b, _ := tendermint.Encode(sampleMessages()[0])
	if _, err := tendermint.Decode(b, 4); !errors.Is(err, tendermint.ErrMalformed) {
		t.Fatalf("oversized value: %v", err)
	}
	if _, err := tendermint.Decode([]byte{99}, 10); !errors.Is(err, tendermint.ErrMalformed) {
		t.Fatalf("unknown tag: %v", err)
	}
	if _, err := tendermint.Encode(&tendermint.Vote{Type: 9}); err == nil {
		t.Fatal("bad vote type encoded")
	}
}

func TestDecodeRandomMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, m := range sampleMessages() {
		b, _ := tendermint.Encode(m)
		for i := 0; i < 2000; i++ {
			x := append([]byte(nil), b...)
			x[r.IntN(len(x))] = byte(r.Uint32())
			d, err := tendermint.Decode(x, 1<<16)
			if err != nil {
				continue
			}
			y, err := tendermint.Encode(d)
			if err != nil || string(y) != string(x) {
				t.Fatalf("accepted mutation does not re-encode")
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		b, _ := tendermint.Encode(m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := tendermint.Decode(b, 1<<16)
		if err != nil {
			return
		}
		re, err := tendermint.Encode(m)
		if err != nil || string(re) != string(b) {
			t.Fatal("accepted input does not re-encode identically")
		}
	})
}

func TestProposerSequence(t *testing.T) {
	weights := []int{5, 1, 3, 3, 2, 4, 2}
	c, _ := epochtest.Committee(1, weights, 2)
	seq := tendermint.ProposerSequence(c)
	if len(seq) != c.NShards {
		t.Fatalf("sequence of %d for %d shards", len(seq), c.NShards)
	}
	count := make([]int, len(c.Members))
	for _, p := range seq {
		count[p]++
	}
	for i, m := range c.Members {
		if count[i] != m.Weight() {
			t.Fatalf("member %d proposes %d times, holds %d shards", i, count[i], m.Weight())
		}
	}
	// Smooth: no member of weight < n/2 proposes twice in a row within the period.
	for k := 0; k+1 < len(seq); k++ {
		a, b := seq[k], seq[k+1]
		if a == b && 2*c.Members[a].Weight() < c.NShards {
			t.Fatalf("member %d proposes twice in a row at %d: %v", a, k, seq)
		}
	}
	if !reflect.DeepEqual(seq, tendermint.ProposerSequence(c)) {
		t.Fatal("sequence not deterministic")
	}
	// Large committees use the stride order: still exactly weight-proportional.
	big := make([]int, 5000)
	for i := range big {
		big[i] = 1 + i%7
	}
	bc, _ := epochtest.Committee(1, big[:5000], 3)
	bs := tendermint.ProposerSequence(bc)
	bcount := make([]int, len(bc.Members))
	for _, p := range bs {
		bcount[p]++
	}
	for i, m := range bc.Members {
		if bcount[i] != m.Weight() {
			t.Fatalf("stride order: member %d proposes %d times, holds %d", i, bcount[i], m.Weight())
		}
	}
}

func TestFakeScheme(t *testing.T) {
	pk := epochtest.Key(1, 0).PublicKey()
	pk2 := epochtest.Key(1, 1).PublicKey()
	s := tendermint.FakeSigner{PK: pk}
	sig := s.Sign([]byte("m"))
	var f tendermint.FakeScheme
	if err := f.Verify(pk, []byte("m"), sig); err != nil {
		t.Fatal(err)
	}
	if f.Verify(pk2, []byte("m"), sig) == nil || f.Verify(pk, []byte("n"), sig) == nil {
		t.Fatal("fake signature verified for another key or message")
	}
	agg, _ := f.Aggregate([]bls.Signature{sig, tendermint.FakeSigner{PK: pk2}.Sign([]byte("m"))})
	if err := f.VerifyAggregate([]bls.PublicKey{pk, pk2}, []byte("m"), agg); err != nil {
		t.Fatal(err)
	}
	if f.VerifyAggregate([]bls.PublicKey{pk}, []byte("m"), agg) == nil {
		t.Fatal("aggregate verified for a subset")
	}
	if _, err := f.Aggregate(nil); err == nil {
		t.Fatal("empty aggregate")
	}
}

// FuzzMachineStep feeds decoded untrusted bytes to a running machine: whatever arrives, Step
// must not panic (its error may be anything).
func FuzzMachineStep(f *testing.F) {
	for _, m := range sampleMessages() {
		b, _ := tendermint.Encode(m)
		f.Add(b)
	}
	c, keys := epochtest.Committee(1, []int{1, 2, 3, 4}, 42)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := tendermint.New(tendermint.Config{Network: testNet, Self: c.Members[0].Node,
			Signer: tendermint.FakeSigner{PK: keys[0].PublicKey()}, Scheme: tendermint.FakeScheme{}, App: &testApp{}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Step(0, tendermint.StartHeight{Height: 9, Committee: c}); err != nil {
			t.Fatal(err)
		}
		msg, err := tendermint.Decode(b, 1<<16)
		if err != nil {
			return
		}
		_, _ = m.Step(0, msg)
		_, _ = m.Step(5000, tendermint.Tick{})
	})
}
