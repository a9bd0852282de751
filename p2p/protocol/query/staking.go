package query

import (
	"fmt"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/staking"
)

// The staking queries (docs/protocol.md §9.7): the registered nodes with their pools and
// shards (QueryCommittee, `walrus info committee`) and the stakes an account owns
// (QueryStakes, `walrus list-staked-wal`). Registration is free, so the registry and an
// account's stakes can be large: both answers come in pages ordered by ID, the client
// asking again after the last ID it got while the answer says there is more.

// Page sizes, and so the caps a decoder enforces. A candidate takes at most about 2.4 KB
// beside its shard lists (whose total per committee is at most n_shards), so a full page of
// either kind stays far below Spec.MaxResponse.
const (
	MaxCandidatesPerPage = 256
	MaxStakesPerPage     = 1024
)

// Candidate is one registered node as QueryCommittee reports it.
type Candidate struct {
	Node     epoch.NodeID
	Operator staking.Address
	PeerID   string // binary form, as epoch.Member.PeerID
	Addrs    []string
	// Commission is in force now; NextCommission takes effect at NextCommissionEpoch
	// (0: no change pending).
	Commission          uint16
	NextCommission      uint16
	NextCommissionEpoch uint32
	StoragePrice        uint64 // vote, FROST per MiB per epoch
	WritePrice          uint64 // vote, FROST per MiB
	Capacity            uint64 // vote, bytes
	Pool                staking.Pool
	// Shards held in the current epoch, and in the next one once it is selected (nil
	// otherwise, or when the node is not in the next committee).
	Shards, NextShards []uint16
}

// CommitteeAnswer is the answer to QueryCommittee: a page of the registry.
type CommitteeAnswer struct {
	Height uint64
	Epoch  uint32
	// NShards is the shard count; every shard ID in the answer is below it.
	NShards int
	// NextSelected reports whether the committee of Epoch+1 is selected (mid-epoch
	// passed); NextPrices are its prices then, zero otherwise.
	NextSelected bool
	NextPrices   staking.Prices
	// More: registered nodes with IDs above the last candidate's remain.
	More       bool
	Candidates []Candidate
	// Proven is not on the wire: a verifying client sets it when every page was proven
	// (QueryProvenCommittee) at Height, in Epoch (the pools excepted, the node's word).
	Proven bool
}

// EncodeCommitteeAnswer encodes a CommitteeAnswer. Strings over their caps are the
// server's bug; they are cut rather than let through.
func EncodeCommitteeAnswer(a *CommitteeAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = wire.AppendU32(b, a.Epoch)
	b = wire.AppendU32(b, uint32(a.NShards))
	b = wire.AppendBool(b, a.NextSelected)
	b = wire.AppendU64(b, a.NextPrices.Storage)
	b = wire.AppendU64(b, a.NextPrices.Write)
	b = wire.AppendU64(b, a.NextPrices.Capacity)
	b = wire.AppendBool(b, a.More)
	b = wire.AppendU32(b, uint32(len(a.Candidates)))
	for i := range a.Candidates {
		c := &a.Candidates[i]
		b = append(b, c.Node[:]...)
		b = append(b, c.Operator[:]...)
		b = wire.AppendU32Bytes(b, []byte(cut(c.PeerID, staking.MaxPeerIDLen)))
		addrs := c.Addrs[:min(len(c.Addrs), staking.MaxAddrs)]
		b = wire.AppendU32(b, uint32(len(addrs)))
		for _, ad := range addrs {
			b = wire.AppendU32Bytes(b, []byte(cut(ad, staking.MaxAddrLen)))
		}
		b = appendU16(b, c.Commission)
		b = appendU16(b, c.NextCommission)
		b = wire.AppendU32(b, c.NextCommissionEpoch)
		b = wire.AppendU64(b, c.StoragePrice)
		b = wire.AppendU64(b, c.WritePrice)
		b = wire.AppendU64(b, c.Capacity)
		b = wire.AppendU64(b, c.Pool.Active)
		b = wire.AppendU64(b, c.Pool.Next)
		b = wire.AppendU64(b, c.Pool.Pending)
		b = wire.AppendU64(b, c.Pool.Withdrawing)
		b = wire.AppendU32(b, uint32(c.Pool.Stakes))
		b = appendShards(b, c.Shards)
		b = appendShards(b, c.NextShards)
	}
	return b
}

