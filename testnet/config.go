package testnet

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
)

// maxConfigFile bounds what the loaders here read from a YAML file.
const maxConfigFile = 1 << 20

func writeClientConfig(l *Layout, network string, id epoch.NetworkID) error {
	c := client.FileConfig{Network: network, GenesisFile: l.GenesisFile, WalletKeyFile: l.WalletKeyFile}
	// Pin the genesis by its hash (the network ID): the client refuses another genesis
	// file put at that path.
	c.GenesisID = hex.EncodeToString(id[:])
	for i := range l.Nodes {
		c.Bootstrap = append(c.Bootstrap, l.Nodes[i].Dialable()...)
		if l.Nodes[i].APIAddr != "" {
			c.APIAddrs = append(c.APIAddrs, l.Nodes[i].APIAddr)
		}
	}
	return client.WriteFileConfig(l.ClientConfigFile, &c)
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

var errNoNodes = errors.New("testnet: layout has no nodes")
