package node

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/walrus-go/walrus-go/node/store"
)

// maxConfigFile bounds what LoadConfig reads.
const maxConfigFile = 1 << 20

// Config is a node's configuration, loaded from YAML (LoadConfig) or built in code; call
// Validate (New does) to check it and fill defaults. YAML keys are the lower_snake_case
// names given in the field tags; durations are Go duration strings ("500ms", "3s").
type Config struct {
	// DataDir holds the datastore and, by default, the identity key. Required.
	DataDir string `yaml:"data_dir"`
	// GenesisFile is the canonical genesis (genesis.bin, staking.Genesis encoding).
	// Required.
	GenesisFile string `yaml:"genesis_file"`
	// IdentityKeyFile is the libp2p Ed25519 key (p2p.SaveIdentity format). Default
	// DataDir/identity.key, created on first start.
	IdentityKeyFile string `yaml:"identity_key_file"`
	// BLSKeyFile is the node's BLS12-381 protocol key: 32 bytes raw or as 64 hex
	// characters. Required.
	BLSKeyFile string `yaml:"bls_key_file"`
	// AccountKeyFile is the node's ledger account (an Ed25519 wallet key,
	// internal/keyfile's format), which signs the transactions the node submits itself,
	// such as invalid-blob certificates. Default DataDir/account.key, created on first
	// start; `walrus testnet up` uses the node operator's key.
	AccountKeyFile string `yaml:"account_key_file"`
	// ListenAddrs are libp2p multiaddrs. Default TCP and QUIC on 127.0.0.1 with ports chosen
	// by the OS (right for tests; an operator sets 0.0.0.0 and fixed ports).
	ListenAddrs []string `yaml:"listen_addrs"`
	// DisableQUIC listens on TCP only.
	DisableQUIC bool `yaml:"disable_quic"`
	// Bootstrap are peers to connect to at start, full multiaddrs with /p2p/<peer ID>.
	Bootstrap []string `yaml:"bootstrap"`
	// APIAddr is the HTTP address for /metrics and /v1/health ("" disables the server;
	// "127.0.0.1:0" picks a port).
	APIAddr string `yaml:"api_addr"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level"`

	// Consensus tunes the consensus actor; zero fields take its defaults.
	Consensus ConsensusConfig `yaml:"consensus"`
	// Ledger tunes the ledger actor; zero fields take its defaults.
	Ledger LedgerConfig `yaml:"ledger"`
	// GC tunes garbage collection (node/gc); zero fields take its defaults.
	GC GCConfig `yaml:"gc"`
	// BlobSync tunes self-healing (node/blobsync); zero fields take its defaults.
	BlobSync BlobSyncConfig `yaml:"blob_sync"`
	// EpochChange tunes shard migration (node/epochchange); zero fields take its defaults.
	EpochChange EpochChangeConfig `yaml:"epoch_change"`
	// Datastore tunes the embedded pebble datastore (node/store).
	Datastore DatastoreConfig `yaml:"datastore"`
}

// DatastoreConfig tunes the node's datastore (node/store options).
type DatastoreConfig struct {
	// WrittenPages says which sliver tables the node writes keep their pages in the page
	// cache (store.PagePolicy): "hot" (default) keeps the tables holding systematic primary
	// slivers, which reads fetch, and drops the rest once stored; "all" keeps every table;
	// "none" drops every table (cheapest writes, reads of fresh blobs from disk).
	WrittenPages string `yaml:"written_pages"`
}

// EpochChangeConfig tunes shard migration at epoch changes (epochchange.Config).
type EpochChangeConfig struct {
	// Page is how many blobs one shard-sync exchange asks for (default 256, at most 4096).
	Page int `yaml:"page"`
	// Attempts is how many failed exchanges in a row give a previous owner up, after
	// which the shard is recovered from the other nodes (default 3).
	Attempts int `yaml:"attempts"`
	// RetryDelay is the pause after a failed exchange (default 1s).
	RetryDelay time.Duration `yaml:"retry_delay"`
}

