package testnet_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// The joining and staking flow of issue 13, driven through the real binary as an operator
// and a delegator would: a fresh node joins a running multi-process testnet with
// `walrus node --genesis --bootstrap --dir`, follows the ledger, is registered with
// `register-node`, staked with `stake`, and is selected into the next committee at
// mid-epoch and a member after the epoch change (short 30 s epochs); a second stake goes
// through list-staked-wal, request-withdraw-stake and withdraw-stake. No blob is stored, so
// epochs have no income and no rewards: every balance is checked to the FROST.

type committeeNode struct {
	NodeID       string `json:"nodeId"`
	PeerID       string `json:"peerId"`
	Member       bool   `json:"member"`
	Shards       int    `json:"shards"`
	NextShards   *int   `json:"nextShards"`
	Stake        uint64 `json:"stake"`
	StakeNext    uint64 `json:"stakeNext"`
	StakePending uint64 `json:"stakePending"`
	Commission   uint16 `json:"commission"`
	StorageVote  uint64 `json:"storagePriceVote"`
	CapacityVote uint64 `json:"capacityVote"`
}

type committeeJSON struct {
	Epoch        uint32          `json:"epoch"`
	NShards      int             `json:"nShards"`
	NextSelected bool            `json:"nextSelected"`
	Nodes        []committeeNode `json:"nodes"`
}

func (c committeeJSON) node(id string) (committeeNode, bool) {
	for _, n := range c.Nodes {
		if n.NodeID == id {
			return n, true
		}
	}
	return committeeNode{}, false
}

type stakesJSON struct {
	Epoch  uint32 `json:"epoch"`
	Total  uint64 `json:"total"`
	Stakes []struct {
		StakeID         string `json:"stakeId"`
		NodeID          string `json:"nodeId"`
		Amount          uint64 `json:"amount"`
		State           string `json:"state"`
		ActivationEpoch uint32 `json:"activationEpoch"`
		WithdrawEpoch   uint32 `json:"withdrawEpoch"`
	} `json:"stakes"`
}

