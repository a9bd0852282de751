package node_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node"
)

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "config.yaml", `
data_dir: data
genesis_file: /abs/genesis.bin
bls_key_file: keys/bls.key
listen_addrs: ["/ip4/0.0.0.0/tcp/4001"]
bootstrap: ["/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWQGqTPPbVUTYtY6Ce2UvaDKGP26iQx6hC48F4ceqxyKrN"]
api_addr: 127.0.0.1:9100
log_level: debug
consensus:
  propose_timeout: 750ms
  tick_interval: 1s
ledger:
  snapshot_every: 10
gc:
  interval: 250ms
  batch: 4
  scan: 100
  sweep_interval: 1h
  cpu: 0.25
  busy_cpu: 0.01
blob_sync:
  scrub_cpu: 0.05
datastore:
  written_pages: none
`)
	c, err := node.LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != filepath.Join(dir, "data") || c.BLSKeyFile != filepath.Join(dir, "keys/bls.key") || c.GenesisFile != "/abs/genesis.bin" {
		t.Errorf("paths not resolved against the config's directory: %+v", c)
	}
	if c.IdentityKeyFile != filepath.Join(dir, "data", "identity.key") {
		t.Errorf("identity default %q", c.IdentityKeyFile)
	}
	if c.Consensus.ProposeTimeout != 750*time.Millisecond || c.Consensus.TickInterval != time.Second || c.Ledger.SnapshotEvery != 10 {
		t.Errorf("tunables %+v %+v", c.Consensus, c.Ledger)
	}
	if c.GC != (node.GCConfig{Interval: 250 * time.Millisecond, Batch: 4, Scan: 100, SweepInterval: time.Hour, CPU: 0.25, BusyCPU: 0.01}) {
		t.Errorf("gc %+v", c.GC)
	}
	if c.BlobSync.ScrubCPU != 0.05 || c.Datastore.WrittenPages != "none" {
		t.Errorf("blob_sync.scrub_cpu %v, datastore %+v", c.BlobSync.ScrubCPU, c.Datastore)
	}
	if len(c.ListenAddrs) != 1 || c.APIAddr != "127.0.0.1:9100" || c.LogLevel != "debug" || len(c.Bootstrap) != 1 {
		t.Errorf("network settings %+v", c)
	}
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	c := &node.Config{DataDir: "/d", GenesisFile: "/g", BLSKeyFile: "/k"}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.ListenAddrs) != 2 || !strings.Contains(c.ListenAddrs[0], "127.0.0.1") || c.LogLevel != "info" {
		t.Errorf("defaults %+v", c)
	}
	dir := t.TempDir()
	for name, body := range map[string]string{
		"unknown key":   "data_dir: d\ngenesis_file: g\nbls_key_file: k\nlisten_adrs: []\n",
		"missing":       "data_dir: d\n",
		"bad level":     "data_dir: d\ngenesis_file: g\nbls_key_file: k\nlog_level: loud\n",
		"negative time": "data_dir: d\ngenesis_file: g\nbls_key_file: k\nconsensus:\n  tick_interval: -1s\n",
		"negative gc":   "data_dir: d\ngenesis_file: g\nbls_key_file: k\ngc:\n  batch: -1\n",
		"gc cpu > 1":    "data_dir: d\ngenesis_file: g\nbls_key_file: k\ngc:\n  cpu: 1.5\n",
		"gc cpu < 0":    "data_dir: d\ngenesis_file: g\nbls_key_file: k\ngc:\n  cpu: -0.1\n",
		"gc busy_cpu":   "data_dir: d\ngenesis_file: g\nbls_key_file: k\ngc:\n  busy_cpu: 2\n",
		"gc cpu NaN":    "data_dir: d\ngenesis_file: g\nbls_key_file: k\ngc:\n  cpu: .nan\n",
		"scrub cpu > 1": "data_dir: d\ngenesis_file: g\nbls_key_file: k\nblob_sync:\n  scrub_cpu: 1.5\n",
		"scrub cpu NaN": "data_dir: d\ngenesis_file: g\nbls_key_file: k\nblob_sync:\n  scrub_cpu: .nan\n",
		"written pages": "data_dir: d\ngenesis_file: g\nbls_key_file: k\ndatastore:\n  written_pages: some\n",
		"old drop key":  "data_dir: d\ngenesis_file: g\nbls_key_file: k\ndatastore:\n  drop_written_pages: true\n",
	} {
		if _, err := node.LoadConfig(writeFile(t, dir, "c.yaml", body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestLoadBLSKeyFormats(t *testing.T) {
	dir := t.TempDir()
	tn := newTestNet(t, 1)
	raw, err := os.ReadFile(tn.cfgs[0].BLSKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := node.LoadBLSKey(tn.cfgs[0].BLSKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	hexFile := writeFile(t, dir, "bls.hex", " "+strings.ToUpper(hexs(raw))+"\n")
	k2, err := node.LoadBLSKey(hexFile)
	if err != nil || k2.PublicKey() != k1.PublicKey() {
		t.Fatalf("hex key: %v", err)
	}
	if _, err := node.LoadBLSKey(writeFile(t, dir, "bad", "xyz")); err == nil {
		t.Fatal("bad key accepted")
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
