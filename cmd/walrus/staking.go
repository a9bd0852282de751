package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/internal/keyfile"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// Staking and operator commands, in Walrus's terms (docs/operating.md §8): stake,
// request-withdraw-stake, withdraw-stake, list-staked-wal, info committee, register-node and
// node-admin. They sign with the wallet of client.yaml and wait for the commit; the ledger's
// rules (docs/protocol.md §6, §11) decide, and the commands check what they can first so
// that a mistake gets a plain message rather than a receipt code.

// Defaults of register-node's votes: the testnet generator's (testnet.DefaultCommission,
// testnet.DefaultCapacity); the price votes default to the network's current prices.
const (
	defaultCommission  = 500
	defaultCapacityVot = 1 << 40
)

// parseNodeID parses a node ID: 64 hex characters (as `info committee` prints), an
// optional 0x.
func parseNodeID(s string) (epoch.NodeID, error) {
	var id epoch.NodeID
	b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("bad node ID %q: want %d hex characters (as 'walrus info committee' prints)", s, 2*len(id))
	}
	copy(id[:], b)
	return id, nil
}

// parseStakeID parses a stake object ID: 64 hex characters, an optional 0x.
func parseStakeID(s string) (staking.ObjectID, error) {
	var id staking.ObjectID
	b, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(s), "0x"))
	if err != nil || len(b) != len(id) {
		return id, fmt.Errorf("bad stake ID %q: want %d hex characters (as 'walrus list-staked-wal' prints)", s, 2*len(id))
	}
	copy(id[:], b)
	return id, nil
}

// parsePositiveAmount is parseAmount with a plain message for zero.
func parsePositiveAmount(flagName, s string) (uint64, error) {
	v, err := parseAmount(s)
	if err != nil && isZero(s) {
		return 0, fmt.Errorf("--%s must be more than 0", flagName)
	}
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", flagName, err)
	}
	return v, nil
}

// parsePrice parses a price vote in FROST per MiB: an amount as parseAmount reads it
// (1500frost, 0.0000015), or 0.
func parsePrice(flagName, s string) (uint64, error) {
	if isZero(s) {
		return 0, nil
	}
	v, err := parseAmount(s)
	if err != nil {
		return 0, fmt.Errorf("--%s: %w", flagName, err)
	}
	return v, nil
}

// isZero reports whether an amount argument means zero (0, 0.0, 0frost, 0 WAL).
func isZero(s string) bool {
	t := strings.TrimSpace(strings.ToLower(s))
	t = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(t, "frost"), "wal"))
	if t == "" {
		return false
	}
	var r big.Rat
	if _, ok := r.SetString(t); !ok {
		return false
	}
	return r.Sign() == 0
}

// parseSize parses a byte count with an optional binary or decimal unit: 1099511627776,
// 1TiB, 500GiB, 2TB, 64MiB.
func parseSize(flagName, s string) (uint64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   uint64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"PiB", 1 << 50},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"PB", 1e15}, {"B", 1}}
	mult := uint64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToLower(t), strings.ToLower(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	v, err := strconv.ParseUint(t, 10, 64)
	if err != nil || (v != 0 && v*mult/mult != v) {
		return 0, fmt.Errorf("bad --%s %q: want a byte count like 1099511627776 or 1TiB", flagName, s)
	}
	return v * mult, nil
}

// findCandidate looks a node up in the registry.
func findCandidate(com *query.CommitteeAnswer, id epoch.NodeID) (*query.Candidate, bool) {
	for i := range com.Candidates {
		if com.Candidates[i].Node == id {
			return &com.Candidates[i], true
		}
	}
	return nil, false
}

// errUnknownNode is the message for a node ID that is not registered.
func errUnknownNode(id epoch.NodeID) error {
	return fmt.Errorf("unknown node ID %x: no such node is registered (see 'walrus info committee')", id[:])
}

// walletAddress is the session's wallet address, or ErrNoWallet.
func walletAddress(s *client.Session) (staking.Address, error) {
	a := s.Ledger.Address()
	if a == (staking.Address{}) {
		return a, client.ErrNoWallet
	}
	return a, nil
}

// ownStake finds a stake of the wallet, with a plain message when it is not one.
func ownStake(ctx context.Context, s *client.Session, id staking.ObjectID) (*query.StakeInfo, *query.StakesAnswer, error) {
	addr, err := walletAddress(s)
	if err != nil {
		return nil, nil, err
	}
	list, err := s.Ledger.StakesOf(ctx, addr)
	if err != nil {
		return nil, nil, err
	}
	for i := range list.Stakes {
		if list.Stakes[i].ID == id {
			return &list.Stakes[i], list, nil
		}
	}
	return nil, list, fmt.Errorf("stake %s is not one of this wallet's stakes (wallet %s): it does not exist, was withdrawn, or belongs to another account (see 'walrus list-staked-wal')", id, addr)
}

// withdrawEpoch is when a stake can be withdrawn: for a withdrawing stake its WithdrawAt;
// otherwise when it could be if the withdrawal were requested now (docs/protocol.md §6: at
// once if it never backed a selected committee, else from the epoch after the last
// committee selected).
func withdrawEpoch(st *query.StakeInfo, ep, firstUnselected uint32) uint32 {
	if st.Withdrawing {
		return st.WithdrawAt
	}
	if st.Activation >= firstUnselected {
		return ep
	}
	return firstUnselected
}

