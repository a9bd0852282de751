package staking

import (
	"errors"
	"fmt"
	"math"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/wire"
)

// ErrBadGenesis is wrapped by every genesis validation failure.
var ErrBadGenesis = errors.New("staking: invalid genesis")

// GenesisAccount is an initial balance.
type GenesisAccount struct {
	Address Address
	Balance uint64
}

// GenesisNode is a node registered at genesis with Stake FROST (minted at genesis, owned by
// the operator) delegated to its own pool. Genesis stake counts from epoch 0.
type GenesisNode struct {
	Operator Address
	BLSKey   bls.PublicKey
	PoP      bls.Signature
	Info     NodeInfo
	Stake    uint64
}

// Genesis is the content of the genesis file. Its canonical encoding's hash is the
// NetworkID that every signature binds (docs/architecture.md §3).
type Genesis struct {
	Network       string
	NShards       int
	EpochDuration int64 // milliseconds, >= 2
	GenesisTime   int64 // unix milliseconds; epoch e starts at GenesisTime + e·EpochDuration
	Prices        Prices
	Faucet        GenesisAccount // an ordinary account, named so tools can find it
	Accounts      []GenesisAccount
	Nodes         []GenesisNode
}

// Encode returns the canonical encoding of the genesis.
func (g *Genesis) Encode() []byte {
	e := &encoder{}
	e.str(g.Network)
	e.u32(uint32(g.NShards))
	e.i64(g.EpochDuration)
	e.i64(g.GenesisTime)
	encodePrices(e, g.Prices)
	e.fixed(g.Faucet.Address[:])
	e.u64(g.Faucet.Balance)
	e.count(len(g.Accounts))
	for _, a := range g.Accounts {
		e.fixed(a.Address[:])
		e.u64(a.Balance)
	}
	e.count(len(g.Nodes))
	for i := range g.Nodes {
		n := &g.Nodes[i]
		e.fixed(n.Operator[:])
		e.fixed(n.BLSKey[:])
		e.fixed(n.PoP[:])
		n.Info.encode(e)
		e.u64(n.Stake)
	}
	return e.b
}

// MaxGenesisNodes and MaxGenesisAccounts cap a genesis file.
const (
	MaxGenesisNodes    = 4096
	MaxGenesisAccounts = 1 << 20
)

