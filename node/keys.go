package node

import (
	"bytes"
	"encoding/hex"
	"fmt"

	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/fsutil"
	"github.com/walrus-go/walrus-go/staking"
)

// maxSmallFile bounds key files (a 32-byte secret as hex with whitespace).
const maxSmallFile = 256

// maxGenesisFile bounds the genesis file: MaxGenesisNodes nodes of a few hundred bytes and
// MaxGenesisAccounts accounts of 40 bytes fit in 64 MiB.
const maxGenesisFile = 64 << 20

// LoadBLSKey reads a BLS secret key stored as 32 raw bytes or as 64 hex characters (the
// format testnet writes).
func LoadBLSKey(path string) (*bls.SecretKey, error) {
	b, err := fsutil.ReadBounded(path, maxSmallFile)
	if err != nil {
		return nil, err
	}
	if len(b) != bls.SecretKeySize {
		t := bytes.TrimSpace(b)
		if len(t) != 2*bls.SecretKeySize {
			return nil, fmt.Errorf("node: BLS key %s: want 32 bytes or 64 hex characters", path)
		}
		b = make([]byte, bls.SecretKeySize)
		if _, err := hex.Decode(b, t); err != nil {
			return nil, fmt.Errorf("node: BLS key %s: %v", path, err)
		}
	}
	k, err := bls.SecretKeyFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("node: BLS key %s: %w", path, err)
	}
	return k, nil
}

// LoadGenesis reads and decodes a canonical genesis file (staking.Genesis encoding).
func LoadGenesis(path string) (*staking.Genesis, error) {
	b, err := fsutil.ReadBounded(path, maxGenesisFile)
	if err != nil {
		return nil, err
	}
	g, err := staking.DecodeGenesis(b)
	if err != nil {
		return nil, fmt.Errorf("node: genesis %s: %w", path, err)
	}
	return g, nil
}
