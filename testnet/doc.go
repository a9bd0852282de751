// Package testnet builds local walrus-go networks: it generates keys, node configurations
// and a genesis (Generate), runs a cluster of real nodes inside one test process (New, a
// harness in the style of hashicorp/raft's MakeCluster with Crash, Restart, Partition and
// Heal), and runs a local multi-process testnet where every node is its own OS process (Up,
// what `walrus testnet up` calls). docs/architecture.md §8 describes the user-facing side.
//
// # Directory layout
//
// Generate writes, under Options.Dir:
//
//	genesis.bin            canonical staking.Genesis encoding: the only source of truth
//	genesis.json           the same genesis for people; never parsed by any tool
//	faucet.key             the faucet account's Ed25519 key (see Key files)
//	wallet.key             a funded client wallet (Ed25519)
//	client.yaml            client configuration (client.FileConfig): bootstrap addresses, wallet, genesis
//	nodes/<i>/config.yaml  node configuration, loadable with node.LoadConfig
//	nodes/<i>/identity.key libp2p Ed25519 identity (p2p.SaveIdentity format)
//	nodes/<i>/bls.key      BLS12-381 secret key (see Key files)
//	nodes/<i>/operator.key the node operator's account key (owner of its genesis stake)
//	nodes/<i>/data/        the node's datastore
//
// # Key files
//
// BLS and Ed25519 account keys are stored as one line of lowercase hex of the 32-byte secret
// (the BLS secret scalar big-endian, as bls.SecretKey.Bytes; the Ed25519 seed, as
// ed25519.PrivateKey.Seed) followed by a newline, with file mode 0600 (package
// internal/keyfile reads and writes them; its readers also accept the raw 32 bytes). libp2p identities use p2p.SaveIdentity's
// format (libp2p's protobuf key encoding) so other libp2p tools can read them.
//
// # The in-process harness
//
//	c := testnet.New(t, 4, testnet.WithEpochDuration(2*time.Second))
//	c.WaitHeight(1)
//	c.Partition([]int{0, 1, 2}, []int{3}) // node 3 alone
//	c.Heal()
//	c.Crash(3); c.Restart(3)              // same keys, same data directory
//	n := c.Unwrap(0)                      // the *node.Node, for its Ledger, Host …
//
// Nodes are generated with a fixed seed (WithSeed), listen on TCP 127.0.0.1 only, get short
// consensus timeouts, and have a Gater installed through node.WithConnectionGater, which is
// how Partition cuts links. The ledger commits only when it has to (a transaction, an epoch
// boundary), so tests that need heights to advance use short epochs. Node logs are
// discarded unless WALRUS_TESTNET_LOG=debug|info|warn|error. The harness runs any node
// implementation through StartFunc and the small Instance interface; optional interfaces
// (Crasher, Connector, BlobCertifier, Epocher) unlock Crash without grace, Heal's redial,
// WaitCertified and WaitEpoch.
//
// # The multi-process testnet
//
// Up (behind `walrus testnet up`) generates or reuses a layout and runs every node as its
// own process, `<binary> node --config DIR/nodes/<i>/config.yaml`, with node.pid and
// node.log beside the config; it is ready once a node's /v1/health reports height ≥ 1, and
// it stops the nodes with SIGTERM, then SIGKILL after UpOptions.StopTimeout.
package testnet