// runStake is `walrus stake --node-id ID --amount WAL [--json]`.
func runStake(g *globals, args []string) error {
	fs := newFlagSet("stake")
	nodeID := fs.String("node-id", "", "the `node ID` to stake with (64 hex characters, from 'walrus info committee')")
	amountS := fs.String("amount", "", "`amount` to stake: WAL with up to 9 decimals (1.5) or FROST (1500frost)")
	dryRun := addDryRun(fs)
	asJSON := fs.Bool("json", false, `print {"stakeId","nodeId","amount","fee","activationEpoch","epoch","height"}; with --dry-run the cost`)
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	if *nodeID == "" || *amountS == "" {
		return errors.New("--node-id and --amount are required")
	}
	id, err := parseNodeID(*nodeID)
	if err != nil {
		return err
	}
	amount, err := parsePositiveAmount("amount", *amountS)
	if err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	addr, err := walletAddress(s)
	if err != nil {
		return err
	}
	com, err := s.Ledger.Candidates(ctx)
	if err != nil {
		return err
	}
	if _, ok := findCandidate(com, id); !ok {
		return errUnknownNode(id)
	}
	t := client.PlannedTx{Op: &staking.StakeOp{Node: id, Amount: amount}}
	if *dryRun {
		c, err := s.Ledger.EstimateTx(ctx, t)
		if err != nil {
			return err
		}
		return printDryRun(g, "stake", fmt.Sprintf("stake of %s with node %x from wallet %s", client.FormatWAL(amount), id[:], addr), c, *asJSON)
	}
	r, sid, c, err := s.Ledger.SubmitPlanned(ctx, "staking", t)
	if err != nil {
		return err
	}
	st, list, err := ownStake(ctx, s, sid)
	if err != nil {
		return fmt.Errorf("staked in checkpoint %d, but: %w", r.Height, err)
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			StakeID    string `json:"stakeId"`
			NodeID     string `json:"nodeId"`
			Amount     uint64 `json:"amount"`
			Fee        uint64 `json:"fee"`
			Activation uint32 `json:"activationEpoch"`
			Epoch      uint32 `json:"epoch"`
			Height     uint64 `json:"height"`
		}{sid.String(), hex.EncodeToString(id[:]), amount, c.Fee, st.Activation, list.Epoch, r.Height})
	}
	fmt.Fprintf(g.stdout, "Staked %s with node %x (checkpoint %d); fee %s.\nStake ID: %s\nCounts from epoch %d (now %d).\n",
		client.FormatWAL(amount), id[:], r.Height, client.FormatWAL(c.Fee), sid, st.Activation, list.Epoch)
	return nil
}

// stakeIDArg parses the --stake-id flag of the withdrawal commands.
func stakeIDFlags(name, jsonHelp string) (*flag.FlagSet, *string, *bool, *bool) {
	fs := newFlagSet(name)
	id := fs.String("stake-id", "", "the `stake ID` (64 hex characters, from 'walrus list-staked-wal' or 'walrus stake')")
	dryRun := addDryRun(fs)
	asJSON := fs.Bool("json", false, jsonHelp+"; with --dry-run the cost")
	return fs, id, dryRun, asJSON
}

// stakeCmd is a command on one of the wallet's stakes, parsed and opened by openStakeCmd.
type stakeCmd struct {
	id     staking.ObjectID
	asJSON bool
	dryRun bool
	s      *client.Session
	ctx    context.Context
	close  func()
	st     *query.StakeInfo    // the stake, as listed
	list   *query.StakesAnswer // the listing it came from
}

// openStakeCmd parses `NAME --stake-id ID [--json]`, opens a session and finds the stake
// among the wallet's. The caller defers c.close().
func openStakeCmd(g *globals, name, jsonHelp string, args []string) (*stakeCmd, error) {
	fs, idS, dryRun, asJSON := stakeIDFlags(name, jsonHelp)
	if err := parseNoArgs(g, fs, args); err != nil {
		return nil, err
	}
	if *idS == "" {
		return nil, errors.New("--stake-id is required")
	}
	id, err := parseStakeID(*idS)
	if err != nil {
		return nil, err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return nil, err
	}
	st, list, err := ownStake(ctx, s, id)
	if err != nil {
		closeFn()
		return nil, err
	}
	return &stakeCmd{id: id, asJSON: *asJSON, dryRun: *dryRun, s: s, ctx: ctx, close: closeFn, st: st, list: list}, nil
}

