package client_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestLifetimeAndListing: the wallet's blobs listed with their status fields; a dry run
// costs what the store then pays; a permanent blob refuses deletion, a deletable one is
// deleted (its storage comes back); extending moves the end epoch and pays for it; another
// wallet can neither extend nor delete the blob; unknown blob IDs are ErrNotFound.
func TestLifetimeAndListing(t *testing.T) {
	c, s, ctx := openCluster(t)
	me := s.Ledger.Address()
	perm, del := randomBlob(2000, 41), randomBlob(3000, 42)

	est, err := s.EstimateStore(ctx, perm, 3)
	if err != nil {
		t.Fatal(err)
	}
	permSum, err := s.Store(ctx, perm, client.StoreOptions{Epochs: 3})
	if err != nil {
		t.Fatal(err)
	}
	if est.BlobID != permSum.BlobID || est.EncodedLength != permSum.EncodedLength || est.Cost != permSum.Cost || est.AlreadyCertified ||
		est.Fee != permSum.Fee || est.Fee == 0 || est.Total != est.Cost+est.Fee {
		t.Fatalf("dry run %+v, store %+v", est, permSum)
	}
	if again, err := s.EstimateStore(ctx, perm, 2); err != nil || !again.AlreadyCertified {
		t.Fatalf("dry run of a certified blob: %+v %v", again, err)
	}
	delSum, err := s.Store(ctx, del, client.StoreOptions{Epochs: 2, Deletable: true})
	if err != nil {
		t.Fatal(err)
	}
	c.WaitCertified(permSum.BlobID)
	c.WaitCertified(delSum.BlobID)

	list, err := s.Ledger.BlobsOf(ctx, me)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[codec.BlobID]staking.Blob{}
	for _, o := range list.Blobs {
		if o.Owner != me {
			t.Errorf("listed someone else's object %+v", o)
		}
		byID[o.BlobID] = o
	}
	if p, d := byID[permSum.BlobID], byID[delSum.BlobID]; len(list.Blobs) != 2 || p.Deletable || !d.Deletable || !p.Certified ||
		p.Length != 2000 || p.Storage.End != permSum.EndEpoch || d.Storage.End != delSum.EndEpoch {
		t.Fatalf("list %+v", list.Blobs)
	}

	// Deleting: the permanent blob refuses, the deletable one goes.
	if _, err := s.Ledger.DeleteBlob(ctx, permSum.BlobID); !errors.Is(err, client.ErrPermanent) {
		t.Fatalf("deleting a permanent blob: %v, want ErrPermanent", err)
	}
	gone, err := s.Ledger.DeleteBlob(ctx, delSum.BlobID)
	if err != nil || len(gone) != 1 {
		t.Fatalf("delete: %v %v", gone, err)
	}
	if st, err := s.Ledger.BlobStatus(ctx, delSum.BlobID); err != nil || st.Status.Kind != staking.StatusNonexistent {
		t.Fatalf("status after delete: %+v %v", st, err)
	}
	if _, err := s.Ledger.DeleteBlob(ctx, delSum.BlobID); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("deleting again: %v, want ErrNotFound", err)
	}
	var unknown codec.BlobID
	unknown[0] = 1
	if _, err := s.Ledger.DeleteBlob(ctx, unknown); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("deleting an unknown blob: %v", err)
	}
	if _, err := s.Ledger.ExtendBlob(ctx, unknown, 1); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("extending an unknown blob: %v", err)
	}

	// Extending pays storage price × units × epochs, and its fee, and moves the end epoch.
	before, _ := s.Ledger.Account(ctx, me)
	ext, err := s.Ledger.ExtendBlob(ctx, permSum.BlobID, 2)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := s.Ledger.Account(ctx, me)
	wantFee, _ := client.TxFee(testnet.DefaultFees, &staking.ExtendBlob{})
	if ext.OldEnd != permSum.EndEpoch || ext.NewEnd != permSum.EndEpoch+2 || ext.Cost == 0 || ext.Fee != wantFee ||
		before.Account.Balance-after.Account.Balance != ext.Cost+ext.Fee {
		t.Fatalf("extend %+v, balance %d -> %d", ext, before.Account.Balance, after.Account.Balance)
	}
	if st, _ := s.Ledger.BlobStatus(ctx, permSum.BlobID); st.Status.EndEpoch != ext.NewEnd {
		t.Fatalf("end epoch after extend: %+v", st.Status)
	}
	if _, err := s.Ledger.ExtendBlob(ctx, permSum.BlobID, staking.MaxEpochsAhead); err == nil {
		t.Fatal("extending beyond 53 epochs ahead succeeded")
	}

	// Another wallet (the faucet's) can neither extend nor delete our blob.
	fc, err := client.LoadFileConfig(c.Layout.ClientConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	fc.WalletKeyFile = c.Layout.FaucetKeyFile
	other := filepath.Join(t.TempDir(), "faucet.yaml")
	if err := client.WriteFileConfig(other, fc); err != nil {
		t.Fatal(err)
	}
	fs, err := client.Open(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	if _, err := fs.Ledger.ExtendBlob(ctx, permSum.BlobID, 1); !errors.Is(err, client.ErrNotOwned) {
		t.Fatalf("extending someone else's blob: %v, want ErrNotOwned", err)
	}
	if _, err := fs.Ledger.DeleteBlob(ctx, permSum.BlobID); !errors.Is(err, client.ErrNotOwned) {
		t.Fatalf("deleting someone else's blob: %v, want ErrNotOwned", err)
	}
	if l, err := fs.Ledger.BlobsOf(ctx, fs.Ledger.Address()); err != nil || len(l.Blobs) != 0 {
		t.Fatalf("the faucet's blobs: %+v %v", l, err)
	}
}
