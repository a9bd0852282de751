package ledger

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/node/store"
	"github.com/walrus-go/walrus-go/staking"
)

// Datastore keys of the ledger follow node/store's layout (docs/architecture.md §7): checkpoints with
// their certificates under store.Checkpoint(h), the head height under store.LedgerHead, the
// latest snapshot under store.Snapshot(h) (older ones are deleted).
var (
	// keyNetwork holds the network ID the datastore belongs to, so a data directory is
	// never reused with another genesis. TODO(node/store): add it to the layout table.
	keyNetwork = ds.NewKey("/ledger/network")
	// keyPrevCommittee holds the previous epoch's committee, written at each epoch change:
	// the view keeps it for reads and shard migration during the change, and a restart
	// must not forget it (a snapshot taken after the change does not replay it).
	keyPrevCommittee = ds.NewKey("/ledger/prev-committee")
)

// CheckpointKey is the key of the committed checkpoint at height h.
func CheckpointKey(h uint64) ds.Key { return store.Checkpoint(h) }

// latestSnapshot returns the highest snapshot key and its height, or ok false.
func latestSnapshot(ctx context.Context, d ds.Datastore) (ds.Key, uint64, bool, error) {
	res, err := d.Query(ctx, query.Query{Prefix: store.SnapshotsPrefix().String(), KeysOnly: true})
	if err != nil {
		return ds.Key{}, 0, false, err
	}
	defer res.Close()
	var best ds.Key
	var bestH uint64
	found := false
	for r := range res.Next() {
		if r.Error != nil {
			return ds.Key{}, 0, false, r.Error
		}
		k := ds.NewKey(r.Key)
		h, err := strconv.ParseUint(k.BaseNamespace(), 16, 64)
		if err != nil {
			continue // not ours
		}
		if !found || h > bestH {
			best, bestH, found = k, h, true
		}
	}
	return best, bestH, found, nil
}

// encodeSnapshot prefixes a state snapshot with its height.
func encodeSnapshot(st *staking.State) []byte {
	b := binary.LittleEndian.AppendUint64(nil, st.Height())
	return append(b, st.Snapshot()...)
}

// decodeSnapshot restores a snapshot written by encodeSnapshot and checks it belongs to
// network.
func decodeSnapshot(b []byte, network epoch.NetworkID) (*staking.State, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("ledger: snapshot of %d bytes", len(b))
	}
	h := binary.LittleEndian.Uint64(b)
	st, err := staking.Restore(b[8:])
	if err != nil {
		return nil, fmt.Errorf("ledger: restore snapshot: %w", err)
	}
	if st.Height() != h {
		return nil, fmt.Errorf("ledger: snapshot says height %d, state has %d", h, st.Height())
	}
	if st.Network() != network {
		return nil, fmt.Errorf("ledger: snapshot of another network")
	}
	return st, nil
}

// EncodeDecision is the wire and storage form of a committed checkpoint: the Tendermint
// Decision (checkpoint bytes plus commit certificate), the same bytes the consensus topic
// carries for re-broadcast decisions.
func EncodeDecision(d *tendermint.Decision) ([]byte, error) { return tendermint.Encode(d) }

// DecodeDecision parses untrusted bytes as a Decision whose value is at most maxValue
// bytes. It checks shape only.
func DecodeDecision(b []byte, maxValue int) (*tendermint.Decision, error) {
	m, err := tendermint.Decode(b, maxValue)
	if err != nil {
		return nil, err
	}
	d, ok := m.(*tendermint.Decision)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not a decision", tendermint.ErrMalformed, m)
	}
	return d, nil
}

func keyHead() ds.Key             { return store.LedgerHead() }
func snapshotKey(h uint64) ds.Key { return store.Snapshot(h) }