// runRequestWithdrawStake is `walrus request-withdraw-stake --stake-id ID [--json]`.
func runRequestWithdrawStake(g *globals, args []string) error {
	c, err := openStakeCmd(g, "request-withdraw-stake", `print {"stakeId","withdrawEpoch","fee","epoch","height"}`, args)
	if err != nil {
		return err
	}
	defer c.close()
	id, s, ctx, st, asJSON := c.id, c.s, c.ctx, c.st, &c.asJSON
	if st.Withdrawing {
		return fmt.Errorf("stake %s: withdrawal already requested; withdrawable from epoch %d", id, st.WithdrawAt)
	}
	t := client.PlannedTx{Op: &staking.RequestWithdraw{Stake: id}}
	if c.dryRun {
		cost, err := s.Ledger.EstimateTx(ctx, t)
		if err != nil {
			return err
		}
		return printDryRun(g, "request-withdraw-stake", fmt.Sprintf("withdrawal request of stake %s (%s)", id, client.FormatWAL(st.Amount)), cost, *asJSON)
	}
	r, _, cost, err := s.Ledger.SubmitPlanned(ctx, "requesting the withdrawal", t)
	if err != nil {
		return err
	}
	st, list, err := ownStake(ctx, s, id)
	if err != nil {
		return fmt.Errorf("requested in checkpoint %d, but: %w", r.Height, err)
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			StakeID       string `json:"stakeId"`
			WithdrawEpoch uint32 `json:"withdrawEpoch"`
			Fee           uint64 `json:"fee"`
			Epoch         uint32 `json:"epoch"`
			Height        uint64 `json:"height"`
		}{id.String(), st.WithdrawAt, cost.Fee, list.Epoch, r.Height})
	}
	when := fmt.Sprintf("from epoch %d (now %d)", st.WithdrawAt, list.Epoch)
	if st.WithdrawAt <= list.Epoch {
		when = "now"
	}
	fmt.Fprintf(g.stdout, "Withdrawal of stake %s requested (checkpoint %d); fee %s.\nIt stops counting for committees not selected yet; run 'walrus withdraw-stake --stake-id %s' %s.\n",
		id, r.Height, client.FormatWAL(cost.Fee), id, when)
	return nil
}

// runWithdrawStake is `walrus withdraw-stake --stake-id ID [--json]`.
func runWithdrawStake(g *globals, args []string) error {
	c, err := openStakeCmd(g, "withdraw-stake", `print {"stakeId","amount","fee","balance","height"}`, args)
	if err != nil {
		return err
	}
	defer c.close()
	id, s, ctx, st, list, asJSON := c.id, c.s, c.ctx, c.st, c.list, &c.asJSON
	switch {
	case !st.Withdrawing:
		return fmt.Errorf("stake %s: no withdrawal requested; run 'walrus request-withdraw-stake --stake-id %s' first", id, id)
	case st.WithdrawAt > list.Epoch:
		return fmt.Errorf("stake %s is not withdrawable before epoch %d (now %d)", id, st.WithdrawAt, list.Epoch)
	}
	t := client.PlannedTx{Op: &staking.Withdraw{Stake: id}, Returned: st.Amount}
	if c.dryRun {
		cost, err := s.Ledger.EstimateTx(ctx, t)
		if err != nil {
			return err
		}
		return printDryRun(g, "withdraw-stake", fmt.Sprintf("withdrawal of stake %s (%s as listed, rewards compounded)", id, client.FormatWAL(st.Amount)), cost, *asJSON)
	}
	pre, err := s.Ledger.Account(ctx, s.Ledger.Address())
	if err != nil {
		return err
	}
	r, _, cost, err := s.Ledger.SubmitPlanned(ctx, "withdrawing the stake", t)
	if err != nil {
		return err
	}
	acc, err := s.Ledger.Account(ctx, s.Ledger.Address())
	if err != nil {
		return err
	}
	// What came back is the balance's rise plus the fee paid: the stake with any rewards
	// an epoch end added after the listing above (the wallet's own other transactions
	// aside).
	returned := st.Amount
	if acc.Account.Balance+cost.Fee >= pre.Account.Balance {
		returned = acc.Account.Balance + cost.Fee - pre.Account.Balance
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			StakeID string `json:"stakeId"`
			Amount  uint64 `json:"amount"`
			Fee     uint64 `json:"fee"`
			Balance uint64 `json:"balance"`
			Height  uint64 `json:"height"`
		}{id.String(), returned, cost.Fee, acc.Account.Balance, r.Height})
	}
	fmt.Fprintf(g.stdout, "Withdrew stake %s: %s returned to the wallet (checkpoint %d); fee %s; balance %s.\n",
		id, client.FormatWAL(returned), r.Height, client.FormatWAL(cost.Fee), client.FormatWAL(acc.Account.Balance))
	return nil
}

// stakeJSON is one stake in `list-staked-wal --json`.
type stakeJSON struct {
	StakeID         string `json:"stakeId"`
	NodeID          string `json:"nodeId"`
	Amount          uint64 `json:"amount"` // FROST, rewards compounded in
	State           string `json:"state"`  // pending, active, withdrawing, withdrawable
	ActivationEpoch uint32 `json:"activationEpoch"`
	WithdrawEpoch   uint32 `json:"withdrawEpoch"`
}

