package consensus

import (
	"sync"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
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
