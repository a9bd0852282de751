package consensus

import (
	"context"
	"sync"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// cachedScheme remembers signatures that verified, so a consensus message checked by the
// topic validator is not checked again by the machine (a BLS verification is ≈1.4 ms,
// docs/architecture.md §3, and every vote would otherwise be verified twice). Only successes are
// cached, keyed by the hash of (key, message, signature): a hit is exactly as good as a
// fresh verification. Safe for concurrent use (validators run on pubsub's workers).
type cachedScheme struct {
	tendermint.Scheme
	mu   sync.Mutex
	ok   map[[32]byte]struct{}
	ring [][32]byte
	next int
}

const verifyCacheSize = 4096

func newCachedScheme(s tendermint.Scheme) *cachedScheme {
	return &cachedScheme{Scheme: s, ok: make(map[[32]byte]struct{}, verifyCacheSize), ring: make([][32]byte, verifyCacheSize)}
}

func verifyKey(pk bls.PublicKey, msg []byte, sig bls.Signature) [32]byte {
	h, _ := blake2b.New256(nil)
	h.Write(pk[:])
	h.Write(sig[:])
	h.Write(msg)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// Verify implements tendermint.Scheme.
func (c *cachedScheme) Verify(pk bls.PublicKey, msg []byte, sig bls.Signature) error {
	k := verifyKey(pk, msg, sig)
	c.mu.Lock()
	_, hit := c.ok[k]
	c.mu.Unlock()
	if hit {
		return nil
	}
	if err := c.Scheme.Verify(pk, msg, sig); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.ok[k]; !dup {
		delete(c.ok, c.ring[c.next])
		c.ring[c.next] = k
		c.ok[k] = struct{}{}
		c.next = (c.next + 1) % len(c.ring)
	}
	return nil
}

// Transactions' BLS checks (proofs of possession, certificates, sync done, challenge
// results) run off the consensus actor: the `txs` topic validator and SubmitTx/GossipTx do
// them in at most cap(pairing) goroutines at once, after every cheap check, and record
// successes in a staking.VerifyCache that the actor's dry runs, proposals and validation
// consult. The actor then pays a pairing only for a transaction nobody prepared (none in
// normal operation) and for a proposal's certificates it has not seen.

// txVerifyCacheSize bounds the transactions' verify cache.
const txVerifyCacheSize = 16384

// verifyBLS performs tx's BLS check against st in the bounded pool, unless the cache
// already holds it. It returns ctx's error if no worker frees up in time.
func (c *Consensus) verifyBLS(ctx context.Context, st *staking.State, tx *staking.SignedTx) error {
	if !staking.NeedsBLS(tx.Tx.Op) {
		return nil
	}
	cs := st.Clone() // O(1) on a published state; carries the cache
	cs.SetVerifyCache(c.cache)
	if cs.TxBLSCached(tx) {
		return nil
	}
	select {
	case c.pairing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-c.pairing }()
	return cs.VerifyTxBLS(tx)
}

// VerifyBLS performs tx's BLS check against st (a published ledger state) in the bounded
// verification pool the `txs` validator uses, answered from and recorded in the same cache,
// so a certificate seen on the `certs` topic is verified once for both topics and for the
// actor's dry run. It returns ctx's error if no worker frees up in time: the caller should
// drop the message rather than wait. Other topics' validators (node/certs.go) call it.
func (c *Consensus) VerifyBLS(ctx context.Context, st *staking.State, tx *staking.SignedTx) error {
	return c.verifyBLS(ctx, st, tx)
}

// prepare runs the checks a transaction passes before it may reach the actor, cheapest
// first, against the latest ledger view: it decodes; it has not expired and its sender can
// pay its fee (staking.State.Precheck); for a local submission its signature verifies (the
// `txs` validator checked gossip's); its BLS check passes (verifyBLS). The nonce is left to
// the actor's dry run, whose answer names the expected nonce. ok is false with the refusal.
func (c *Consensus) prepare(ctx context.Context, raw []byte, local bool) (rep tx.Reply, ok bool) {
	v := c.cfg.Ledger.View()
	rep = tx.Reply{Hash: ledger.TxHash(raw), Height: v.Height()}
	stx, err := staking.DecodeSignedTx(raw)
	if err != nil {
		rep.Code, rep.Message = staking.CodeMalformed, err.Error()
		return rep, false
	}
	st := v.State()
	if _, r := st.Precheck(stx, len(raw)); !r.OK() {
		rep.Code, rep.Message = r.Code, r.Message
		return rep, false
	}
	if local && !stx.Verify(v.Network()) {
		rep.Code, rep.Message = staking.CodeBadSignature, "signature does not verify"
		return rep, false
	}
	if err := c.verifyBLS(ctx, st, stx); err != nil {
		if ctx.Err() != nil {
			rep.Code, rep.Message = staking.CodeBadCertificate, "verification workers busy: "+err.Error()
			return rep, false
		}
		rep.Code, rep.Message = staking.CodeBadCertificate, err.Error()
		return rep, false
	}
	return rep, true
}