// runListStakedWAL is `walrus list-staked-wal [--json]`.
func runListStakedWAL(g *globals, args []string) error {
	fs := newFlagSet("list-staked-wal")
	asJSON := fs.Bool("json", false, `print {"address","epoch","height","total","stakes":[{"stakeId","nodeId","amount","state","activationEpoch","withdrawEpoch"}],"provenAt":{"height","epoch"}}`)
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	addr, err := walletAddress(s)
	if err != nil {
		return err
	}
	list, err := s.Ledger.StakesOf(ctx, addr)
	if err != nil {
		return err
	}
	out := make([]stakeJSON, 0, len(list.Stakes))
	var total uint64
	for i := range list.Stakes {
		st := &list.Stakes[i]
		stake := st.Stake(addr)
		out = append(out, stakeJSON{StakeID: st.ID.String(), NodeID: hex.EncodeToString(st.Node[:]), Amount: st.Amount,
			State: stake.StateAt(list.Epoch).String(), ActivationEpoch: st.Activation, WithdrawEpoch: withdrawEpoch(st, list.Epoch, list.FirstUnselected)})
		total += st.Amount
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			Address string      `json:"address"`
			Epoch   uint32      `json:"epoch"`
			Height  uint64      `json:"height"`
			Total   uint64      `json:"total"`
			Stakes  []stakeJSON `json:"stakes"`
			// ProvenAt: every stake listed, and that there are no others, is proven there.
			ProvenAt *provenAt `json:"provenAt,omitempty"`
		}{addr.String(), list.Epoch, list.Height, total, out, listProvenAt(list.Proven, list.Height, list.Epoch)})
	}
	w := g.stdout
	fmt.Fprintf(w, "Wallet %s, epoch %d: %d stake(s), %s in total (rewards are compounded into the amounts).\n",
		addr, list.Epoch, len(out), client.FormatWAL(total))
	for _, o := range out {
		fmt.Fprintf(w, "  %s  node %s  %s  %s (counts from epoch %d; withdrawable %s)\n",
			o.StakeID, o.NodeID[:16], client.FormatWAL(o.Amount), o.State, o.ActivationEpoch, withdrawWhen(o, list.Epoch))
	}
	return nil
}

func withdrawWhen(o stakeJSON, ep uint32) string {
	switch o.State {
	case "withdrawable":
		return "now"
	case "withdrawing":
		return fmt.Sprintf("from epoch %d", o.WithdrawEpoch)
	}
	if o.WithdrawEpoch <= ep {
		return "at once if requested now"
	}
	return fmt.Sprintf("from epoch %d if requested now", o.WithdrawEpoch)
}

// runInfoCmd is `walrus info [--json]` and `walrus info committee [--json]`.
func runInfoCmd(g *globals, args []string) error {
	if i := slices.Index(args, "committee"); i >= 0 {
		return runInfoCommittee(g, slices.Delete(slices.Clone(args), i, i+1))
	}
	return runInfo(g, args)
}

// committeeNodeJSON is one registered node in `info committee --json`.
type committeeNodeJSON struct {
	NodeID              string   `json:"nodeId"`
	PeerID              string   `json:"peerId"`
	Operator            string   `json:"operator"`
	Addresses           []string `json:"addresses"`
	Member              bool     `json:"member"`              // in the current committee
	Shards              int      `json:"shards"`              // held in the current epoch
	NextShards          *int     `json:"nextShards"`          // in the next epoch; null before the mid-epoch selection
	Stake               uint64   `json:"stake"`               // FROST counting for the current epoch
	StakeNext           uint64   `json:"stakeNext"`           // FROST counting for the first committee not selected yet
	StakePending        uint64   `json:"stakePending"`        // FROST not active yet
	StakeWithdrawing    uint64   `json:"stakeWithdrawing"`    // FROST whose withdrawal was requested
	Commission          uint16   `json:"commission"`          // basis points, in force
	NextCommission      *uint16  `json:"nextCommission"`      // pending change, or null
	NextCommissionEpoch uint32   `json:"nextCommissionEpoch"` // when it applies (0: none)
	StoragePriceVote    uint64   `json:"storagePriceVote"`    // FROST per MiB per epoch
	WritePriceVote      uint64   `json:"writePriceVote"`      // FROST per MiB
	CapacityVote        uint64   `json:"capacityVote"`        // bytes
}

