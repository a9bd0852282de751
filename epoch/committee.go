package epoch

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/walrus-go/walrus-go/epoch/bls"
	"golang.org/x/crypto/blake2b"
)

// NodeID names a storage node in the ledger's node registry: Blake2b-256 of its BLS public
// key, fixed at registration.
type NodeID [32]byte

// NodeIDOf is the registry's node ID for a BLS key: Blake2b-256 of the compressed public
// key (docs/architecture.md §3). It is the one definition; the ledger, the nodes and the clients use it.
func NodeIDOf(pk bls.PublicKey) NodeID { return blake2b.Sum256(pk[:]) }

// Member is one storage node of a committee with the shards it holds in that epoch.
type Member struct {
	Node   NodeID
	BLSKey bls.PublicKey
	PeerID string   // libp2p peer ID (its binary form as a string)
	Addrs  []string // multiaddrs it announced
	Shards []uint16 // ascending
}

// Weight is the member's number of shards.
func (m *Member) Weight() int { return len(m.Shards) }

// Committee is the set of nodes that hold the n shards in one epoch. Members are ordered by
// NodeID; certificates name signers by their index in that order.
type Committee struct {
	Epoch   uint32
	NShards int
	Members []Member
	owner   []int32 // shard -> member index, built by Index
	keys    *keyCache
}

// keyCache holds members' BLS keys decompressed and validated on first use (bls.PreparedKey),
// which makes VerifyCertificate several times faster (see BenchmarkFastAggregateVerify67*).
// It sits behind a pointer with its own lock so Committee values stay copyable and a shared
// committee stays safe for concurrent verification.
type keyCache struct {
	mu   sync.Mutex
	keys []*bls.PreparedKey
	of   []bls.PublicKey // the key each entry was prepared from
}

// prepared returns the prepared keys of members idx, or an error for an invalid key.
func (c *Committee) prepared(idx []int) ([]*bls.PreparedKey, error) {
	kc := c.keys
	kc.mu.Lock()
	defer kc.mu.Unlock()
	out := make([]*bls.PreparedKey, len(idx))
	for j, i := range idx {
		// Comparing the source key costs nothing next to a pairing and keeps a committee whose
		// Members were edited without a new Index from verifying against stale keys.
		if kc.keys[i] == nil || kc.of[i] != c.Members[i].BLSKey {
			p, err := c.Members[i].BLSKey.Prepare()
			if err != nil {
				return nil, fmt.Errorf("member %d: %w", i, err)
			}
			kc.keys[i], kc.of[i] = p, c.Members[i].BLSKey
		}
		out[j] = kc.keys[i]
	}
	return out, nil
}

// Errors of committee validation and certificate checks.
var (
	ErrBadCommittee   = errors.New("epoch: malformed committee")
	ErrBadCertificate = errors.New("epoch: invalid certificate")
	ErrNoQuorum       = errors.New("epoch: signers below the required weight")
)

// Index checks that every shard 0..n-1 has exactly one owner, members are sorted by NodeID
// without duplicates, and builds the shard-owner table and an empty cache of prepared BLS keys.
// Call it once after construction or decoding, and again after changing Members.
func (c *Committee) Index() error {
	if c.NShards <= 0 || c.NShards > 65535 {
		return fmt.Errorf("%w: %d shards", ErrBadCommittee, c.NShards)
	}
	owner := make([]int32, c.NShards)
	for i := range owner {
		owner[i] = -1
	}
	for i := range c.Members {
		m := &c.Members[i]
		if i > 0 && !lessNode(c.Members[i-1].Node, m.Node) {
			return fmt.Errorf("%w: members not strictly ordered by node ID", ErrBadCommittee)
		}
		if !sort.SliceIsSorted(m.Shards, func(a, b int) bool { return m.Shards[a] < m.Shards[b] }) {
			return fmt.Errorf("%w: shards of member %d not sorted", ErrBadCommittee, i)
		}
		for _, s := range m.Shards {
			if int(s) >= c.NShards || owner[s] != -1 {
				return fmt.Errorf("%w: shard %d out of range or owned twice", ErrBadCommittee, s)
			}
			owner[s] = int32(i)
		}
	}
	for s, o := range owner {
		if o < 0 {
			return fmt.Errorf("%w: shard %d has no owner", ErrBadCommittee, s)
		}
	}
	c.owner = owner
	c.keys = &keyCache{keys: make([]*bls.PreparedKey, len(c.Members)), of: make([]bls.PublicKey, len(c.Members))}
	return nil
}

