package testnet_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestLateUploadIsNotRecovered: the last members' uploads go on after the certificate (for
// minutes at gigabytes). A node whose upload is under way when blob sync looks at the
// certified blob must leave the slivers to the writer, not recover them from the other
// nodes beside it (a 1 GiB store had a node spend minutes of CPU recovering 184 shards the
// writer was sending it). Here the reserve's upload is slowed to one pair per request and
// outlasts the sync delay many times over; no node recovers a sliver, and the blob reads.
func TestLateUploadIsNotRecovered(t *testing.T) {
	c := testnet.New(t, 4, testnet.WithShards(1000), testnet.WithGenerate(func(o *testnet.Options) {
		o.NodeConfig = func(_ int, nc *node.Config) {
			nc.BlobSync.Delay = 100 * time.Millisecond
			nc.BlobSync.Sweep = time.Hour
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Client.Params()
	slow, err := client.New(client.Config{Host: p2ptest.Host(t, nil), Params: p, Network: c.Layout.Genesis.NetworkID(),
		UploadBatchBytes: 1, UploadDepth: 1, ReserveHold: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 4<<20)
	rand.NewChaCha8([32]byte{9}).Read(data)
	enc, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	reg, _, err := s.Ledger.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	up, err := slow.Upload(ctx, com, enc, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ledger.CertifyBlob(ctx, enc.BlobID, reg, up); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	up.Certified() // the reserve's upload starts now, pair by pair
	select {
	case <-up.Done():
	case <-ctx.Done():
		t.Fatal("the reserve's upload did not end")
	}
	took := time.Since(t0)
	t.Logf("the reserve's upload took %v", took)
	if took < 3*100*time.Millisecond {
		t.Fatalf("the reserve's upload took %v: too fast to overlap blob sync's delay; slow it down", took)
	}
	// Every member holds all its shards, from the writer.
	for m := range com.Members {
		st, err := s.Client.Status(ctx, &com.Members[m], enc.BlobID)
		if err != nil || st.ShardsStored != st.ShardsHeld {
			t.Fatalf("member %d: %+v %v", m, st, err)
		}
	}
	// Blob sync had its chance (many delays during the upload, several after it), and
	// recovered nothing.
	time.Sleep(time.Second)
	for i := range 4 {
		if h := c.Unwrap(i).Health(); h.RecoveredSlivers != 0 || h.SyncBacklog != 0 {
			t.Errorf("node %d recovered %d slivers (backlog %d) beside a writer's upload of %v", i, h.RecoveredSlivers, h.SyncBacklog, took)
		}
	}
	if got, err := s.Read(ctx, enc.BlobID); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v", err)
	}
}
