package testnet

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"gopkg.in/yaml.v3"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/fsutil"
	"github.com/walrus-go/walrus-go/staking"
)

// maxConfigFile bounds what the loaders here read from a YAML file.
const maxConfigFile = 1 << 20

// ClientConfig is client.yaml: what a client (the walrus CLI, node/client) needs to join a
// network. Paths are absolute.
type ClientConfig struct {
	// Network is the network name, for display; the genesis is the truth.
	Network string `yaml:"network"`
	// GenesisFile is the canonical genesis (genesis.bin): the client derives the network ID
	// and the epoch-0 committee from it (DESIGN.md §4, "Followers").
	GenesisFile string `yaml:"genesis_file"`
	// WalletKeyFile is the client's Ed25519 account key (package doc, "Key files").
	WalletKeyFile string `yaml:"wallet_key_file"`
	// Bootstrap lists every node's dialable multiaddrs (with /p2p/).
	Bootstrap []string `yaml:"bootstrap"`
	// APIAddrs lists the nodes' HTTP API addresses (health, metrics), if enabled.
	APIAddrs []string `yaml:"api_addrs,omitempty"`
}

// LoadClientConfig reads a client.yaml written by Generate.
func LoadClientConfig(path string) (*ClientConfig, error) {
	b, err := fsutil.ReadBounded(path, maxConfigFile)
	if err != nil {
		return nil, err
	}
	var c ClientConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("testnet: %s: %w", path, err)
	}
	if c.GenesisFile == "" || len(c.Bootstrap) == 0 {
		return nil, fmt.Errorf("testnet: %s: genesis_file and bootstrap are required", path)
	}
	return &c, nil
}

func writeClientConfig(l *Layout, network string) error {
	c := ClientConfig{Network: network, GenesisFile: l.GenesisFile, WalletKeyFile: l.WalletKeyFile}
	for i := range l.Nodes {
		c.Bootstrap = append(c.Bootstrap, l.Nodes[i].Dialable()...)
		if l.Nodes[i].APIAddr != "" {
			c.APIAddrs = append(c.APIAddrs, l.Nodes[i].APIAddr)
		}
	}
	b, err := yaml.Marshal(&c)
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(l.ClientConfigFile, b, 0o644)
}

// genesisView is genesis.json: the genesis for people. Nothing parses it; genesis.bin is
// the truth (its hash is the network ID).
type genesisView struct {
	Network       string            `json:"network"`
	NetworkID     string            `json:"network_id"`
	NShards       int               `json:"n_shards"`
	EpochDuration string            `json:"epoch_duration"`
	GenesisTime   string            `json:"genesis_time"`
	Prices        staking.Prices    `json:"prices"`
	Faucet        accountView       `json:"faucet"`
	Accounts      []accountView     `json:"accounts"`
	Nodes         []genesisNodeView `json:"nodes"`
}

type accountView struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance_frost"`
}

type genesisNodeView struct {
	NodeID       string   `json:"node_id"`
	Operator     string   `json:"operator"`
	BLSKey       string   `json:"bls_key"`
	PeerID       string   `json:"peer_id"`
	Addrs        []string `json:"addrs"`
	Commission   uint16   `json:"commission_bps"`
	StoragePrice uint64   `json:"storage_price_vote"`
	WritePrice   uint64   `json:"write_price_vote"`
	Capacity     uint64   `json:"capacity_vote"`
	Stake        uint64   `json:"stake_frost"`
}

func genesisJSON(g *staking.Genesis) ([]byte, error) {
	nid := g.NetworkID()
	v := genesisView{
		Network:       g.Network,
		NetworkID:     hex.EncodeToString(nid[:]),
		NShards:       g.NShards,
		EpochDuration: (time.Duration(g.EpochDuration) * time.Millisecond).String(),
		GenesisTime:   time.UnixMilli(g.GenesisTime).UTC().Format(time.RFC3339Nano),
		Prices:        g.Prices,
		Faucet:        accountView{g.Faucet.Address.String(), g.Faucet.Balance},
	}
	for _, a := range g.Accounts {
		v.Accounts = append(v.Accounts, accountView{a.Address.String(), a.Balance})
	}
	for i := range g.Nodes {
		n := &g.Nodes[i]
		id := epoch.NodeIDOf(n.BLSKey)
		v.Nodes = append(v.Nodes, genesisNodeView{
			NodeID: hex.EncodeToString(id[:]), Operator: n.Operator.String(),
			BLSKey: hex.EncodeToString(n.BLSKey[:]), PeerID: peer.ID(n.Info.PeerID).String(), Addrs: n.Info.Addrs,
			Commission: n.Info.Commission, StoragePrice: n.Info.StoragePrice,
			WritePrice: n.Info.WritePrice, Capacity: n.Info.Capacity, Stake: n.Stake,
		})
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// maxGenesisFile bounds a genesis.bin read: MaxGenesisNodes nodes with the largest
// NodeInfo, far above any local testnet.
const maxGenesisFile = 64 << 20

// ReadGenesis reads and decodes a canonical genesis file.
func ReadGenesis(path string) (*staking.Genesis, error) {
	b, err := fsutil.ReadBounded(path, maxGenesisFile)
	if err != nil {
		return nil, err
	}
	g, err := staking.DecodeGenesis(b)
	if err != nil {
		return nil, fmt.Errorf("testnet: %s: %w", path, err)
	}
	return g, nil
}

var errNoNodes = errors.New("testnet: layout has no nodes")
