package blobsync_test

import (
	"context"
	"errors"
	"math/rand"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/codectest"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/blobsync"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/inconsistency"
	"github.com/walrus-go/walrus-go/staking"
)

var testNetwork = epoch.NetworkID{9} // serve's ledger network

// badNetwork is newNetwork's committee serving an inconsistently encoded blob: secondary
// sliver index s is tampered, and the fetching member (self) is the owner of the pair that
// holds it, so recovering its slivers finds the inconsistency.
func badNetwork(t *testing.T, s int) *network {
	t.Helper()
	p := codec.MustParams(10)
	com, keys := epochtest.Committee(1, []int{1, 2, 4, 3}, 7)
	rng := rand.New(rand.NewSource(5))
	data := make([]byte, 20_000)
	rng.Read(data)
	honest, err := codec.Encode(p, data)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := codectest.Inconsistent(honest, codec.AxisSecondary, s)
	if err != nil {
		t.Fatal(err)
	}
	self := com.Owner(p.ShardForPair(enc.BlobID, p.N-1-s))
	nw := &network{p: p, com: com, enc: enc, keys: keys, self: self}
	nw.hosts = memberHosts(t, com, rng)
	nw.stores = serve(t, p, com, keys, enc, nw.hosts, self)
	return nw
}

type submitted struct {
	id   codec.BlobID
	cert *epoch.Certificate
}

