package client

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"gopkg.in/yaml.v3"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/fsutil"
	"github.com/walrus-go/walrus-go/internal/genesisfile"
	"github.com/walrus-go/walrus-go/internal/keyfile"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// FileConfig is the client configuration file, client.yaml: what a client (the walrus CLI,
// a program using this package) needs to join a network. This package reads and writes it
// (LoadFileConfig, WriteFileConfig); `walrus testnet up` writes one with absolute paths.
type FileConfig struct {
	// Network is the network name, for display; the genesis is the truth.
	Network string `yaml:"network"`
	// GenesisFile is the canonical genesis (genesis.bin): network ID and encoding geometry.
	// It is the client's root of trust: the network ID is its hash and the committee of
	// epoch 0 is in it; every ledger answer is verified from there (proven.go).
	GenesisFile string `yaml:"genesis_file"`
	// GenesisID, when set, pins the genesis: the hex network ID (Blake2b-256 of
	// genesis.bin) the genesis file must have. `walrus testnet up` writes it.
	GenesisID string `yaml:"genesis_id,omitempty"`
	// TrustFile caches the committees the client verified (default: the configuration's
	// path with ".trust" appended).
	TrustFile string `yaml:"trust_file,omitempty"`
	// WalletKeyFile is the wallet's Ed25519 seed (hex line or 32 raw bytes); optional for
	// read-only use.
	WalletKeyFile string `yaml:"wallet_key_file"`
	// Bootstrap lists nodes' dialable multiaddrs with /p2p/.
	Bootstrap []string `yaml:"bootstrap"`
	// APIAddrs lists the nodes' HTTP API addresses (health, metrics), if enabled.
	APIAddrs []string `yaml:"api_addrs,omitempty"`
}

// maxConfigFile bounds a client.yaml read: it is untrusted input.
const maxConfigFile = 1 << 20

// LoadFileConfig reads and checks a client configuration file.
func LoadFileConfig(path string) (*FileConfig, error) {
	b, err := fsutil.ReadBounded(path, maxConfigFile)
	if err != nil {
		return nil, fmt.Errorf("client config: %w", err)
	}
	var c FileConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("client config %s: %w", path, err)
	}
	if c.GenesisFile == "" || len(c.Bootstrap) == 0 {
		return nil, fmt.Errorf("client config %s: genesis_file and bootstrap are required", path)
	}
	return &c, nil
}

// WriteFileConfig writes c to path atomically.
func WriteFileConfig(path string, c *FileConfig) error {
	b, err := yaml.Marshal(c)
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(path, b, 0o644)
}

// OpenOptions tune Open.
type OpenOptions struct {
	// NoGossip skips joining GossipSub: certificates then go only through /walrus/tx/1.
	NoGossip bool
	// DialTimeout bounds connecting to the bootstrap nodes (default 10 s).
	DialTimeout time.Duration
	// Logger receives debug logs (default: discarded, the CLI reports errors itself).
	Logger *slog.Logger
}

// Session is a ready client for one network: a libp2p host, the data-path Client and the
// Ledger client over it, built from a client configuration file by Open.
type Session struct {
	Client  *Client
	Ledger  *Ledger
	Genesis *staking.Genesis
	Config  *FileConfig
	Host    host.Host
	gossip  *p2p.Gossip
	bgWG    sync.WaitGroup
}

