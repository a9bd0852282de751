package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestStoreStdinAndReadDecodeCLI stores a blob several times the memory budget from stdin
// (`walrus store -`: spooled to a temporary file in $TMPDIR, mapped, and removed), reads it
// back byte-identical, then with a node down (its systematic slivers missing, so the read
// decodes) under the same small budget (the decode goes through a spill file, a window at
// a time), and checks that no temporary file is left.
func TestStoreStdinAndReadDecodeCLI(t *testing.T) {
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.WaitHeightContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	walrus := func(stdin []byte, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, walrusBin, append([]string{"--config", c.Layout.ClientConfigFile}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Stdin = bytes.NewReader(stdin)
		cmd.Env = append(os.Environ(), "WALRUS_CONFIG=", "TMPDIR="+tmp)
		if err := cmd.Run(); err != nil {
			t.Fatalf("walrus %v: %v: %s", args, err, errb.String())
		}
		return out.String()
	}
	rng := rand.New(rand.NewPCG(17, 17))
	data := make([]byte, 600_000)
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	var res struct {
		BlobID          string `json:"blobId"`
		UnencodedLength uint64 `json:"unencodedLength"`
	}
	if err := json.Unmarshal([]byte(walrus(data, "store", "-", "--epochs", "2", "--memory-budget", "64KiB", "--json")), &res); err != nil || res.UnencodedLength != uint64(len(data)) {
		t.Fatalf("store -: %+v %v", res, err)
	}
	leftover := func() {
		t.Helper()
		ents, _ := os.ReadDir(tmp)
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), "walrus-wallet-") { // the wallet's lock stays, on purpose
				t.Fatalf("temporary file left in $TMPDIR: %s", e.Name())
			}
		}
	}
	leftover()
	got := filepath.Join(t.TempDir(), "got")
	walrus(nil, "read", res.BlobID, "--out", got, "--memory-budget", "64KiB")
	if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("read back differs (%v)", err)
	}
	// With a node holding a systematic sliver down, the read must decode.
	s := c.Session(ctx)
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id, err := codec.ParseBlobID(res.BlobID)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Client.Params()
	holder := com.Members[com.Owner(p.ShardForPair(id, 0))].PeerID
	down := -1
	for i := range 4 {
		if string(c.Node(i).PeerID()) == string(holder) {
			down = i
		}
	}
	if down < 0 {
		t.Fatal("no node holds row 0")
	}
	c.Crash(down)
	walrus(nil, "read", res.BlobID, "--out", got, "--memory-budget", "64KiB")
	if b, err := os.ReadFile(got); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("read back with a node down differs (%v)", err)
	}
	leftover()
}