func lessNode(a, b NodeID) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// Owner returns the member index holding shard s. Index must have succeeded.
func (c *Committee) Owner(s int) int { return int(c.owner[s]) }

// Indexed reports whether Index has run (Owner may be called) for NShards shards.
func (c *Committee) Indexed() bool { return len(c.owner) == c.NShards }

// MemberIndex returns the index of node, or -1.
func (c *Committee) MemberIndex(node NodeID) int {
	i := sort.Search(len(c.Members), func(i int) bool { return !lessNode(c.Members[i].Node, node) })
	if i < len(c.Members) && c.Members[i].Node == node {
		return i
	}
	return -1
}

// Certificate is an aggregate BLS signature by a subset of a committee on one message.
// Signers is a bitmap over member indices (bit i of byte i/8, LSB first).
type Certificate struct {
	Epoch     uint32
	Signers   []byte
	Signature bls.Signature
}

// SignerIndices decodes the bitmap for a committee of size m, rejecting bits past m.
func (cert *Certificate) SignerIndices(m int) ([]int, error) {
	if len(cert.Signers) != (m+7)/8 {
		return nil, fmt.Errorf("%w: bitmap of %d bytes for %d members", ErrBadCertificate, len(cert.Signers), m)
	}
	var out []int
	for i := 0; i < len(cert.Signers)*8; i++ {
		if cert.Signers[i/8]&(1<<(i%8)) != 0 {
			if i >= m {
				return nil, fmt.Errorf("%w: signer bit %d past committee size %d", ErrBadCertificate, i, m)
			}
			out = append(out, i)
		}
	}
	return out, nil
}

// Threshold selects which quorum a certificate must reach.
type Threshold int

// Thresholds of docs/protocol.md §4–5.
const (
	ThresholdQuorum   Threshold = 1 + iota // n-f: storage certificates, commits
	ThresholdValidity                      // f+1: invalid-blob certificates
)

// VerifyCertificate checks that cert is for this committee's epoch, that its signers hold
// enough shards for th, and that the aggregate signature is theirs on msg.
func (c *Committee) VerifyCertificate(msg []byte, cert *Certificate, th Threshold) error {
	// An unknown threshold must not silently fall back to either rule.
	if th != ThresholdQuorum && th != ThresholdValidity {
		return fmt.Errorf("%w: unknown threshold %d", ErrBadCertificate, th)
	}
	if cert.Epoch != c.Epoch {
		return fmt.Errorf("%w: certificate epoch %d, committee epoch %d", ErrBadCertificate, cert.Epoch, c.Epoch)
	}
	idx, err := cert.SignerIndices(len(c.Members))
	if err != nil {
		return err
	}
	w := 0
	for _, i := range idx {
		w += c.Members[i].Weight()
	}
	ok := IsQuorum(w, c.NShards)
	if th == ThresholdValidity {
		ok = IsValidity(w, c.NShards)
	}
	// w > 0 guards a committee with NShards <= 0 (never Indexed), where any weight would pass.
	if !ok || w <= 0 {
		return fmt.Errorf("%w: %d of %d shards", ErrNoQuorum, w, c.NShards)
	}
	// Weight is checked before any curve arithmetic, so a cheap bogus certificate costs no
	// pairing.
	if c.keys != nil && len(c.keys.keys) == len(c.Members) {
		pre, err := c.prepared(idx)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadCertificate, err)
		}
		if err := bls.FastAggregateVerifyPrepared(pre, msg, cert.Signature); err != nil {
			return fmt.Errorf("%w: %v", ErrBadCertificate, err)
		}
		return nil
	}
	pks := make([]bls.PublicKey, len(idx))
	for j, i := range idx {
		pks[j] = c.Members[i].BLSKey
	}
	if err := bls.FastAggregateVerify(pks, msg, cert.Signature); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCertificate, err)
	}
	return nil
}

// VerifyMember checks member i's signature on msg, through the prepared-key cache when the
// committee is Indexed (votes and confirmations are verified one by one, often).
func (c *Committee) VerifyMember(i int, msg []byte, sig bls.Signature) error {
	if i < 0 || i >= len(c.Members) {
		return fmt.Errorf("%w: member %d of %d", ErrNotMember, i, len(c.Members))
	}
	if c.keys == nil || len(c.keys.keys) != len(c.Members) {
		return bls.Verify(c.Members[i].BLSKey, msg, sig)
	}
	pre, err := c.prepared([]int{i})
	if err != nil {
		return err
	}
	return bls.VerifyPrepared(pre[0], msg, sig)
}
