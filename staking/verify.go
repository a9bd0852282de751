package staking

import (
	"encoding/binary"
	"sync"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
)

// VerifyCache remembers BLS verifications that succeeded (single signatures: proofs of
// possession, sync done, challenge results; and certificates), keyed by a hash of
// everything the check depends on. Only successes are kept, so a hit is exactly as good as
// a fresh verification and a State using a cache applies transactions exactly as one
// without. It is a bounded ring, safe for concurrent use. The consensus actor gives one to
// the states it dry-runs and validates on, and fills it from its verification workers off
// the actor (VerifyTxBLS), so the pairings of an admitted transaction are paid once.
type VerifyCache struct {
	mu   sync.Mutex
	ok   map[[32]byte]struct{}
	ring [][32]byte
	next int
}

// NewVerifyCache returns a cache of at most n entries (n >= 1).
func NewVerifyCache(n int) *VerifyCache {
	n = max(n, 1)
	return &VerifyCache{ok: make(map[[32]byte]struct{}, n), ring: make([][32]byte, n)}
}

func (c *VerifyCache) has(k [32]byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ok[k]
	return ok
}

func (c *VerifyCache) add(k [32]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.ok[k]; dup {
		return
	}
	delete(c.ok, c.ring[c.next])
	c.ring[c.next] = k
	c.ok[k] = struct{}{}
	c.next = (c.next + 1) % len(c.ring)
}

// Len is the number of cached successes.
func (c *VerifyCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ok)
}

