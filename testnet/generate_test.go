package testnet_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/internal/genesisfile"
	"github.com/walrus-go/walrus-go/internal/keyfile"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// fixedTime makes generated genesis files reproducible.
var fixedTime = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func generate(t *testing.T, o testnet.Options) *testnet.Layout {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	l, err := testnet.Generate(o)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return l
}

func TestGenerateDefaults(t *testing.T) {
	l := generate(t, testnet.Options{Seed: 1})
	g, err := genesisfile.Read(l.GenesisFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g.Encode(), l.Genesis.Encode()) {
		t.Fatal("genesis.bin does not decode to the returned genesis")
	}
	if g.NShards != testnet.DefaultShards || len(g.Nodes) != testnet.DefaultNodes || g.Network != testnet.DefaultNetwork {
		t.Fatalf("genesis: %d shards, %d nodes, network %q", g.NShards, len(g.Nodes), g.Network)
	}
	if g.EpochDuration != testnet.DefaultEpochDuration.Milliseconds() {
		t.Fatalf("epoch duration %d ms", g.EpochDuration)
	}
	st, err := staking.NewState(g)
	if err != nil {
		t.Fatalf("staking.NewState rejects the genesis: %v", err)
	}
	c := st.Committee()
	if len(c.Members) != 4 {
		t.Fatalf("epoch-0 committee has %d members, want 4", len(c.Members))
	}
	for _, m := range c.Members {
		if m.Weight() != 250 {
			t.Errorf("member %x holds %d shards, want 250 (equal stakes)", m.Node[:4], m.Weight())
		}
	}

	// The wallet is funded and its key file matches the genesis account.
	wallet, err := keyfile.ReadAccountKey(l.WalletKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if acc := st.Account(staking.AddressOf(wallet.Public().(ed25519.PublicKey))); acc.Balance != testnet.DefaultWalletBalance {
		t.Fatalf("wallet balance %d, want %d", acc.Balance, testnet.DefaultWalletBalance)
	}
	faucet, err := keyfile.ReadAccountKey(l.FaucetKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if staking.AddressOf(faucet.Public().(ed25519.PublicKey)) != g.Faucet.Address {
		t.Fatal("faucet.key does not match the genesis faucet")
	}

	for i, nf := range l.Nodes {
		gn := g.Nodes[i]
		bk, err := keyfile.ReadBLSKey(nf.BLSKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		if bk.PublicKey() != gn.BLSKey {
			t.Errorf("node %d: bls.key does not match the genesis key", i)
		}
		id, err := p2p.LoadIdentity(nf.IdentityKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := peer.IDFromPrivateKey(id)
		if pid != nf.PeerID || peer.ID(gn.Info.PeerID) != pid {
			t.Errorf("node %d: identity %s, layout %s, genesis %s", i, pid, nf.PeerID, peer.ID(gn.Info.PeerID))
		}
		op, err := keyfile.ReadAccountKey(nf.OperatorKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		if staking.AddressOf(op.Public().(ed25519.PublicKey)) != gn.Operator {
			t.Errorf("node %d: operator.key does not match the genesis operator", i)
		}
		for _, f := range []string{nf.BLSKeyFile, nf.IdentityKeyFile, nf.OperatorKeyFile} {
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
			}
		}
		if len(nf.ListenAddrs) != 2 || !strings.HasPrefix(nf.ListenAddrs[0], "/ip4/127.0.0.1/tcp/") ||
			!strings.HasSuffix(nf.ListenAddrs[1], "/quic-v1") {
			t.Errorf("node %d listen addrs %v", i, nf.ListenAddrs)
		}
		if !strings.HasPrefix(nf.APIAddr, "127.0.0.1:") {
			t.Errorf("node %d API addr %q", i, nf.APIAddr)
		}
		if rel, err := filepath.Rel(nf.Dir, nf.DataDir); err != nil || strings.HasPrefix(rel, "..") {
			t.Errorf("node %d data dir %s outside %s", i, nf.DataDir, nf.Dir)
		}
	}
	// Ports are distinct across nodes.
	seen := map[string]bool{}
	for _, nf := range l.Nodes {
		for _, a := range append([]string{nf.APIAddr}, nf.ListenAddrs...) {
			if seen[a] {
				t.Errorf("address %s used twice", a)
			}
			seen[a] = true
		}
	}

	// client.yaml names every node.
	cc, err := client.LoadFileConfig(l.ClientConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	if cc.GenesisFile != l.GenesisFile || cc.WalletKeyFile != l.WalletKeyFile || len(cc.Bootstrap) != 8 {
		t.Fatalf("client config %+v", cc)
	}
	for _, nf := range l.Nodes {
		if !strings.Contains(strings.Join(cc.Bootstrap, " "), "/p2p/"+nf.PeerID.String()) {
			t.Errorf("client bootstrap misses node %s", nf.PeerID)
		}
	}
	// genesis.json exists and names the network ID.
	js, err := os.ReadFile(filepath.Join(l.Dir, testnet.GenesisJSONFileName))
	if err != nil {
		t.Fatal(err)
	}
	nid := g.NetworkID()
	if !bytes.Contains(js, []byte(hex.EncodeToString(nid[:]))) {
		t.Error("genesis.json does not show the network ID")
	}
}

func TestConfigsLoad(t *testing.T) {
	l := generate(t, testnet.Options{Seed: 5, Nodes: 3, Shards: 10, LogLevel: "debug",
		NodeConfig: func(i int, c *node.Config) { c.Ledger.SnapshotEvery = uint64(10 + i) }})
	for i, nf := range l.Nodes {
		c, err := node.LoadConfig(nf.ConfigFile)
		if err != nil {
			t.Fatalf("node.LoadConfig(%s): %v", nf.ConfigFile, err)
		}
		if c.DataDir != nf.DataDir || c.GenesisFile != l.GenesisFile || c.IdentityKeyFile != nf.IdentityKeyFile ||
			c.BLSKeyFile != nf.BLSKeyFile || c.APIAddr != nf.APIAddr || c.LogLevel != "debug" {
			t.Errorf("node %d config %+v", i, c)
		}
		if strings.Join(c.ListenAddrs, ",") != strings.Join(nf.ListenAddrs, ",") {
			t.Errorf("node %d listens on %v, layout says %v", i, c.ListenAddrs, nf.ListenAddrs)
		}
		if c.Ledger.SnapshotEvery != uint64(10+i) {
			t.Errorf("node %d: NodeConfig hook not applied", i)
		}
		// Bootstrap: every other node, with its /p2p/ ID, and never itself.
		if len(c.Bootstrap) != 2*(len(l.Nodes)-1) {
			t.Errorf("node %d bootstrap %v", i, c.Bootstrap)
		}
		for _, b := range c.Bootstrap {
			pi, err := peer.AddrInfoFromString(b)
			if err != nil {
				t.Fatalf("node %d bootstrap %q: %v", i, b, err)
			}
			if pi.ID == nf.PeerID {
				t.Errorf("node %d bootstraps from itself", i)
			}
		}
		// The node's own key loader reads the BLS key file format.
		k, err := node.LoadBLSKey(c.BLSKeyFile)
		if err != nil || k.PublicKey() != l.Genesis.Nodes[i].BLSKey {
			t.Errorf("node %d: node.LoadBLSKey: %v", i, err)
		}
	}
}

func TestGenerateDeterministic(t *testing.T) {
	o := testnet.Options{Seed: 42, BasePort: 20000, GenesisTime: fixedTime, Nodes: 3, Shards: 10}
	a, b := generate(t, o), generate(t, o)
	ab, _ := os.ReadFile(a.GenesisFile)
	bb, _ := os.ReadFile(b.GenesisFile)
	if len(ab) == 0 || !bytes.Equal(ab, bb) {
		t.Fatal("same seed, base port and time gave different genesis files")
	}
	for i := range a.Nodes {
		for _, name := range []string{testnet.BLSKeyFileName, testnet.IdentityKeyFileName, testnet.OperatorKeyFileName} {
			x, _ := os.ReadFile(filepath.Join(a.Nodes[i].Dir, name))
			y, _ := os.ReadFile(filepath.Join(b.Nodes[i].Dir, name))
			if len(x) == 0 || !bytes.Equal(x, y) {
				t.Errorf("node %d %s differs between runs", i, name)
			}
		}
	}
	if a.Nodes[1].ListenAddrs[0] != "/ip4/127.0.0.1/tcp/20002" || a.Nodes[1].APIAddr != "127.0.0.1:20003" {
		t.Errorf("base port layout: %v %s", a.Nodes[1].ListenAddrs, a.Nodes[1].APIAddr)
	}

	o.Seed = 43
	c := generate(t, o)
	if c.Genesis.NetworkID() == a.Genesis.NetworkID() {
		t.Fatal("different seeds gave the same network")
	}
	// Every node's keys differ from every other's.
	keys := map[[48]byte]bool{}
	for _, n := range append(a.Genesis.Nodes, c.Genesis.Nodes...) {
		if keys[n.BLSKey] {
			t.Fatal("BLS key repeated across nodes or seeds")
		}
		keys[n.BLSKey] = true
	}

	// Without a seed, two networks never share keys.
	r1 := generate(t, testnet.Options{Nodes: 1, Shards: 4})
	r2 := generate(t, testnet.Options{Nodes: 1, Shards: 4})
	if r1.Genesis.Nodes[0].BLSKey == r2.Genesis.Nodes[0].BLSKey {
		t.Fatal("unseeded generation repeated a key")
	}
}

func TestGenerateOptions(t *testing.T) {
	l := generate(t, testnet.Options{Seed: 7, Nodes: 2, Shards: 7, EpochDuration: time.Minute,
		Network: "custom", DisableQUIC: true, DisableAPI: true, NodeStake: 5, WalletBalance: 9})
	g := l.Genesis
	if g.Network != "custom" || g.NShards != 7 || g.EpochDuration != 60_000 || len(g.Nodes) != 2 {
		t.Fatalf("genesis %+v", g)
	}
	if g.Nodes[0].Stake != 5 || g.Accounts[0].Balance != 9 {
		t.Fatalf("stake %d, wallet %d", g.Nodes[0].Stake, g.Accounts[0].Balance)
	}
	for _, nf := range l.Nodes {
		if len(nf.ListenAddrs) != 1 || nf.APIAddr != "" {
			t.Fatalf("node %d: addrs %v api %q", nf.Index, nf.ListenAddrs, nf.APIAddr)
		}
	}
}

func TestGenerateRefusesExisting(t *testing.T) {
	dir := t.TempDir()
	l := generate(t, testnet.Options{Dir: dir, Seed: 1, Nodes: 1, Shards: 4})
	before, _ := os.ReadFile(l.GenesisFile)
	_, err := testnet.Generate(testnet.Options{Dir: dir, Seed: 2, Nodes: 1, Shards: 4})
	if !errors.Is(err, testnet.ErrExists) {
		t.Fatalf("second Generate: %v, want ErrExists", err)
	}
	after, _ := os.ReadFile(l.GenesisFile)
	if !bytes.Equal(before, after) {
		t.Fatal("a refused Generate changed genesis.bin")
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := []testnet.Options{
		{},                              // no Dir
		{Dir: "x", Nodes: -1},           // negative
		{Dir: "x", Nodes: 1000},         // too many
		{Dir: "x", Shards: 3},           // codec rejects
		{Dir: "x", Nodes: 5, Shards: 4}, // fewer shards than nodes
		{Dir: "x", EpochDuration: time.Microsecond},
		{Dir: "x", Network: strings.Repeat("n", 65)},
		{Dir: "x", Host: "localhost"},
		{Dir: "x", Host: "::1"},
		{Dir: "x", BasePort: 80},
		{Dir: "x", BasePort: 65530},
		{Dir: "x", Commission: 10_001},
	}
	for i, o := range bad {
		if err := o.Validate(); err == nil {
			t.Errorf("case %d: Validate accepted %+v", i, o)
		}
	}
	o := testnet.Options{Dir: "x"}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.Nodes != 4 || o.Shards != 1000 || o.EpochDuration != testnet.DefaultEpochDuration ||
		o.Host != "127.0.0.1" || o.Prices != testnet.DefaultPrices || o.GenesisTime.IsZero() {
		t.Fatalf("defaults not filled: %+v", o)
	}
}

func TestLoadLayout(t *testing.T) {
	l := generate(t, testnet.Options{Seed: 3, Nodes: 3, Shards: 10})
	got, err := testnet.LoadLayout(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Nodes) != 3 || got.Genesis.NetworkID() != l.Genesis.NetworkID() {
		t.Fatalf("loaded %d nodes", len(got.Nodes))
	}
	for i := range l.Nodes {
		a, b := l.Nodes[i], got.Nodes[i]
		if a.PeerID != b.PeerID || a.APIAddr != b.APIAddr || a.DataDir != b.DataDir ||
			strings.Join(a.ListenAddrs, ",") != strings.Join(b.ListenAddrs, ",") {
			t.Errorf("node %d: generated %+v, loaded %+v", i, a, b)
		}
	}
	// Swapping two identities is caught.
	x, _ := os.ReadFile(l.Nodes[0].IdentityKeyFile)
	y, _ := os.ReadFile(l.Nodes[1].IdentityKeyFile)
	os.WriteFile(l.Nodes[0].IdentityKeyFile, y, 0o600)
	os.WriteFile(l.Nodes[1].IdentityKeyFile, x, 0o600)
	if _, err := testnet.LoadLayout(l.Dir); err == nil {
		t.Fatal("LoadLayout accepted swapped identities")
	}
	// A corrupt genesis is an error, not a panic.
	os.WriteFile(l.GenesisFile, []byte("garbage"), 0o644)
	if _, err := testnet.LoadLayout(l.Dir); err == nil {
		t.Fatal("LoadLayout accepted a corrupt genesis")
	}
	if _, err := testnet.LoadLayout(t.TempDir()); err == nil {
		t.Fatal("LoadLayout accepted an empty directory")
	}
}

func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	l := generate(t, testnet.Options{Seed: 9, Nodes: 1, Shards: 4})
	k, err := keyfile.ReadBLSKey(l.Nodes[0].BLSKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	// The documented format: 64 hex characters and a newline.
	b, _ := os.ReadFile(l.Nodes[0].BLSKeyFile)
	if len(b) != 65 || b[64] != '\n' {
		t.Fatalf("bls.key is %q", b)
	}
	// Raw 32 bytes are accepted too.
	raw := filepath.Join(dir, "raw.key")
	os.WriteFile(raw, k.Bytes(), 0o600)
	k2, err := keyfile.ReadBLSKey(raw)
	if err != nil || k2.PublicKey() != k.PublicKey() {
		t.Fatalf("raw BLS key: %v", err)
	}
	w, _ := keyfile.ReadAccountKey(l.WalletKeyFile)
	os.WriteFile(raw, w.Seed(), 0o600)
	if w2, err := keyfile.ReadAccountKey(raw); err != nil || !w2.Equal(w) {
		t.Fatalf("raw account key: %v", err)
	}

	for name, content := range map[string][]byte{
		"empty":    nil,
		"short":    []byte("abcd\n"),
		"nonhex":   []byte(strings.Repeat("zz", 32) + "\n"),
		"oversize": bytes.Repeat([]byte("a"), 1<<20),
		"zero":     make([]byte, 32), // a zero BLS scalar is not a key
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, content, 0o600)
		if _, err := keyfile.ReadBLSKey(p); err == nil {
			t.Errorf("%s: ReadBLSKey accepted it", name)
		}
		if name != "zero" {
			if _, err := keyfile.ReadAccountKey(p); !errors.Is(err, keyfile.ErrBadKeyFile) {
				t.Errorf("%s: ReadAccountKey: %v, want ErrBadKeyFile", name, err)
			}
		}
	}
}