// candidateMin is the smallest encoded candidate, for the count check.
const candidateMin = 32 + 32 + 4 + 4 + 2 + 2 + 4 + 3*8 + 4*8 + 4 + 4 + 4

// DecodeCommitteeAnswer parses an untrusted CommitteeAnswer: at most MaxCandidatesPerPage
// candidates in strictly ascending node-ID order, strings within the ledger's caps, shard
// lists strictly ascending and below NShards.
func DecodeCommitteeAnswer(b []byte) (*CommitteeAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &CommitteeAnswer{Height: r.U64(), Epoch: r.U32()}
	ns := r.U32()
	if ns > 1<<16 {
		r.Failf("%d shards", ns)
	}
	a.NShards = int(ns)
	a.NextSelected = r.Bool()
	a.NextPrices.Storage, a.NextPrices.Write, a.NextPrices.Capacity = r.U64(), r.U64(), r.U64()
	a.More = r.Bool()
	n := r.Count(candidateMin)
	if n > MaxCandidatesPerPage {
		r.Failf("%d candidates in one page", n)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		var c Candidate
		r.Fixed(c.Node[:])
		r.Fixed(c.Operator[:])
		c.PeerID = string(r.U32Bytes(staking.MaxPeerIDLen))
		na := r.Count(4)
		if na > staking.MaxAddrs {
			r.Failf("%d addresses", na)
		}
		for j := 0; j < na && r.Err() == nil; j++ {
			c.Addrs = append(c.Addrs, string(r.U32Bytes(staking.MaxAddrLen)))
		}
		c.Commission, c.NextCommission, c.NextCommissionEpoch = r.U16(), r.U16(), r.U32()
		c.StoragePrice, c.WritePrice, c.Capacity = r.U64(), r.U64(), r.U64()
		c.Pool.Active, c.Pool.Next, c.Pool.Pending, c.Pool.Withdrawing = r.U64(), r.U64(), r.U64(), r.U64()
		c.Pool.Stakes = int(r.U32())
		c.Shards = readShards(&r, a.NShards)
		c.NextShards = readShards(&r, a.NShards)
		if i > 0 && string(a.Candidates[i-1].Node[:]) >= string(c.Node[:]) {
			r.Failf("candidates not in ascending node-ID order")
		}
		a.Candidates = append(a.Candidates, c)
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return a, nil
}

// StakeInfo is one stake object as QueryStakes reports it (staking.Stake without the
// owner, which the query names). Rewards are compounded into Amount by the ledger
// (docs/protocol.md §6); the principal is not tracked separately.
type StakeInfo struct {
	ID          staking.ObjectID
	Node        epoch.NodeID
	Amount      uint64
	Activation  uint32
	Withdrawing bool
	WithdrawAt  uint32
}

// Stake returns the stake object the info describes, owned by owner.
func (s *StakeInfo) Stake(owner staking.Address) staking.Stake {
	return staking.Stake{ID: s.ID, Owner: owner, Node: s.Node, Amount: s.Amount, Activation: s.Activation,
		Withdrawing: s.Withdrawing, WithdrawAt: s.WithdrawAt}
}

// StakesAnswer is the answer to QueryStakes: a page of an account's stakes.
type StakesAnswer struct {
	Height uint64
	Epoch  uint32
	// FirstUnselected is the first epoch whose committee is not selected yet (a stake
	// added now counts from it).
	FirstUnselected uint32
	// More: stakes of the account with IDs above the last one's remain.
	More   bool
	Stakes []StakeInfo
	// Proven is not on the wire: a verifying client sets it when every page was proven
	// (QueryProvenStakes) at Height, in Epoch.
	Proven bool
}

// EncodeStakesAnswer encodes a StakesAnswer.
func EncodeStakesAnswer(a *StakesAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = wire.AppendU32(b, a.Epoch)
	b = wire.AppendU32(b, a.FirstUnselected)
	b = wire.AppendBool(b, a.More)
	b = wire.AppendU32(b, uint32(len(a.Stakes)))
	for i := range a.Stakes {
		s := &a.Stakes[i]
		b = append(b, s.ID[:]...)
		b = append(b, s.Node[:]...)
		b = wire.AppendU64(b, s.Amount)
		b = wire.AppendU32(b, s.Activation)
		b = wire.AppendBool(b, s.Withdrawing)
		b = wire.AppendU32(b, s.WithdrawAt)
	}
	return b
}

const stakeInfoSize = 32 + 32 + 8 + 4 + 1 + 4

// DecodeStakesAnswer parses an untrusted StakesAnswer: at most MaxStakesPerPage stakes in
// strictly ascending ID order.
func DecodeStakesAnswer(b []byte) (*StakesAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &StakesAnswer{Height: r.U64(), Epoch: r.U32(), FirstUnselected: r.U32(), More: r.Bool()}
	n := r.Count(stakeInfoSize)
	if n > MaxStakesPerPage {
		r.Failf("%d stakes in one page", n)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		var s StakeInfo
		r.Fixed(s.ID[:])
		r.Fixed(s.Node[:])
		s.Amount, s.Activation, s.Withdrawing, s.WithdrawAt = r.U64(), r.U32(), r.Bool(), r.U32()
		if i > 0 && string(a.Stakes[i-1].ID[:]) >= string(s.ID[:]) {
			r.Failf("stakes not in ascending ID order")
		}
		a.Stakes = append(a.Stakes, s)
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return a, nil
}

func appendU16(b []byte, v uint16) []byte { return append(b, byte(v), byte(v>>8)) }

func appendShards(b []byte, sh []uint16) []byte {
	b = wire.AppendU32(b, uint32(len(sh)))
	for _, s := range sh {
		b = appendU16(b, s)
	}
	return b
}

// readShards reads a shard list: at most n shards, strictly ascending, each below n. An
// empty list decodes as nil.
func readShards(r *wire.Reader, n int) []uint16 {
	k := r.Count(2)
	if k > n {
		r.Failf("%d shards of %d", k, n)
		return nil
	}
	if k == 0 || r.Err() != nil {
		return nil
	}
	out := make([]uint16, k)
	for i := range out {
		out[i] = r.U16()
		if int(out[i]) >= n || (i > 0 && out[i] <= out[i-1]) {
			r.Failf("bad shard list")
			return nil
		}
	}
	return out
}

// cut shortens s to at most n bytes (server-side safety; valid ledger data never needs it).
func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// String names the kind, for errors.
func (k Kind) String() string {
	switch k {
	case QueryHeight:
		return "height"
	case QueryBlobStatus:
		return "blob status"
	case QueryAccount:
		return "account"
	case QueryInfo:
		return "info"
	case QueryWaitTx:
		return "wait for tx"
	case QueryCommittee:
		return "committee"
	case QueryStakes:
		return "stakes"
	case QueryBlobs:
		return "blobs"
	case QueryProvenBlobStatus:
		return "proven blob status"
	case QueryProvenAccount:
		return "proven account"
	case QueryProvenInfo:
		return "proven info"
	case QueryEpochLinks:
		return "epoch links"
	case QueryProvenCommittee:
		return "proven committee"
	case QueryProvenStakes:
		return "proven stakes"
	case QueryProvenBlobs:
		return "proven blobs"
	case QueryProvenWaitTx:
		return "proven wait for tx"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}
