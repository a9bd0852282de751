package ledger

import (
	"encoding/binary"
	"fmt"

	ds "github.com/ipfs/go-datastore"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/staking"
)

// Datastore keys of the ledger (DESIGN.md §7 key layout).
var (
	// keySnapshot holds height u64 LE || staking snapshot.
	keySnapshot = ds.NewKey("/ledger/snapshot")
	// keyNetwork holds the network ID the datastore belongs to, so a data directory is
	// never reused with another genesis.
	keyNetwork = ds.NewKey("/ledger/network")
)

// CheckpointKey is the key of the committed checkpoint at height h: /ledger/cp/<h> with h
// zero-padded to 20 digits, so key order is height order.
func CheckpointKey(h uint64) ds.Key { return ds.NewKey(fmt.Sprintf("/ledger/cp/%020d", h)) }

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
