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

	"github.com/walrus-go/walrus-go/testnet"
)

// TestListingsProvenAtCLI: on an in-process testnet, `list-blobs --json`, `list-staked-wal
// --json` and `info committee --json` say at which certified height and epoch their
// listing is proven ("provenAt"), like `blob-status --json` and `info --json`: the height
// of the listing itself, reached by the ledger, in the epoch the listing reports.
func TestListingsProvenAtCLI(t *testing.T) {
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.WaitHeightContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	cfg := c.Layout.ClientConfigFile
	walrus := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(append([]string{"--config", cfg}, args...), &out, &errb); code != 0 {
			t.Fatalf("walrus %v: exit %d: %s", args, code, errb.String())
		}
		return out.String()
	}
	type at struct {
		Height uint64 `json:"height"`
		Epoch  uint32 `json:"epoch"`
	}
	var info struct {
		Epoch    uint32 `json:"epoch"`
		ProvenAt *at    `json:"provenAt"`
	}
	if err := json.Unmarshal([]byte(walrus("info", "--json")), &info); err != nil || info.ProvenAt == nil {
		t.Fatalf("info --json: %+v %v", info, err)
	}
	// A proven listing: at the height and epoch the listing reports, at least the height
	// info was proven at before (the client reads the highest verified height) and at
	// most the one it is proven at after.
	type listing struct {
		what   string
		p      *at
		epoch  uint32
		height uint64
	}
	var listings []listing
	check := func(what string, p *at, epoch uint32, height uint64) {
		t.Helper()
		if p == nil || p.Height != height || p.Epoch != epoch || p.Height < info.ProvenAt.Height || p.Epoch < info.Epoch {
			t.Fatalf("%s: provenAt %+v (listing height %d epoch %d; info proven at %+v)", what, p, height, epoch, info.ProvenAt)
		}
		listings = append(listings, listing{what, p, epoch, height})
	}

	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, bytes.Repeat([]byte("proven"), 300), 0o644); err != nil {
		t.Fatal(err)
	}
	var sum struct {
		BlobID string `json:"blobId"`
	}
	if err := json.Unmarshal([]byte(walrus("store", "--epochs", "2", "--json", file)), &sum); err != nil {
		t.Fatal(err)
	}
	var blobs []struct {
		BlobID   string `json:"blobId"`
		ProvenAt *at    `json:"provenAt"`
	}
	if err := json.Unmarshal([]byte(walrus("list-blobs", "--json")), &blobs); err != nil || len(blobs) != 1 || blobs[0].BlobID != sum.BlobID {
		t.Fatalf("list-blobs --json: %+v %v", blobs, err)
	}
	if p := blobs[0].ProvenAt; p != nil {
		check("list-blobs", p, p.Epoch, p.Height)
	} else {
		t.Fatal("list-blobs: no provenAt")
	}

	var stakes struct {
		Epoch    uint32 `json:"epoch"`
		Height   uint64 `json:"height"`
		ProvenAt *at    `json:"provenAt"`
	}
	if err := json.Unmarshal([]byte(walrus("list-staked-wal", "--json")), &stakes); err != nil {
		t.Fatal(err)
	}
	check("list-staked-wal", stakes.ProvenAt, stakes.Epoch, stakes.Height)

	var com struct {
		Epoch    uint32 `json:"epoch"`
		Height   uint64 `json:"height"`
		Nodes    []any  `json:"nodes"`
		ProvenAt *at    `json:"provenAt"`
	}
	if err := json.Unmarshal([]byte(walrus("info", "committee", "--json")), &com); err != nil || len(com.Nodes) != 4 {
		t.Fatalf("info committee --json: %+v %v", com, err)
	}
	check("info committee", com.ProvenAt, com.Epoch, com.Height)
	var after struct {
		ProvenAt *at `json:"provenAt"`
	}
	if err := json.Unmarshal([]byte(walrus("info", "--json")), &after); err != nil || after.ProvenAt == nil {
		t.Fatalf("info --json: %+v %v", after, err)
	}
	for _, l := range listings {
		if l.p.Height > after.ProvenAt.Height {
			t.Errorf("%s: proven at height %d, above the ledger's %d", l.what, l.p.Height, after.ProvenAt.Height)
		}
	}
	t.Logf("proven at: list-blobs %+v, list-staked-wal %+v, info committee %+v", *listings[0].p, *listings[1].p, *listings[2].p)
	if !strings.Contains(walrus("help", "list-blobs"), `"provenAt"`) {
		t.Error("list-blobs help does not name provenAt")
	}
}