// nodeHeight reads a node's committed height from its /v1/health.
func nodeHeight(t *testing.T, api string) uint64 {
	t.Helper()
	resp, err := http.Get("http://" + api + "/v1/health")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var v struct {
		Height uint64 `json:"height"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&v); err != nil {
		return 0
	}
	return v.Height
}

// eventually polls cond every second until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(time.Second)
	}
}

func TestE2EJoinAndStake(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the walrus binary and runs a 4-process testnet and a joining node through epoch changes")
	}
	const epoch = 30 * time.Second
	tmp := t.TempDir()
	bin := buildWalrus(t, tmp)
	dir := filepath.Join(tmp, "net")
	// Without fees: the balance checks below count on no income (the wallet becomes the
	// joined node's operator and staker, so fee income would pay it commission and rewards
	// at epoch ends). Fees on the same commands: cmd/walrus TestFeesCLI.
	up := startProcess(t, exec.Command(bin, "testnet", "up", "--dir", dir, "--nodes", "4", "--shards", "100", "--epoch-duration", epoch.String(), "--no-fees"))
	up.await(t, "ready")
	l, err := testnet.LoadLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := &walrusCLI{t: t, bin: bin, config: l.ClientConfigFile}
	committee := func() committeeJSON { return jsonOf[committeeJSON](t, w.ok("info", "committee", "--json")) }
	balance := func() uint64 { return jsonOf[balanceJSON](t, w.ok("balance", "--json")).Balance }

	// A fresh machine: the genesis file and one bootstrap address.
	join := filepath.Join(tmp, "joiner")
	jn := startProcess(t, exec.Command(bin, "node", "--genesis", l.GenesisFile, "--bootstrap", l.Nodes[0].Dialable()[0], "--dir", join))
	jn.await(t, "running")
	cfgPath := filepath.Join(join, "config.yaml")
	cfg, err := node.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	// It follows: its ledger reaches the network's height (checkpoints it verified itself).
	target := nodeHeight(t, l.Nodes[0].APIAddr)
	eventually(t, 60*time.Second, "the joining node does not catch up with the ledger", func() bool {
		return target > 0 && nodeHeight(t, cfg.APIAddr) >= target
	})

	// Register it from the testnet wallet.
	reg := jsonOf[struct {
		NodeID string `json:"nodeId"`
		PeerID string `json:"peerId"`
	}](t, w.ok("register-node", "--node-config", cfgPath, "--commission", "250", "--capacity-vote", "2TiB", "--json"))
	if len(reg.NodeID) != 64 || !strings.HasPrefix(reg.PeerID, "12D3KooW") || !strings.Contains(jn.String(), reg.PeerID) {
		t.Fatalf("register-node: %+v", reg)
	}
	w.fails("already registered", "register-node", "--node-config", cfgPath)
	c := committee()
	cand, ok := c.node(reg.NodeID)
	if !ok || cand.PeerID != reg.PeerID || cand.Member || cand.Shards != 0 || cand.StakeNext != 0 || cand.Commission != 250 ||
		cand.CapacityVote != 2<<40 || cand.StorageVote != testnet.DefaultPrices.Storage || len(c.Nodes) != 5 {
		t.Fatalf("info committee after registering: %+v (%d nodes)", cand, len(c.Nodes))
	}
	// info --json keeps its committee list of {nodeId, peerId, shards, stake}.
	type infoMember struct {
		NodeID string `json:"nodeId"`
		PeerID string `json:"peerId"`
		Shards int    `json:"shards"`
		Stake  uint64 `json:"stake"`
	}
	info := jsonOf[struct {
		Committee []infoMember `json:"committee"`
	}](t, w.ok("info", "--json"))
	if len(info.Committee) != 4 || info.Committee[0].Stake != testnet.DefaultNodeStake || info.Committee[0].Shards == 0 {
		t.Fatalf("info --json committee: %+v", info.Committee)
	}

	// Bad input: unknown node, nothing to stake, too much, someone else's stake.
	w.fails("unknown node ID", "stake", "--node-id", strings.Repeat("ab", 32), "--amount", "1")
	w.fails("--amount must be more than 0", "stake", "--node-id", reg.NodeID, "--amount", "0")
	w.fails("insufficient balance", "stake", "--node-id", reg.NodeID, "--amount", "100000000")
	genesisStake := staking.DeriveObjectID(staking.Address{}, 0, 0) // genesis node 0's self-stake, its operator's
	w.fails("not one of this wallet's stakes", "request-withdraw-stake", "--stake-id", genesisStake.String())
	w.fails("not one of this wallet's stakes", "withdraw-stake", "--stake-id", genesisStake.String())
	if s := jsonOf[stakesJSON](t, w.ok("list-staked-wal", "--json")); len(s.Stakes) != 0 || s.Total != 0 {
		t.Fatalf("stakes before staking: %+v", s)
	}

	// Stake: enough for about a tenth of the shards, and one WAL to withdraw later.
	b0 := balance()
	const big, small = 50_000 * staking.FrostPerWAL, staking.FrostPerWAL
	type stakeOut struct {
		StakeID    string `json:"stakeId"`
		Amount     uint64 `json:"amount"`
		Activation uint32 `json:"activationEpoch"`
		Epoch      uint32 `json:"epoch"`
	}
	sb := jsonOf[stakeOut](t, w.ok("stake", "--node-id", reg.NodeID, "--amount", "50000", "--json"))
	ss := jsonOf[stakeOut](t, w.ok("stake", "--node-id", reg.NodeID, "--amount", "1000000000frost", "--json"))
	if sb.Amount != big || ss.Amount != small || sb.Activation < sb.Epoch+1 || len(sb.StakeID) != 64 {
		t.Fatalf("stakes %+v %+v", sb, ss)
	}
	if got := balance(); got != b0-big-small {
		t.Fatalf("balance %d after staking, want %d - %d - %d", got, b0, big, small)
	}
	list := jsonOf[stakesJSON](t, w.ok("list-staked-wal", "--json"))
	if len(list.Stakes) != 2 || list.Total != big+small {
		t.Fatalf("list-staked-wal: %+v", list)
	}
	for _, s := range list.Stakes {
		if s.NodeID != reg.NodeID || s.State != "pending" || (s.StakeID != sb.StakeID && s.StakeID != ss.StakeID) {
			t.Fatalf("stake %+v", s)
		}
	}
	if cand, _ := committee().node(reg.NodeID); cand.StakeNext != big+small || cand.StakePending != big+small || cand.Stake != 0 {
		t.Fatalf("candidate after staking: %+v", cand)
	}
	w.fails("no withdrawal requested", "withdraw-stake", "--stake-id", ss.StakeID)

	// The mid-epoch selection that counts the stake picks the node for the next committee.
	var selectedFor uint32
	eventually(t, 3*epoch, "the staked node is not selected into a next committee", func() bool {
		c := committee()
		n, _ := c.node(reg.NodeID)
		if c.NextSelected && n.NextShards != nil && *n.NextShards > 0 {
			selectedFor = c.Epoch + 1
			return true
		}
		return false
	})
	if selectedFor != sb.Activation {
		t.Fatalf("selected for epoch %d, the stake counts from %d", selectedFor, sb.Activation)
	}
	t.Logf("selected for epoch %d", selectedFor)

	// The small stake backs that committee now: withdrawable only after it.
	rq := jsonOf[struct {
		WithdrawEpoch uint32 `json:"withdrawEpoch"`
		Epoch         uint32 `json:"epoch"`
	}](t, w.ok("request-withdraw-stake", "--stake-id", ss.StakeID, "--json"))
	if rq.WithdrawEpoch != selectedFor+1 {
		t.Fatalf("request-withdraw-stake: %+v, want withdrawable from %d", rq, selectedFor+1)
	}
	w.fails("already requested", "request-withdraw-stake", "--stake-id", ss.StakeID)
	w.fails(fmt.Sprintf("not withdrawable before epoch %d", rq.WithdrawEpoch), "withdraw-stake", "--stake-id", ss.StakeID)

	// After the epoch change the node is a member with its shards, in info and info committee.
	eventually(t, 2*epoch, "the node is not a committee member after the epoch change", func() bool {
		c := committee()
		n, _ := c.node(reg.NodeID)
		return c.Epoch >= selectedFor && n.Member && n.Shards > 0 && n.Stake == big+small
	})
	info = jsonOf[struct {
		Committee []infoMember `json:"committee"`
	}](t, w.ok("info", "--json"))
	found := false
	for _, m := range info.Committee {
		found = found || (m.NodeID == reg.NodeID && m.PeerID == reg.PeerID && m.Shards > 0 && m.Stake == big+small)
	}
	if !found {
		t.Fatalf("the joined node is not in info --json's committee: %+v", info.Committee)
	}
	// The joined node keeps following the ledger as a member.
	eventually(t, 30*time.Second, "the joined node lags the network", func() bool {
		return nodeHeight(t, cfg.APIAddr) >= nodeHeight(t, l.Nodes[1].APIAddr)
	})

	// Withdraw once withdrawable: exactly the staked FROST comes back (no income, so no
	// rewards and no burn).
	eventually(t, 2*epoch, "the small stake does not become withdrawable", func() bool {
		for _, s := range jsonOf[stakesJSON](t, w.ok("list-staked-wal", "--json")).Stakes {
			if s.StakeID == ss.StakeID {
				return s.State == "withdrawable"
			}
		}
		return false
	})
	before := balance()
	wd := jsonOf[struct {
		Amount  uint64 `json:"amount"`
		Balance uint64 `json:"balance"`
	}](t, w.ok("withdraw-stake", "--stake-id", ss.StakeID, "--json"))
	if wd.Amount != small || wd.Balance != before+small || balance() != b0-big {
		t.Fatalf("withdraw-stake: %+v, balance before %d, want back %d", wd, before, small)
	}
	list = jsonOf[stakesJSON](t, w.ok("list-staked-wal", "--json"))
	if len(list.Stakes) != 1 || list.Stakes[0].StakeID != sb.StakeID || list.Stakes[0].Amount != big || list.Stakes[0].State != "active" {
		t.Fatalf("after the withdrawal: %+v", list)
	}
	w.fails("not one of this wallet's stakes", "withdraw-stake", "--stake-id", ss.StakeID)

	// Node admin by its operator (the testnet wallet registered it).
	w.ok("node-admin", "set-commission", "--node-config", cfgPath, "--commission", "300")
	w.ok("node-admin", "vote-price", "--node-id", reg.NodeID, "--storage-price", "12000frost")
	cand, _ = committee().node(reg.NodeID)
	if cand.Commission != 250 || cand.StorageVote != 12_000 {
		t.Fatalf("after node-admin: %+v", cand)
	}
	for _, n := range committee().Nodes {
		if n.NodeID != reg.NodeID {
			w.fails("is not the operator", "node-admin", "vote-capacity", "--node-id", n.NodeID, "--capacity", "1TiB")
			break
		}
	}

	// The member serves its shards: a blob stored now (after the balance checks above, which
	// count on no income) lands on it, `walrus health` shows it holding both slivers of every
	// shard it has, and the blob reads back.
	data := make([]byte, 200_000)
	for i := range data {
		data[i] = byte(i*7 + i>>8)
	}
	file := filepath.Join(tmp, "blob.bin")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	stored := jsonOf[struct {
		BlobID string `json:"blobId"`
	}](t, w.ok("store", file, "--json"))
	eventually(t, 60*time.Second, "the joined node does not hold its slivers of the new blob", func() bool {
		res := w.run("health", "--json")
		var rows []struct {
			NodeID      string `json:"nodeId"`
			Shards      int    `json:"shards"`
			SliversHeld uint64 `json:"sliversHeld"`
		}
		if json.Unmarshal([]byte(res.stdout), &rows) != nil {
			return false
		}
		for _, r := range rows {
			if r.NodeID == reg.NodeID {
				return r.Shards > 0 && r.SliversHeld == uint64(2*r.Shards)
			}
		}
		return false
	})
	out := filepath.Join(tmp, "blob.out")
	w.ok("read", stored.BlobID, "--out", out)
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
}