// runInfoCommittee is `walrus info committee [--json]`.
func runInfoCommittee(g *globals, args []string) error {
	fs := newFlagSet("info")
	asJSON := fs.Bool("json", false, `print {"epoch","height","nShards","nextSelected","nextPrices","nodes":[{"nodeId","peerId","shards","nextShards","stake",...}],"provenAt":{"height","epoch"}}`)
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	com, err := s.Ledger.Candidates(ctx)
	if err != nil {
		return err
	}
	nodes := committeeJSON(com)
	if *asJSON {
		var next *staking.Prices
		if com.NextSelected {
			next = &com.NextPrices
		}
		return printJSON(g.stdout, struct {
			Epoch        uint32              `json:"epoch"`
			Height       uint64              `json:"height"`
			NShards      int                 `json:"nShards"`
			NextSelected bool                `json:"nextSelected"`
			NextPrices   *staking.Prices     `json:"nextPrices"`
			Nodes        []committeeNodeJSON `json:"nodes"`
			// ProvenAt: every registered node, its votes and shards, the shard count and
			// the next prices are proven there (the stake pools are the node's word).
			ProvenAt *provenAt `json:"provenAt,omitempty"`
		}{com.Epoch, com.Height, com.NShards, com.NextSelected, next, nodes, listProvenAt(com.Proven, com.Height, com.Epoch)})
	}
	w := g.stdout
	members := 0
	for _, n := range nodes {
		if n.Member {
			members++
		}
	}
	sel := fmt.Sprintf("the committee of epoch %d is not selected yet (at mid-epoch)", com.Epoch+1)
	if com.NextSelected {
		sel = fmt.Sprintf("the committee of epoch %d is selected", com.Epoch+1)
	}
	fmt.Fprintf(w, "Epoch %d (height %d), %d shards: %d registered nodes, %d in the committee; %s.\n",
		com.Epoch, com.Height, com.NShards, len(nodes), members, sel)
	for _, n := range nodes {
		next := "-"
		if n.NextShards != nil {
			next = strconv.Itoa(*n.NextShards)
		}
		comm := fmt.Sprintf("%d bps", n.Commission)
		if n.NextCommission != nil {
			comm += fmt.Sprintf(" (%d from epoch %d)", *n.NextCommission, n.NextCommissionEpoch)
		}
		fmt.Fprintf(w, "\nnode %s\n  peer %s\n  shards %d now, %s next epoch\n  stake %s (next selection %s, pending %s, withdrawing %s)\n"+
			"  commission %s; votes: storage %d, write %d FROST/MiB, capacity %s\n",
			n.NodeID, n.PeerID, n.Shards, next, client.FormatWAL(n.Stake), client.FormatWAL(n.StakeNext),
			client.FormatWAL(n.StakePending), client.FormatWAL(n.StakeWithdrawing), comm, n.StoragePriceVote, n.WritePriceVote, humanBytes(n.CapacityVote))
	}
	return nil
}

func committeeJSON(com *query.CommitteeAnswer) []committeeNodeJSON {
	out := make([]committeeNodeJSON, 0, len(com.Candidates))
	for i := range com.Candidates {
		c := &com.Candidates[i]
		n := committeeNodeJSON{NodeID: hex.EncodeToString(c.Node[:]), PeerID: printablePeer(c.PeerID), Operator: c.Operator.String(),
			Addresses: make([]string, 0, len(c.Addrs)), Member: len(c.Shards) > 0, Shards: len(c.Shards),
			Stake: c.Pool.Active, StakeNext: c.Pool.Next, StakePending: c.Pool.Pending, StakeWithdrawing: c.Pool.Withdrawing,
			Commission: c.Commission, NextCommissionEpoch: c.NextCommissionEpoch,
			StoragePriceVote: c.StoragePrice, WritePriceVote: c.WritePrice, CapacityVote: c.Capacity}
		for _, a := range c.Addrs {
			n.Addresses = append(n.Addresses, printableAddr(a))
		}
		if com.NextSelected {
			k := len(c.NextShards)
			n.NextShards = &k
		}
		if c.NextCommissionEpoch != 0 {
			v := c.NextCommission
			n.NextCommission = &v
		}
		out = append(out, n)
	}
	return out
}

// printableAddr shows a multiaddr kept in binary form as text; text stays as it is.
func printableAddr(a string) string {
	if m, err := ma.NewMultiaddrBytes([]byte(a)); err == nil {
		return m.String()
	}
	return a
}

// nodeKeys is what register-node and node-admin read from a node's config.yaml.
type nodeKeys struct {
	cfg    *node.Config
	bls    *bls.SecretKey
	id     epoch.NodeID
	peerID peer.ID
}

// loadNodeKeys reads a node's configuration, its BLS key and its libp2p identity.
func loadNodeKeys(path string) (*nodeKeys, error) {
	cfg, err := node.LoadConfig(path)
	if err != nil {
		return nil, err
	}
	k, err := keyfile.ReadBLSKey(cfg.BLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("node BLS key: %w", err)
	}
	priv, err := p2p.LoadIdentity(cfg.IdentityKeyFile)
	if err != nil {
		return nil, fmt.Errorf("node identity %s: %w (start the node once, or create the node with 'walrus node --dir')", cfg.IdentityKeyFile, err)
	}
	pid, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return &nodeKeys{cfg: cfg, bls: k, id: epoch.NodeIDOf(k.PublicKey()), peerID: pid}, nil
}

