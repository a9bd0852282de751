package client

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/fsutil"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// The light client's trust (docs/architecture.md §4 "Light clients"). It starts from the
// genesis it is configured with: the network ID (the genesis hash), the shard count and the
// committee of epoch 0. It trusts the committee of a later epoch only when the committee it
// already trusts certified it: the checkpoint that changed the epoch carries a commit
// certificate of the old committee, and the new committee is proven against that
// checkpoint's state root (query.EpochLink). The latest few trusted committees are cached
// beside the client configuration, so a client offline for many epochs follows only the
// links since, and a new process does not start again from genesis.

// maxTrusted is how many committees, the latest ones, the trust cache keeps in memory and
// on disk (beside the genesis committee, which is always derived from the genesis).
const maxTrusted = 8

// maxVerified bounds the cache of verified checkpoints (by hash).
const maxVerified = 64

// trustMagic starts the trust cache file; the last byte is its version.
var trustMagic = []byte("wgtrust\x01")

// maxTrustFile bounds the trust cache read.
const maxTrustFile = 64 << 20

// trust is the set of committees the client trusts, and the checkpoints it verified.
type trust struct {
	network epoch.NetworkID
	nShards int
	path    string // "" keeps the trust in memory only
	logger  *slog.Logger

	follow sync.Mutex // serialises following links (one walk at a time)

	mu       sync.Mutex
	genesis  *epoch.Committee
	coms     map[uint32]*epoch.Committee
	latest   uint32
	verified map[[32]byte]*staking.Checkpoint
	order    [][32]byte // verified, oldest first
}

// newTrust starts from g and adds the committees cached at path, if any. The genesis
// committee is derived from g (staking.NewState: every genesis node's proof of possession is
// checked, a pairing each) unless the cache of g's network holds it, and is then cached.
func newTrust(g *staking.Genesis, path string, logger *slog.Logger) (*trust, error) {
	t := &trust{network: g.NetworkID(), nShards: g.NShards, path: path, logger: logger,
		coms: map[uint32]*epoch.Committee{}, verified: map[[32]byte]*staking.Checkpoint{}}
	if path != "" {
		if b, err := fsutil.ReadBounded(path, maxTrustFile); err == nil {
			if err := t.load(b); err != nil {
				logger.Warn("ignoring the trusted-committee cache", "path", path, "err", err)
				t.coms = map[uint32]*epoch.Committee{}
			}
		}
	}
	if c := t.coms[0]; c != nil {
		t.genesis = c
		return t, nil
	}
	st, err := staking.NewState(g)
	if err != nil {
		return nil, fmt.Errorf("client: genesis: %w", err)
	}
	t.genesis = st.Committee()
	t.mu.Lock()
	t.addLocked(t.genesis)
	t.mu.Unlock()
	t.save()
	return t, nil
}

func (t *trust) load(b []byte) error {
	r := wire.NewReader(b, query.ErrMalformed)
	if !bytes.Equal(r.Take(len(trustMagic)), trustMagic) {
		return errors.New("not a trust cache")
	}
	var nw epoch.NetworkID
	r.Fixed(nw[:])
	if r.Err() == nil && nw != t.network {
		return errors.New("cache of another network")
	}
	n := r.Count(4)
	var coms []*epoch.Committee
	for i := 0; i < n && r.Err() == nil; i++ {
		cb := r.U32Bytes(r.Len())
		if r.Err() != nil {
			break
		}
		c, err := epoch.DecodeCommittee(cb)
		if err != nil {
			return err
		}
		if c.NShards != t.nShards || len(c.Members) == 0 {
			return fmt.Errorf("committee of epoch %d with %d shards", c.Epoch, c.NShards)
		}
		coms = append(coms, c)
	}
	if err := r.End(); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range coms {
		t.addLocked(c)
	}
	return nil
}