// Open loads the client configuration at path (bootstrap addresses, wallet, genesis),
// starts a libp2p host on loopback-or-any TCP, connects to the bootstrap nodes (at least
// one must answer within DialTimeout, else ErrNoNode), joins the `certs` topic unless
// NoGossip, and returns a ready session. Close releases it.
func Open(ctx context.Context, path string, opts ...OpenOptions) (s *Session, err error) {
	var o OpenOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	fc, err := LoadFileConfig(path)
	if err != nil {
		return nil, err
	}
	g, err := genesisfile.Read(fc.GenesisFile)
	if err != nil {
		return nil, err
	}
	if id := g.NetworkID(); fc.GenesisID != "" && !strings.EqualFold(fc.GenesisID, hex.EncodeToString(id[:])) {
		return nil, fmt.Errorf("client config %s: genesis file %s has network ID %x, the configuration pins %s", path, fc.GenesisFile, id[:], fc.GenesisID)
	}
	trustFile := fc.TrustFile
	if trustFile == "" {
		trustFile = path + ".trust"
	}
	var key ed25519.PrivateKey
	if fc.WalletKeyFile != "" {
		if key, err = keyfile.ReadAccountKey(fc.WalletKeyFile); err != nil {
			return nil, fmt.Errorf("wallet key: %w", err)
		}
	}
	var addrs []ma.Multiaddr
	for _, a := range fc.Bootstrap {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return nil, fmt.Errorf("client config: bootstrap %q: %w", a, err)
		}
		addrs = append(addrs, m)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(addrs...)
	if err != nil {
		return nil, fmt.Errorf("client config: bootstrap: %w", err)
	}
	params, err := codec.NewParams(g.NShards)
	if err != nil {
		return nil, err
	}
	id, err := p2p.GenerateIdentity(rand.Reader)
	if err != nil {
		return nil, err
	}
	h, err := p2p.NewHost(p2p.HostConfig{Identity: id, ListenAddrs: []string{"/ip4/127.0.0.1/tcp/0"}, DisableQUIC: true})
	if err != nil {
		return nil, err
	}
	sess := &Session{Genesis: g, Config: fc, Host: h}
	s = sess
	defer func() {
		if err != nil {
			sess.Close() // s is nil by now: the error return cleared it
		}
	}()
	if err := connectAny(ctx, h, infos, o.DialTimeout); err != nil {
		return nil, err
	}
	var certs *p2p.Topic
	if !o.NoGossip {
		if s.gossip, err = p2p.NewGossip(h, g.Network, p2p.WithGossipLogger(o.Logger)); err != nil {
			return nil, err
		}
		// The client only publishes; nil accepts what arrives (it reads nothing).
		if certs, err = s.gossip.Join(p2p.TopicCertificates, nil); err != nil {
			return nil, err
		}
	}
	network := g.NetworkID()
	if s.Client, err = New(Config{Host: h, Params: params, Network: network, Logger: o.Logger}); err != nil {
		return nil, err
	}
	if s.Ledger, err = NewLedger(LedgerConfig{Host: h, Network: network, Bootstrap: infos, Key: key, Certs: certs, Logger: o.Logger,
		Genesis: g, TrustFile: trustFile}); err != nil {
		return nil, err
	}
	return s, nil
}

// connectAny dials every bootstrap node in parallel and succeeds once one connection is
// up; the others keep dialing in the background until the timeout.
func connectAny(ctx context.Context, h host.Host, infos []peer.AddrInfo, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	errs := make(chan error, len(infos))
	for _, ai := range infos {
		go func() { errs <- h.Connect(ctx, ai) }()
	}
	var all []error
	for range infos {
		err := <-errs
		if err == nil {
			return nil
		}
		all = append(all, err)
	}
	// libp2p's dial errors list every address tried over several lines; the first line
	// says enough for a one-line CLI error.
	first, _, _ := strings.Cut(all[0].Error(), "\n")
	return fmt.Errorf("%w: none of %d bootstrap nodes answered (is the network up?): %s", ErrNoNode, len(infos), strings.TrimSuffix(first, ":"))
}

// Close waits for background uploads started by Store and closes the host.
func (s *Session) Close() error {
	s.bgWG.Wait()
	if s.gossip != nil {
		_ = s.gossip.Close()
	}
	if s.Ledger != nil {
		s.Ledger.Close()
	}
	if s.Host != nil {
		return s.Host.Close()
	}
	return nil
}

// StoreSummary is the outcome of Session.Store, the fields `walrus store --json` prints.
type StoreSummary struct {
	BlobID          codec.BlobID `json:"blobId"`
	UnencodedLength uint64       `json:"unencodedLength"`
	EncodedLength   uint64       `json:"encodedLength"`
	CertifiedEpoch  uint32       `json:"certifiedEpoch"`
	EndEpoch        uint32       `json:"endEpoch"`
	Cost            uint64       `json:"cost"` // FROST paid by this store for storage and writing (0 when reused)
	// Fee is the FROST its transactions paid in fees under the schedule in force (TxFee):
	// reserve, register and certify, or certify alone for a reused registration, 0 for a
	// blob already certified. A store run again after an epoch change or a lost nonce paid
	// the fees of its extra transactions too.
	Fee              uint64 `json:"fee"`
	AlreadyCertified bool   `json:"alreadyCertified"`
	// Resumed is what an earlier, interrupted store of the same blob had already done.
	Resumed Resumed `json:"resumed"`
}

