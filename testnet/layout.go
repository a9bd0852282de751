package testnet

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/internal/genesisfile"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/p2p"
)

// LoadLayout opens a layout written by Generate: it decodes genesis.bin and reads each
// node's keys and config.yaml (with node.LoadConfig) back. It checks that every node's identity matches the peer
// ID the genesis registered, so a mixed-up directory fails here and not at run time.
func LoadLayout(dir string) (*Layout, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	l := &Layout{
		Dir:              dir,
		GenesisFile:      filepath.Join(dir, GenesisFileName),
		FaucetKeyFile:    filepath.Join(dir, FaucetKeyFileName),
		WalletKeyFile:    filepath.Join(dir, WalletKeyFileName),
		ClientConfigFile: filepath.Join(dir, ClientConfigFileName),
	}
	if l.Genesis, err = genesisfile.Read(l.GenesisFile); err != nil {
		return nil, err
	}
	if len(l.Genesis.Nodes) == 0 {
		return nil, errNoNodes
	}
	for i := range l.Genesis.Nodes {
		nd := filepath.Join(dir, NodesDirName, strconv.Itoa(i))
		nf := NodeFiles{
			Index:           i,
			Dir:             nd,
			ConfigFile:      filepath.Join(nd, NodeConfigFileName),
			IdentityKeyFile: filepath.Join(nd, IdentityKeyFileName),
			BLSKeyFile:      filepath.Join(nd, BLSKeyFileName),
			OperatorKeyFile: filepath.Join(nd, OperatorKeyFileName),
		}
		c, err := node.LoadConfig(nf.ConfigFile)
		if err != nil {
			return nil, err
		}
		nf.DataDir, nf.ListenAddrs, nf.APIAddr, nf.Bootstrap = c.DataDir, c.ListenAddrs, c.APIAddr, c.Bootstrap
		id, err := p2p.LoadIdentity(nf.IdentityKeyFile)
		if err != nil {
			return nil, err
		}
		if nf.PeerID, err = peer.IDFromPrivateKey(id); err != nil {
			return nil, err
		}
		if want := peer.ID(l.Genesis.Nodes[i].Info.PeerID); nf.PeerID != want {
			return nil, fmt.Errorf("testnet: node %d identity is %s, genesis registered %s", i, nf.PeerID, want)
		}
		l.Nodes = append(l.Nodes, nf)
	}
	return l, nil
}
