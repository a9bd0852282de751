package consensus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	ds "github.com/ipfs/go-datastore"
	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/node/store"
)

// guard is the Signer the Tendermint machine signs with. It refuses to sign a proposal,
// prevote or precommit that would conflict with one this node already signed: another
// value for the same (height, round), or an earlier (height, round). The last signed
// (height, round, digest) of each kind is written to the datastore (store.ConsensusState,
// synced) before the signature is released, so a node that crashes and restarts in the
// middle of a height cannot equivocate (the machine itself starts the height afresh). A
// refusal returns the zero signature; the actor does not broadcast such messages.
//
// It does not restore the machine's lock (locked value and round); a restarted node may
// prevote for a new value in a later round. TODO(epoch/tendermint): a Machine snapshot API
// would let the actor persist and restore the lock as well.
type guard struct {
	key   *bls.SecretKey
	store ds.Datastore // nil: remember in memory only
	last  map[epoch.Intent]signedRec
}

type signedRec struct {
	height uint64
	round  uint32
	digest [32]byte
}

// Offsets in epoch.SignedMessage: intent, version, app, epoch u32, network ID, then the
// body, which for consensus messages starts with height u64 and round u32.
const (
	bodyAt   = 3 + 4 + 32
	heightAt = bodyAt
	roundAt  = bodyAt + 8
	restAt   = bodyAt + 12
)

var errCorruptGuard = errors.New("consensus: corrupt signing guard record")

func newGuard(ctx context.Context, key *bls.SecretKey, d ds.Datastore) (*guard, error) {
	g := &guard{key: key, store: d, last: map[epoch.Intent]signedRec{}}
	if d == nil {
		return g, nil
	}
	b, err := d.Get(ctx, store.ConsensusState())
	if errors.Is(err, ds.ErrNotFound) {
		return g, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b)%(1+8+4+32) != 0 {
		return nil, fmt.Errorf("%w: %d bytes", errCorruptGuard, len(b))
	}
	for len(b) > 0 {
		var r signedRec
		in := epoch.Intent(b[0])
		r.height = binary.LittleEndian.Uint64(b[1:])
		r.round = binary.LittleEndian.Uint32(b[9:])
		copy(r.digest[:], b[13:45])
		g.last[in] = r
		b = b[45:]
	}
	return g, nil
}

func (g *guard) save() error {
	if g.store == nil {
		return nil
	}
	var b []byte
	for _, in := range []epoch.Intent{epoch.IntentProposal, epoch.IntentPrevote, epoch.IntentPrecommit} {
		r, ok := g.last[in]
		if !ok {
			continue
		}
		b = append(b, byte(in))
		b = binary.LittleEndian.AppendUint64(b, r.height)
		b = binary.LittleEndian.AppendUint32(b, r.round)
		b = append(b, r.digest[:]...)
	}
	ctx := context.Background()
	if err := g.store.Put(ctx, store.ConsensusState(), b); err != nil {
		return err
	}
	return g.store.Sync(ctx, store.ConsensusState())
}

// Sign implements tendermint.Signer.
func (g *guard) Sign(msg []byte) bls.Signature {
	if len(msg) < restAt {
		return g.key.Sign(msg)
	}
	in := epoch.Intent(msg[0])
	if in != epoch.IntentProposal && in != epoch.IntentPrevote && in != epoch.IntentPrecommit {
		return g.key.Sign(msg)
	}
	r := signedRec{height: binary.LittleEndian.Uint64(msg[heightAt:]), round: binary.LittleEndian.Uint32(msg[roundAt:]), digest: blake2b.Sum256(msg[restAt:])}
	prev, ok := g.last[in]
	switch {
	case !ok:
	case r.height < prev.height || (r.height == prev.height && r.round < prev.round):
		return bls.Signature{}
	case r.height == prev.height && r.round == prev.round:
		if r.digest != prev.digest {
			return bls.Signature{}
		}
		return g.key.Sign(msg)
	}
	g.last[in] = r
	if err := g.save(); err != nil {
		g.last[in] = prev // nothing released, nothing remembered
		if !ok {
			delete(g.last, in)
		}
		return bls.Signature{}
	}
	return g.key.Sign(msg)
}