func (nw *network) invalidator(t *testing.T, got *[]submitted) *blobsync.Invalidator {
	t.Helper()
	var mu sync.Mutex
	iv, err := blobsync.NewInvalidator(blobsync.InvalidatorConfig{
		Host: nw.hosts[nw.self], Params: nw.p, Network: testNetwork, Key: nw.keys[nw.self],
		Submit: func(_ context.Context, id codec.BlobID, cert *epoch.Certificate) error {
			mu.Lock()
			defer mu.Unlock()
			*got = append(*got, submitted{id, cert})
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return iv
}

// TestInconsistentBlobIsCertifiedInvalid: recovering a member's slivers of an inconsistently
// encoded blob yields a proof; the other members verify it and attest; f+1 shards make a
// certificate that verifies on the invalid-blob message, even with one member lying about
// its signature.
func TestInconsistentBlobIsCertifiedInvalid(t *testing.T) {
	for _, s := range []int{0, 4, 9} {
		nw := badNetwork(t, s)
		res, err := nw.fetcher().Recover(ctx(t), nw.com, nw.enc.BlobID, &nw.enc.Metadata, nw.lost())
		if !errors.Is(err, blobsync.ErrInconsistent) || res.Proof == nil {
			t.Fatalf("secondary %d: want an inconsistency proof, got %v", s, err)
		}
		// The heaviest other member lies: it answers with a signature on another message.
		liar := -1
		for i := range nw.com.Members {
			if i != nw.self && (liar < 0 || nw.com.Members[i].Weight() > nw.com.Members[liar].Weight()) {
				liar = i
			}
		}
		lkey := nw.keys[liar]
		nw.hosts[liar].RemoveStreamHandler(inconsistency.ID)
		if err := p2p.Handle(nw.hosts[liar], inconsistency.Spec(nw.p), func(_ context.Context, _ peer.ID, body []byte) ([]byte, error) {
			a := inconsistency.Response{Epoch: nw.com.Epoch, Signature: lkey.Sign([]byte("not the message"))}
			return a.Encode(), nil
		}, nil); err != nil {
			t.Fatal(err)
		}
		var got []submitted
		iv := nw.invalidator(t, &got)
		if err := iv.Invalidate(ctx(t), nw.com, nw.enc.BlobID, &nw.enc.Metadata, res.Proof); err != nil {
			t.Fatalf("secondary %d: %v", s, err)
		}
		if len(got) != 1 || got[0].id != nw.enc.BlobID {
			t.Fatalf("submitted %+v", got)
		}
		msg := staking.InvalidBlobMessage(testNetwork, nw.com.Epoch, nw.enc.BlobID)
		if err := nw.com.VerifyCertificate(msg, got[0].cert, epoch.ThresholdValidity); err != nil {
			t.Fatalf("certificate: %v", err)
		}
		signers, err := got[0].cert.SignerIndices(len(nw.com.Members))
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range signers {
			if i == liar {
				t.Fatal("the liar's signature was counted")
			}
		}
	}
}

// TestConsistentBlobGetsNoAttestation: a proof built from honest symbols of a consistent
// blob convinces no one: the Invalidator refuses to send it, and every member refuses it
// on the wire, as it refuses metadata that is not the blob's, a wrong epoch and an unknown
// blob.
func TestConsistentBlobGetsNoAttestation(t *testing.T) {
	nw := newNetwork(t, 20_000)
	p := nw.p
	target := nw.lost()[1] // a secondary sliver: n-2f symbols from primary slivers
	var syms []codec.RecoverySymbol
	for i := range p.N - 2*p.F {
		x, err := codec.ExpandSliver(p, &nw.enc.Primary[i])
		if err != nil {
			t.Fatal(err)
		}
		sym, err := x.RecoverySymbol(target.Index)
		if err != nil {
			t.Fatal(err)
		}
		syms = append(syms, sym)
	}
	proof := codec.InconsistencyProof{Target: target.Axis, TargetIndex: uint16(target.Index), Symbols: syms}
	if err := codec.VerifyInconsistencyProof(p, &nw.enc.Metadata, &proof); !errors.Is(err, codec.ErrProofNotInconsistent) {
		t.Fatalf("honest proof: %v", err)
	}
	var got []submitted
	iv := nw.invalidator(t, &got)
	if err := iv.Invalidate(ctx(t), nw.com, nw.enc.BlobID, &nw.enc.Metadata, &proof); err == nil || len(got) != 0 {
		t.Fatalf("a consistent blob was invalidated: %v %v", err, got)
	}

	other, err := codec.Encode(p, []byte("another blob"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		req  inconsistency.Request
		code p2p.Code
	}{
		{"consistent", inconsistency.Request{BlobID: nw.enc.BlobID, Epoch: nw.com.Epoch, Metadata: nw.enc.Metadata, Proof: proof}, p2p.CodeBadRequest},
		{"foreign metadata", inconsistency.Request{BlobID: nw.enc.BlobID, Epoch: nw.com.Epoch, Metadata: other.Metadata, Proof: proof}, p2p.CodeBadRequest},
		{"wrong epoch", inconsistency.Request{BlobID: nw.enc.BlobID, Epoch: nw.com.Epoch + 1, Metadata: nw.enc.Metadata, Proof: proof}, p2p.CodeUnavailable},
		{"unknown blob", inconsistency.Request{BlobID: other.BlobID, Epoch: nw.com.Epoch, Metadata: other.Metadata, Proof: proof}, p2p.CodeForbidden},
	}
	for _, tc := range cases {
		for m := range nw.com.Members {
			if m == nw.self {
				continue
			}
			to, err := p2p.MemberPeer(nw.hosts[nw.self], &nw.com.Members[m])
			if err != nil {
				t.Fatal(err)
			}
			_, err = p2p.Call(ctx(t), nw.hosts[nw.self], to, inconsistency.Spec(p), tc.req.Encode())
			if p2p.CodeOf(err) != tc.code {
				t.Fatalf("%s, member %d: %v, want code %v", tc.name, m, err, tc.code)
			}
		}
	}
	// Malformed bodies: truncated, trailing byte, bad axis.
	good := cases[0].req.Encode()
	for _, body := range [][]byte{good[:40], append(append([]byte(nil), good...), 0), func() []byte {
		b := append([]byte(nil), good...)
		b[36] = 7
		return b
	}()} {
		to, err := p2p.MemberPeer(nw.hosts[nw.self], &nw.com.Members[(nw.self+1)%len(nw.hosts)])
		if err != nil {
			t.Fatal(err)
		}
		_, err = p2p.Call(ctx(t), nw.hosts[nw.self], to, inconsistency.Spec(p), body)
		if p2p.CodeOf(err) != p2p.CodeBadRequest {
			t.Fatalf("malformed request: %v", err)
		}
	}
}
