package testnet

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/staking"
)

// Defaults for Options (docs/architecture.md §8: 4 nodes, 1000 shards so blob IDs match Walrus
// Mainnet's, short epochs).
//
// DefaultEpochDuration is an hour so that a blob stored with no flags (`walrus store`
// buys enough epochs for a day, capped at staking.MaxEpochsAhead = 53) lives at least a day
// once garbage collection removes expired blobs: with ten-minute epochs 53 epochs were under
// nine hours.
const (
	DefaultNodes         = 4
	DefaultShards        = 1000
	DefaultEpochDuration = time.Hour
	DefaultNetwork       = "walrus-local"
	DefaultHost          = "127.0.0.1"
	// DefaultNodeStake is each genesis node's self-stake: equal stakes give every node the
	// same number of shards (D'Hondt, docs/protocol.md §7).
	DefaultNodeStake = 100_000 * staking.FrostPerWAL
	// DefaultFaucetBalance funds the faucet account.
	DefaultFaucetBalance = 1_000_000 * staking.FrostPerWAL
	// DefaultWalletBalance funds the client wallet: enough for thousands of MiB-epochs at
	// DefaultPrices.
	DefaultWalletBalance = 100_000 * staking.FrostPerWAL
	// DefaultOperatorBalance funds each node operator's account (the node's own ledger
	// account, which pays the fees of its `sync done` and `invalidate blob` transactions).
	DefaultOperatorBalance = 1_000 * staking.FrostPerWAL
	// DefaultCommission is each node's commission in basis points (5%).
	DefaultCommission = 500
	// DefaultCapacity is each node's capacity vote in bytes (1 TiB).
	DefaultCapacity = 1 << 40
)

// DefaultPrices are modest prices: 1 MiB stored for one epoch costs 10,000 FROST
// (1e-5 WAL), writing it 20,000 FROST. Capacity is the network total sellable per epoch.
// Transactions pay DefaultFees, so a generated testnet shows real fees (`walrus info`,
// `--dry-run`); a network that wants none sets Options.Prices with zero Fees.
var DefaultPrices = staking.Prices{Storage: 10_000, Write: 20_000, Capacity: 4 << 40, Fees: DefaultFees}

// DefaultFees is the fee schedule of DefaultPrices: a transfer (about 180 bytes signed)
// costs under 3,000 FROST, a certificate or proof of possession 10,000 FROST more, and
// registering a node holds 1,000 WAL.
var DefaultFees = staking.Fees{Base: 1_000, PerByte: 10, PerVerify: 10_000, Deposit: 1_000 * staking.FrostPerWAL}

// maxNodes caps Options.Nodes: a local testnet on one machine, and staking's genesis limit.
const maxNodes = 256

// Options configures Generate. The zero value (plus Dir) is a valid 4-node network; Validate
// fills the defaults.
type Options struct {
	// Dir is the directory the layout is written into (created if missing). Required. It
	// must not already hold a genesis.bin: Generate never overwrites a network.
	Dir string
	// Nodes is the number of genesis nodes (default 4).
	Nodes int
	// Shards is the number of shards n (default 1000, Walrus Mainnet's, so blob IDs match).
	Shards int
	// EpochDuration is the epoch length (default an hour; at least 2 ms, staking's bound).
	EpochDuration time.Duration
	// GenesisTime is the start of epoch 0 (default: now, truncated to the millisecond).
	GenesisTime time.Time
	// Network is the network name bound into every signature through the genesis hash
	// (default "walrus-local").
	Network string
	// Seed, when non-zero, derives every key deterministically from it (tests). Zero draws
	// keys from crypto/rand. The output is byte-for-byte reproducible when Seed, BasePort
	// and GenesisTime are all fixed.
	Seed uint64
	// Host is the IPv4 address nodes listen on and advertise (default 127.0.0.1).
	Host string
	// BasePort, when non-zero, gives node i TCP (and QUIC, on UDP) port BasePort+2i and API
	// port BasePort+2i+1. Zero picks free ports at generation time.
	BasePort int
	// DisableQUIC makes nodes listen on TCP only (the in-process harness does, to save CPU).
	DisableQUIC bool
	// DisableAPI leaves the nodes' HTTP API address empty (the in-process harness does: it
	// reads nodes directly, and that saves a listener per node).
	DisableAPI bool
	// Prices are the genesis prices (default DefaultPrices). Each node also votes them.
	Prices staking.Prices
	// NodeStake is each node's genesis self-stake in FROST (default DefaultNodeStake).
	NodeStake uint64
	// FaucetBalance and WalletBalance fund the faucet and the client wallet (FROST).
	FaucetBalance uint64
	WalletBalance uint64
	// OperatorBalance funds each genesis node's operator account (default
	// DefaultOperatorBalance), which is the node's own ledger account.
	OperatorBalance uint64
	// Commission is each node's commission in basis points (default DefaultCommission).
	Commission uint16
	// Capacity is each node's capacity vote in bytes (default DefaultCapacity).
	Capacity uint64
	// LogLevel is written into each node config (default "info").
	LogLevel string
	// NodeConfig, if set, edits node i's configuration before it is written (consensus
	// timeouts, snapshot interval …). Paths, addresses and bootstrap are already filled.
	NodeConfig func(i int, c *node.Config)
}

