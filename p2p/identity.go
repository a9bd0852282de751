package p2p

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/walrus-go/walrus-go/internal/fsutil"
)

// maxKeyFile bounds what LoadIdentity reads: a marshalled Ed25519 key is 68 bytes.
const maxKeyFile = 4 << 10

// ErrBadKeyFile is returned when a key file does not hold a libp2p Ed25519 private key.
var ErrBadKeyFile = errors.New("p2p: bad identity key file")

// GenerateIdentity returns a fresh Ed25519 identity (docs/architecture.md §3: the transport identity
// is libp2p Ed25519) drawn from rand (crypto/rand.Reader in production; a seeded reader in
// tests that need stable peer IDs).
func GenerateIdentity(rand io.Reader) (crypto.PrivKey, error) {
	priv, _, err := crypto.GenerateEd25519Key(rand)
	return priv, err
}

// LoadIdentity reads an Ed25519 private key written by [SaveIdentity] (libp2p's protobuf
// key encoding, the format go-libp2p tools share).
func LoadIdentity(path string) (crypto.PrivKey, error) {
	b, err := fsutil.ReadBounded(path, maxKeyFile)
	if err != nil {
		if errors.Is(err, fsutil.ErrTooLarge) {
			return nil, fmt.Errorf("%w: %v", ErrBadKeyFile, err)
		}
		return nil, err
	}
	priv, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKeyFile, path, err)
	}
	if priv.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: %s holds a %v key, want Ed25519", ErrBadKeyFile, path, priv.Type())
	}
	return priv, nil
}

// SaveIdentity writes priv to path with mode 0600, atomically (temp file, fsync, rename) so
// a crash never leaves a half-written identity behind.
func SaveIdentity(path string, priv crypto.PrivKey) error {
	b, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(path, b, 0o600)
}

// LoadOrCreateIdentity loads the key at path, or creates and saves a new one if the file
// does not exist (first start of a node).
func LoadOrCreateIdentity(path string) (crypto.PrivKey, error) {
	priv, err := LoadIdentity(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return priv, err
	}
	priv, err = GenerateIdentity(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := SaveIdentity(path, priv); err != nil {
		return nil, err
	}
	return priv, nil
}
