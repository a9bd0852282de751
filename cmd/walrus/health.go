package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/nodestatus"
)

// healthParallel bounds how many nodes `walrus health` asks at once.
const healthParallel = 16

// nodeHealth is one committee member's answer to /walrus/node-status/1 (a row of `walrus
// health`, an object of its --json array).
type nodeHealth struct {
	PeerID string `json:"peerId"`
	NodeID string `json:"nodeId"`
	// Assigned is the member's shard count in the committee the ledger reports.
	Assigned int    `json:"shardsAssigned"`
	OK       bool   `json:"ok"`
	Error    string `json:"error,omitempty"`

	Epoch       uint32 `json:"epoch"`
	Height      uint64 `json:"height"`
	Shards      int    `json:"shards"`
	Blobs       uint64 `json:"blobs"`
	BlobsCapped bool   `json:"blobsCapped,omitempty"` // blobs and slivers are lower bounds
	Slivers     uint64 `json:"sliversHeld"`
	SliverBytes uint64 `json:"sliverBytesHeld"`
	Backlog     uint64 `json:"backlog"`
	// ToRecover is the slivers blob sync still has to recover over its backlog's blobs
	// (node-status version 4), a lower bound when ToRecoverCapped.
	ToRecover        uint64 `json:"sliversToRecover"`
	ToRecoverCapped  bool   `json:"sliversToRecoverCapped,omitempty"`
	RecoveredSlivers uint64 `json:"recoveredSlivers"`
	RecoveredBytes   uint64 `json:"recoveredBytes"`
	LastScrubUnixMs  int64  `json:"lastScrubUnixMs"`
	LastScrub        string `json:"lastScrub,omitempty"` // RFC 3339, absent when never
	ScrubChecked     uint64 `json:"scrubChecked"`
	BytesStored      uint64 `json:"bytesStored"`
	GCBlobs          uint64 `json:"gcBlobs"`
	GCBytes          uint64 `json:"gcBytes"`
	// The epoch change (node-status version 3): membership, the last change's epoch,
	// gained shards still syncing, and since start shards synced (recovered: by
	// recovery), bytes pulled and lost-shard pairs given back.
	Member          bool   `json:"member"`
	ChangeEpoch     uint32 `json:"epochChangeEpoch"`
	ShardsSyncing   uint32 `json:"shardsSyncing"`
	ShardsSynced    uint64 `json:"shardsSynced"`
	ShardsRecovered uint64 `json:"shardsRecovered"`
	MovedBytes      uint64 `json:"movedBytes"`
	ReleasedPairs   uint64 `json:"releasedPairs"`
}

// runHealth is `walrus health [--json]`: every member of the current committee reports on
// itself over /walrus/node-status/1 (asked in version 4, which carries the slivers held,
// the epoch change and the slivers still to recover); any node that does not answer, or answers garbage, is named and makes
// the command fail (after the table or the JSON is printed).
func runHealth(g *globals, args []string) error {
	fs := newFlagSet("health")
	asJSON := fs.Bool("json", false, "print a JSON array, one object per committee node")
	if err := parseNoArgs(g, fs, args); err != nil {
		return err
	}
	s, ctx, closeFn, err := openSession(g)
	if err != nil {
		return err
	}
	defer closeFn()
	in, err := s.Ledger.Info(ctx)
	if err != nil {
		return err
	}
	rows := askHealth(ctx, s, in.Committee)
	var bad []string
	for _, r := range rows {
		if !r.OK {
			bad = append(bad, fmt.Sprintf("%s (%s)", r.PeerID, r.Error))
		}
	}
	if *asJSON {
		if err := printJSON(g.stdout, rows); err != nil {
			return err
		}
	} else {
		printHealth(g, in.Epoch, in.Height, rows)
	}
	if len(bad) > 0 {
		return fmt.Errorf("%d of %d nodes unreachable or unhealthy: %s", len(bad), len(rows), strings.Join(bad, "; "))
	}
	return nil
}

// askHealth asks every member, at most healthParallel at a time, each within the
// protocol's timeout.
func askHealth(ctx context.Context, s *client.Session, c *epoch.Committee) []nodeHealth {
	rows := make([]nodeHealth, len(c.Members))
	sem := make(chan struct{}, healthParallel)
	var wg sync.WaitGroup
	for i := range c.Members {
		m := &c.Members[i]
		rows[i] = nodeHealth{PeerID: printablePeer(m.PeerID), NodeID: hex.EncodeToString(m.Node[:]), Assigned: m.Weight()}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			st, err := askNode(ctx, s, m)
			if err != nil {
				rows[i].Error = err.Error()
				return
			}
			fillHealth(&rows[i], st)
		}()
	}
	wg.Wait()
	return rows
}

