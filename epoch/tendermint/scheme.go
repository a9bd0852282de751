package tendermint

import (
	"fmt"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"golang.org/x/crypto/blake2b"
)

// Signer signs messages with this node's protocol key. *bls.SecretKey implements it.
type Signer interface {
	Sign(msg []byte) bls.Signature
}

// Scheme verifies and aggregates signatures. BLSScheme is the production scheme; FakeScheme
// lets simulations of hundreds of validators run without pairing costs.
type Scheme interface {
	Verify(pk bls.PublicKey, msg []byte, sig bls.Signature) error
	Aggregate(sigs []bls.Signature) (bls.Signature, error)
	VerifyAggregate(pks []bls.PublicKey, msg []byte, sig bls.Signature) error
}

// BLSScheme is BLS12-381 min-pk through epoch/bls (docs/protocol.md §5).
type BLSScheme struct{}

// Verify implements Scheme.
func (BLSScheme) Verify(pk bls.PublicKey, msg []byte, sig bls.Signature) error {
	return bls.Verify(pk, msg, sig)
}

// Aggregate implements Scheme.
func (BLSScheme) Aggregate(sigs []bls.Signature) (bls.Signature, error) { return bls.Aggregate(sigs) }

// VerifyAggregate implements Scheme with FastAggregateVerify (keys carry proofs of possession).
func (BLSScheme) VerifyAggregate(pks []bls.PublicKey, msg []byte, sig bls.Signature) error {
	return bls.FastAggregateVerify(pks, msg, sig)
}

// FakeScheme is a deterministic stand-in for BLS in simulations: a "signature" is
// Blake2b-256(public key || message) in its first 32 bytes, and an aggregate is the XOR of
// its parts. Anyone can forge it; it only checks that the machine signs and counts correctly.
type FakeScheme struct{}

// FakeSigner signs for public key PK under FakeScheme.
type FakeSigner struct{ PK bls.PublicKey }

// Sign implements Signer.
func (s FakeSigner) Sign(msg []byte) bls.Signature { return fakeSig(s.PK, msg) }

func fakeSig(pk bls.PublicKey, msg []byte) bls.Signature {
	h, _ := blake2b.New256(nil)
	h.Write(pk[:])
	h.Write(msg)
	var s bls.Signature
	copy(s[:], h.Sum(nil))
	s[95] = 1 // never the all-zero string, so a zero signature is always wrong
	return s
}

// Verify implements Scheme.
func (FakeScheme) Verify(pk bls.PublicKey, msg []byte, sig bls.Signature) error {
	if fakeSig(pk, msg) != sig {
		return bls.ErrBadSignature
	}
	return nil
}

// Aggregate implements Scheme.
func (FakeScheme) Aggregate(sigs []bls.Signature) (bls.Signature, error) {
	var out bls.Signature
	if len(sigs) == 0 {
		return out, bls.ErrNoSignatures
	}
	for _, s := range sigs {
		for i := range out {
			out[i] ^= s[i]
		}
	}
	return out, nil
}

// VerifyAggregate implements Scheme.
func (f FakeScheme) VerifyAggregate(pks []bls.PublicKey, msg []byte, sig bls.Signature) error {
	if len(pks) == 0 {
		return bls.ErrNoSignatures
	}
	parts := make([]bls.Signature, len(pks))
	for i, pk := range pks {
		parts[i] = fakeSig(pk, msg)
	}
	want, _ := f.Aggregate(parts)
	if want != sig {
		return bls.ErrBadSignature
	}
	return nil
}

// VerifyCommit checks a commit certificate the way a follower does (docs/architecture.md §4): cert is
// BLS-aggregated precommits on (height, round, value) by members of committee c worth n-f
// shards, for c's epoch on this network.
func VerifyCommit(c *epoch.Committee, network epoch.NetworkID, height uint64, value Hash, commit *CommitCert) error {
	return VerifyCommitWith(BLSScheme{}, c, network, height, value, commit)
}

// VerifyCommitWith is VerifyCommit under any Scheme.
func VerifyCommitWith(s Scheme, c *epoch.Committee, network epoch.NetworkID, height uint64, value Hash, commit *CommitCert) error {
	if value.IsNil() {
		return fmt.Errorf("%w: commit of nil", epoch.ErrBadCertificate)
	}
	if commit.Round < 0 || commit.Round >= MaxRound {
		return fmt.Errorf("%w: round %d", epoch.ErrBadCertificate, commit.Round)
	}
	msg := VoteSignBytes(network, c.Epoch, Precommit, height, commit.Round, value)
	if _, ok := s.(BLSScheme); ok {
		return c.VerifyCertificate(msg, &commit.Cert, epoch.ThresholdQuorum)
	}
	cert := &commit.Cert
	if cert.Epoch != c.Epoch {
		return fmt.Errorf("%w: certificate epoch %d, committee epoch %d", epoch.ErrBadCertificate, cert.Epoch, c.Epoch)
	}
	idx, err := cert.SignerIndices(len(c.Members))
	if err != nil {
		return err
	}
	w := 0
	pks := make([]bls.PublicKey, 0, len(idx))
	for _, i := range idx {
		w += c.Members[i].Weight()
		pks = append(pks, c.Members[i].BLSKey)
	}
	if !epoch.IsQuorum(w, c.NShards) || w == 0 {
		return fmt.Errorf("%w: %d of %d shards", epoch.ErrNoQuorum, w, c.NShards)
	}
	if err := s.VerifyAggregate(pks, msg, cert.Signature); err != nil {
		return fmt.Errorf("%w: %v", epoch.ErrBadCertificate, err)
	}
	return nil
}
