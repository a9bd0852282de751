package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"gopkg.in/yaml.v3"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/fsutil"
	"github.com/walrus-go/walrus-go/internal/genesisfile"
	"github.com/walrus-go/walrus-go/internal/keyfile"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/p2p"
)

// Joining a network (docs/operating.md §8): `walrus node --genesis G --bootstrap ADDR --dir D`
// makes D a node directory — the genesis, fresh keys and a config.yaml — and runs the node
// from it. The node follows the ledger from genesis (it verifies every checkpoint itself) and
// holds no shards until it is registered (`walrus register-node`) and staked into a
// committee. Run again with the same D, it reuses what is there.

// Names inside a node directory made by `walrus node --dir`. Paths in its config.yaml are
// relative to D, so the directory can be moved.
const (
	joinConfigFile  = "config.yaml"
	joinGenesisFile = "genesis.bin"
	joinIdentity    = "identity.key"
	joinBLSKey      = "bls.key"
	joinAccountKey  = "account.key"
	joinDataDir     = "data"
	joinHost        = "127.0.0.1"
)

// maxGenesisFile bounds the genesis read when copying it (genesisfile's own cap).
const maxGenesisFile = 64 << 20

// joinOptions are the node command's flags for making a node directory.
type joinOptions struct {
	dir       string
	genesis   string
	bootstrap multiFlag
	listen    multiFlag
	apiAddr   string
}

// joinConfigHeader starts the config.yaml that `walrus node --dir` writes.
const joinConfigHeader = `# walrus-go node configuration, written by 'walrus node --dir'.
# Run with: walrus node --config <this file>   (or: walrus node --dir <this directory>)
# Paths are relative to this file's directory. Zero durations take the defaults (node/config.go).
`

// prepareNodeDir returns the config.yaml of the node directory o.dir, creating the
// directory when it has none: the genesis copied in, an identity, a BLS key and an account
// key (each created only if missing, never overwritten), listen addresses (--listen, or TCP
// and QUIC on 127.0.0.1 on a port free now), an API address and the bootstrap peers. The
// config is written last: its presence marks a complete directory. An existing directory is
// reused as it is; a --genesis given with it must be the same network.
func prepareNodeDir(w io.Writer, o *joinOptions) (string, error) {
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return "", err
	}
	cfgPath := filepath.Join(dir, joinConfigFile)
	if _, err := os.Stat(cfgPath); err == nil {
		cfg, err := node.LoadConfig(cfgPath)
		if err != nil {
			return "", err
		}
		if o.genesis != "" {
			have, err := genesisfile.Read(cfg.GenesisFile)
			if err != nil {
				return "", err
			}
			want, err := genesisfile.Read(o.genesis)
			if err != nil {
				return "", err
			}
			if have.NetworkID() != want.NetworkID() {
				return "", fmt.Errorf("%s belongs to network %s, not to the genesis %s (%s): use another --dir",
					dir, have.Network, o.genesis, want.Network)
			}
		}
		if len(o.bootstrap) > 0 || len(o.listen) > 0 || o.apiAddr != "" {
			fmt.Fprintf(w, "reusing %s: --bootstrap, --listen and --api-addr are taken from it, not from the command line\n", cfgPath)
		}
		return cfgPath, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}

	if o.genesis == "" || len(o.bootstrap) == 0 {
		return "", fmt.Errorf("%s has no %s yet: --genesis FILE and at least one --bootstrap ADDR are needed to create it", dir, joinConfigFile)
	}
	raw, err := fsutil.ReadBounded(o.genesis, maxGenesisFile)
	if err != nil {
		return "", fmt.Errorf("genesis: %w", err)
	}
	g, err := genesisfile.Read(o.genesis)
	if err != nil {
		return "", err
	}
	for _, b := range o.bootstrap {
		if _, err := peer.AddrInfoFromString(b); err != nil {
			return "", fmt.Errorf("bad --bootstrap %q: want a multiaddr ending in /p2p/<peer ID> (%v)", b, err)
		}
	}
	for _, l := range o.listen {
		if _, err := ma.NewMultiaddr(l); err != nil {
			return "", fmt.Errorf("bad --listen %q: %v", l, err)
		}
	}
	if o.apiAddr != "" {
		if _, _, err := net.SplitHostPort(o.apiAddr); err != nil {
			return "", fmt.Errorf("bad --api-addr %q: want HOST:PORT", o.apiAddr)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, joinDataDir), 0o700); err != nil {
		return "", err
	}
	if err := fsutil.WriteAtomic(filepath.Join(dir, joinGenesisFile), raw, 0o644); err != nil {
		return "", err
	}
	if err := ensureKeys(dir); err != nil {
		return "", err
	}
	listen := []string(o.listen)
	if len(listen) == 0 {
		port, err := freeP2PPort(joinHost)
		if err != nil {
			return "", err
		}
		listen = []string{fmt.Sprintf("/ip4/%s/tcp/%d", joinHost, port), fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", joinHost, port)}
	}
	api := o.apiAddr
	if api == "" {
		port, err := freeTCPPort(joinHost)
		if err != nil {
			return "", err
		}
		api = net.JoinHostPort(joinHost, strconv.Itoa(port))
	}
	cfg := node.Config{
		DataDir: joinDataDir, GenesisFile: joinGenesisFile, IdentityKeyFile: joinIdentity, BLSKeyFile: joinBLSKey,
		AccountKeyFile: joinAccountKey, ListenAddrs: listen, Bootstrap: o.bootstrap, APIAddr: api,
	}
	b, err := yaml.Marshal(&cfg)
	if err != nil {
		return "", err
	}
	if err := fsutil.WriteAtomic(cfgPath, append([]byte(joinConfigHeader), b...), 0o644); err != nil {
		return "", err
	}
	k, err := keyfile.ReadBLSKey(filepath.Join(dir, joinBLSKey))
	if err != nil {
		return "", err
	}
	id := epoch.NodeIDOf(k.PublicKey())
	fmt.Fprintf(w, "created %s for network %s: node ID %x\nregister it with: walrus --config CLIENT.yaml register-node --node-config %s\n",
		cfgPath, g.Network, id[:], cfgPath)
	return cfgPath, nil
}