// announceAddrs is what a node registers as its addresses: --address values if given,
// else the config's listen addresses, which must then be dialable as written (no port 0,
// no 0.0.0.0).
func announceAddrs(cfg *node.Config, given []string) ([]string, error) {
	from, addrs := "--address", given
	if len(addrs) == 0 {
		from, addrs = "the node config's listen_addrs", cfg.ListenAddrs
	}
	if len(addrs) == 0 {
		return nil, errors.New("no addresses to register: pass --address /ip4/HOST/tcp/PORT")
	}
	if len(addrs) > staking.MaxAddrs {
		return nil, fmt.Errorf("%d addresses, at most %d", len(addrs), staking.MaxAddrs)
	}
	out := make([]string, 0, len(addrs))
	for _, a := range addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", a, err)
		}
		if _, err := m.ValueForProtocol(ma.P_P2P); err == nil {
			return nil, fmt.Errorf("address %q: leave out /p2p/ (the peer ID is registered separately)", a)
		}
		if len(given) == 0 {
			for _, p := range []int{ma.P_TCP, ma.P_UDP} {
				if v, err := m.ValueForProtocol(p); err == nil && v == "0" {
					return nil, fmt.Errorf("address %q (from %s) has port 0, chosen anew at every start: set fixed ports, or pass --address", a, from)
				}
			}
			for _, p := range []int{ma.P_IP4, ma.P_IP6} {
				if v, err := m.ValueForProtocol(p); err == nil && (v == "0.0.0.0" || v == "::") {
					return nil, fmt.Errorf("address %q (from %s) is not dialable: pass --address with the node's public address", a, from)
				}
			}
		}
		if len(m.String()) > staking.MaxAddrLen {
			return nil, fmt.Errorf("address %q longer than %d bytes", a, staking.MaxAddrLen)
		}
		out = append(out, m.String())
	}
	return out, nil
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// voteFlags are the optional vote flags of register-node and node-admin.
type voteFlags struct {
	commission, storage, write, capacity *string
}

func addVoteFlags(fs *flag.FlagSet, commission bool) voteFlags {
	var v voteFlags
	if commission {
		v.commission = fs.String("commission", "", "commission in `basis points`, 0 to 10000 (default 500 = 5%)")
	}
	v.storage = fs.String("storage-price-vote", "", "storage price vote, FROST per MiB per epoch (`amount`: 10000frost, or WAL; default: the network's current price)")
	v.write = fs.String("write-price-vote", "", "write price vote, FROST per MiB (`amount`; default: the network's current price)")
	v.capacity = fs.String("capacity-vote", "", "capacity vote in `bytes` (1099511627776, 1TiB, 500GiB; default 1TiB)")
	return v
}

// apply sets the votes given on the command line into info.
func (v voteFlags) apply(info *staking.NodeInfo) error {
	if v.commission != nil && *v.commission != "" {
		c, err := strconv.ParseUint(strings.TrimSpace(*v.commission), 10, 16)
		if err != nil || c > staking.BasisPoints {
			return fmt.Errorf("bad --commission %q: want basis points from 0 to %d (500 = 5%%)", *v.commission, staking.BasisPoints)
		}
		info.Commission = uint16(c)
	}
	var err error
	if *v.storage != "" {
		if info.StoragePrice, err = parsePrice("storage-price-vote", *v.storage); err != nil {
			return err
		}
	}
	if *v.write != "" {
		if info.WritePrice, err = parsePrice("write-price-vote", *v.write); err != nil {
			return err
		}
	}
	if *v.capacity != "" {
		if info.Capacity, err = parseSize("capacity-vote", *v.capacity); err != nil {
			return err
		}
	}
	return nil
}

// runRegisterNode is `walrus register-node --node-config D/config.yaml [votes] [--json]`.
func runRegisterNode(g *globals, args []string) error {
	fs := newFlagSet("register-node")
	cfgPath := fs.String("node-config", "", "the node's configuration `file` (its BLS key, identity and listen addresses are read from it)")
	var addrs multiFlag
	fs.Var(&addrs, "address", "a `multiaddr` to register instead of the config's listen addresses (repeatable, without /p2p/)")
	votes := addVoteFlags(fs, true)
	dryRun := addDryRun(fs)
	asJSON := fs.Bool("json", false, `print {"nodeId","peerId","deposit","fee"}; with --dry-run the cost (the deposit is its amount)`)
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return errors.New("--node-config is required (the config.yaml of the node to register)")
	}
	nk, err := loadNodeKeys(*cfgPath)
	if err != nil {
		return err
	}
	announce, err := announceAddrs(nk.cfg, addrs)
	if err != nil {
		return err
	}
	info := staking.NodeInfo{PeerID: string(nk.peerID), Addrs: announce, Commission: defaultCommission, Capacity: defaultCapacityVot}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	sender, err := walletAddress(s)
	if err != nil {
		return err
	}
	in, err := s.Ledger.Info(ctx)
	if err != nil {
		return err
	}
	if in.Network != s.Genesis.NetworkID() {
		return errors.New("the network answering is not the one of client.yaml's genesis")
	}
	info.StoragePrice, info.WritePrice = in.Prices.Storage, in.Prices.Write
	// Vote the fee schedule and deposit in force (the proven info answer carries them; an
	// unverified one does not, so fall back on the genesis schedule then).
	info.Fees = in.Prices.Fees
	if !in.Proven && info.Fees == (staking.Fees{}) {
		info.Fees = s.Genesis.Prices.Fees
	}
	if err := votes.apply(&info); err != nil {
		return err
	}
	com, err := s.Ledger.Candidates(ctx)
	if err != nil {
		return err
	}
	if c, ok := findCandidate(com, nk.id); ok {
		return fmt.Errorf("node %x is already registered (operator %s); change it with 'walrus node-admin'", nk.id[:], c.Operator)
	}
	// The proof of possession binds the wallet that sends the registration (staking.
	// PossessionMessage), so nobody can copy it into a transaction of their own.
	op := &staking.RegisterNode{BLSKey: nk.bls.PublicKey(), PoP: staking.ProvePossession(in.Network, sender, nk.bls), Info: info}
	t := client.PlannedTx{Op: op}
	if *dryRun {
		c, err := s.Ledger.EstimateTx(ctx, t)
		if err != nil {
			return err
		}
		return printDryRun(g, "register-node", fmt.Sprintf("registration of node %x, holding a deposit of %s", nk.id[:], client.FormatWAL(in.Prices.Fees.Deposit)), c, *asJSON)
	}
	r, _, c, err := s.Ledger.SubmitPlanned(ctx, "registering a node (the deposit and the fee)", t)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			NodeID  string `json:"nodeId"`
			PeerID  string `json:"peerId"`
			Deposit uint64 `json:"deposit"`
			Fee     uint64 `json:"fee"`
		}{hex.EncodeToString(nk.id[:]), nk.peerID.String(), c.Amount, c.Fee})
	}
	fmt.Fprintf(g.stdout, "Registered node (checkpoint %d); the wallet %s is its operator.\nNode ID: %x\nPeer ID: %s\nAddresses: %s\n"+
		"Deposit held: %s; fee %s.\nIt gets shards once stake selects it at a mid-epoch: 'walrus stake --node-id %x --amount WAL'.\n",
		r.Height, s.Ledger.Address(), nk.id[:], nk.peerID, strings.Join(announce, " "), client.FormatWAL(c.Amount), client.FormatWAL(c.Fee), nk.id[:])
	return nil
}

