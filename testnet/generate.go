package testnet

import (
	"crypto/ed25519"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/fsutil"
	"github.com/walrus-go/walrus-go/internal/genesisfile"
	"github.com/walrus-go/walrus-go/internal/keyfile"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
)

// File and directory names of a layout (package doc, "Directory layout").
const (
	GenesisFileName      = "genesis.bin"
	GenesisJSONFileName  = "genesis.json"
	FaucetKeyFileName    = "faucet.key"
	WalletKeyFileName    = "wallet.key"
	ClientConfigFileName = "client.yaml"
	NodesDirName         = "nodes"
	NodeConfigFileName   = "config.yaml"
	IdentityKeyFileName  = "identity.key"
	BLSKeyFileName       = "bls.key"
	OperatorKeyFileName  = "operator.key"
	DataDirName          = "data"
	PIDFileName          = "node.pid"
	LogFileName          = "node.log"
)

// ErrExists is returned by Generate when the directory already holds a genesis.
var ErrExists = errors.New("testnet: directory already holds a network")

// Layout describes a generated network on disk. Paths are absolute.
type Layout struct {
	// Dir is the root directory.
	Dir string
	// GenesisFile is the canonical genesis (genesis.bin); Genesis is its decoded content.
	GenesisFile string
	Genesis     *staking.Genesis
	// FaucetKeyFile and WalletKeyFile are the faucet's and the client wallet's account keys.
	FaucetKeyFile string
	WalletKeyFile string
	// ClientConfigFile is client.yaml (client.FileConfig).
	ClientConfigFile string
	// Nodes lists the genesis nodes in genesis order.
	Nodes []NodeFiles
}

// NodeFiles describes one node of a layout.
type NodeFiles struct {
	// Index is the node's position in the genesis.
	Index int
	// Dir is nodes/<i>; ConfigFile its config.yaml; DataDir its datastore directory.
	Dir        string
	ConfigFile string
	DataDir    string
	// IdentityKeyFile, BLSKeyFile and OperatorKeyFile hold the node's keys.
	IdentityKeyFile string
	BLSKeyFile      string
	OperatorKeyFile string
	// PeerID is the libp2p identity; ListenAddrs the multiaddrs it listens on (no /p2p/).
	PeerID      peer.ID
	ListenAddrs []string
	// APIAddr is the HTTP API host:port ("" when disabled).
	APIAddr string
	// Bootstrap lists every other node's dialable addresses (config.yaml's bootstrap).
	Bootstrap []string
}

// Dialable returns the node's listen addresses with its /p2p/ ID appended: what others put
// in their bootstrap lists.
func (n *NodeFiles) Dialable() []string {
	out := make([]string, len(n.ListenAddrs))
	for i, a := range n.ListenAddrs {
		out[i] = a + "/p2p/" + n.PeerID.String()
	}
	return out
}

// PIDFile and LogFile are where Up records the node process's ID and output.
func (n *NodeFiles) PIDFile() string { return filepath.Join(n.Dir, PIDFileName) }

// LogFile is the node process's combined stdout and stderr under Up.
func (n *NodeFiles) LogFile() string { return filepath.Join(n.Dir, LogFileName) }

// keySource hands out independent readers for each key, so that with a seed every key
// depends only on (seed, purpose, index) and not on how many keys were drawn before it.
type keySource struct {
	seed   uint64
	seeded bool
}

func (s keySource) reader(purpose string, i int) io.Reader {
	if !s.seeded {
		return crand.Reader
	}
	h, _ := blake2b.New256(nil)
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], s.seed)
	binary.LittleEndian.PutUint64(b[8:], uint64(i))
	h.Write([]byte("walrus-go/testnet/" + purpose + "/"))
	h.Write(b[:])
	var key [32]byte
	copy(key[:], h.Sum(nil))
	return rand.NewChaCha8(key)
}