// Validate checks o and fills defaults. It does not touch the file system.
func (o *Options) Validate() error {
	if o.Dir == "" {
		return errors.New("testnet: Options.Dir is required")
	}
	if o.Nodes == 0 {
		o.Nodes = DefaultNodes
	}
	if o.Nodes < 1 || o.Nodes > maxNodes {
		return fmt.Errorf("testnet: %d nodes, want 1..%d", o.Nodes, maxNodes)
	}
	if o.Shards == 0 {
		o.Shards = DefaultShards
	}
	if _, err := codec.NewParams(o.Shards); err != nil {
		return fmt.Errorf("testnet: %d shards: %w", o.Shards, err)
	}
	if o.Shards < o.Nodes {
		// Every genesis node must own a shard, or it votes for nothing.
		return fmt.Errorf("testnet: %d shards cannot cover %d nodes", o.Shards, o.Nodes)
	}
	if o.EpochDuration == 0 {
		o.EpochDuration = DefaultEpochDuration
	}
	if o.EpochDuration < 2*time.Millisecond {
		return fmt.Errorf("testnet: epoch duration %v below 2ms", o.EpochDuration)
	}
	if o.GenesisTime.IsZero() {
		o.GenesisTime = time.Now()
	}
	o.GenesisTime = o.GenesisTime.Truncate(time.Millisecond)
	if o.Network == "" {
		o.Network = DefaultNetwork
	}
	if len(o.Network) > staking.MaxNetworkName {
		return fmt.Errorf("testnet: network name longer than %d bytes", staking.MaxNetworkName)
	}
	if o.Host == "" {
		o.Host = DefaultHost
	}
	if ip := net.ParseIP(o.Host); ip == nil || ip.To4() == nil {
		return fmt.Errorf("testnet: host %q is not an IPv4 address", o.Host)
	}
	if o.BasePort != 0 && (o.BasePort < 1024 || o.BasePort+2*o.Nodes > 65535) {
		return fmt.Errorf("testnet: base port %d out of range for %d nodes", o.BasePort, o.Nodes)
	}
	if o.Prices == (staking.Prices{}) {
		o.Prices = DefaultPrices
	}
	if o.NodeStake == 0 {
		o.NodeStake = DefaultNodeStake
	}
	if o.FaucetBalance == 0 {
		o.FaucetBalance = DefaultFaucetBalance
	}
	if o.WalletBalance == 0 {
		o.WalletBalance = DefaultWalletBalance
	}
	if o.OperatorBalance == 0 {
		o.OperatorBalance = DefaultOperatorBalance
	}
	if o.Commission == 0 {
		o.Commission = DefaultCommission
	}
	if o.Commission > staking.BasisPoints {
		return fmt.Errorf("testnet: commission %d bps over %d", o.Commission, staking.BasisPoints)
	}
	if o.Capacity == 0 {
		o.Capacity = DefaultCapacity
	}
	if o.LogLevel == "" {
		o.LogLevel = "info"
	}
	return nil
}