func sigKey(pk bls.PublicKey, msg []byte, sig bls.Signature) [32]byte {
	h, _ := blake2b.New256(nil)
	h.Write([]byte{'s'})
	h.Write(pk[:])
	h.Write(sig[:])
	h.Write(msg)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// certKey names a certificate check. The committee is the one of cert.Epoch on this network
// (msg binds both), which one chain defines once.
func certKey(msg []byte, cert *epoch.Certificate, th epoch.Threshold) [32]byte {
	h, _ := blake2b.New256(nil)
	var b [9]byte
	b[0] = 'c'
	binary.LittleEndian.PutUint32(b[1:], cert.Epoch)
	binary.LittleEndian.PutUint32(b[5:], uint32(th))
	h.Write(b[:])
	h.Write(cert.Signature[:])
	var l [4]byte
	binary.LittleEndian.PutUint32(l[:], uint32(len(cert.Signers)))
	h.Write(l[:])
	h.Write(cert.Signers)
	h.Write(msg)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// SetVerifyCache makes s (and its clones) consult and fill c. Not part of the state.
func (s *State) SetVerifyCache(c *VerifyCache) { s.cache = c }

func (s *State) blsVerify(pk bls.PublicKey, msg []byte, sig bls.Signature) error {
	if s.cache == nil {
		return bls.Verify(pk, msg, sig)
	}
	k := sigKey(pk, msg, sig)
	if s.cache.has(k) {
		return nil
	}
	if err := bls.Verify(pk, msg, sig); err != nil {
		return err
	}
	s.cache.add(k)
	return nil
}

func (s *State) certVerify(msg []byte, cert *epoch.Certificate, th epoch.Threshold) error {
	if s.cache == nil {
		return s.committee.VerifyCertificate(msg, cert, th)
	}
	k := certKey(msg, cert, th)
	if s.cache.has(k) {
		return nil
	}
	if err := s.committee.VerifyCertificate(msg, cert, th); err != nil {
		return err
	}
	s.cache.add(k)
	return nil
}

// NeedsBLS reports whether applying op performs a BLS verification (VerifyCount > 0).
func NeedsBLS(op Op) bool { return VerifyCount(op) > 0 }

// VerifyTxBLS performs the BLS check of tx's operation against s's current committee and,
// on success, records it in s's cache, so that applying tx later (on s or a clone of it)
// does not repeat it. It returns an error only when the check runs and fails; an operation
// without a BLS check, or one that the state would refuse before reaching it (not a
// member, another epoch), returns nil. It only reads s's network, epoch and committee, so
// it may run concurrently on a published (immutable) State, off the consensus actor.
func (s *State) VerifyTxBLS(tx *SignedTx) error {
	var sender Address
	if len(tx.Tx.Sender) == 32 {
		sender = AddressOf(tx.Tx.Sender)
	}
	switch op := tx.Tx.Op.(type) {
	case *RegisterNode:
		return s.blsVerify(op.BLSKey, PossessionMessage(s.network, sender, op.BLSKey), op.PoP)
	case *CertifyBlob:
		if op.Cert.Epoch != s.ep {
			return nil
		}
		return s.verifyCert(ConfirmationMessage(s.network, s.ep, op.BlobID, op.Deletable, op.Blob), &op.Cert, epoch.ThresholdQuorum)
	case *InvalidateBlob:
		if op.Cert.Epoch != s.ep {
			return nil
		}
		return s.verifyCert(InvalidBlobMessage(s.network, s.ep, op.BlobID), &op.Cert, epoch.ThresholdValidity)
	case *SyncDone:
		i := s.committee.MemberIndex(op.Node)
		if i < 0 || op.Epoch != s.ep {
			return nil
		}
		return s.blsVerify(s.committee.Members[i].BLSKey, SyncDoneMessage(s.network, s.ep, op.Node), op.Sig)
	case *ChallengeResults:
		i := s.committee.MemberIndex(op.Attester)
		if i < 0 || op.Epoch != s.ep {
			return nil
		}
		return s.blsVerify(s.committee.Members[i].BLSKey, ChallengeMessage(s.network, s.ep, op.Results), op.Sig)
	}
	return nil
}

// Precheck runs the cheap admission checks of tx (size bytes signed) against s without
// verifying any signature: an operation, the expiry height (against the next checkpoint's
// height), and that the sender can pay the fee now (CodeFee). It returns the sender's next
// nonce, for the caller's nonce window, and an OK receipt carrying the fee tx would pay,
// or the rejection. It reads only, so it may run concurrently on a published State.
func (s *State) Precheck(tx *SignedTx, size int) (next uint64, r Receipt) {
	if tx.Tx.Op == nil || len(tx.Tx.Sender) != 32 {
		return 0, reject(CodeMalformed, "no operation")
	}
	acc := s.accounts.get(AddressOf(tx.Tx.Sender))
	var bal uint64
	if acc != nil {
		next, bal = acc.Nonce, acc.Balance
	}
	fee, r := s.feeCheck(&tx.Tx, size, bal)
	r.Fee = fee
	return next, r
}

// feeCheck is the expiry and fee part of admission for a sender with balance bal.
func (s *State) feeCheck(tx *Tx, size int, bal uint64) (uint64, Receipt) {
	if tx.Expiry != 0 && s.height+1 > tx.Expiry {
		return 0, reject(CodeTxExpired, "expired at height %d, next height %d", tx.Expiry, s.height+1)
	}
	req, ok := RequiredFee(s.prices.Fees, tx, size)
	if !ok {
		// No balance can pay a minimum beyond u64: not admitted, like any unpayable fee
		// (CodeOverflow is an admitted operation's refusal, after it paid).
		return 0, reject(CodeFee, "the minimum fee overflows")
	}
	fee := max(tx.Fee, req)
	if bal < fee {
		return 0, reject(CodeFee, "balance %d cannot pay fee %d", bal, fee)
	}
	return fee, Receipt{}
}

// TxBLSCached reports whether s's cache already holds tx's BLS check (or tx needs none
// that could run), so VerifyTxBLS would cost no pairing.
func (s *State) TxBLSCached(tx *SignedTx) bool {
	if s.cache == nil {
		return !NeedsBLS(tx.Tx.Op)
	}
	var sender Address
	if len(tx.Tx.Sender) == 32 {
		sender = AddressOf(tx.Tx.Sender)
	}
	switch op := tx.Tx.Op.(type) {
	case *RegisterNode:
		return s.cache.has(sigKey(op.BLSKey, PossessionMessage(s.network, sender, op.BLSKey), op.PoP))
	case *CertifyBlob:
		return op.Cert.Epoch != s.ep || s.cache.has(certKey(ConfirmationMessage(s.network, s.ep, op.BlobID, op.Deletable, op.Blob), &op.Cert, epoch.ThresholdQuorum))
	case *InvalidateBlob:
		return op.Cert.Epoch != s.ep || s.cache.has(certKey(InvalidBlobMessage(s.network, s.ep, op.BlobID), &op.Cert, epoch.ThresholdValidity))
	case *SyncDone:
		i := s.committee.MemberIndex(op.Node)
		return i < 0 || op.Epoch != s.ep || s.cache.has(sigKey(s.committee.Members[i].BLSKey, SyncDoneMessage(s.network, s.ep, op.Node), op.Sig))
	case *ChallengeResults:
		i := s.committee.MemberIndex(op.Attester)
		return i < 0 || op.Epoch != s.ep || s.cache.has(sigKey(s.committee.Members[i].BLSKey, ChallengeMessage(s.network, s.ep, op.Results), op.Sig))
	}
	return true
}
