package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/internal/keyfile"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/testnet"
)

// runIn runs the command table in-process and returns exit code, stdout and stderr.
func runIn(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// The staking commands refuse bad input with one line before they touch the network.
func TestStakingCommandsRefuseBadInput(t *testing.T) {
	t.Setenv("WALRUS_CONFIG", "")
	id := strings.Repeat("ab", 32)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"stake", "--amount", "1"}, "--node-id and --amount are required"},
		{[]string{"stake", "--node-id", "xyz", "--amount", "1"}, "bad node ID"},
		{[]string{"stake", "--node-id", id, "--amount", "0"}, "--amount must be more than 0"},
		{[]string{"stake", "--node-id", id, "--amount", "0frost"}, "--amount must be more than 0"},
		{[]string{"stake", "--node-id", id, "--amount", "-1"}, "bad amount"},
		{[]string{"stake", "--node-id", id, "--amount", "1"}, "--config"},
		{[]string{"stake", "--node-id", id, "--amount", "1", "extra"}, "unexpected arguments"},
		{[]string{"request-withdraw-stake"}, "--stake-id is required"},
		{[]string{"request-withdraw-stake", "--stake-id", "12"}, "bad stake ID"},
		{[]string{"withdraw-stake", "--stake-id", "zz"}, "bad stake ID"},
		{[]string{"withdraw-stake", "--stake-id", id}, "--config"},
		{[]string{"list-staked-wal"}, "--config"},
		{[]string{"info", "committee"}, "--config"},
		{[]string{"info", "committee", "--bogus"}, "bogus"},
		{[]string{"register-node"}, "--node-config is required"},
		{[]string{"register-node", "--node-config", "/nonexistent/config.yaml"}, "no such file"},
		{[]string{"node-admin"}, "want a subcommand"},
		{[]string{"node-admin", "fly"}, "unknown subcommand"},
		{[]string{"node-admin", "set-commission"}, "--node-id or --node-config is required"},
		{[]string{"node-admin", "set-commission", "--node-id", id}, "nothing to change"},
		{[]string{"node-admin", "set-commission", "--node-id", id, "--commission", "10001"}, "--config"},
		{[]string{"node-admin", "vote-price", "--node-id", id}, "nothing to change"},
		{[]string{"node-admin", "update-addresses", "--node-id", id}, "needs --node-config"},
		{[]string{"node-admin", "collect-commission", "--node-id", id}, "no collect-commission transaction"},
		{[]string{"node", "--genesis", "g.bin"}, "go with --dir"},
		{[]string{"node", "--dir", t.TempDir()}, "--genesis FILE and at least one --bootstrap"},
		{[]string{"node", "--dir", t.TempDir(), "--config", "x.yaml"}, "not both"},
	} {
		code, _, stderr := runIn(c.args...)
		if code != 1 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want one line with %q", c.args, code, stderr, c.want)
		}
	}
	for _, name := range []string{"stake", "request-withdraw-stake", "withdraw-stake", "list-staked-wal", "register-node", "node-admin"} {
		code, stdout, _ := runIn("help", name)
		if code != 0 || !strings.Contains(stdout, "Usage: walrus "+name) {
			t.Errorf("help %s: exit %d, %q", name, code, stdout)
		}
	}
}