// Store runs the whole store flow (Client.StoreStream with the session's Ledger as hooks:
// bounded memory, resumable) and summarises it. Uploads to the remaining nodes continue
// after the certificate; Close waits for them (bounded by Config.BackgroundTimeout) so a
// CLI leaves every node with its slivers.
func (s *Session) Store(ctx context.Context, data []byte, opts StoreOptions) (*StoreSummary, error) {
	if max := s.Client.cfg.Params.MaxBlobSize(); uint64(len(data)) > max {
		return nil, fmt.Errorf("client: blob of %d bytes exceeds the maximum of %d for %d shards", len(data), max, s.Client.cfg.Params.N)
	}
	var res *StoreResult
	var in *query.Info
	for attempt := 0; ; attempt++ {
		startEpoch := uint32(0)
		if i, err := s.Ledger.Info(ctx); err == nil {
			in, startEpoch = i, i.Epoch
		}
		var err error
		res, err = s.Client.StoreStream(ctx, data, checkedHooks{s.Ledger}, opts)
		if err == nil {
			break
		}
		// Three turns in a row take epochs of seconds on a loaded machine (tests); real
		// epochs last hours.
		if attempt >= 3 || !s.epochTurned(ctx, startEpoch, err) {
			return nil, err
		}
		// Confirmations and certificates name one epoch (docs/protocol.md §5); the epoch
		// turned mid-store, so the store runs again: the registration is reused (it is
		// ours, live and not certified) and the new epoch's committee confirms.
	}
	ri := s.Ledger.recorded(res.BlobID)
	sum := &StoreSummary{BlobID: res.BlobID, UnencodedLength: uint64(len(data)), EncodedLength: ri.encoded,
		EndEpoch: ri.endEpoch, Cost: ri.cost, AlreadyCertified: res.AlreadyCertified, Resumed: res.Resumed}
	if in != nil {
		sum.Fee, _ = storeFee(in, sum.UnencodedLength, ri.encoded, opts.Epochs, ri.cost > 0, res.AlreadyCertified)
	}
	if res.Upload != nil {
		sum.CertifiedEpoch = res.Upload.Certificate.Epoch
		s.bgWG.Add(1)
		go func() { defer s.bgWG.Done(); <-res.Upload.Done() }()
	} else if st, err := s.Ledger.BlobStatus(ctx, res.BlobID); err == nil {
		for _, o := range st.Objects {
			if o.Certified {
				sum.CertifiedEpoch = o.CertEpoch
				break
			}
		}
	}
	return sum, nil
}

// epochTurned reports whether err may be due to an epoch change since startEpoch: the
// certificate's epoch was refused, or the quorum failed and the epoch is now another.
func (s *Session) epochTurned(ctx context.Context, startEpoch uint32, err error) bool {
	var te *TxError
	if errors.As(err, &te) && te.Code == staking.CodeWrongEpoch {
		return true
	}
	if !errors.Is(err, ErrNoQuorum) {
		return false
	}
	// Nodes refuse confirmations for an old epoch as soon as their own ledger has moved
	// on, which can be a moment before the freshest answer to Info shows it: look again
	// for a little while before calling the failure final.
	for try := 0; ; try++ {
		in, ierr := s.Ledger.Info(ctx)
		if ierr == nil && in.Epoch != startEpoch {
			return true
		}
		if try == 8 {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// ErrBlobUnavailable wraps a ledger status that forbids reading: nonexistent, expired or
// invalid (docs/architecture.md §5 "Read": status first).
var ErrBlobUnavailable = errors.New("client: blob not available")

// Read checks the blob's status on the ledger, then reads and verifies it from the
// committee holding it (Ledger.ReadCommittee: the previous one during an epoch change for
// a blob certified before it).
func (s *Session) Read(ctx context.Context, id codec.BlobID) ([]byte, error) {
	com, err := s.readableCommittee(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.Client.Read(ctx, com, id)
}

// ReadRange checks the blob's status on the ledger as Read does, then returns bytes
// [off, off+n) of it from the current committee, fetching only the slivers that hold them
// (Client.ReadRange; a *RangeError for a range outside the blob).
func (s *Session) ReadRange(ctx context.Context, id codec.BlobID, off, n int64) ([]byte, error) {
	com, err := s.readableCommittee(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.Client.ReadRange(ctx, com, id, off, n)
}

// ReadTo checks the blob's status on the ledger as Read does, then streams the blob to w
// in bounded memory (Client.ReadTo) and returns the bytes written.
func (s *Session) ReadTo(ctx context.Context, id codec.BlobID, w io.Writer) (int64, error) {
	com, err := s.readableCommittee(ctx, id)
	if err != nil {
		return 0, err
	}
	return s.Client.ReadTo(ctx, com, id, w)
}

// WalletAddress reads a wallet key file and returns its account address.
func WalletAddress(keyFile string) (staking.Address, error) {
	k, err := keyfile.ReadAccountKey(keyFile)
	if err != nil {
		return staking.Address{}, err
	}
	return staking.AddressOf(k.Public().(ed25519.PublicKey)), nil
}
