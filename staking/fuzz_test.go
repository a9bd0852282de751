package staking_test

import (
	"crypto/ed25519"
	"encoding/binary"
	"testing"

	"github.com/walrus-go/walrus-go/staking"
)

const fuzzScript = `genesis shards=10 nodes=n1:400,n2:300,n3:200,n4:100 accounts=alice:1000000,bob:1000000 storage-price=10 write-price=1 capacity=100000000
register-node who=bob node=n5
stake who=alice node=n1 amount=100 as=s1
reserve who=alice size=1048576 epochs=3 as=r1
reserve who=alice size=1048576 epochs=3 as=r2
register-blob who=alice storage=r1 data=hello length=1000 as=b1
register-blob who=alice storage=r2 data=gone length=1000 deletable=true as=b2
reserve who=alice size=1048576 epochs=2 as=r3
`

var fuzzWho = []string{"alice", "bob", "op-n1", "nobody"}

// txHeader is the transaction header before the kind byte: sender, nonce, expiry, fee.
const txHeader = 32 + 8 + 8 + 8

// FuzzApply feeds random and mutated transactions to a state with live objects: nothing
// panics, a transaction not admitted leaves the state root unchanged, an admitted one whose
// operation is refused only pays its fee and consumes its nonce, and FROST is conserved. Input byte 0 picks the mode: even = the rest is a raw signed transaction;
// odd = the rest is an operation (kind byte and fields) that the harness signs for account
// fuzzWho[(b0>>1)%4] with its current nonce, so mutations reach the semantic checks.
func FuzzApply(f *testing.F) {
	_, n := runScript(f, fuzzScript)
	b1 := n.obj("b1")
	blob, _ := n.s.Blob(b1)
	cert := n.cert(n.s.Committee(), 0, staking.ConfirmationMessage(n.s.Network(), 0, blob.BlobID, false, b1), []string{"all"})
	seeds := []staking.Op{
		&staking.Transfer{To: n.addr("bob"), Amount: 5},
		&staking.ReserveStorage{Size: 1 << 20, Start: 0, End: 2},
		&staking.SplitStorageEpoch{Storage: n.obj("r3"), At: 1},
		&staking.SplitStorageSize{Storage: n.obj("r3"), Take: 100},
		&staking.RegisterBlob{Storage: n.obj("r3"), BlobID: n.blobs["b1"], Root: blob.Root, Length: 1000, Encoding: 1},
		&staking.CertifyBlob{Blob: b1, BlobID: blob.BlobID, Cert: cert},
		&staking.InvalidateBlob{BlobID: blob.BlobID, Cert: cert},
		&staking.DeleteBlob{Blob: n.obj("b2")},
		&staking.ExtendBlob{Blob: b1, End: 5},
		&staking.SetAttribute{Blob: b1, Key: "k", Value: "v"},
		&staking.RemoveAttribute{Blob: b1, Key: "k"},
		&staking.RegisterNode{BLSKey: n.nodeKey("n6").PublicKey(), PoP: staking.ProvePossession(n.s.Network(), n.addr("alice"), n.nodeKey("n6"))},
		&staking.UpdateNode{Node: n.nodeID("n1"), Info: staking.NodeInfo{Commission: 10}},
		&staking.StakeOp{Node: n.nodeID("n2"), Amount: 7},
		&staking.RequestWithdraw{Stake: n.obj("s1")},
		&staking.Withdraw{Stake: n.obj("s1")},
		&staking.SyncDone{Node: n.nodeID("n1"), Sig: n.nodeKey("n1").Sign(staking.SyncDoneMessage(n.s.Network(), 0, n.nodeID("n1")))},
		&staking.ChallengeResults{Attester: n.nodeID("n1"), Results: []staking.ChallengeResult{{Node: n.nodeID("n2")}}},
	}
	for i, op := range seeds {
		body := (&staking.Tx{Sender: make(ed25519.PublicKey, 32), Op: op}).Encode()[txHeader:]
		f.Add(append([]byte{byte(i%4)<<1 | 1}, body...))
		signed := staking.Sign(n.s.Network(), n.acct("alice"), staking.Tx{Nonce: n.s.Account(n.addr("alice")).Nonce, Op: op})
		f.Add(append([]byte{0}, signed.Encode()...))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 99})
	base := n.s
	network := base.Network()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		s := base.Clone()
		root, supply := s.Root(), s.TotalSupply()+s.Burned()
		raw := data[1:]
		if data[0]&1 == 1 {
			who := fuzzWho[int(data[0]>>1)%len(fuzzWho)]
			key := acctKey(who)
			hdr := make([]byte, txHeader, txHeader+len(raw)+64)
			copy(hdr, key.Public().(ed25519.PublicKey))
			binary.LittleEndian.PutUint64(hdr[32:], s.Account(staking.AddressOf(key.Public().(ed25519.PublicKey))).Nonce)
			tx, err := staking.DecodeSignedTx(append(append(hdr, raw...), make([]byte, 64)...))
			if err == nil {
				raw = staking.Sign(network, key, tx.Tx).Encode()
			}
		}
		var sender staking.Address
		if tx, err := staking.DecodeSignedTx(raw); err == nil {
			sender = staking.AddressOf(tx.Tx.Sender)
		}
		acc := s.Account(sender)
		r := s.Apply(raw)
		if !r.Code.Admitted() && s.Root() != root {
			t.Fatalf("transaction not admitted (%v) changed the state root", r)
		}
		if after := s.Account(sender); r.Code.Admitted() && !r.OK() && (after.Nonce != acc.Nonce+1 || after.Balance != acc.Balance-r.Fee) {
			t.Fatalf("refused transaction (%v) did more than pay its fee: %+v -> %+v", r, acc, after)
		}
		if got := s.TotalSupply() + s.Burned(); got != supply {
			t.Fatalf("FROST not conserved: %d -> %d (%v)", supply, got, r)
		}
	})
}

// FuzzRestore: arbitrary bytes never make Restore panic, and every snapshot it accepts is
// canonical (re-encoding gives the same bytes), so equal states always have equal roots.
func FuzzRestore(f *testing.F) {
	_, n := runScript(f, fuzzScript)
	snap := n.s.Snapshot()
	f.Add(snap)
	f.Add(snap[:len(snap)/2])
	f.Add([]byte("wgstate\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := staking.Restore(b)
		if err != nil {
			return
		}
		if again := s.Snapshot(); string(again) != string(b) {
			t.Fatalf("accepted a non-canonical snapshot (%d bytes re-encode to %d)", len(b), len(again))
		}
	})
}