// DecodeGenesis parses a canonical genesis encoding strictly. It does not validate it;
// NewState does.
func DecodeGenesis(b []byte) (*Genesis, error) {
	d := newDecoder(b)
	g := new(Genesis)
	g.Network = readStr(d, MaxNetworkName)
	g.NShards = int(d.U32())
	g.EpochDuration = int64(d.U64())
	g.GenesisTime = int64(d.U64())
	g.Prices = decodePrices(d)
	d.Fixed(g.Faucet.Address[:])
	g.Faucet.Balance = d.U64()
	if n := readCount(d, MaxGenesisAccounts, 40); n > 0 {
		g.Accounts = make([]GenesisAccount, n)
		for i := range g.Accounts {
			d.Fixed(g.Accounts[i].Address[:])
			g.Accounts[i].Balance = d.U64()
		}
	}
	if n := readCount(d, MaxGenesisNodes, 32+48+96+8); n > 0 {
		g.Nodes = make([]GenesisNode, n)
		for i := range g.Nodes {
			nd := &g.Nodes[i]
			d.Fixed(nd.Operator[:])
			d.Fixed(nd.BLSKey[:])
			d.Fixed(nd.PoP[:])
			nd.Info.decode(d)
			nd.Stake = d.U64()
		}
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	return g, nil
}

func encodePrices(e *encoder, p Prices) {
	e.u64(p.Storage)
	e.u64(p.Write)
	e.u64(p.Capacity)
	encodeFees(e, p.Fees)
}

func decodePrices(d *wire.Reader) Prices {
	return Prices{Storage: d.U64(), Write: d.U64(), Capacity: d.U64(), Fees: decodeFees(d)}
}

// NetworkID is Blake2b-256 of the canonical genesis encoding.
func (g *Genesis) NetworkID() epoch.NetworkID { return epoch.NetworkID(blake2b.Sum256(g.Encode())) }

func validateInfo(in *NodeInfo) error {
	if len(in.PeerID) > MaxPeerIDLen || len(in.Addrs) > MaxAddrs {
		return errors.New("peer ID or address list too long")
	}
	for _, a := range in.Addrs {
		if len(a) > MaxAddrLen {
			return errors.New("address too long")
		}
	}
	if in.Commission > BasisPoints {
		return fmt.Errorf("commission %d bps over %d", in.Commission, BasisPoints)
	}
	return nil
}

// NewState builds the state at genesis: accounts, nodes with their stake, the epoch-0
// committee chosen by D'Hondt over the genesis stake, and the genesis prices. It validates
// the genesis (shard count, durations, unique accounts and nodes, proofs of possession, no
// supply overflow).
func NewState(g *Genesis) (*State, error) {
	if _, err := codec.NewParams(g.NShards); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadGenesis, err)
	}
	if g.EpochDuration < 2 {
		return nil, fmt.Errorf("%w: epoch duration %d ms", ErrBadGenesis, g.EpochDuration)
	}
	if len(g.Network) == 0 || len(g.Network) > MaxNetworkName {
		return nil, fmt.Errorf("%w: network name length %d", ErrBadGenesis, len(g.Network))
	}
	if len(g.Nodes) == 0 || len(g.Nodes) > MaxGenesisNodes || len(g.Accounts) > MaxGenesisAccounts {
		return nil, fmt.Errorf("%w: %d nodes, %d accounts", ErrBadGenesis, len(g.Nodes), len(g.Accounts))
	}
	s := newEmptyState()
	s.network = g.NetworkID()
	s.cfg = Config{NShards: g.NShards, EpochDuration: g.EpochDuration, GenesisTime: g.GenesisTime}
	s.time = g.GenesisTime
	s.prices = g.Prices
	var supply uint64
	add := func(v uint64) error {
		if supply > math.MaxUint64-v {
			return fmt.Errorf("%w: total supply overflows", ErrBadGenesis)
		}
		supply += v
		return nil
	}
	accs := append([]GenesisAccount{g.Faucet}, g.Accounts...)
	for _, a := range accs {
		if s.accounts.has(a.Address) {
			return nil, fmt.Errorf("%w: duplicate account %s", ErrBadGenesis, a.Address)
		}
		if err := add(a.Balance); err != nil {
			return nil, err
		}
		s.accounts.put(a.Address, &acctEntry{Addr: a.Address, Account: Account{Balance: a.Balance}})
	}
	for i := range g.Nodes {
		gn := &g.Nodes[i]
		if err := bls.VerifyPossession(gn.BLSKey, gn.PoP); err != nil {
			return nil, fmt.Errorf("%w: node %d proof of possession: %v", ErrBadGenesis, i, err)
		}
		if err := validateInfo(&gn.Info); err != nil {
			return nil, fmt.Errorf("%w: node %d: %v", ErrBadGenesis, i, err)
		}
		id := epoch.NodeIDOf(gn.BLSKey)
		if s.nodes.has(id) {
			return nil, fmt.Errorf("%w: duplicate node key", ErrBadGenesis)
		}
		if err := add(gn.Stake); err != nil {
			return nil, err
		}
		s.nodes.put(id, nodeFromInfo(id, gn.Operator, gn.BLSKey, &gn.Info))
		if gn.Stake > 0 {
			// Genesis stake objects derive from a zero sender and the node's position.
			sid := DeriveObjectID(Address{}, uint64(i), 0)
			s.stakes.put(sid, &Stake{ID: sid, Owner: gn.Operator, Node: id, Amount: gn.Stake})
		}
	}
	c, err := s.selectCommittee(0, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadGenesis, err)
	}
	s.committee = c
	s.flush()
	return s, nil
}

func nodeFromInfo(id epoch.NodeID, op Address, pk bls.PublicKey, in *NodeInfo) *Node {
	return &Node{
		ID: id, Operator: op, BLSKey: pk, PeerID: in.PeerID,
		Addrs: append([]string(nil), in.Addrs...), Commission: in.Commission,
		StoragePrice: in.StoragePrice, WritePrice: in.WritePrice, Capacity: in.Capacity,
		FeeVote: in.Fees,
	}
}