func askNode(ctx context.Context, s *client.Session, m *epoch.Member) (nodestatus.Status, error) {
	pid, err := p2p.MemberPeer(s.Host, m)
	if err != nil {
		return nodestatus.Status{}, err
	}
	resp, err := p2p.Call(ctx, s.Host, pid, nodestatus.Spec, nodestatus.EncodeRequest())
	if err != nil {
		return nodestatus.Status{}, fmt.Errorf("unreachable: %w", err)
	}
	return nodestatus.Decode(resp)
}

func fillHealth(r *nodeHealth, st nodestatus.Status) {
	r.OK = true
	r.Epoch, r.Height, r.Shards = st.Epoch, st.Height, int(st.ShardsHeld)
	r.Blobs, r.BlobsCapped, r.Backlog = st.BlobsHeld, st.BlobsCapped, st.SyncBacklog
	r.ToRecover, r.ToRecoverCapped = st.SliversToRecover, st.ToRecoverCapped
	r.Slivers, r.SliverBytes = st.SliversHeld, st.SliverBytesHeld
	r.RecoveredSlivers, r.RecoveredBytes = st.RecoveredSlivers, st.RecoveredBytes
	r.LastScrubUnixMs, r.ScrubChecked = st.LastScrubUnixMs, st.ScrubChecked
	if st.LastScrubUnixMs > 0 {
		r.LastScrub = time.UnixMilli(st.LastScrubUnixMs).UTC().Format(time.RFC3339)
	}
	r.BytesStored, r.GCBlobs, r.GCBytes = st.BytesStored, st.GCBlobs, st.GCBytes
	r.Member, r.ChangeEpoch, r.ShardsSyncing = st.Member, st.ChangeEpoch, st.ShardsSyncing
	r.ShardsSynced, r.ShardsRecovered, r.MovedBytes, r.ReleasedPairs = st.ShardsSynced, st.ShardsRecovered, st.MovedBytes, st.ReleasedPairs
}

// printHealth prints the committee as a table.
func printHealth(g *globals, ep uint32, height uint64, rows []nodeHealth) {
	fmt.Fprintf(g.stdout, "Committee of epoch %d (ledger height %d), %d nodes:\n", ep, height, len(rows))
	tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tEPOCH\tHEIGHT\tSHARDS\tBLOBS\tSLIVERS\tBACKLOG\tTO RECOVER\tRECOVERED\tLAST SCRUB\tSTORED\tMIGRATION\tSTATUS")
	for _, r := range rows {
		if !r.OK {
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t%s\n", shortPeer(r.PeerID), r.Error)
			continue
		}
		migration := "-"
		if r.ShardsSyncing > 0 {
			migration = fmt.Sprintf("syncing %d shards", r.ShardsSyncing)
		} else if r.ShardsSynced > 0 {
			migration = fmt.Sprintf("%d shards in (%s)", r.ShardsSynced, humanBytes(r.MovedBytes))
		}
		blobs := fmt.Sprint(r.Blobs)
		slivers := fmt.Sprintf("%d (%s)", r.Slivers, humanBytes(r.SliverBytes))
		if r.BlobsCapped {
			blobs, slivers = "≥"+blobs, "≥"+slivers
		}
		toRecover := fmt.Sprint(r.ToRecover)
		if r.ToRecoverCapped {
			toRecover = "≥" + toRecover
		}
		scrub := "never"
		if r.LastScrubUnixMs > 0 {
			scrub = time.UnixMilli(r.LastScrubUnixMs).UTC().Format("2006-01-02T15:04Z")
		}
		status := "ok"
		switch {
		case !r.Member:
			status = "ok (not a member in its epoch)"
		case r.Shards != r.Assigned:
			status = fmt.Sprintf("ok (committee assigns %d shards)", r.Assigned)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n", shortPeer(r.PeerID), r.Epoch, r.Height, r.Shards,
			blobs, slivers, r.Backlog, toRecover, r.RecoveredSlivers, scrub, humanBytes(r.BytesStored), migration, status)
	}
	_ = tw.Flush()
}

// shortPeer shortens a peer ID for a table: its first and last six characters.
func shortPeer(id string) string {
	if len(id) <= 16 {
		return id
	}
	return id[:6] + "…" + id[len(id)-6:]
}
