package ledger

import (
	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/tendermint"
	"github.com/walrus-go/walrus-go/staking"
)

// View is an immutable copy of the ledger state at one height, published by the actor after
// every commit. Any goroutine may read it without locks; nobody may modify it (Clone the
// State first to experiment, as the consensus actor does).
type View struct {
	st     *staking.State
	prev   *epoch.Committee // committee of the previous epoch, nil in epoch 0 or unknown
	params codec.Params
	name   string
	commit *tendermint.Decision // the committed checkpoint of this height (nil at genesis)
}

// State returns the read-only state. Do not mutate it.
func (v *View) State() *staking.State { return v.st }

// Height is the height of the last applied checkpoint (0 at genesis).
func (v *View) Height() uint64 { return v.st.Height() }

// Epoch is the current epoch.
func (v *View) Epoch() uint32 { return v.st.Epoch() }

// Network is the network ID (hash of the genesis).
func (v *View) Network() epoch.NetworkID { return v.st.Network() }

// NetworkName is the genesis network name.
func (v *View) NetworkName() string { return v.name }

// Params are the encoding parameters of the network's shard count.
func (v *View) Params() codec.Params { return v.params }

// Committee returns the committee of epoch e when the view knows it: the current one, the
// next one once selected at mid-epoch, and the previous one (kept for reads during an epoch
// change, docs/protocol.md §7).
func (v *View) Committee(e uint32) (*epoch.Committee, bool) {
	switch c := v.st.Committee(); {
	case c != nil && c.Epoch == e:
		return c, true
	}
	if n := v.st.NextCommittee(); n != nil && n.Epoch == e {
		return n, true
	}
	if v.prev != nil && v.prev.Epoch == e {
		return v.prev, true
	}
	return nil, false
}

// SigningCommittee is the committee that must sign the commit certificate of the next
// height: the current committee of this state (docs/architecture.md §4: changes take effect at the
// next height).
func (v *View) SigningCommittee() *epoch.Committee { return v.st.Committee() }
