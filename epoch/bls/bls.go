// Package bls wraps BLS12-381 min-pk signatures (public keys in G1, 48 bytes; signatures in
// G2, 96 bytes), the scheme Walrus uses for storage confirmations and certificates
// (docs/protocol.md §5), on supranational/blst. Same-message aggregates are verified with
// FastAggregateVerify; every key must carry a proof of possession, which is what makes that
// safe against rogue-key attacks.
//
// The signing DST is the IETF "NUL" ciphersuite that fastcrypto (Walrus) uses, so a signature
// made here verifies in Walrus's code and vice versa.
package bls

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"

	blst "github.com/supranational/blst/bindings/go"
)

const (
	// PublicKeySize is the compressed G1 public key size.
	PublicKeySize = 48
	// SignatureSize is the compressed G2 signature size.
	SignatureSize = 96
	// SecretKeySize is the serialized secret key size.
	SecretKeySize = 32
)

var (
	sigDST = []byte("BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_NUL_")
	popDST = []byte("BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_")
)

// Errors returned for malformed keys and signatures.
var (
	ErrBadPublicKey = errors.New("bls: malformed or invalid public key")
	ErrBadSignature = errors.New("bls: malformed or invalid signature")
	ErrBadSecretKey = errors.New("bls: malformed secret key")
	ErrNoSignatures = errors.New("bls: nothing to aggregate")
)

// PublicKey is a compressed G1 point.
type PublicKey [PublicKeySize]byte

// Signature is a compressed G2 point.
type Signature [SignatureSize]byte

// SecretKey is a BLS secret scalar with its public key.
type SecretKey struct {
	sk *blst.SecretKey
	pk PublicKey
}

// GenerateKey derives a key from 32 bytes or more of input keying material read from r
// (crypto/rand when r is nil). Tests pass a seeded reader for determinism.
func GenerateKey(r io.Reader) (*SecretKey, error) {
	if r == nil {
		r = rand.Reader
	}
	var ikm [32]byte
	if _, err := io.ReadFull(r, ikm[:]); err != nil {
		return nil, fmt.Errorf("bls: reading key material: %w", err)
	}
	sk := blst.KeyGen(ikm[:])
	if sk == nil {
		return nil, ErrBadSecretKey
	}
	return newSecretKey(sk), nil
}

func newSecretKey(sk *blst.SecretKey) *SecretKey {
	var pk PublicKey
	copy(pk[:], new(blst.P1Affine).From(sk).Compress())
	return &SecretKey{sk: sk, pk: pk}
}

// SecretKeyFromBytes parses a 32-byte big-endian secret key.
func SecretKeyFromBytes(b []byte) (*SecretKey, error) {
	if len(b) != SecretKeySize {
		return nil, ErrBadSecretKey
	}
	sk := new(blst.SecretKey).Deserialize(b)
	if sk == nil || !sk.Valid() {
		return nil, ErrBadSecretKey
	}
	return newSecretKey(sk), nil
}

// Bytes serializes the secret key (32 bytes, big-endian).
func (k *SecretKey) Bytes() []byte { return k.sk.Serialize() }

// PublicKey returns the compressed public key.
func (k *SecretKey) PublicKey() PublicKey { return k.pk }

// Sign signs msg with the NUL ciphersuite.
func (k *SecretKey) Sign(msg []byte) Signature {
	var s Signature
	copy(s[:], new(blst.P2Affine).Sign(k.sk, msg, sigDST).Compress())
	return s
}

// ProvePossession signs the public key itself under the POP ciphersuite. The result is
// registered with the key (docs/architecture.md §3) and checked with VerifyPossession.
func (k *SecretKey) ProvePossession() Signature {
	var s Signature
	copy(s[:], new(blst.P2Affine).Sign(k.sk, k.pk[:], popDST).Compress())
	return s
}

func (pk PublicKey) point() (*blst.P1Affine, error) {
	p := new(blst.P1Affine).Uncompress(pk[:])
	if p == nil || !p.KeyValidate() {
		return nil, ErrBadPublicKey
	}
	return p, nil
}