// BlobSyncConfig tunes blob sync (blobsync.Config): recovering the slivers this node misses
// of certified blobs from the other nodes' recovery symbols.
type BlobSyncConfig struct {
	// Disabled turns blob sync off (a node that missed a write never gets its slivers).
	Disabled bool `yaml:"disabled"`
	// Delay is how long after a certification the node waits before recovering what it
	// misses, leaving the writer time to finish its uploads (default 10s).
	Delay time.Duration `yaml:"delay"`
	// Sweep is how often every certified blob is checked (default 5m; also at start).
	Sweep time.Duration `yaml:"sweep"`
	// Workers is how many blobs are recovered at once (default 2).
	Workers int `yaml:"workers"`
	// Queue bounds the blobs waiting to be checked (default 4096); a sweep goes on from
	// where it stopped as room frees up.
	Queue int `yaml:"queue"`
	// Budget bounds the sliver bytes one recovery round holds (default 64 MiB); a blob
	// whose missing slivers are larger is recovered in rounds, each stored at once.
	Budget int `yaml:"budget"`
	// ScrubRate caps the sliver bytes re-verified per second by the background scrub
	// (default 8 MiB/s); within it the scrub keeps to 3% of a core (blobsync.DefaultScrubCPU:
	// each sliver's read and re-verification is timed and followed by a rest), a sixteenth
	// of both while the node serves users. ScrubCPU sets that share (0: the default; 1
	// turns the CPU pacing off, leaving the rate). ScrubPause is the rest between two
	// passes (default 10m).
	ScrubRate  int           `yaml:"scrub_rate"`
	ScrubCPU   float64       `yaml:"scrub_cpu"`
	ScrubPause time.Duration `yaml:"scrub_pause"`
}

// GCConfig is the garbage collector's rate (gc.Config): every Interval it removes at most
// Batch blobs and examines at most Scan stored blob IDs, so at the defaults it frees up to
// 16 blobs a second, and its work (removals, walks, compactions) takes at most CPU of one
// core; while the node served a sliver read or write within the last 2 s it removes one
// blob a step, works at BusyCPU and holds compactions back (at most CompactEvery).
type GCConfig struct {
	// Disabled turns garbage collection off (slivers of ended blobs stay on disk).
	Disabled bool `yaml:"disabled"`
	// Interval is the period of a step (default 1s).
	Interval time.Duration `yaml:"interval"`
	// Batch is the most blobs removed per step (default 16).
	Batch int `yaml:"batch"`
	// Scan is the most stored blob IDs the sweep examines per step (default 512).
	Scan int `yaml:"scan"`
	// SweepInterval starts a full sweep at least this often (default 10m); epoch changes
	// and dropped ledger events start one too.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// CompactAfter and CompactEvery decide when the blob and sliver key spaces are
	// compacted to give the space of removed blobs back to the file system: once CompactAfter bytes were removed
	// since the last compaction (default 64 MiB), or when anything was and CompactEvery
	// has passed (default 10m).
	CompactAfter int64         `yaml:"compact_after"`
	CompactEvery time.Duration `yaml:"compact_every"`
	// CPU is the share of one core the collector's work may take (default 0.1,
	// gc.DefaultCPU): each step and compaction is timed and followed by a rest; 1 turns
	// the pacing off. BusyCPU is the share while the node serves users (default CPU/16).
	// Both within [0, 1]; 0 takes the default.
	CPU     float64 `yaml:"cpu"`
	BusyCPU float64 `yaml:"busy_cpu"`
}

// ConsensusConfig are the consensus actor's timings (consensus.Config).
type ConsensusConfig struct {
	ProposeTimeout      time.Duration `yaml:"propose_timeout"`
	PrevoteTimeout      time.Duration `yaml:"prevote_timeout"`
	PrecommitTimeout    time.Duration `yaml:"precommit_timeout"`
	TimeoutDelta        time.Duration `yaml:"timeout_delta"`
	RebroadcastInterval time.Duration `yaml:"rebroadcast_interval"`
	TickInterval        time.Duration `yaml:"tick_interval"`
	TimeBound           time.Duration `yaml:"time_bound"`
	MaxMempool          int           `yaml:"max_mempool"`
}

