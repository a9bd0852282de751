package bls_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/epoch/bls"
)

// seeded returns a deterministic reader of key material for key i.
func seeded(i uint64) *rand.ChaCha8 {
	var seed [32]byte
	seed[0] = byte(i)
	seed[1] = byte(i >> 8)
	return rand.NewChaCha8(seed)
}

func keys(t testing.TB, n int) []*bls.SecretKey {
	t.Helper()
	out := make([]*bls.SecretKey, n)
	for i := range out {
		k, err := bls.GenerateKey(seeded(uint64(i)))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = k
	}
	return out
}

// identityG1 and identityG2 are the compressed encodings of the points at infinity
// (compression and infinity flags set, everything else zero).
func identityG1() (pk bls.PublicKey) { pk[0] = 0xc0; return }
func identityG2() (s bls.Signature)  { s[0] = 0xc0; return }

func TestSignVerify(t *testing.T) {
	ks := keys(t, 2)
	msg := []byte("walrus")
	sig := ks[0].Sign(msg)
	if err := bls.Verify(ks[0].PublicKey(), msg, sig); err != nil {
		t.Fatalf("valid signature rejected: %v", err)
	}
	if err := bls.Verify(ks[0].PublicKey(), []byte("walruz"), sig); !errors.Is(err, bls.ErrBadSignature) {
		t.Fatalf("wrong message: got %v", err)
	}
	if err := bls.Verify(ks[1].PublicKey(), msg, sig); !errors.Is(err, bls.ErrBadSignature) {
		t.Fatalf("wrong key: got %v", err)
	}
	// Deterministic: same key and message give the same signature.
	if ks[0].Sign(msg) != sig {
		t.Fatal("signing is not deterministic")
	}
}

