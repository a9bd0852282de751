package epoch

import (
	"errors"
	"fmt"

	"github.com/walrus-go/walrus-go/epoch/bls"
)

// Errors of certificate building.
var (
	ErrNotMember       = errors.New("epoch: signer is not a committee member")
	ErrDuplicateSigner = errors.New("epoch: signer already counted")
)

// CertBuilder collects members' signatures on one message and aggregates them into a
// Certificate once their shard weight reaches a threshold (docs/protocol.md §5: storage
// certificates need n-f shards, invalid-blob certificates f+1). Every signature is verified on
// Add, so one bad signature can never spoil the aggregate. Not safe for concurrent use.
type CertBuilder struct {
	c      *Committee
	msg    []byte
	th     Threshold
	sigs   map[int]bls.Signature
	weight int
}

// NewCertBuilder starts a certificate on msg (the full SignedMessage bytes) for committee c.
func NewCertBuilder(c *Committee, msg []byte, th Threshold) *CertBuilder {
	return &CertBuilder{c: c, msg: msg, th: th, sigs: make(map[int]bls.Signature)}
}

// Add verifies sig as node's signature on the message and counts it. It rejects non-members,
// a second signature from the same member, and invalid signatures, leaving the builder
// unchanged. It reports whether the threshold is now reached.
func (b *CertBuilder) Add(node NodeID, sig bls.Signature) (bool, error) {
	i := b.c.MemberIndex(node)
	if i < 0 {
		return b.Reached(), ErrNotMember
	}
	if _, dup := b.sigs[i]; dup {
		return b.Reached(), ErrDuplicateSigner
	}
	if err := bls.Verify(b.c.Members[i].BLSKey, b.msg, sig); err != nil {
		return b.Reached(), fmt.Errorf("epoch: signature of member %d: %w", i, err)
	}
	b.sigs[i] = sig
	b.weight += b.c.Members[i].Weight()
	return b.Reached(), nil
}

// Weight is the number of shards whose owners have signed so far.
func (b *CertBuilder) Weight() int { return b.weight }

// Reached reports whether the collected weight meets the threshold.
func (b *CertBuilder) Reached() bool {
	if b.th == ThresholdValidity {
		return IsValidity(b.weight, b.c.NShards)
	}
	return IsQuorum(b.weight, b.c.NShards)
}

// Certificate aggregates the collected signatures. It fails with ErrNoQuorum below the
// threshold. Signatures beyond the threshold are included too: a larger signer set costs
// nothing to verify and tells readers more.
func (b *CertBuilder) Certificate() (*Certificate, error) {
	if !b.Reached() {
		return nil, fmt.Errorf("%w: %d of %d shards", ErrNoQuorum, b.weight, b.c.NShards)
	}
	cert := &Certificate{Epoch: b.c.Epoch, Signers: make([]byte, (len(b.c.Members)+7)/8)}
	sigs := make([]bls.Signature, 0, len(b.sigs))
	for i := range b.c.Members {
		if s, ok := b.sigs[i]; ok {
			cert.Signers[i/8] |= 1 << (i % 8)
			sigs = append(sigs, s)
		}
	}
	agg, err := bls.Aggregate(sigs)
	if err != nil {
		return nil, err
	}
	cert.Signature = agg
	return cert, nil
}
