package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestStoreManyAndLifetimeCLI runs, on an in-process testnet: `store` of several files in
// one command (a JSON list, one total), `store --dry-run`, `list-blobs`, `delete` and
// `extend`, with their error paths (a permanent blob, someone else's blob, an unknown blob
// ID, bad flags).
func TestStoreManyAndLifetimeCLI(t *testing.T) {
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.WaitHeightContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cfg := c.Layout.ClientConfigFile
	walrusAs := func(cfg string, want int, args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append([]string{"--config", cfg}, args...), &out, &errb); code != want {
			t.Fatalf("walrus %v: exit %d, want %d: %s", args, code, want, errb.String())
		}
		if want != 0 && strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("walrus %v: stderr is not one line: %q", args, errb.String())
		}
		return out.String(), errb.String()
	}
	walrus := func(args ...string) string { t.Helper(); out, _ := walrusAs(cfg, 0, args...); return out }
	fails := func(want string, args ...string) {
		t.Helper()
		if _, e := walrusAs(cfg, 1, args...); !strings.Contains(e, want) {
			t.Errorf("walrus %v: %q does not mention %q", args, e, want)
		}
	}

	dir := t.TempDir()
	var paths []string
	for i := range 5 {
		p := filepath.Join(dir, "f"+string(rune('a'+i)))
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 1000+i*100), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}

	// Dry run: cost, nothing stored.
	var est struct {
		BlobID        string `json:"blobId"`
		EncodedLength uint64 `json:"encodedLength"`
		Cost          uint64 `json:"cost"`
	}
	if err := json.Unmarshal([]byte(walrus("store", "--dry-run", "--epochs", "2", "--json", paths[0])), &est); err != nil || est.Cost == 0 || est.EncodedLength == 0 {
		t.Fatalf("dry run: %+v %v", est, err)
	}
	if out := walrus("blob-status", est.BlobID); !strings.Contains(out, "does not exist") {
		t.Fatalf("a dry run stored something: %s", out)
	}
	if out := walrus("store", "--dry-run", "--epochs", "2", paths[0], paths[1]); !strings.Contains(out, "Total cost") {
		t.Fatalf("dry run of two files: %s", out)
	}

	// Several files in one command: a JSON list in argument order, each stored.
	var many []struct {
		Path   string `json:"path"`
		BlobID string `json:"blobId"`
		Cost   uint64 `json:"cost"`
		Error  string `json:"error"`
	}
	out := walrus("store", "--epochs", "2", "--parallel", "3", "--json", paths[0], paths[1], paths[2], paths[3])
	if err := json.Unmarshal([]byte(out), &many); err != nil || len(many) != 4 {
		t.Fatalf("store of 4 files: %v\n%s", err, out)
	}
	for i, r := range many {
		if r.Path != paths[i] || r.BlobID == "" || r.Error != "" || r.Cost == 0 {
			t.Errorf("file %d: %+v", i, r)
		}
	}
	if many[0].BlobID != est.BlobID || many[0].Cost != est.Cost {
		t.Errorf("dry run %+v, store %+v", est, many[0])
	}
	text := walrus("store", "--epochs", "2", "--deletable", paths[4], paths[0])
	if !strings.Contains(text, "Stored 2 of 2 files; total cost:") || !strings.Contains(text, "already certified") {
		t.Errorf("store of 2 files, text:\n%s", text)
	}
	fails("no such file", "store", paths[1], filepath.Join(dir, "missing"))
	fails("--parallel", "store", "--parallel", "0", paths[1])

	// list-blobs: five objects of ours, the deletable one flagged.
	var listedBlobs []listedBlob
	if err := json.Unmarshal([]byte(walrus("list-blobs", "--json")), &listedBlobs); err != nil || len(listedBlobs) != 5 {
		t.Fatalf("list-blobs: %v %+v", err, listedBlobs)
	}
	var delID, permID string
	for _, b := range listedBlobs {
		if b.Status != "certified" || b.CertifiedEpoch == nil || b.ExpiresAt == "" || b.Size == 0 {
			t.Errorf("listed %+v", b)
		}
		if b.Deletable {
			delID = b.BlobID.String()
		} else if b.BlobID.String() == many[1].BlobID {
			permID = b.BlobID.String()
		}
	}
	if delID == "" || permID == "" {
		t.Fatalf("list-blobs: no deletable or permanent blob in %+v", listedBlobs)
	}
	if txt := walrus("list-blobs"); !strings.Contains(txt, "5 blob object(s)") || !strings.Contains(txt, delID) {
		t.Errorf("list-blobs text:\n%s", txt)
	}

	// delete: permanent refused, deletable deleted, then unknown.
	fails("permanent", "delete", "--blob-id", permID)
	var del struct {
		Deleted []string `json:"deleted"`
		Status  string   `json:"status"`
	}
	if err := json.Unmarshal([]byte(walrus("delete", "--blob-id", delID, "--yes", "--json")), &del); err != nil || len(del.Deleted) != 1 || del.Status != "nonexistent" {
		t.Fatalf("delete: %+v %v", del, err)
	}
	fails("no live object", "delete", "--blob-id", delID)
	fails("bad blob ID", "delete", "--blob-id", "nope")
	fails("exactly one of", "delete")

	// extend: ours by 3 epochs; someone else's refused.
	var ext struct {
		OldEndEpoch, EndEpoch uint32
		Cost                  uint64
	}
	if err := json.Unmarshal([]byte(walrus("extend", "--blob-id", permID, "--epochs", "3", "--json")), &ext); err != nil ||
		ext.EndEpoch != ext.OldEndEpoch+3 || ext.Cost == 0 {
		t.Fatalf("extend: %+v %v", ext, err)
	}
	if txt := walrus("extend", "--blob-obj-id", listedBlobs[0].ObjectID, "--epochs-extended", "1"); !strings.Contains(txt, "Extended blob") {
		t.Errorf("extend by object: %s", txt)
	}
	fc, err := client.LoadFileConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fc.WalletKeyFile = c.Layout.FaucetKeyFile
	other := filepath.Join(dir, "faucet.yaml")
	if err := client.WriteFileConfig(other, fc); err != nil {
		t.Fatal(err)
	}
	if _, e := walrusAs(other, 1, "extend", "--blob-id", permID, "--epochs", "1"); !strings.Contains(e, "owns no live object") {
		t.Errorf("extending someone else's blob: %s", e)
	}
	if _, e := walrusAs(other, 1, "delete", "--blob-id", permID); !strings.Contains(e, "owns no live object") {
		t.Errorf("deleting someone else's blob: %s", e)
	}
	fails("no live object", "extend", "--blob-id", est.BlobID[:42]+"A", "--epochs", "1")
	fails("--epochs must be", "extend", "--blob-id", permID)
}
