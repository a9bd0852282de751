package consensus

import (
	"context"
	"errors"

	ds "github.com/ipfs/go-datastore"

	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/store"
)

// The machine's crash-recovery state (epoch/tendermint Snapshot: round, lock, valid value and
// the proposals and votes it signed at the height) is written to store.ConsensusState and
// synced before any of its own new messages leaves the node. A restarted actor resumes the
// height from it (tendermint.Resume) instead of starting afresh, so it keeps its lock and
// never signs a second, conflicting proposal or vote (docs/architecture.md §4 safety across crashes).

// snapKey summarises what a snapshot holds, to skip rewriting an unchanged one (Tick
// re-broadcasts own messages that are already on disk).
type snapKey struct {
	height                  uint64
	round, locked, validRnd int32
	own                     int
}

func keyOf(s *tendermint.Snapshot) snapKey {
	return snapKey{s.Height, s.Round, s.LockedRound, s.ValidRound, len(s.Own)}
}

// saveSnapshot persists the machine's snapshot if it changed. Without a datastore it only
// remembers the key.
func (a *actor) saveSnapshot() error {
	s := a.m.Snapshot()
	k := keyOf(s)
	if k == a.saved {
		return nil
	}
	if d := a.c.cfg.Datastore; d != nil {
		b, err := s.MarshalBinary()
		if err != nil {
			return err
		}
		ctx := context.Background()
		if err := d.Put(ctx, store.ConsensusState(), b); err != nil {
			return err
		}
		if err := d.Sync(ctx, store.ConsensusState()); err != nil {
			return err
		}
	}
	a.saved = k
	return nil
}

// loadSnapshot returns the persisted snapshot, or nil when there is none.
func (a *actor) loadSnapshot(ctx context.Context) (*tendermint.Snapshot, error) {
	d := a.c.cfg.Datastore
	if d == nil {
		return nil, nil
	}
	b, err := d.Get(ctx, store.ConsensusState())
	if errors.Is(err, ds.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return tendermint.DecodeSnapshot(b, a.c.maxValue())
}
