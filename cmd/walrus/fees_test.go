package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/keyfile"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestFeesCLI runs, on an in-process testnet charging testnet.DefaultFees (a generated
// testnet's default): `info` shows the fee schedule; every transaction command's
// --dry-run prints a cost, sends nothing, and the real command then takes exactly that
// from the balance (transfer, store, store-quilt, site publish, extend, delete, stake,
// request-withdraw-stake, withdraw-stake, register-node, node-admin); a wallet with no
// balance gets a clear error naming the shortfall before anything is sent.
func TestFeesCLI(t *testing.T) {
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.WaitHeightContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	walrusAs := func(cfg string, want int, args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append([]string{"--config", cfg}, args...), &out, &errb); code != want {
			t.Fatalf("walrus %v: exit %d, want %d: %s%s", args, code, want, errb.String(), out.String())
		}
		return out.String(), errb.String()
	}
	cfg := c.Layout.ClientConfigFile
	walrus := func(args ...string) string { t.Helper(); out, _ := walrusAs(cfg, 0, args...); return out }
	balanceOf := func(cfg string) uint64 {
		t.Helper()
		out, _ := walrusAs(cfg, 0, "balance", "--json")
		var b struct{ Balance uint64 }
		if err := json.Unmarshal([]byte(out), &b); err != nil {
			t.Fatalf("balance: %v: %s", err, out)
		}
		return b.Balance
	}
	balance := func() uint64 { t.Helper(); return balanceOf(cfg) }
	type cost struct {
		DryRun       bool   `json:"dryRun"`
		Command      string `json:"command"`
		Transactions int    `json:"transactions"`
		Fee          uint64 `json:"fee"`
		Amount       uint64 `json:"amount"`
		Total        uint64 `json:"total"`
		Returned     uint64 `json:"returned"`
		Balance      uint64 `json:"balance"`
		BalanceAfter uint64 `json:"balanceAfter"`
		Shortfall    uint64 `json:"shortfall"`
	}
	dry := func(args ...string) cost {
		t.Helper()
		var co cost
		out := walrus(append(args, "--dry-run", "--json")...)
		if err := json.Unmarshal([]byte(out), &co); err != nil || !co.DryRun || co.Fee == 0 || co.Total != co.Fee+co.Amount {
			t.Fatalf("%v --dry-run: %+v %v: %s", args, co, err, out)
		}
		return co
	}
	// charges runs a dry run, checks it sent nothing, runs the command and checks the
	// balance then fell by exactly the dry run's total (less what came back).
	charges := func(args ...string) (cost, string) {
		t.Helper()
		b0 := balance()
		co := dry(args...)
		if co.Balance != b0 || co.BalanceAfter != b0-co.Total+co.Returned {
			t.Fatalf("%v --dry-run: %+v, balance %d", args, co, b0)
		}
		if b := balance(); b != b0 {
			t.Fatalf("%v --dry-run changed the balance: %d -> %d", args, b0, b)
		}
		out := walrus(args...)
		if b := balance(); b != co.BalanceAfter {
			t.Fatalf("%v: balance %d -> %d, the dry run said %d (%+v)", args, b0, b, co.BalanceAfter, co)
		}
		return co, out
	}

	// info: the schedule, in FROST and WAL.
	f := testnet.DefaultFees
	text := walrus("info")
	if !strings.Contains(text, "Transaction fee: base "+frostWAL(f.Base)) || !strings.Contains(text, frostWAL(f.PerByte)+" per byte") ||
		!strings.Contains(text, frostWAL(f.PerVerify)+" per BLS check") || !strings.Contains(text, "Node registration deposit: "+frostWAL(f.Deposit)) {
		t.Fatalf("info does not show the fees:\n%s", text)
	}
	var info struct {
		Fees struct {
			Base, PerByte, PerVerify, Deposit, TransferFee uint64
		} `json:"fees"`
	}
	transferFee, _ := client.TxFee(f, &staking.Transfer{})
	if err := json.Unmarshal([]byte(walrus("info", "--json")), &info); err != nil || info.Fees.Base != f.Base ||
		info.Fees.PerByte != f.PerByte || info.Fees.PerVerify != f.PerVerify || info.Fees.Deposit != f.Deposit || info.Fees.TransferFee != transferFee {
		t.Fatalf("info --json fees: %+v %v", info.Fees, err)
	}

	// transfer
	var to staking.Address
	to[0] = 0x42
	co, out := charges("transfer", hex.EncodeToString(to[:]), "1.5")
	if co.Amount != 1_500_000_000 || co.Fee != transferFee || co.Transactions != 1 || !strings.Contains(out, "fee "+client.FormatWAL(transferFee)) {
		t.Fatalf("transfer: %+v %s", co, out)
	}
	if txt := walrus("transfer", "--dry-run", hex.EncodeToString(to[:]), "1"); !strings.Contains(txt, "Dry run: transfer of 1 WAL") ||
		!strings.Contains(txt, "Balance: ") || !strings.Contains(txt, " -> ") {
		t.Fatalf("transfer --dry-run text:\n%s", txt)
	}

	// store: the dry run's total (storage + three fees) is what the store takes.
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, bytes.Repeat([]byte("fee"), 700), 0o644); err != nil {
		t.Fatal(err)
	}
	b0 := balance()
	var est struct {
		BlobID       string `json:"blobId"`
		Cost         uint64 `json:"cost"`
		Fee          uint64 `json:"fee"`
		Total        uint64 `json:"total"`
		Balance      uint64 `json:"balance"`
		BalanceAfter uint64 `json:"balanceAfter"`
	}
	if err := json.Unmarshal([]byte(walrus("store", "--dry-run", "--epochs", "3", "--deletable", "--json", file)), &est); err != nil ||
		est.Fee == 0 || est.Total != est.Cost+est.Fee || est.Balance != b0 || est.BalanceAfter != b0-est.Total {
		t.Fatalf("store --dry-run: %+v %v", est, err)
	}
	var sum struct {
		BlobID string `json:"blobId"`
		Cost   uint64 `json:"cost"`
		Fee    uint64 `json:"fee"`
	}
	if err := json.Unmarshal([]byte(walrus("store", "--epochs", "3", "--deletable", "--json", file)), &sum); err != nil ||
		sum.BlobID != est.BlobID || sum.Cost != est.Cost || sum.Fee != est.Fee {
		t.Fatalf("store %+v, dry run %+v: %v", sum, est, err)
	}
	c.WaitCertified(mustBlobID(t, sum.BlobID))
	if b := balance(); b != est.BalanceAfter {
		t.Fatalf("store: balance %d -> %d, the dry run said %d", b0, b, est.BalanceAfter)
	}

	// extend and delete of that blob.
	co, _ = charges("extend", "--blob-id", sum.BlobID, "--epochs", "2")
	if co.Amount == 0 || co.Transactions != 1 {
		t.Fatalf("extend: %+v", co)
	}
	co, _ = charges("delete", "--blob-id", sum.BlobID)
	if co.Amount != 0 || co.Transactions != 1 {
		t.Fatalf("delete: %+v", co)
	}

	// store-quilt and site publish: the dry run's total is what they take.
	site := filepath.Join(dir, "site")
	if err := os.MkdirAll(site, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"index.html": "<p>fees</p>", "a.txt": "aaa"} {
		if err := os.WriteFile(filepath.Join(site, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"store-quilt", "--epochs", "2", "--paths", site}, {"site", "publish", site, "--epochs", "4"}} {
		b0 := balance()
		var e struct {
			Total, Fee   uint64
			BalanceAfter uint64 `json:"balanceAfter"`
		}
		if err := json.Unmarshal([]byte(walrus(append(args, "--dry-run", "--json")...)), &e); err != nil || e.Fee == 0 || e.BalanceAfter != b0-e.Total {
			t.Fatalf("%v --dry-run: %+v %v", args, e, err)
		}
		var id struct {
			QuiltID string `json:"quiltId"`
		}
		if err := json.Unmarshal([]byte(walrus(append(args, "--json")...)), &id); err != nil {
			t.Fatal(err)
		}
		c.WaitCertified(mustBlobID(t, id.QuiltID))
		if b := balance(); b != e.BalanceAfter {
			t.Fatalf("%v: balance %d -> %d, the dry run said %d", args, b0, b, e.BalanceAfter)
		}
	}

	// stake, request the withdrawal, withdraw (the stake never backed a committee, so it
	// comes back at once, without rewards).
	id0 := epoch.NodeIDOf(c.Layout.Genesis.Nodes[0].BLSKey)
	nodeID := hex.EncodeToString(id0[:])
	co, _ = charges("stake", "--node-id", nodeID, "--amount", "2")
	if co.Amount != 2*staking.FrostPerWAL {
		t.Fatalf("stake: %+v", co)
	}
	var stakes struct {
		Stakes []struct {
			StakeID string `json:"stakeId"`
		} `json:"stakes"`
	}
	if err := json.Unmarshal([]byte(walrus("list-staked-wal", "--json")), &stakes); err != nil || len(stakes.Stakes) != 1 {
		t.Fatalf("list-staked-wal: %+v %v", stakes, err)
	}
	sid := stakes.Stakes[0].StakeID
	charges("request-withdraw-stake", "--stake-id", sid)
	co, _ = charges("withdraw-stake", "--stake-id", sid)
	if co.Returned != 2*staking.FrostPerWAL {
		t.Fatalf("withdraw-stake: %+v", co)
	}

	// register-node holds the deposit; node-admin (the node's operator) pays its fee.
	joiner := filepath.Join(t.TempDir(), "joiner")
	nodeCfg, err := prepareNodeDir(&bytes.Buffer{}, &joinOptions{dir: joiner, genesis: c.Layout.GenesisFile, bootstrap: multiFlag(c.Layout.Nodes[0].Dialable())})
	if err != nil {
		t.Fatal(err)
	}
	co, _ = charges("register-node", "--node-config", nodeCfg)
	if co.Amount != f.Deposit || co.Fee < f.PerVerify {
		t.Fatalf("register-node: %+v", co)
	}
	co, _ = charges("node-admin", "vote-capacity", "--node-config", nodeCfg, "--capacity", "2TiB")
	if co.Amount != 0 {
		t.Fatalf("node-admin: %+v", co)
	}

	// A wallet with nothing: every command refuses before sending, naming the shortfall;
	// its dry run shows it.
	fc, err := client.LoadFileConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fc.WalletKeyFile = filepath.Join(dir, "empty.key")
	_, priv, _ := ed25519.GenerateKey(nil)
	if err := keyfile.WriteAccountKey(fc.WalletKeyFile, priv); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.yaml")
	if err := client.WriteFileConfig(empty, fc); err != nil {
		t.Fatal(err)
	}
	_, e := walrusAs(empty, 1, "transfer", hex.EncodeToString(to[:]), "1")
	if !strings.Contains(e, "insufficient balance") || !strings.Contains(e, "holds 0 WAL") ||
		!strings.Contains(e, client.FormatWAL(staking.FrostPerWAL+transferFee)+" short") {
		t.Fatalf("transfer from an empty wallet: %s", e)
	}
	if _, e := walrusAs(empty, 1, "store", "--epochs", "1", file); !strings.Contains(e, "insufficient balance") || !strings.Contains(e, "short") {
		t.Fatalf("store from an empty wallet: %s", e)
	}
	if _, e := walrusAs(empty, 1, "stake", "--node-id", nodeID, "--amount", "1"); !strings.Contains(e, "insufficient balance") {
		t.Fatalf("stake from an empty wallet: %s", e)
	}
	if out, _ := walrusAs(empty, 0, "transfer", "--dry-run", hex.EncodeToString(to[:]), "1"); !strings.Contains(out, "short, the command would fail") {
		t.Fatalf("dry run from an empty wallet:\n%s", out)
	}
	if b := balanceOf(empty); b != 0 {
		t.Fatalf("the empty wallet holds %d", b)
	}
	if acc := c.Unwrap(0).Ledger().Account(staking.AddressOf(priv.Public().(ed25519.PublicKey))); acc.Nonce != 0 {
		t.Fatalf("the empty wallet sent something: nonce %d", acc.Nonce)
	}
}

func mustBlobID(t *testing.T, s string) codec.BlobID {
	t.Helper()
	id, err := codec.ParseBlobID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