// LedgerConfig are the ledger actor's settings (ledger.Config, ledger.NetConfig).
type LedgerConfig struct {
	// SnapshotEvery writes a state snapshot every this many heights.
	SnapshotEvery uint64 `yaml:"snapshot_every"`
	// ReceiptHeights keeps transaction receipts of this many recent heights.
	ReceiptHeights uint64 `yaml:"receipt_heights"`
	// SyncInterval is the period of the background catch-up check.
	SyncInterval time.Duration `yaml:"sync_interval"`
}

// LoadConfig reads a YAML config file. Unknown keys are an error (a typo should not
// silently fall back to a default). Relative paths in it are taken relative to the file's
// directory. The result is validated.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigFile {
		return nil, fmt.Errorf("node: config %s is larger than %d bytes", path, maxConfigFile)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("node: config %s: %w", path, err)
	}
	base := filepath.Dir(path)
	for _, p := range []*string{&c.DataDir, &c.GenesisFile, &c.IdentityKeyFile, &c.BLSKeyFile, &c.AccountKeyFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("node: config %s: %w", path, err)
	}
	return &c, nil
}

// Validate checks c and fills defaults.
func (c *Config) Validate() error {
	var missing []string
	if c.DataDir == "" {
		missing = append(missing, "data_dir")
	}
	if c.GenesisFile == "" {
		missing = append(missing, "genesis_file")
	}
	if c.BLSKeyFile == "" {
		missing = append(missing, "bls_key_file")
	}
	if len(missing) > 0 {
		return fmt.Errorf("node: config misses %s", strings.Join(missing, ", "))
	}
	if c.IdentityKeyFile == "" {
		c.IdentityKeyFile = filepath.Join(c.DataDir, "identity.key")
	}
	if c.AccountKeyFile == "" {
		c.AccountKeyFile = filepath.Join(c.DataDir, "account.key")
	}
	if len(c.ListenAddrs) == 0 {
		c.ListenAddrs = []string{"/ip4/127.0.0.1/tcp/0"}
		if !c.DisableQUIC {
			c.ListenAddrs = append(c.ListenAddrs, "/ip4/127.0.0.1/udp/0/quic-v1")
		}
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	for _, d := range []time.Duration{c.Consensus.ProposeTimeout, c.Consensus.PrevoteTimeout, c.Consensus.PrecommitTimeout,
		c.Consensus.TimeoutDelta, c.Consensus.RebroadcastInterval, c.Consensus.TickInterval, c.Consensus.TimeBound, c.Ledger.SyncInterval,
		c.GC.Interval, c.GC.SweepInterval, c.GC.CompactEvery, c.BlobSync.Delay, c.BlobSync.Sweep, c.BlobSync.ScrubPause, c.EpochChange.RetryDelay} {
		if d < 0 {
			return fmt.Errorf("node: negative duration %v in config", d)
		}
	}
	if c.Consensus.MaxMempool < 0 {
		return errors.New("node: negative max_mempool")
	}
	if c.GC.CompactAfter < 0 {
		return errors.New("node: negative gc.compact_after")
	}
	if c.EpochChange.Page < 0 || c.EpochChange.Attempts < 0 {
		return errors.New("node: negative epoch_change setting")
	}
	if c.BlobSync.Workers < 0 || c.BlobSync.Queue < 0 || c.BlobSync.Budget < 0 || c.BlobSync.ScrubRate < 0 {
		return errors.New("node: negative blob_sync workers, queue, budget or scrub_rate")
	}
	if c.GC.Batch < 0 || c.GC.Scan < 0 {
		return errors.New("node: negative gc batch or scan")
	}
	for _, share := range []float64{c.GC.CPU, c.GC.BusyCPU} {
		if !(share >= 0 && share <= 1) {
			return fmt.Errorf("node: gc.cpu and gc.busy_cpu must be within [0, 1], not %v", share)
		}
	}
	if s := c.BlobSync.ScrubCPU; !(s >= 0 && s <= 1) {
		return fmt.Errorf("node: blob_sync.scrub_cpu must be within [0, 1], not %v", s)
	}
	if _, err := store.ParsePagePolicy(c.Datastore.WrittenPages); err != nil {
		return fmt.Errorf("node: datastore.written_pages: %w", err)
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("node: log_level %q: want debug, info, warn or error", s)
	}
	return l, nil
}