// nodeAdminCommands are node-admin's subcommands.
var nodeAdminCommands = []struct{ name, summary string }{
	{"set-commission", "set the commission (basis points); it takes effect two epochs later"},
	{"vote-price", "set the storage and/or write price votes (FROST per MiB)"},
	{"vote-capacity", "set the capacity vote (bytes)"},
	{"update-addresses", "replace the registered peer ID and addresses (from --node-config and/or --address)"},
	{"collect-commission", "explain where commission goes (walrus-go pays it into the operator's balance)"},
}

// runNodeAdmin is `walrus node-admin SUBCOMMAND (--node-id ID | --node-config F) [flags]`.
func runNodeAdmin(g *globals, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			printNodeAdminUsage(g.stdout)
			return errHelp
		}
		return errors.New("want a subcommand: " + nodeAdminNames() + " (run 'walrus help node-admin')")
	}
	sub := args[0]
	if !slices.ContainsFunc(nodeAdminCommands, func(c struct{ name, summary string }) bool { return c.name == sub }) {
		return fmt.Errorf("unknown subcommand %q: want %s", sub, nodeAdminNames())
	}
	fs := newFlagSet("node-admin")
	nodeID := fs.String("node-id", "", "the node's `ID` (64 hex characters)")
	cfgPath := fs.String("node-config", "", "the node's configuration `file` (its node ID, and for update-addresses its peer ID and listen addresses)")
	var addrs multiFlag
	var votes voteFlags
	switch sub {
	case "set-commission":
		votes.commission = fs.String("commission", "", "the new commission in `basis points`, 0 to 10000")
	case "vote-price":
		votes.storage = fs.String("storage-price", "", "storage price vote, FROST per MiB per epoch (`amount`: 10000frost, or WAL)")
		votes.write = fs.String("write-price", "", "write price vote, FROST per MiB (`amount`)")
	case "vote-capacity":
		votes.capacity = fs.String("capacity", "", "capacity vote in `bytes` (1099511627776, 1TiB, 500GiB)")
	case "update-addresses":
		fs.Var(&addrs, "address", "a `multiaddr` to register (repeatable, without /p2p/); default: the config's listen addresses")
	}
	dryRun := addDryRun(fs)
	asJSON := fs.Bool("json", false, `print {"nodeId","fee","height"}; with --dry-run the cost`)
	if err := parseNoArgs(g, fs, args[1:]); err != nil {
		return err
	}
	if sub == "collect-commission" {
		return errors.New("there is nothing to collect: walrus-go pays a node's commission into its operator's balance at every epoch end " +
			"(docs/protocol.md §6), so it shows in 'walrus balance' of the operator's wallet; the ledger has no collect-commission transaction")
	}
	var id epoch.NodeID
	var nk *nodeKeys
	var err error
	switch {
	case *cfgPath != "":
		if nk, err = loadNodeKeys(*cfgPath); err != nil {
			return err
		}
		id = nk.id
		if *nodeID != "" {
			if given, err := parseNodeID(*nodeID); err != nil || given != id {
				return fmt.Errorf("--node-id %s is not the node of %s (%x)", *nodeID, *cfgPath, id[:])
			}
		}
	case *nodeID != "":
		if id, err = parseNodeID(*nodeID); err != nil {
			return err
		}
	default:
		return errors.New("--node-id or --node-config is required")
	}
	if sub == "update-addresses" && nk == nil {
		return errors.New("update-addresses needs --node-config (the peer ID and the listen addresses come from it)")
	}
	changes := map[string]bool{"set-commission": *orEmpty(votes.commission) != "",
		"vote-price":    *orEmpty(votes.storage) != "" || *orEmpty(votes.write) != "",
		"vote-capacity": *orEmpty(votes.capacity) != "", "update-addresses": true}
	if !changes[sub] {
		return fmt.Errorf("%s: nothing to change (run 'walrus help node-admin')", sub)
	}

	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	addr, err := walletAddress(s)
	if err != nil {
		return err
	}
	com, err := s.Ledger.Candidates(ctx)
	if err != nil {
		return err
	}
	c, ok := findCandidate(com, id)
	if !ok {
		return errUnknownNode(id)
	}
	if c.Operator != addr {
		return fmt.Errorf("the wallet %s is not the operator of node %x (its operator is %s)", addr, id[:], c.Operator)
	}
	// update node replaces the whole NodeInfo: start from what is registered. A pending
	// commission change is kept (and, by the ledger's rule, moved to two epochs from now).
	info := staking.NodeInfo{PeerID: c.PeerID, Addrs: c.Addrs, Commission: c.Commission,
		StoragePrice: c.StoragePrice, WritePrice: c.WritePrice, Capacity: c.Capacity}
	// The registry listing does not carry the node's fee vote, and update node replaces
	// it: vote the schedule in force rather than none (a zero vote would pull the
	// quorum-below point of the fee schedule down).
	in, err := s.Ledger.Info(ctx)
	if err != nil {
		return err
	}
	info.Fees = in.Prices.Fees
	if c.NextCommissionEpoch != 0 {
		info.Commission = c.NextCommission
	}
	if sub == "update-addresses" {
		if info.Addrs, err = announceAddrs(nk.cfg, addrs); err != nil {
			return err
		}
		info.PeerID = string(nk.peerID)
	} else {
		for _, p := range []**string{&votes.storage, &votes.write, &votes.capacity} {
			*p = orEmpty(*p)
		}
		if err := votes.apply(&info); err != nil {
			return err
		}
	}
	t := client.PlannedTx{Op: &staking.UpdateNode{Node: id, Info: info}}
	if *dryRun {
		cost, err := s.Ledger.EstimateTx(ctx, t)
		if err != nil {
			return err
		}
		return printDryRun(g, "node-admin "+sub, fmt.Sprintf("node-admin %s of node %x", sub, id[:]), cost, *asJSON)
	}
	r, _, cost, err := s.Ledger.SubmitPlanned(ctx, "updating the node", t)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(g.stdout, struct {
			NodeID string `json:"nodeId"`
			Fee    uint64 `json:"fee"`
			Height uint64 `json:"height"`
		}{hex.EncodeToString(id[:]), cost.Fee, r.Height})
	}
	fmt.Fprintf(g.stdout, "Node %x updated (checkpoint %d); fee %s.\n", id[:], r.Height, client.FormatWAL(cost.Fee))
	switch sub {
	case "set-commission":
		// The epoch the change applies from is the ledger's (two after the one that
		// committed the update), not the one read before submitting.
		when := "two epochs from now"
		if now, err := s.Ledger.Candidates(ctx); err == nil {
			if c, ok := findCandidate(now, id); ok && c.NextCommissionEpoch != 0 {
				when = fmt.Sprintf("from epoch %d (now %d)", c.NextCommissionEpoch, now.Epoch)
			} else if ok {
				when = "now (unchanged)"
			}
		}
		fmt.Fprintf(g.stdout, "Commission %d bps %s.\n", info.Commission, when)
	case "update-addresses":
		fmt.Fprintf(g.stdout, "Peer ID %s, addresses %s; committees use them from the next selection on.\n", nk.peerID, strings.Join(info.Addrs, " "))
	default:
		fmt.Fprintf(g.stdout, "Votes: storage %d, write %d FROST/MiB, capacity %s; they count from the next selection on.\n",
			info.StoragePrice, info.WritePrice, humanBytes(info.Capacity))
	}
	return nil
}

