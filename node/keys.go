package node

import (
	"fmt"

	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/keyfile"
)

// LoadBLSKey reads a BLS secret key file (internal/keyfile's format: a hex line, or the raw
// 32 bytes).
func LoadBLSKey(path string) (*bls.SecretKey, error) {
	k, err := keyfile.ReadBLSKey(path)
	if err != nil {
		return nil, fmt.Errorf("node: BLS key: %w", err)
	}
	return k, nil
}