func TestKeyDeterminismAndRoundTrip(t *testing.T) {
	a, b := keys(t, 1)[0], keys(t, 1)[0]
	if a.PublicKey() != b.PublicKey() {
		t.Fatal("same seed gave different keys")
	}
	c, err := bls.SecretKeyFromBytes(a.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicKey() != a.PublicKey() {
		t.Fatal("secret key round trip changed the public key")
	}
	if err := a.PublicKey().Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := bls.SecretKeyFromBytes(make([]byte, 31)); !errors.Is(err, bls.ErrBadSecretKey) {
		t.Fatalf("short secret key: %v", err)
	}
	if _, err := bls.SecretKeyFromBytes(make([]byte, 32)); !errors.Is(err, bls.ErrBadSecretKey) {
		t.Fatalf("zero secret key: %v", err)
	}
	if _, err := bls.SecretKeyFromBytes(bytes.Repeat([]byte{0xff}, 32)); !errors.Is(err, bls.ErrBadSecretKey) {
		t.Fatalf("secret key above the group order: %v", err)
	}
	if _, err := bls.GenerateKey(bytes.NewReader(make([]byte, 8))); err == nil {
		t.Fatal("short key material accepted")
	}
}

func TestPossession(t *testing.T) {
	ks := keys(t, 2)
	pop := ks[0].ProvePossession()
	if err := bls.VerifyPossession(ks[0].PublicKey(), pop); err != nil {
		t.Fatal(err)
	}
	if err := bls.VerifyPossession(ks[1].PublicKey(), pop); err == nil {
		t.Fatal("proof accepted for another key")
	}
	// A plain signature on the key bytes is not a proof of possession (different DST).
	pk := ks[0].PublicKey()
	if err := bls.VerifyPossession(pk, ks[0].Sign(pk[:])); err == nil {
		t.Fatal("signature under the NUL ciphersuite accepted as a PoP")
	}
	// And a PoP is not a signature on the key bytes.
	if err := bls.Verify(pk, pk[:], pop); err == nil {
		t.Fatal("PoP accepted as a signature")
	}
	if err := bls.VerifyPossession(identityG1(), identityG2()); err == nil {
		t.Fatal("identity PoP accepted")
	}
}

func TestAggregate(t *testing.T) {
	ks := keys(t, 5)
	msg := []byte("certificate body")
	sigs := make([]bls.Signature, len(ks))
	pks := make([]bls.PublicKey, len(ks))
	for i, k := range ks {
		sigs[i] = k.Sign(msg)
		pks[i] = k.PublicKey()
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		t.Fatal(err)
	}
	if err := bls.FastAggregateVerify(pks, msg, agg); err != nil {
		t.Fatalf("valid aggregate rejected: %v", err)
	}
	// Order of keys does not matter.
	rev := []bls.PublicKey{pks[4], pks[3], pks[2], pks[1], pks[0]}
	if err := bls.FastAggregateVerify(rev, msg, agg); err != nil {
		t.Fatalf("reordered keys: %v", err)
	}
	if err := bls.FastAggregateVerify(pks[:4], msg, agg); err == nil {
		t.Fatal("aggregate accepted for a missing signer")
	}
	if err := bls.FastAggregateVerify(append(pks[:4:4], pks[0]), msg, agg); err == nil {
		t.Fatal("aggregate accepted with a signer swapped for a duplicate")
	}
	if err := bls.FastAggregateVerify(pks, []byte("other"), agg); err == nil {
		t.Fatal("aggregate accepted on the wrong message")
	}
	if _, err := bls.Aggregate(nil); !errors.Is(err, bls.ErrNoSignatures) {
		t.Fatalf("empty aggregate: %v", err)
	}
	if err := bls.FastAggregateVerify(nil, msg, agg); !errors.Is(err, bls.ErrNoSignatures) {
		t.Fatalf("empty key set: %v", err)
	}
	// A single-signature aggregate is the signature itself.
	one, err := bls.Aggregate(sigs[:1])
	if err != nil || one != sigs[0] {
		t.Fatalf("aggregate of one: %v", err)
	}
}

func TestMalformedPointsRejected(t *testing.T) {
	k := keys(t, 1)[0]
	msg := []byte("m")
	sig := k.Sign(msg)
	pk := k.PublicKey()

	// Identity public key and identity signature.
	if err := identityG1().Validate(); !errors.Is(err, bls.ErrBadPublicKey) {
		t.Fatalf("identity key: %v", err)
	}
	if err := bls.Verify(identityG1(), msg, sig); !errors.Is(err, bls.ErrBadPublicKey) {
		t.Fatalf("identity key verify: %v", err)
	}
	if err := identityG2().Validate(); !errors.Is(err, bls.ErrBadSignature) {
		t.Fatalf("identity signature: %v", err)
	}
	if err := bls.Verify(pk, msg, identityG2()); !errors.Is(err, bls.ErrBadSignature) {
		t.Fatalf("identity signature verify: %v", err)
	}
	if _, err := bls.Aggregate([]bls.Signature{sig, identityG2()}); err == nil {
		t.Fatal("identity signature aggregated")
	}
	// Zero bytes (no compression flag), random garbage, flipped bits.
	var zeroPK bls.PublicKey
	var zeroSig bls.Signature
	if err := bls.Verify(zeroPK, msg, sig); err == nil {
		t.Fatal("zero key accepted")
	}
	if err := bls.Verify(pk, msg, zeroSig); err == nil {
		t.Fatal("zero signature accepted")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200; i++ {
		bad := sig
		bad[1+r.IntN(len(bad)-1)] ^= byte(1 + r.IntN(255))
		if err := bls.Verify(pk, msg, bad); err == nil {
			t.Fatalf("corrupted signature %d accepted", i)
		}
		badPK := pk
		badPK[1+r.IntN(len(badPK)-1)] ^= byte(1 + r.IntN(255))
		if err := bls.Verify(badPK, msg, sig); err == nil {
			t.Fatalf("corrupted key %d accepted", i)
		}
	}
	// A public key used where the aggregate contains an invalid key.
	if err := bls.FastAggregateVerify([]bls.PublicKey{pk, zeroPK}, msg, sig); err == nil {
		t.Fatal("aggregate verify with an invalid key accepted")
	}
}

// TestIdentityAggregateRejected: an attacker holding keys k and -k (both with valid PoPs)
// cannot use the identity as an aggregate signature over their summed (identity) key.
func TestIdentityAggregateRejected(t *testing.T) {
	ks := keys(t, 2)
	pks := []bls.PublicKey{ks[0].PublicKey(), ks[1].PublicKey()}
	if err := bls.FastAggregateVerify(pks, []byte("x"), identityG2()); !errors.Is(err, bls.ErrBadSignature) {
		t.Fatalf("identity aggregate: %v", err)
	}
}

func BenchmarkVerify(b *testing.B) {
	k := keys(b, 1)[0]
	msg := []byte("benchmark message of moderate length, like a vote body")
	sig := k.Sign(msg)
	pk := k.PublicKey()
	b.ResetTimer()
	for b.Loop() {
		if err := bls.Verify(pk, msg, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	k := keys(b, 1)[0]
	msg := []byte("benchmark message of moderate length, like a vote body")
	for b.Loop() {
		k.Sign(msg)
	}
}

func TestPreparedKeys(t *testing.T) {
	ks := keys(t, 3)
	msg := []byte("prepared")
	var sigs []bls.Signature
	var pre []*bls.PreparedKey
	for _, k := range ks {
		sigs = append(sigs, k.Sign(msg))
		p, err := k.PublicKey().Prepare()
		if err != nil {
			t.Fatal(err)
		}
		pre = append(pre, p)
	}
	agg, _ := bls.Aggregate(sigs)
	if err := bls.FastAggregateVerifyPrepared(pre, msg, agg); err != nil {
		t.Fatal(err)
	}
	if err := bls.FastAggregateVerifyPrepared(pre[:2], msg, agg); err == nil {
		t.Fatal("subset accepted")
	}
	if err := bls.FastAggregateVerifyPrepared(append(pre[:2:2], nil), msg, agg); !errors.Is(err, bls.ErrBadPublicKey) {
		t.Fatalf("nil prepared key: %v", err)
	}
	if err := bls.FastAggregateVerifyPrepared(nil, msg, agg); !errors.Is(err, bls.ErrNoSignatures) {
		t.Fatalf("empty: %v", err)
	}
	if _, err := identityG1().Prepare(); err == nil {
		t.Fatal("identity key prepared")
	}
}

func benchAggregate(b *testing.B, prepared bool) {
	ks := keys(b, 67)
	msg := []byte("certificate body")
	sigs := make([]bls.Signature, len(ks))
	pks := make([]bls.PublicKey, len(ks))
	pre := make([]*bls.PreparedKey, len(ks))
	for i, k := range ks {
		sigs[i] = k.Sign(msg)
		pks[i] = k.PublicKey()
		pre[i], _ = pks[i].Prepare()
	}
	agg, _ := bls.Aggregate(sigs)
	b.ResetTimer()
	for b.Loop() {
		var err error
		if prepared {
			err = bls.FastAggregateVerifyPrepared(pre, msg, agg)
		} else {
			err = bls.FastAggregateVerify(pks, msg, agg)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFastAggregateVerify67(b *testing.B)         { benchAggregate(b, false) }
func BenchmarkFastAggregateVerify67Prepared(b *testing.B) { benchAggregate(b, true) }

func TestVerifyPrepared(t *testing.T) {
	ks := keys(t, 2)
	msg := []byte("vote")
	p, err := ks[0].PublicKey().Prepare()
	if err != nil {
		t.Fatal(err)
	}
	if err := bls.VerifyPrepared(p, msg, ks[0].Sign(msg)); err != nil {
		t.Fatal(err)
	}
	if err := bls.VerifyPrepared(p, msg, ks[1].Sign(msg)); !errors.Is(err, bls.ErrBadSignature) {
		t.Fatalf("other signer: %v", err)
	}
	if err := bls.VerifyPrepared(p, msg, identityG2()); !errors.Is(err, bls.ErrBadSignature) {
		t.Fatalf("identity signature: %v", err)
	}
	if err := bls.VerifyPrepared(nil, msg, ks[0].Sign(msg)); !errors.Is(err, bls.ErrBadPublicKey) {
		t.Fatalf("nil key: %v", err)
	}
}