// orEmpty turns an absent flag into an empty value.
func orEmpty(p *string) *string {
	if p == nil {
		return new(string)
	}
	return p
}

func nodeAdminNames() string {
	var names []string
	for _, c := range nodeAdminCommands {
		names = append(names, c.name)
	}
	return strings.Join(names, ", ")
}

func printNodeAdminUsage(w io.Writer) {
	fmt.Fprint(w, `Usage: walrus node-admin SUBCOMMAND (--node-id ID | --node-config FILE) [flags] [--json]

Change a registered node's settings with an 'update node' transaction signed by the wallet of
client.yaml, which must be the node's operator (the account that registered it).

Subcommands:
`)
	for _, c := range nodeAdminCommands {
		fmt.Fprintf(w, "  %-18s  %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Flags:
  set-commission     --commission BPS          0 to 10000 basis points (500 = 5%)
  vote-price         --storage-price AMOUNT    FROST per MiB per epoch (10000frost, or WAL)
                     --write-price AMOUNT      FROST per MiB
  vote-capacity      --capacity BYTES          1099511627776, 1TiB, 500GiB
  update-addresses   --node-config FILE [--address MULTIADDR ...]
  every subcommand   --node-id ID | --node-config FILE, --dry-run (print the fee, send nothing), --json

Votes, peer ID and addresses apply from the next committee selection (mid-epoch). A commission
change applies two epochs after the transaction; any update while a change is pending keeps
the pending value and moves it to two epochs from then (the ledger's rule, docs/protocol.md §11).
`)
}
