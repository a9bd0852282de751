package staking_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
	"github.com/walrus-go/walrus-go/staking"
)

func fill(r *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(r.Uint32())
	}
}

// sampleOps returns one operation of every kind with seeded random fields.
func sampleOps(r *rand.Rand) []staking.Op {
	var a staking.Address
	var o1, o2 staking.ObjectID
	var id codec.BlobID
	var nid epoch.NodeID
	var pk bls.PublicKey
	var sig bls.Signature
	for _, b := range [][]byte{a[:], o1[:], o2[:], id[:], nid[:], pk[:], sig[:]} {
		fill(r, b)
	}
	cert := epoch.Certificate{Epoch: r.Uint32(), Signers: []byte{0xff, 0x03}, Signature: sig}
	info := staking.NodeInfo{PeerID: "12D3KooW", Addrs: []string{"/ip4/1.2.3.4/tcp/1", ""}, Commission: 250,
		StoragePrice: r.Uint64(), WritePrice: r.Uint64(), Capacity: r.Uint64()}
	return []staking.Op{
		&staking.Transfer{To: a, Amount: r.Uint64()},
		&staking.ReserveStorage{Size: r.Uint64(), Start: r.Uint32(), End: r.Uint32()},
		&staking.SplitStorageEpoch{Storage: o1, At: r.Uint32()},
		&staking.SplitStorageSize{Storage: o1, Take: r.Uint64()},
		&staking.RegisterBlob{Storage: o1, BlobID: id, Root: [32]byte(o2), Length: r.Uint64(), Encoding: 1, Deletable: true},
		&staking.CertifyBlob{Blob: o1, BlobID: id, Deletable: true, Cert: cert},
		&staking.InvalidateBlob{BlobID: id, Cert: cert},
		&staking.DeleteBlob{Blob: o2},
		&staking.ExtendBlob{Blob: o2, End: r.Uint32()},
		&staking.SetAttribute{Blob: o1, Key: "content-type", Value: "text/plain"},
		&staking.RemoveAttribute{Blob: o1, Key: "content-type"},
		&staking.RegisterNode{BLSKey: pk, PoP: sig, Info: info},
		&staking.UpdateNode{Node: nid, Info: info},
		&staking.StakeOp{Node: nid, Amount: r.Uint64()},
		&staking.RequestWithdraw{Stake: o1},
		&staking.Withdraw{Stake: o2},
		&staking.SyncDone{Node: nid, Epoch: r.Uint32(), Sig: sig},
		&staking.ChallengeResults{Attester: nid, Epoch: 3, Results: []staking.ChallengeResult{{Node: nid, Pass: true}, {Node: epoch.NodeID(o1)}}, Sig: sig},
	}
}

func TestTxRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	key := acctKey("alice")
	var network epoch.NetworkID
	fill(r, network[:])
	kinds := map[staking.Kind]bool{}
	for _, op := range sampleOps(r) {
		kinds[op.Kind()] = true
		tx := staking.Sign(network, key, staking.Tx{Nonce: r.Uint64(), Op: op})
		b := tx.Encode()
		dec, err := staking.DecodeSignedTx(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", op.Kind(), err)
		}
		if !bytes.Equal(dec.Encode(), b) {
			t.Fatalf("%s: re-encoding differs", op.Kind())
		}
		if dec.Tx.Op.Kind() != op.Kind() || !dec.Verify(network) {
			t.Fatalf("%s: decoded kind %s, signature valid %v", op.Kind(), dec.Tx.Op.Kind(), dec.Verify(network))
		}
		if dec.Verify(epoch.NetworkID{}) {
			t.Fatalf("%s: signature verifies on another network", op.Kind())
		}
		for cut := 0; cut < len(b); cut++ {
			if _, err := staking.DecodeSignedTx(b[:cut]); !errors.Is(err, staking.ErrDecode) {
				t.Fatalf("%s: truncated to %d bytes: err %v", op.Kind(), cut, err)
			}
		}
		if _, err := staking.DecodeSignedTx(append(b[:len(b):len(b)], 0)); !errors.Is(err, staking.ErrDecode) {
			t.Fatalf("%s: trailing byte accepted", op.Kind())
		}
	}
	if len(kinds) != 18 {
		t.Fatalf("sampled %d kinds, want all 18", len(kinds))
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	key := acctKey("alice")
	tx := staking.Sign(epoch.NetworkID{}, key, staking.Tx{Op: &staking.DeleteBlob{}})
	b := tx.Encode()
	kindAt := 32 + 8 + 8 + 8 // sender, nonce, expiry, fee
	bad := bytes.Clone(b)
	bad[kindAt] = 0
	if _, err := staking.DecodeSignedTx(bad); !errors.Is(err, staking.ErrDecode) {
		t.Fatalf("kind 0 accepted: %v", err)
	}
	bad[kindAt] = 200
	if _, err := staking.DecodeSignedTx(bad); !errors.Is(err, staking.ErrDecode) {
		t.Fatalf("kind 200 accepted: %v", err)
	}
	// A boolean byte of 2 (RegisterBlob.Deletable is the last op byte before the signature).
	reg := staking.Sign(epoch.NetworkID{}, key, staking.Tx{Op: &staking.RegisterBlob{}}).Encode()
	reg[len(reg)-65] = 2
	if _, err := staking.DecodeSignedTx(reg); !errors.Is(err, staking.ErrDecode) {
		t.Fatalf("boolean 2 accepted: %v", err)
	}
	// A length prefix claiming more than the input holds must fail before allocating.
	attr := staking.Sign(epoch.NetworkID{}, key, staking.Tx{Op: &staking.SetAttribute{Key: "k"}}).Encode()
	attr[kindAt+1+32] = 0xff
	attr[kindAt+1+32+1] = 0xff
	if _, err := staking.DecodeSignedTx(attr); !errors.Is(err, staking.ErrDecode) {
		t.Fatalf("oversized length accepted: %v", err)
	}
	if _, err := staking.DecodeSignedTx(make([]byte, staking.MaxTxSize+1)); !errors.Is(err, staking.ErrDecode) {
		t.Fatalf("oversized transaction accepted: %v", err)
	}
}

