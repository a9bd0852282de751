package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/testnet"
)

// `walrus health` against an in-process cluster: every committee node answers with its
// shards (summing to n) and the table names them all; with one node crashed the command
// exits 1 and names it.
func TestHealth(t *testing.T) {
	c := testnet.New(t, 4)
	c.WaitHeight(1)
	cfg := c.Layout.ClientConfigFile
	health := func(args ...string) (string, string, int) {
		var out, errb bytes.Buffer
		code := run(append([]string{"--config", cfg, "health"}, args...), &out, &errb)
		return out.String(), errb.String(), code
	}

	out, errs, code := health("--json")
	if code != 0 {
		t.Fatalf("health --json: exit %d, stderr %q", code, errs)
	}
	var rows []nodeHealth
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("health --json: %v in %q", err, out)
	}
	if len(rows) != c.N() {
		t.Fatalf("%d rows, want %d", len(rows), c.N())
	}
	sum := 0
	for _, r := range rows {
		if !r.OK || r.Shards != r.Assigned || r.Height < 1 || r.BytesStored == 0 || r.Slivers != 0 || r.SliverBytes != 0 ||
			r.ToRecover != 0 || r.ToRecoverCapped {
			t.Errorf("row %+v", r)
		}
		sum += r.Shards
	}
	if n := c.Layout.Genesis.NShards; sum != n {
		t.Errorf("shards sum to %d, want %d", sum, n)
	}

	out, errs, code = health()
	if code != 0 || !strings.Contains(out, "SHARDS") || !strings.Contains(out, "SLIVERS") || strings.Count(out, "\n") != c.N()+2 {
		t.Fatalf("health: exit %d, stdout\n%s\nstderr %q", code, out, errs)
	}
	t.Logf("walrus health:\n%s", out)
	for _, r := range rows {
		if !strings.Contains(out, shortPeer(r.PeerID)) {
			t.Errorf("table lacks %s:\n%s", r.PeerID, out)
		}
	}

	crashed := c.Node(2).PeerID().String()
	c.Crash(2)
	out, errs, code = health()
	if code != 1 || !strings.Contains(errs, crashed) || !strings.Contains(errs, "1 of 4 nodes") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("with node 2 crashed: exit %d, stderr %q, stdout\n%s", code, errs, out)
	}
	if !strings.Contains(out, shortPeer(crashed)) {
		t.Errorf("table lacks the crashed node:\n%s", out)
	}
}

// The table's SLIVERS column gives the count and bytes held, marked as a lower bound like
// BLOBS when the node stopped counting; a node that did not answer gets dashes.
func TestPrintHealthSlivers(t *testing.T) {
	rows := []nodeHealth{
		{PeerID: "12D3KooWAAAAAAAAAAAAAAAAAAAAAAAA", OK: true, Shards: 3, Assigned: 3, Blobs: 2, Slivers: 12, SliverBytes: 3 << 20, BytesStored: 5 << 20},
		{PeerID: "12D3KooWBBBBBBBBBBBBBBBBBBBBBBBB", OK: true, Shards: 3, Assigned: 3, Blobs: 7, BlobsCapped: true, Slivers: 40, SliverBytes: 2048,
			Backlog: 5, ToRecover: 18, ToRecoverCapped: true},
		{PeerID: "12D3KooWCCCCCCCCCCCCCCCCCCCCCCCC", Error: "unreachable: refused"},
	}
	var out bytes.Buffer
	printHealth(&globals{stdout: &out}, 3, 9, rows)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.Contains(lines[1], "BLOBS  SLIVERS") || !strings.Contains(lines[1], "BACKLOG  TO RECOVER") {
		t.Fatalf("table:\n%s", out.String())
	}
	for i, want := range []string{"2      12 (3.00 MiB)", "≥7     ≥40 (2.00 KiB)", "-      -"} {
		if i == 1 && !strings.Contains(lines[2+i], "5        ≥18 ") {
			t.Errorf("row %d %q lacks its backlog and slivers to recover", i, lines[2+i])
		}
		if !strings.Contains(lines[2+i], want) {
			t.Errorf("row %d %q lacks %q", i, lines[2+i], want)
		}
	}
}