// save writes the latest trusted committees to the cache file (best effort: a client that
// cannot write its cache only follows links again next time).
func (t *trust) save() {
	if t.path == "" {
		return
	}
	b, err := t.encode()
	if err != nil {
		t.logger.Debug("encoding the trusted-committee cache failed", "err", err)
		return
	}
	if err := fsutil.WriteAtomic(t.path, b, 0o644); err != nil {
		t.logger.Debug("writing the trusted-committee cache failed", "path", t.path, "err", err)
	}
}

// encode is the trust cache file: magic, network ID, the trusted committees by epoch.
func (t *trust) encode() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := append([]byte(nil), trustMagic...)
	b = append(b, t.network[:]...)
	eps := t.epochsLocked()
	b = wire.AppendU32(b, uint32(len(eps)))
	for _, e := range eps {
		cb, err := t.coms[e].MarshalBinary()
		if err != nil {
			return nil, err
		}
		b = wire.AppendU32Bytes(b, cb)
	}
	return b, nil
}

func (t *trust) epochsLocked() []uint32 {
	eps := make([]uint32, 0, len(t.coms))
	for e := range t.coms {
		eps = append(eps, e)
	}
	slices.Sort(eps)
	return eps
}

// addLocked trusts c (already verified) and forgets the oldest beyond maxTrusted.
func (t *trust) addLocked(c *epoch.Committee) {
	if _, ok := t.coms[c.Epoch]; ok {
		return
	}
	t.coms[c.Epoch] = c
	t.latest = max(t.latest, c.Epoch)
	if eps := t.epochsLocked(); len(eps) > maxTrusted {
		for _, e := range eps[:len(eps)-maxTrusted] {
			if e != 0 {
				delete(t.coms, e)
			}
		}
	}
}

// get returns the trusted committee of epoch e, or nil.
func (t *trust) get(e uint32) *epoch.Committee {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.coms[e]
}

// Latest is the latest trusted epoch.
func (t *trust) Latest() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.latest
}

// learn trusts a committee proven against a verified checkpoint (an info answer's).
func (t *trust) learn(c *epoch.Committee) {
	t.mu.Lock()
	_, had := t.coms[c.Epoch]
	newer := c.Epoch > t.latest
	if !had && newer {
		t.addLocked(c)
	}
	t.mu.Unlock()
	if !had && newer {
		t.save()
	}
}

// followLink verifies one epoch link against the latest trusted committee and trusts the
// committee it proves.
func (t *trust) followLink(l *query.EpochLink) error {
	t.mu.Lock()
	signer := t.coms[t.latest]
	t.mu.Unlock()
	cp, err := t.verify(signer, &l.At)
	if err != nil {
		return fmt.Errorf("epoch link out of epoch %d: %w", signer.Epoch, err)
	}
	c, err := query.VerifyCommittee(cp, &l.Committee, t.nShards)
	if err != nil {
		return fmt.Errorf("epoch link out of epoch %d: %w", signer.Epoch, err)
	}
	if c.Epoch <= signer.Epoch {
		return fmt.Errorf("%w: epoch link out of epoch %d to epoch %d", query.ErrUnverified, signer.Epoch, c.Epoch)
	}
	t.mu.Lock()
	t.addLocked(c)
	t.mu.Unlock()
	return nil
}

// verify checks a certified checkpoint under com, through the cache of checkpoints already
// verified (a checkpoint with any valid commit certificate is committed).
func (t *trust) verify(com *epoch.Committee, c *query.Certified) (*staking.Checkpoint, error) {
	h := blake2b.Sum256(c.Checkpoint)
	t.mu.Lock()
	cp, ok := t.verified[h]
	t.mu.Unlock()
	if ok {
		return cp, nil
	}
	cp, err := query.VerifyCertified(t.network, com, c)
	if err != nil {
		return nil, err
	}
	t.mu.Lock()
	if _, ok := t.verified[h]; !ok {
		t.verified[h] = cp
		t.order = append(t.order, h)
		if len(t.order) > maxVerified {
			delete(t.verified, t.order[0])
			t.order = t.order[1:]
		}
	}
	t.mu.Unlock()
	return cp, nil
}