func TestConfirmationBody(t *testing.T) {
	var id codec.BlobID
	var obj staking.ObjectID
	for i := range id {
		id[i], obj[i] = byte(i), byte(100+i)
	}
	perm := staking.ConfirmationBody(id, false, obj)
	if len(perm) != 33 || perm[32] != 0 || !bytes.Equal(perm[:32], id[:]) {
		t.Fatalf("permanent body %x", perm)
	}
	del := staking.ConfirmationBody(id, true, obj)
	if len(del) != 65 || del[32] != 1 || !bytes.Equal(del[33:], obj[:]) {
		t.Fatalf("deletable body %x", del)
	}
	msg := staking.ConfirmationMessage(epoch.NetworkID{9}, 7, id, false, obj)
	if !bytes.Equal(msg, epoch.SignedMessage(epoch.IntentStorageConfirmation, epoch.NetworkID{9}, 7, perm)) {
		t.Fatal("confirmation message is not the intent-prefixed body")
	}
}

func TestGenesisAndCheckpointRoundTrip(t *testing.T) {
	_, n := runScript(t, "genesis nodes=n1:10,n2:20 accounts=alice:5 faucet=100\n")
	g := &staking.Genesis{Network: "x", NShards: 7, EpochDuration: 10, GenesisTime: 5, Prices: staking.Prices{Storage: 1, Write: 2, Capacity: 3},
		Faucet: staking.GenesisAccount{Address: n.addr("faucet"), Balance: 9}, Accounts: []staking.GenesisAccount{{Address: n.addr("a"), Balance: 1}},
		Nodes: []staking.GenesisNode{{Operator: n.addr("o"), BLSKey: n.nodeKey("n1").PublicKey(), PoP: n.nodeKey("n1").ProvePossession(),
			Info: staking.NodeInfo{PeerID: "p", Addrs: []string{"a"}}, Stake: 4}}}
	b := g.Encode()
	g2, err := staking.DecodeGenesis(b)
	if err != nil || !bytes.Equal(g2.Encode(), b) || g2.NetworkID() != g.NetworkID() {
		t.Fatalf("genesis round trip: %v", err)
	}
	g.Network = "y"
	if g.NetworkID() == g2.NetworkID() {
		t.Fatal("network name does not change the network ID")
	}
	tx := staking.Sign(n.s.Network(), n.acct("alice"), staking.Tx{Op: &staking.Transfer{To: n.addr("bob"), Amount: 1}}).Encode()
	cp, _, err := n.s.BuildCheckpoint(n.s.Time()+5, [][]byte{tx, {1, 2, 3}})
	if err != nil {
		t.Fatal(err)
	}
	cb := cp.Encode()
	cp2, err := staking.DecodeCheckpoint(cb)
	if err != nil || !bytes.Equal(cp2.Encode(), cb) || cp2.Hash() != cp.Hash() {
		t.Fatalf("checkpoint round trip: %v", err)
	}
	for cut := 0; cut < len(cb); cut++ {
		if _, err := staking.DecodeCheckpoint(cb[:cut]); err == nil {
			t.Fatalf("truncated checkpoint (%d bytes) accepted", cut)
		}
	}
}