// ensureKeys creates, in dir, each key a node needs that is not there yet.
func ensureKeys(dir string) error {
	missing := func(name string) (string, bool, error) {
		p := filepath.Join(dir, name)
		_, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return p, true, nil
		}
		return p, false, err
	}
	if p, ok, err := missing(joinIdentity); err != nil {
		return err
	} else if ok {
		id, err := p2p.GenerateIdentity(rand.Reader)
		if err != nil {
			return err
		}
		if err := p2p.SaveIdentity(p, id); err != nil {
			return err
		}
	}
	if p, ok, err := missing(joinBLSKey); err != nil {
		return err
	} else if ok {
		k, err := bls.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		if err := keyfile.WriteBLSKey(p, k); err != nil {
			return err
		}
	}
	if p, ok, err := missing(joinAccountKey); err != nil {
		return err
	} else if ok {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		if err := keyfile.WriteAccountKey(p, k); err != nil {
			return err
		}
	}
	return nil
}

// freeTCPPort asks the OS for a TCP port free on host now.
func freeTCPPort(host string) (int, error) {
	ln, err := net.Listen("tcp4", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// freeP2PPort finds a TCP port whose UDP twin is free too (TCP and QUIC share the number).
func freeP2PPort(host string) (int, error) {
	var held []io.Closer
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for range 64 {
		ln, err := net.Listen("tcp4", net.JoinHostPort(host, "0"))
		if err != nil {
			return 0, err
		}
		held = append(held, ln)
		p := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp4", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			continue
		}
		pc.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no TCP port with a free UDP twin on %s", host)
}

// joinFlags adds the node directory flags to the node command's flag set.
func joinFlags(fs *flag.FlagSet) *joinOptions {
	o := &joinOptions{}
	fs.StringVar(&o.dir, "dir", "", "node `directory`: created with fresh keys and a config.yaml if it has none (needs --genesis and --bootstrap), reused if it has one")
	fs.StringVar(&o.genesis, "genesis", "", "the network's genesis.bin `file` (copied into --dir)")
	fs.Var(&o.bootstrap, "bootstrap", "a peer to join through, a `multiaddr` ending in /p2p/<peer ID> (repeatable)")
	fs.Var(&o.listen, "listen", "a libp2p listen `multiaddr` (repeatable; default TCP and QUIC on 127.0.0.1, a port free when --dir is created)")
	fs.StringVar(&o.apiAddr, "api-addr", "", "`host:port` of the HTTP API (/v1/health, /metrics); default 127.0.0.1 and a free port")
	return o
}