// point decodes and validates a signature. The identity point is rejected: it is never an
// honest signature, and accepting it would let a set of keys summing to the identity (each
// with its own proof of possession, all held by one attacker) "sign" anything.
func (s Signature) point() (*blst.P2Affine, error) {
	p := new(blst.P2Affine).Uncompress(s[:])
	if p == nil || !p.SigValidate(true) {
		return nil, ErrBadSignature
	}
	return p, nil
}

// Validate reports whether pk is a well-formed, non-identity point in the G1 subgroup.
func (pk PublicKey) Validate() error {
	_, err := pk.point()
	return err
}

// Validate reports whether s is a well-formed, non-identity point in the G2 subgroup.
func (s Signature) Validate() error {
	_, err := s.point()
	return err
}

// Verify checks one signature. It returns nil only for a valid signature.
func Verify(pk PublicKey, msg []byte, sig Signature) error {
	p, err := pk.point()
	if err != nil {
		return err
	}
	s, err := sig.point()
	if err != nil {
		return err
	}
	if !s.Verify(false, p, false, msg, sigDST) {
		return ErrBadSignature
	}
	return nil
}

// VerifyPossession checks a proof of possession for pk.
func VerifyPossession(pk PublicKey, pop Signature) error {
	p, err := pk.point()
	if err != nil {
		return err
	}
	s, err := pop.point()
	if err != nil {
		return err
	}
	if !s.Verify(false, p, false, pk[:], popDST) {
		return ErrBadSignature
	}
	return nil
}

// Aggregate adds signatures into one. Each must be a valid G2 point.
func Aggregate(sigs []Signature) (Signature, error) {
	var out Signature
	if len(sigs) == 0 {
		return out, ErrNoSignatures
	}
	agg := new(blst.P2Aggregate)
	for i := range sigs {
		p, err := sigs[i].point()
		if err != nil {
			return out, fmt.Errorf("signature %d: %w", i, err)
		}
		agg.Add(p, false)
	}
	copy(out[:], agg.ToAffine().Compress())
	return out, nil
}

// FastAggregateVerify checks that sig is an aggregate of signatures on msg by exactly pks.
// Only keys with a verified proof of possession may be passed (the registry guarantees it).
func FastAggregateVerify(pks []PublicKey, msg []byte, sig Signature) error {
	if len(pks) == 0 {
		return ErrNoSignatures
	}
	s, err := sig.point()
	if err != nil {
		return err
	}
	pts := make([]*blst.P1Affine, len(pks))
	for i := range pks {
		if pts[i], err = pks[i].point(); err != nil {
			return fmt.Errorf("public key %d: %w", i, err)
		}
	}
	if !s.FastAggregateVerify(false, pts, msg, sigDST) {
		return ErrBadSignature
	}
	return nil
}

// PreparedKey is a public key decompressed and validated once. Certificate checks against a
// committee reuse it: decompressing and subgroup-checking 67 keys costs several times the one
// pairing check that FastAggregateVerify itself needs.
type PreparedKey struct {
	p *blst.P1Affine
}

// Prepare decompresses and validates pk.
func (pk PublicKey) Prepare() (*PreparedKey, error) {
	p, err := pk.point()
	if err != nil {
		return nil, err
	}
	return &PreparedKey{p: p}, nil
}

// FastAggregateVerifyPrepared is FastAggregateVerify over prepared keys.
func FastAggregateVerifyPrepared(pks []*PreparedKey, msg []byte, sig Signature) error {
	if len(pks) == 0 {
		return ErrNoSignatures
	}
	s, err := sig.point()
	if err != nil {
		return err
	}
	pts := make([]*blst.P1Affine, len(pks))
	for i, k := range pks {
		if k == nil || k.p == nil {
			return fmt.Errorf("public key %d: %w", i, ErrBadPublicKey)
		}
		pts[i] = k.p
	}
	if !s.FastAggregateVerify(false, pts, msg, sigDST) {
		return ErrBadSignature
	}
	return nil
}

// VerifyPrepared is Verify with a prepared public key.
func VerifyPrepared(pk *PreparedKey, msg []byte, sig Signature) error {
	if pk == nil || pk.p == nil {
		return ErrBadPublicKey
	}
	s, err := sig.point()
	if err != nil {
		return err
	}
	if !s.Verify(false, pk.p, false, msg, sigDST) {
		return ErrBadSignature
	}
	return nil
}
