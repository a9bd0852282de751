// Package genesisfile reads and writes the genesis file (genesis.bin): the canonical
// staking.Genesis encoding, whose hash is the network ID. Nodes, clients and the testnet
// generator all go through here, so the file is bounded and written one way.
package genesisfile

import (
	"fmt"

	"github.com/walrus-go/walrus-go/internal/fsutil"
	"github.com/walrus-go/walrus-go/staking"
)

// MaxSize bounds a genesis file read: staking.MaxGenesisNodes nodes with the largest node
// info and staking.MaxGenesisAccounts accounts fit in 64 MiB.
const MaxSize = 64 << 20

// Read reads and decodes a genesis file (it is untrusted input: bounded, strictly decoded;
// not validated, which staking.NewState does).
func Read(path string) (*staking.Genesis, error) {
	b, err := fsutil.ReadBounded(path, MaxSize)
	if err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	g, err := staking.DecodeGenesis(b)
	if err != nil {
		return nil, fmt.Errorf("genesis %s: %w", path, err)
	}
	return g, nil
}

// Write stores g's canonical encoding at path atomically, readable by all (it is public).
func Write(path string, g *staking.Genesis) error {
	return fsutil.WriteAtomic(path, g.Encode(), 0o644)
}
