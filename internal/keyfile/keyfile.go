// Package keyfile reads and writes walrus-go's secret key files: a node's BLS12-381 key and
// Ed25519 account keys (wallet, faucet, operator). Every tool that touches a key file goes
// through here, so the format is defined once (docs/operating.md, "Key files"):
//
// one line of lowercase hex of the 32-byte secret (the BLS secret scalar big-endian, as
// bls.SecretKey.Bytes; the Ed25519 seed, as ed25519.PrivateKey.Seed) and a newline, mode
// 0600, written atomically. Hex so an operator can copy a key between machines with a
// terminal; the readers also accept the raw 32 bytes. Key files are untrusted input: a
// reader never reads more than a few hundred bytes. libp2p identities are not key files of
// this kind: they use p2p.SaveIdentity's format (libp2p's protobuf key encoding).
package keyfile

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/fsutil"
)

// secretSize is the size of every secret this package stores: a BLS scalar
// (bls.SecretKeySize) and an Ed25519 seed (ed25519.SeedSize) are both 32 bytes.
const secretSize = 32

// maxKeyFile bounds what a key reader takes from disk: 64 hex characters, a line ending and
// some slack for editors that add whitespace.
const maxKeyFile = 256

// ErrBadKeyFile is wrapped by every key-file parse failure.
var ErrBadKeyFile = errors.New("bad key file")

// WriteBLSKey stores a BLS secret key at path in the key-file format.
func WriteBLSKey(path string, k *bls.SecretKey) error { return writeSecret(path, k.Bytes()) }

// ReadBLSKey loads a BLS secret key written by WriteBLSKey (hex line) or stored raw.
func ReadBLSKey(path string) (*bls.SecretKey, error) {
	b, err := readSecret(path)
	if err != nil {
		return nil, err
	}
	k, err := bls.SecretKeyFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKeyFile, path, err)
	}
	return k, nil
}

// WriteAccountKey stores an Ed25519 account key (wallet, faucet, operator) at path as the
// hex of its 32-byte seed.
func WriteAccountKey(path string, k ed25519.PrivateKey) error {
	return writeSecret(path, k.Seed())
}

// ReadAccountKey loads an Ed25519 account key written by WriteAccountKey (hex line) or a raw
// 32-byte seed.
func ReadAccountKey(path string) (ed25519.PrivateKey, error) {
	b, err := readSecret(path)
	if err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(b), nil
}

// writeSecret writes hex(secret)+"\n" with mode 0600 through a temporary file and a rename,
// so a crash never leaves a truncated key behind.
func writeSecret(path string, secret []byte) error {
	line := make([]byte, 0, 2*len(secret)+1)
	line = hex.AppendEncode(line, secret)
	line = append(line, '\n')
	return fsutil.WriteAtomic(path, line, 0o600)
}

// readSecret reads a 32-byte secret stored as a hex line or raw, never reading more than
// maxKeyFile bytes of an untrusted file.
func readSecret(path string) ([]byte, error) {
	b, err := fsutil.ReadBounded(path, maxKeyFile)
	if err != nil {
		if errors.Is(err, fsutil.ErrTooLarge) {
			return nil, fmt.Errorf("%w: %v", ErrBadKeyFile, err)
		}
		return nil, err
	}
	if len(b) == secretSize {
		// Raw bytes. A 32-character hex string would be 16 bytes of key, never valid here,
		// so the two forms cannot be confused.
		return b, nil
	}
	t := bytes.TrimSpace(b)
	if len(t) != 2*secretSize {
		return nil, fmt.Errorf("%w: %s: want %d hex characters, have %d bytes", ErrBadKeyFile, path, 2*secretSize, len(t))
	}
	out := make([]byte, secretSize)
	if _, err := hex.Decode(out, t); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadKeyFile, path, err)
	}
	return out, nil
}
