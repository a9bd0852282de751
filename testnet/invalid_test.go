package testnet_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/codectest"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestInvalidBlobIsInvalidated (issue 12): a writer stores a blob with one sliver encoded
// wrongly (its metadata commits to the tampered sliver, so every node accepts and the blob is
// certified). The node owning that sliver was down during the store; recovering it once back
// decodes the honest sliver, whose hash is not the committed one: an inconsistency proof.
// The other nodes verify it and attest, the certificate is committed, and then every node
// says "invalid", drops the blob's slivers and metadata, and reads fail as invalid.
func TestInvalidBlobIsInvalidated(t *testing.T) {
	c := testnet.New(t, 4, testnet.WithGenerate(func(o *testnet.Options) {
		o.NodeConfig = func(_ int, nc *node.Config) {
			nc.BlobSync.Delay = 200 * time.Millisecond
			nc.BlobSync.Sweep = time.Hour // the start-up sweep and the events do it
		}
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Client.Params()
	// The lightest member is down during the store: the others hold n-f shards or more.
	down, member := -1, 0
	for i := range 4 {
		for m := range com.Members {
			if string(com.Members[m].PeerID) == string(c.Node(i).PeerID()) &&
				(down < 0 || com.Members[m].Weight() < com.Members[member].Weight()) {
				down, member = i, m
			}
		}
	}
	data := make([]byte, 200_000)
	rand.NewChaCha8([32]byte{3}).Read(data)
	honest, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	// Tamper a secondary sliver whose pair the down node holds.
	var enc *codec.EncodedBlob
	for sec := range p.N {
		e, err := codectest.Inconsistent(honest, codec.AxisSecondary, sec)
		if err != nil {
			t.Fatal(err)
		}
		if com.Owner(p.ShardForPair(e.BlobID, p.N-1-sec)) == member {
			enc = e
			break
		}
	}
	if enc == nil {
		t.Fatal("the down node holds no pair")
	}
	// A consistent blob stored beside it, before.
	good := make([]byte, 50_000)
	rand.NewChaCha8([32]byte{4}).Read(good)
	sum, err := s.Store(ctx, good, client.StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	c.Crash(down)
	reg, _, err := s.Ledger.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 5})
	if err != nil {
		t.Fatal(err)
	}
	up, err := s.Client.Upload(ctx, com, enc, reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ledger.CertifyBlob(ctx, enc.BlobID, reg, up); err != nil {
		t.Fatal(err)
	}
	up.Certified()
	if st, err := s.Ledger.BlobStatus(ctx, enc.BlobID); err != nil || st.Status.Kind != staking.StatusCertified {
		t.Fatalf("stored blob: %+v %v", st, err)
	}
	c.Restart(down)

	// The ledger says invalid.
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err := s.Ledger.BlobStatus(ctx, enc.BlobID)
		if err == nil && st.Status.Kind == staking.StatusInvalid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("blob not invalidated: %+v %v", st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Reads say so.
	if _, err := s.Read(ctx, enc.BlobID); !errors.Is(err, client.ErrInvalidBlob) {
		t.Fatalf("read of an invalid blob: %v", err)
	}
	// Every node drops the blob's metadata and slivers.
	for m := range com.Members {
		for {
			st, err := s.Client.Status(ctx, &com.Members[m], enc.BlobID)
			if err == nil && st.Kind == staking.StatusInvalid && !st.HasMetadata && st.ShardsStored == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("member %d still holds the invalid blob: %+v %v", m, st, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// The consistent blob stored before it is untouched and reads back.
	got, err := s.Read(ctx, sum.BlobID)
	if err != nil || string(got) != string(good) {
		t.Fatalf("consistent blob: %v", err)
	}
}