func TestStakingParsers(t *testing.T) {
	for in, want := range map[string]uint64{"1TiB": 1 << 40, "500GiB": 500 << 30, "2TB": 2e12, "64 MiB": 64 << 20, "123": 123, "7B": 7} {
		if got, err := parseSize("capacity", in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1.5TiB", "99999999999PiB"} {
		if _, err := parseSize("capacity", bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
	for in, want := range map[string]uint64{"0": 0, "0frost": 0, "10000frost": 10_000, "0.00001": 10_000} {
		if got, err := parsePrice("p", in); err != nil || got != want {
			t.Errorf("parsePrice(%q) = %d, %v", in, got, err)
		}
	}
	if _, err := parseNodeID("0x" + strings.Repeat("0A", 32)); err != nil {
		t.Error(err)
	}
	// withdrawEpoch follows the ledger's rule (docs/protocol.md §6).
	for _, c := range []struct {
		st          query.StakeInfo
		ep, first   uint32
		want        uint32
		description string
	}{
		{query.StakeInfo{Activation: 3}, 2, 3, 2, "never backed a selected committee: at once"},
		{query.StakeInfo{Activation: 3}, 2, 4, 4, "backs the selected committee of 3: after it"},
		{query.StakeInfo{Activation: 1}, 2, 3, 3, "active: after the last selected"},
		{query.StakeInfo{Activation: 1, Withdrawing: true, WithdrawAt: 7}, 2, 3, 7, "withdrawing: its epoch"},
	} {
		if got := withdrawEpoch(&c.st, c.ep, c.first); got != c.want {
			t.Errorf("%s: %d, want %d", c.description, got, c.want)
		}
	}
}

// TestNodeDirCreatedAndReused: `walrus node --dir` writes a complete, loadable node
// directory with fresh keys and concrete addresses, and a second run reuses it untouched.
func TestNodeDirCreatedAndReused(t *testing.T) {
	net := t.TempDir()
	l, err := testnet.Generate(testnet.Options{Dir: net, Nodes: 1, Shards: 10})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "joiner")
	o := &joinOptions{dir: dir, genesis: l.GenesisFile, bootstrap: multiFlag(l.Nodes[0].Dialable())}
	var out bytes.Buffer
	cfgPath, err := prepareNodeDir(&out, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "register-node --node-config "+cfgPath) {
		t.Errorf("output %q", out.String())
	}
	cfg, err := node.LoadConfig(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != filepath.Join(dir, "data") || len(cfg.Bootstrap) != len(l.Nodes[0].Dialable()) || cfg.APIAddr == "" {
		t.Fatalf("config %+v", cfg)
	}
	addrs, err := announceAddrs(cfg, nil)
	if err != nil || len(addrs) != 2 {
		t.Fatalf("listen addresses %v are not registrable: %v", cfg.ListenAddrs, err)
	}
	nk, err := loadNodeKeys(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyfile.ReadAccountKey(cfg.AccountKeyFile); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{cfg.BLSKeyFile, cfg.AccountKeyFile, cfg.IdentityKeyFile} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, st.Mode(), err)
		}
	}
	before, _ := os.ReadFile(cfgPath)

	// Reused: same keys, same config, a note about the flags it ignores.
	out.Reset()
	o2 := &joinOptions{dir: dir, genesis: l.GenesisFile, listen: multiFlag{"/ip4/127.0.0.1/tcp/1"}}
	if p, err := prepareNodeDir(&out, o2); err != nil || p != cfgPath {
		t.Fatalf("reuse: %s, %v", p, err)
	}
	after, _ := os.ReadFile(cfgPath)
	nk2, err := loadNodeKeys(cfgPath)
	if err != nil || !bytes.Equal(before, after) || nk2.id != nk.id || nk2.peerID != nk.peerID || !strings.Contains(out.String(), "reusing") {
		t.Fatalf("reuse changed the directory (%v) or said %q", err, out.String())
	}

	// Another network's genesis is refused; so are bad bootstrap addresses.
	other, err := testnet.Generate(testnet.Options{Dir: t.TempDir(), Nodes: 1, Shards: 10, Network: "elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prepareNodeDir(&out, &joinOptions{dir: dir, genesis: other.GenesisFile}); err == nil || !strings.Contains(err.Error(), "use another --dir") {
		t.Errorf("other genesis: %v", err)
	}
	if _, err := prepareNodeDir(&out, &joinOptions{dir: t.TempDir(), genesis: l.GenesisFile, bootstrap: multiFlag{"/ip4/127.0.0.1/tcp/1"}}); err == nil || !strings.Contains(err.Error(), "/p2p/") {
		t.Errorf("bootstrap without /p2p/: %v", err)
	}
	// Addresses that cannot be dialled are not registered without --address.
	for _, bad := range []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/127.0.0.1/tcp/0"} {
		if _, err := announceAddrs(&node.Config{ListenAddrs: []string{bad}}, nil); err == nil {
			t.Errorf("%s registrable", bad)
		}
	}
	if a, err := announceAddrs(&node.Config{ListenAddrs: []string{"/ip4/0.0.0.0/tcp/4001"}}, []string{"/dns4/node.example/tcp/4001"}); err != nil || a[0] != "/dns4/node.example/tcp/4001" {
		t.Errorf("--address: %v %v", a, err)
	}
	if _, err := announceAddrs(&node.Config{}, []string{"/ip4/1.2.3.4/tcp/1/p2p/12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf"}); err == nil {
		t.Error("an address with /p2p/ registrable")
	}
}
