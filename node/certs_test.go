package node_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestCertsValidatorCheapFirst: the `certs` validator answers every message it can from
// cheap checks without asking for a pairing (another epoch, an unknown or already certified
// blob, a used nonce, a bad Ed25519 signature: the BLS stand-in is never called), verifies
// the rest in the consensus's pool (a valid certificate Accepted, one for another blob
// Rejected), and Ignores a message when no worker frees up instead of waiting.
func TestCertsValidatorCheapFirst(t *testing.T) {
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	n := c.Unwrap(0)
	p, _ := codec.NewParams(testnet.DefaultClusterShards)
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	upload := func(seed uint64) (*codec.EncodedBlob, client.Registration, *client.UploadResult) {
		data := make([]byte, 500)
		for i := range data {
			data[i] = byte(rand.New(rand.NewPCG(seed, uint64(i))).Uint32())
		}
		enc, err := codec.Encode(p, data)
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

	network := c.Layout.Genesis.NetworkID()
	key := c.Faucet() // a funded account: the fee check passes
	next := n.Ledger().Account(staking.AddressOf(key.Public().(ed25519.PublicKey))).Nonce
	sign := func(ahead uint64, op staking.Op) []byte {
		return staking.Sign(network, key, staking.Tx{Nonce: next + ahead, Op: op}).Encode()
	}
	certX := *resX.Certificate
	valid := sign(0, &staking.CertifyBlob{Blob: regX.Object, BlobID: encX.BlobID, Cert: certX})
	forged := sign(0, &staking.CertifyBlob{Blob: regY.Object, BlobID: encY.BlobID, Cert: certX})
	otherEpoch := certX
	otherEpoch.Epoch++
	var unknown staking.ObjectID
	unknown[0] = 0xff
	badSig := bytes.Clone(forged)
	badSig[len(badSig)-1] ^= 1 // the signature is last

	var pairings atomic.Int64
	noPairing := func(context.Context, *staking.State, *staking.SignedTx) error {
		pairings.Add(1)
		return nil
	}
	saturated := func(ctx context.Context, _ *staking.State, _ *staking.SignedTx) error {
		<-ctx.Done() // no worker frees up
		return ctx.Err()
	}
	real := n.Consensus().VerifyBLS
	check := func(name string, data []byte, verify func(context.Context, *staking.State, *staking.SignedTx) error, want p2p.Verdict) {
		t.Helper()
		if got := node.ValidateCertWith(n, ctx, data, verify); got != want {
			t.Errorf("%s: verdict %v, want %v", name, got, want)
		}
	}
	cheap := []struct {
		name string
		data []byte
		want p2p.Verdict
	}{
		{"another epoch's certificate", sign(0, &staking.CertifyBlob{Blob: regY.Object, BlobID: encY.BlobID, Cert: otherEpoch}), p2p.Ignore},
		{"an unknown blob object", sign(0, &staking.CertifyBlob{Blob: unknown, BlobID: encY.BlobID, Cert: certX}), p2p.Ignore},
		{"an object of another blob", sign(0, &staking.CertifyBlob{Blob: regX.Object, BlobID: encY.BlobID, Cert: certX}), p2p.Reject},
		{"a nonce far ahead", sign(1000, &staking.CertifyBlob{Blob: regY.Object, BlobID: encY.BlobID, Cert: certX}), p2p.Ignore},
		{"a fresh key that cannot pay", staking.Sign(network, ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)),
			staking.Tx{Op: &staking.CertifyBlob{Blob: regY.Object, BlobID: encY.BlobID, Cert: certX}}).Encode(), p2p.Reject},
		{"a bad Ed25519 signature", badSig, p2p.Reject},
		{"not a certificate", sign(0, &staking.Transfer{Amount: 1}), p2p.Reject},
		{"garbage", []byte("not a transaction"), p2p.Reject},
	}
	for _, tc := range cheap {
		check(tc.name, tc.data, noPairing, tc.want)
	}
	if got := pairings.Load(); got != 0 {
		t.Fatalf("%d pairings asked for messages the cheap checks decide", got)
	}
	check("a forged certificate", forged, real, p2p.Reject)
	check("a valid certificate, pool saturated", valid, saturated, p2p.Ignore)
	check("a valid certificate", valid, real, p2p.Accept)

	// Once X is certified its certificate is a duplicate: Ignored without a pairing.
	c.Submit(0, c.Faucet(), &staking.CertifyBlob{Blob: regX.Object, BlobID: encX.BlobID, Cert: certX})
	c.WaitCertified(encX.BlobID)
	check("an already certified blob", valid, noPairing, p2p.Ignore)
	if got := pairings.Load(); got != 0 {
		t.Fatalf("%d pairings asked for a certified blob", got)
	}
}
