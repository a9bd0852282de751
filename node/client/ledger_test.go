package client_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/p2ptest"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// These tests run the ledger client against real nodes: an in-process 4-node cluster
// (testnet.New, 10 shards), its generated client.yaml and funded wallet.

func openCluster(t *testing.T, opts ...testnet.Option) (*testnet.Cluster, *client.Session, context.Context) {
	t.Helper()
	c := testnet.New(t, 4, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c, c.Session(ctx), ctx
}

func TestSessionStoreReadReuse(t *testing.T) {
	c, s, ctx := openCluster(t)
	data := randomBlob(3000, 5)
	before, err := s.Ledger.Account(ctx, s.Ledger.Address())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := s.Store(ctx, data, client.StoreOptions{Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.Ledger.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := codec.NewParams(in.NShards)
	wantEnc, _ := p.EncodedLength(uint64(len(data)))
	wantCost, _ := staking.StorageCost(in.Prices, wantEnc, 3)
	if sum.AlreadyCertified || sum.UnencodedLength != 3000 || sum.EncodedLength != wantEnc ||
		sum.EndEpoch != sum.CertifiedEpoch+3 || sum.Cost != wantCost || wantCost == 0 {
		t.Fatalf("summary %+v, want encoded %d cost %d", sum, wantEnc, wantCost)
	}
	c.WaitCertified(sum.BlobID)
	after, err := s.Ledger.Account(ctx, s.Ledger.Address())
	if err != nil {
		t.Fatal(err)
	}
	// The fees of the three transactions, under the schedule in force (testnet.DefaultFees).
	fees, err := client.PlanCost(in, 0, client.StorePlan(in, uint64(len(data)), wantEnc, 3)...)
	if err != nil || sum.Fee != fees.Fee || sum.Fee == 0 {
		t.Errorf("summary fee %d, want %d (%v)", sum.Fee, fees.Fee, err)
	}
	if before.Account.Balance-after.Account.Balance != wantCost+fees.Fee || after.Account.Nonce != before.Account.Nonce+3 {
		t.Errorf("balance %d -> %d (cost %d + fees %d), nonce %d -> %d (want +3: reserve, register, certify)",
			before.Account.Balance, after.Account.Balance, wantCost, fees.Fee, before.Account.Nonce, after.Account.Nonce)
	}
	got, err := s.Read(ctx, sum.BlobID)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read: %v (%d bytes)", err, len(got))
	}

	// The same blob again: already certified long enough, nothing uploaded or paid.
	again, err := s.Store(ctx, data, client.StoreOptions{Epochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !again.AlreadyCertified || again.Cost != 0 || again.BlobID != sum.BlobID || again.EndEpoch != sum.EndEpoch {
		t.Errorf("second store %+v, want a reuse of %+v", again, sum)
	}

	// Unknown blobs: status nonexistent, read refused with ErrNotFound.
	var unknown codec.BlobID
	unknown[0] = 1
	st, err := s.Ledger.BlobStatus(ctx, unknown)
	if err != nil || st.Status.Kind != staking.StatusNonexistent {
		t.Errorf("status of an unknown blob: %+v, %v", st, err)
	}
	if _, err := s.Read(ctx, unknown); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("read of an unknown blob: %v, want ErrNotFound", err)
	}
}

func TestLedgerTransactionsAndErrors(t *testing.T) {
	_, s, ctx := openCluster(t)
	acc, err := s.Ledger.Account(ctx, s.Ledger.Address())
	if err != nil {
		t.Fatal(err)
	}
	var to staking.Address
	to[0] = 7
	if _, err := s.Ledger.Transfer(ctx, to, 12345); err != nil {
		t.Fatal(err)
	}
	got, err := s.Ledger.Account(ctx, to)
	if err != nil || got.Account.Balance != 12345 {
		t.Fatalf("recipient: %+v, %v", got, err)
	}
	_, err = s.Ledger.Transfer(ctx, to, acc.Account.Balance) // the fee-free transfer above left less
	var te *client.TxError
	if !errors.As(err, &te) || te.Code != staking.CodeInsufficient || te.Kind != staking.KindTransfer {
		t.Fatalf("overdraft: %v, want a TxError insufficient", err)
	}
	// A refused transaction (refused by the node before its mempool) does not stop the
	// next one.
	if _, err := s.Ledger.Transfer(ctx, to, 1); err != nil {
		t.Fatalf("transfer after a refusal: %v", err)
	}
	p, _ := codec.NewParams(testnet.DefaultClusterShards)
	enc, err := codec.Encode(p, []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []uint32{0, staking.MaxEpochsAhead + 1} {
		if _, _, err := s.Ledger.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: e}); err == nil {
			t.Errorf("RegisterBlob with %d epochs succeeded", e)
		}
	}
	// Storing with too little balance: one clear error, nothing sent.
	left, err := s.Ledger.Account(ctx, s.Ledger.Address())
	if err != nil {
		t.Fatal(err)
	}
	fee, _ := client.TxFee(testnet.DefaultFees, &staking.Transfer{})
	if _, err := s.Ledger.Transfer(ctx, to, left.Account.Balance-fee-1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store(ctx, []byte("too poor"), client.StoreOptions{Epochs: 1}); err == nil || !strings.Contains(err.Error(), "insufficient balance") {
		t.Errorf("store without funds: %v", err)
	}
	// A too-large blob is refused before anything is encoded or paid.
	if _, err := s.Store(ctx, make([]byte, p.MaxBlobSize()+1), client.StoreOptions{Epochs: 1}); err == nil {
		t.Error("store of a blob over the maximum succeeded")
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := client.Open(ctx, t.TempDir()+"/missing.yaml"); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	// A config whose nodes are all down: ErrNoNode, quickly.
	c := testnet.New(t, 1)
	c.Crash(0)
	_, err := client.Open(ctx, c.Layout.ClientConfigFile, client.OpenOptions{DialTimeout: 3 * time.Second})
	if !errors.Is(err, client.ErrNoNode) {
		t.Errorf("Open with no node up: %v, want ErrNoNode", err)
	}
}

func TestFormatWAL(t *testing.T) {
	for frost, want := range map[uint64]string{0: "0 WAL", 1: "0.000000001 WAL", 1_500_000_000: "1.5 WAL", 2_000_000_000: "2 WAL"} {
		if got := client.FormatWAL(frost); got != want {
			t.Errorf("FormatWAL(%d) = %q, want %q", frost, got, want)
		}
	}
}

// gossipHost is a bare libp2p host with GossipSub joined to the certs topic, connected to
// the given cluster nodes only.
func gossipHost(t *testing.T, ctx context.Context, c *testnet.Cluster, nodes ...int) (host.Host, *p2p.Topic) {
	t.Helper()
	h := p2ptest.Host(t, rand.NewChaCha8([32]byte{byte(len(nodes)), 3}))
	g, err := p2p.NewGossip(h, c.Layout.Genesis.Network)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	topic, err := g.Join(p2p.TopicCertificates, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range nodes {
		n := c.Node(i)
		if err := h.Connect(ctx, peer.AddrInfo{ID: n.PeerID(), Addrs: n.Addrs()}); err != nil {
			t.Fatal(err)
		}
	}
	return h, topic
}

// TestCertsTopicRelay: a certify transaction published only on the `certs` topic (never
// submitted) certifies the blob through the nodes' relay into their mempools, while a
// forged one (a certificate for another blob) is rejected by the nodes' validator and not
// forwarded.
func TestCertsTopicRelay(t *testing.T) {
	c, s, ctx := openCluster(t)
	p, _ := codec.NewParams(testnet.DefaultClusterShards)
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	upload := func(seed uint64) (*codec.EncodedBlob, client.Registration, *client.UploadResult) {
		enc, err := codec.Encode(p, randomBlob(500, seed))
		if err != nil {
			t.Fatal(err)
		}
		reg, _, err := s.Ledger.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 1})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Client.Upload(ctx, com, enc, reg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Certified(); <-res.Done() })
		return enc, reg, res
	}
	encX, regX, resX := upload(1)
	encY, regY, _ := upload(2)

	// Anyone may submit a certificate: a fresh key with nonce 0 signs both (funded to pay
	// the fee).
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	if _, err := s.Ledger.Transfer(ctx, staking.AddressOf(key.Public().(ed25519.PublicKey)), staking.FrostPerWAL); err != nil {
		t.Fatal(err)
	}
	network := c.Layout.Genesis.NetworkID()
	valid := staking.Sign(network, key, staking.Tx{Op: &staking.CertifyBlob{Blob: regX.Object, BlobID: encX.BlobID, Cert: *resX.Certificate}}).Encode()
	forged := staking.Sign(network, key, staking.Tx{Op: &staking.CertifyBlob{Blob: regY.Object, BlobID: encY.BlobID, Cert: *resX.Certificate}}).Encode()

	_, pub := gossipHost(t, ctx, c, 0)
	_, obs := gossipHost(t, ctx, c, 1, 2, 3)
	sub, err := obs.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Cancel()
	if err := pub.AwaitPeers(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := obs.AwaitPeers(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, forged); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, valid); err != nil {
		t.Fatal(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Data, valid) {
		t.Errorf("the observer received another message than the valid certificate (forged forwarded?)")
	}
	c.WaitCertified(encX.BlobID)
	st, err := s.Ledger.BlobStatus(ctx, encY.BlobID)
	if err != nil || st.Status.Kind != staking.StatusRegistered {
		t.Errorf("blob Y: %+v, %v; want still registered", st, err)
	}
}

// TestStoreAcrossEpochs stores blobs back to back on a network with 3 s epochs (shorter
// ones let a loaded machine's store miss three epochs in a row), so
// stores straddle epoch changes: every one must end certified (a certificate refused for
// its epoch is redone in the new one, reusing the registration).
func TestStoreAcrossEpochs(t *testing.T) {
	_, s, ctx := openCluster(t, testnet.WithEpochDuration(3*time.Second))
	first, err := s.Ledger.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var last uint32
	for i := 0; i < 8 || last < first.Epoch+2; i++ {
		if i > 100 {
			t.Fatalf("epochs do not advance: still %d", last)
		}
		data := randomBlob(200, uint64(100+i))
		sum, err := s.Store(ctx, data, client.StoreOptions{Epochs: 20})
		if err != nil {
			t.Fatalf("store %d: %v", i, err)
		}
		st, err := s.Ledger.BlobStatus(ctx, sum.BlobID)
		if err != nil || st.Status.Kind != staking.StatusCertified {
			t.Fatalf("store %d: status %+v, %v", i, st, err)
		}
		last = sum.CertifiedEpoch
	}
}
