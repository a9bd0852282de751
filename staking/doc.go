// Package staking is the ledger state machine of walrus-go (docs/architecture.md §4): the deterministic
// function every node applies to committed checkpoints. It holds accounts (WAL/FROST),
// transfers, storage resources, the blob registry and lifecycle, the node registry, stake
// pools with delegation, committee selection (D'Hondt with minimal shard movement), price
// and capacity votes, challenge attestations, and epoch accounting (docs/protocol.md §5–7).
//
// Everything here is pure: integer arithmetic only, iteration in sorted key order whenever
// the order can reach an output, no clock (time arrives in checkpoints), no randomness, no
// goroutines except a bounded fan-out that verifies a checkpoint's certificates in
// parallel inside ApplyCheckpoint.
//
// # Entry points
//
//   - NewState(genesis) builds the epoch-0 state; Genesis.NetworkID is the hash every
//     signature binds.
//   - State.BuildCheckpoint (proposer) and State.ApplyCheckpoint (everyone) run a checkpoint:
//     AdvanceTime(checkpoint time), then each transaction with Apply, then the state-root
//     check. ApplyCheckpoint changes nothing when it fails.
//   - State.BlobStatus answers `blob-status`; ConfirmationMessage, InvalidBlobMessage,
//     SyncDoneMessage and ChallengeMessage are the exact bytes nodes sign.
//   - State.Root, Snapshot and Restore persist the state. The state lives in an
//     authenticated tree (staking/smt; tables.go): Root costs what changed since the last
//     Root, Clone is O(1).
//   - State.Prove(key) and VerifyProof prove any entry, or its absence, against a state
//     root; the key constructors (AccountKey, BlobIDKey, ParamsKey, CommitteeKey, …) name
//     every entry, and ProveBlobStatus/VerifyBlobStatus prove a blob ID's status.
//
// # Rules, in one place
//
// Transactions are Ed25519-signed over (network ID || transaction bytes) with per-account
// nonces, an optional expiry height (the last height that may include them; 0 = none) and
// an offered fee. Admission comes first, cheapest check first: an operation, the expiry,
// the fee — the sender's balance must cover max(offered fee, Fees.Base + Fees.PerByte ×
// signed size + Fees.PerVerify × BLS checks) — the signature, the nonce. A transaction not
// admitted changes nothing at all (a sender that cannot pay cannot send). An admitted one
// pays its fee into the current epoch's income (distributed to the committee at the epoch
// end like storage income, 3% burned) and consumes its nonce before its operation runs;
// an operation then refused changes nothing else, so a refused transaction costs its sender
// and can never execute later. The receipt carries a typed Code, a message and the fee.
// A proposed checkpoint must hold only Proposable transactions (admitted, no failed BLS
// check): CheckProposal, BuildProposal. BLS checks may be answered by a VerifyCache of
// earlier successes (VerifyTxBLS fills it off the consensus actor).
//
// The fee schedule and the `register node` deposit (Prices.Fees) are voted like the
// storage prices: each node's registration carries its vote (NodeInfo.Fees), and at
// mid-epoch every component is set to the lowest value that members worth a quorum of
// shards voted at or below. `register node` holds Fees.Deposit in the node (Node.Deposit,
// counted in the supply); pruning refunds it when it removes the node.
// Its proof of possession is the BLS key's signature on PossessionMessage, which binds
// the sender's address.

// Objects created by a transaction get DeriveObjectID(sender, nonce, 0), so a client knows a
// blob object's ID (needed in deletable confirmations) before submitting.
//
// Storage resources cover epochs [Start, End) and cost storage price × MiB units × epochs;
// End may be at most current + 53. Each epoch's share of the payment goes to that epoch's
// income. Sold bytes per epoch may not exceed the voted capacity. Registration consumes a
// resource live now (Start <= epoch < End) of at least the encoded length and pays
// write price × units of the encoded length into the current epoch's income. A blob expires
// at the start of its End epoch; deleting a deletable blob returns its resource.
//
// Stake counts for the first committee not yet selected: e+1 before the mid-epoch selection,
// e+2 after it. A withdrawal request stops it counting for committees not yet selected; it
// becomes withdrawable at the first epoch after the last committee it backs (or at once if
// it never backed one). Commission changes take effect two epochs later.
//
// At mid-epoch the next committee is chosen by D'Hondt over stake (n shards, at most 10%
// per node with >= 20 staked nodes, ties to the lower node ID), nodes keep their lowest
// shards, and prices are the lowest p such that nodes worth a quorum of shards voted <= p
// (capacity: the highest per-shard capacity c such that nodes worth a quorum offer >= c per
// shard, times n). At the
// epoch end 3% of the epoch's income is burned and the rest is split by shard count (stored
// data is uniform per shard), commission first, then delegators pro rata; nodes reported
// failing challenges by attesters worth f+1 shards forfeit their share (burned); rounding
// dust goes to the operator (within a node) or to the next epoch's income (across nodes).
// FROST is conserved: balances + stakes + pending income (fees included) + node deposits +
// burned = genesis supply.
//
// State that only grows is pruned by rule (prune.go), the same at every node: a blob object
// ExpiredRetention (2) epochs after its end epoch (until then `blob-status` says expired),
// with its index entries and, once it has no object left and is not invalid, its blob-ID
// record (an invalid record stays forever); a storage resource once its end epoch starts;
// at most PruneBatch of them per checkpoint, oldest end epoch first, found through expiry
// indexes (kinds 0x10, 0x11). A node idle — no stake object names it, in no committee — at
// IdleNodeEpochs (4) consecutive epoch starts is removed and its deposit refunded to its
// operator.
//
// Conventions: epochs are uint32, FROST amounts uint64 (1 WAL = 10^9 FROST), times unix
// milliseconds.
package staking