// accountKey draws an Ed25519 key. It reads the seed itself rather than calling
// ed25519.GenerateKey, whose reader argument newer Go releases may ignore.
func (s keySource) accountKey(purpose string, i int) (ed25519.PrivateKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(s.reader(purpose, i), seed); err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// identity draws a libp2p Ed25519 identity the same way.
func (s keySource) identity(i int) (crypto.PrivKey, error) {
	k, err := s.accountKey("identity", i)
	if err != nil {
		return nil, err
	}
	return crypto.UnmarshalEd25519PrivateKey(k)
}

// Generate writes a new network into o.Dir (see the package doc for the layout): keys for
// every node, their configurations, a funded client wallet and faucet, client.yaml and the
// genesis. genesis.bin is written last, so its presence marks a complete layout; Generate
// refuses a directory that already has one (ErrExists).
func Generate(o Options) (*Layout, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(dir, GenesisFileName)); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, dir)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, NodesDirName), 0o755); err != nil {
		return nil, err
	}
	ports, err := choosePorts(o)
	if err != nil {
		return nil, err
	}
	src := keySource{seed: o.Seed, seeded: o.Seed != 0}
	l := &Layout{
		Dir:              dir,
		GenesisFile:      filepath.Join(dir, GenesisFileName),
		FaucetKeyFile:    filepath.Join(dir, FaucetKeyFileName),
		WalletKeyFile:    filepath.Join(dir, WalletKeyFileName),
		ClientConfigFile: filepath.Join(dir, ClientConfigFileName),
	}
	g := &staking.Genesis{
		Network:       o.Network,
		NShards:       o.Shards,
		EpochDuration: o.EpochDuration.Milliseconds(),
		GenesisTime:   o.GenesisTime.UnixMilli(),
		Prices:        o.Prices,
	}

	// Nodes: keys first, then configs (a node's bootstrap list needs every peer ID).
	for i := 0; i < o.Nodes; i++ {
		nf, gn, err := generateNode(o, src, dir, i, ports[i])
		if err != nil {
			return nil, fmt.Errorf("testnet: node %d: %w", i, err)
		}
		l.Nodes = append(l.Nodes, nf)
		g.Nodes = append(g.Nodes, gn)
	}
	for i := range l.Nodes {
		if err := writeNodeConfig(o, l, i); err != nil {
			return nil, fmt.Errorf("testnet: node %d config: %w", i, err)
		}
	}

	faucet, err := src.accountKey("faucet", 0)
	if err != nil {
		return nil, err
	}
	wallet, err := src.accountKey("wallet", 0)
	if err != nil {
		return nil, err
	}
	if err := keyfile.WriteAccountKey(l.FaucetKeyFile, faucet); err != nil {
		return nil, err
	}
	if err := keyfile.WriteAccountKey(l.WalletKeyFile, wallet); err != nil {
		return nil, err
	}
	g.Faucet = staking.GenesisAccount{Address: staking.AddressOf(faucet.Public().(ed25519.PublicKey)), Balance: o.FaucetBalance}
	g.Accounts = []staking.GenesisAccount{{Address: staking.AddressOf(wallet.Public().(ed25519.PublicKey)), Balance: o.WalletBalance}}
	// Node operator accounts are the nodes' own ledger accounts (nodeconfig.go): they send
	// `sync done` and `invalidate blob` and must pay those transactions' fees.
	for _, gn := range g.Nodes {
		g.Accounts = append(g.Accounts, staking.GenesisAccount{Address: gn.Operator, Balance: o.OperatorBalance})
	}
	if err := writeClientConfig(l, g.Network, g.NetworkID()); err != nil {
		return nil, err
	}

	// The genesis must be one the ledger accepts; checking here turns a bad option into an
	// error at generation instead of a node that refuses to start.
	if _, err := staking.NewState(g); err != nil {
		return nil, fmt.Errorf("testnet: generated genesis rejected: %w", err)
	}
	js, err := genesisJSON(g)
	if err != nil {
		return nil, err
	}
	if err := fsutil.WriteAtomic(filepath.Join(dir, GenesisJSONFileName), js, 0o644); err != nil {
		return nil, err
	}
	if err := genesisfile.Write(l.GenesisFile, g); err != nil {
		return nil, err
	}
	l.Genesis = g
	return l, nil
}

// generateNode creates nodes/<i> with its keys and returns its files and genesis entry.
func generateNode(o Options, src keySource, dir string, i int, pp portPair) (NodeFiles, staking.GenesisNode, error) {
	nd := filepath.Join(dir, NodesDirName, strconv.Itoa(i))
	nf := NodeFiles{
		Index:           i,
		Dir:             nd,
		ConfigFile:      filepath.Join(nd, NodeConfigFileName),
		DataDir:         filepath.Join(nd, DataDirName),
		IdentityKeyFile: filepath.Join(nd, IdentityKeyFileName),
		BLSKeyFile:      filepath.Join(nd, BLSKeyFileName),
		OperatorKeyFile: filepath.Join(nd, OperatorKeyFileName),
	}
	if err := os.MkdirAll(nf.DataDir, 0o700); err != nil {
		return nf, staking.GenesisNode{}, err
	}
	id, err := src.identity(i)
	if err != nil {
		return nf, staking.GenesisNode{}, err
	}
	if err := p2p.SaveIdentity(nf.IdentityKeyFile, id); err != nil {
		return nf, staking.GenesisNode{}, err
	}
	if nf.PeerID, err = peer.IDFromPrivateKey(id); err != nil {
		return nf, staking.GenesisNode{}, err
	}
	bk, err := bls.GenerateKey(src.reader("bls", i))
	if err != nil {
		return nf, staking.GenesisNode{}, err
	}
	if err := keyfile.WriteBLSKey(nf.BLSKeyFile, bk); err != nil {
		return nf, staking.GenesisNode{}, err
	}
	op, err := src.accountKey("operator", i)
	if err != nil {
		return nf, staking.GenesisNode{}, err
	}
	if err := keyfile.WriteAccountKey(nf.OperatorKeyFile, op); err != nil {
		return nf, staking.GenesisNode{}, err
	}
	nf.ListenAddrs = []string{fmt.Sprintf("/ip4/%s/tcp/%d", o.Host, pp.p2p)}
	if !o.DisableQUIC {
		nf.ListenAddrs = append(nf.ListenAddrs, fmt.Sprintf("/ip4/%s/udp/%d/quic-v1", o.Host, pp.p2p))
	}
	if !o.DisableAPI {
		nf.APIAddr = fmt.Sprintf("%s:%d", o.Host, pp.api)
	}
	gn := staking.GenesisNode{
		Operator: staking.AddressOf(op.Public().(ed25519.PublicKey)),
		BLSKey:   bk.PublicKey(),
		PoP:      bk.ProvePossession(),
		Info: staking.NodeInfo{
			// Binary form, as epoch.Member.PeerID documents: committees copy it verbatim.
			PeerID:       string(nf.PeerID),
			Addrs:        append([]string(nil), nf.ListenAddrs...),
			Commission:   o.Commission,
			StoragePrice: o.Prices.Storage,
			WritePrice:   o.Prices.Write,
			Capacity:     o.Capacity,
			Fees:         o.Prices.Fees,
		},
		Stake: o.NodeStake,
	}
	return nf, gn, nil
}
