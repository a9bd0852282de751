package staking_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/walrus-go/walrus-go/staking"
)

func lifeNet(t *testing.T) *tnet {
	src, err := os.ReadFile("testdata/network_life.txt")
	if err != nil {
		t.Fatal(err)
	}
	_, n := runScript(t, string(src))
	return n
}

// TestSnapshotRestore: restore(snapshot(s)) has the same root and behaves identically on
// the same following checkpoints; damaged snapshots are rejected without panicking.
func TestSnapshotRestore(t *testing.T) {
	n := lifeNet(t)
	snap := n.s.Snapshot()
	r, err := staking.Restore(snap)
	if err != nil {
		t.Fatal(err)
	}
	if r.Root() != n.s.Root() || r.Height() != n.s.Height() || r.LastHash() != n.s.LastHash() {
		t.Fatal("restored state differs")
	}
	// Drive both through the same checkpoints, crossing an epoch with transactions.
	other := *n
	other.s = r
	for i := 0; i < 3; i++ {
		tx := staking.Sign(n.s.Network(), n.acct("alice"), staking.Tx{Nonce: n.s.Account(n.addr("alice")).Nonce,
			Op: &staking.ReserveStorage{Size: 1 << 20, Start: n.s.Epoch(), End: n.s.Epoch() + 2}}).Encode()
		now := n.s.Config().EpochStart(n.s.Epoch()) + 700
		if now <= n.s.Time() {
			now = n.s.Config().EpochStart(n.s.Epoch() + 1)
		}
		cp, _, err := n.s.BuildCheckpoint(now, [][]byte{tx})
		if err != nil {
			t.Fatal(err)
		}
		r1, err1 := n.s.ApplyCheckpoint(cp)
		r2, err2 := other.s.ApplyCheckpoint(cp)
		if err1 != nil || err2 != nil || r1.Receipts[0] != r2.Receipts[0] || len(r1.Events) != len(r2.Events) {
			t.Fatalf("diverged: %v %v %v %v", err1, err2, r1, r2)
		}
		if n.s.Root() != other.s.Root() || n.s.LastHash() != other.s.LastHash() {
			t.Fatal("roots diverged after restore")
		}
	}
	for cut := 0; cut < len(snap); cut += 1 + cut/16 {
		if _, err := staking.Restore(snap[:cut]); err == nil {
			t.Fatalf("snapshot truncated to %d bytes accepted", cut)
		}
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 2000; i++ {
		bad := append([]byte(nil), snap...)
		bad[rng.IntN(len(bad))] ^= byte(1 + rng.IntN(255))
		if s, err := staking.Restore(bad); err == nil {
			// Some flips land in free-form fields (balances, names); the result must still
			// be a usable state whose snapshot is canonical.
			if _, err := staking.Restore(s.Snapshot()); err != nil {
				t.Fatalf("restored mutated snapshot does not round-trip: %v", err)
			}
		}
	}
}

// TestApplyCheckpointRejects: a checkpoint that does not follow the state is refused and
// the state is exactly as it was.
func TestApplyCheckpointRejects(t *testing.T) {
	n := lifeNet(t)
	tx := staking.Sign(n.s.Network(), n.acct("alice"), staking.Tx{Nonce: n.s.Account(n.addr("alice")).Nonce,
		Op: &staking.Transfer{To: n.addr("bob"), Amount: 1}}).Encode()
	good, _, err := n.s.BuildCheckpoint(n.s.Time()+10, [][]byte{tx})
	if err != nil {
		t.Fatal(err)
	}
	before, snap := n.s.Root(), string(n.s.Snapshot())
	mut := func(f func(cp *staking.Checkpoint)) *staking.Checkpoint {
		cp := *good
		f(&cp)
		return &cp
	}
	cases := map[string]*staking.Checkpoint{
		"network":   mut(func(cp *staking.Checkpoint) { cp.Network[0] ^= 1 }),
		"height":    mut(func(cp *staking.Checkpoint) { cp.Height++ }),
		"prev hash": mut(func(cp *staking.Checkpoint) { cp.PrevHash[0] ^= 1 }),
		"time":      mut(func(cp *staking.Checkpoint) { cp.Time = n.s.Time() }),
		"epoch":     mut(func(cp *staking.Checkpoint) { cp.Epoch++ }),
		"root":      mut(func(cp *staking.Checkpoint) { cp.StateRoot[0] ^= 1 }),
		"txs":       mut(func(cp *staking.Checkpoint) { cp.Txs = nil }),
	}
	for name, cp := range cases {
		if _, err := n.s.ApplyCheckpoint(cp); !errors.Is(err, staking.ErrBadCheckpoint) {
			t.Errorf("%s: err %v, want ErrBadCheckpoint", name, err)
		}
		if n.s.Root() != before || string(n.s.Snapshot()) != snap {
			t.Fatalf("%s: rejected checkpoint changed the state", name)
		}
	}
	if _, err := n.s.ApplyCheckpoint(good); err != nil {
		t.Fatalf("good checkpoint: %v", err)
	}
	if _, err := n.s.AdvanceTime(n.s.Time() - 1); !errors.Is(err, staking.ErrTimeBackwards) {
		t.Fatalf("time backwards: %v", err)
	}
}

// TestRandomOpsConserve drives a network with seeded random transactions from a few
// accounts across many epochs: every checkpoint conserves FROST (burned included), every
// rejection leaves the root unchanged (both checked by the harness), and a snapshot taken
// at the end restores to the same root.
func TestRandomOpsConserve(t *testing.T) {
	_, n := runScript(t, "genesis shards=31 nodes=n1:500,n2:400,n3:300,n4:200,n5:100 accounts=a:100000000,b:100000000,c:100000000 storage-price=700 write-price=90 capacity=1000000000\n")
	r := rand.New(rand.NewPCG(11, 12))
	who := []string{"a", "b", "c", "op-n1", "op-n2"}
	nodes := []string{"n1", "n2", "n3", "n4", "n5", "n6"}
	var stakesOf = map[string][]staking.ObjectID{}
	var blobsOf = map[string][]staking.ObjectID{}
	var storageOf = map[string][]staking.ObjectID{}
	pick := func(ids []staking.ObjectID) staking.ObjectID {
		if len(ids) == 0 {
			return staking.ObjectID{}
		}
		return ids[r.IntN(len(ids))]
	}
	okKinds := map[staking.Kind]int{}
	for step := 0; step < min(iters(400), 2000); step++ { // the harness re-checks the whole state per step
		w := who[r.IntN(len(who))]
		addr := n.addr(w)
		ep := n.s.Epoch()
		var op staking.Op
		switch r.IntN(10) {
		case 0:
			op = &staking.Transfer{To: n.addr(who[r.IntN(len(who))]), Amount: uint64(r.IntN(1000))}
		case 1, 2:
			op = &staking.StakeOp{Node: n.nodeID(nodes[r.IntN(len(nodes))]), Amount: uint64(r.IntN(3000))}
		case 3:
			op = &staking.RequestWithdraw{Stake: pick(stakesOf[w])}
		case 4:
			op = &staking.Withdraw{Stake: pick(stakesOf[w])}
		case 5:
			op = &staking.ReserveStorage{Size: uint64(1 + r.IntN(3<<20)), Start: ep, End: ep + uint32(1+r.IntN(5))}
		case 6:
			length := uint64(r.IntN(5000))
			id, root := blobFromSeed(string(rune('a'+r.IntN(26))), length)
			op = &staking.RegisterBlob{Storage: pick(storageOf[w]), BlobID: id, Root: root, Length: length, Encoding: 1, Deletable: r.IntN(2) == 0}
		case 7:
			op = &staking.ExtendBlob{Blob: pick(blobsOf[w]), End: ep + uint32(1+r.IntN(6))}
		case 8:
			op = &staking.DeleteBlob{Blob: pick(blobsOf[w])}
		default:
			n.checkpoint(n.s.Time()+int64(1+r.IntN(300)), nil)
			continue
		}
		if w == "op-n1" || w == "op-n2" {
			if n.s.Account(addr).Balance == 0 {
				continue
			}
		}
		rc, nonce := n.submit(w, op)
		if rc.OK() {
			okKinds[op.Kind()]++
			id := staking.DeriveObjectID(addr, nonce, 0)
			switch op.(type) {
			case *staking.StakeOp:
				stakesOf[w] = append(stakesOf[w], id)
			case *staking.ReserveStorage, *staking.DeleteBlob:
				storageOf[w] = append(storageOf[w], id)
			case *staking.RegisterBlob:
				blobsOf[w] = append(blobsOf[w], id)
			}
		}
	}
	if len(okKinds) < 8 {
		t.Fatalf("only %d kinds ever succeeded: %v", len(okKinds), okKinds)
	}
	t.Logf("successful transactions by kind: %v", okKinds)
	if n.s.Epoch() < 3 {
		t.Fatalf("only reached epoch %d", n.s.Epoch())
	}
	if n.s.Burned() == 0 {
		t.Fatal("no income was ever burned: the random walk bought no storage")
	}
	rs, err := staking.Restore(n.s.Snapshot())
	if err != nil || rs.Root() != n.s.Root() {
		t.Fatalf("restore: %v", err)
	}
}

// TestEnvelopeRejections covers the checks before any operation runs: malformed bytes, a
// signature by another key or for another network, a wrong nonce. None changes the state.
func TestEnvelopeRejections(t *testing.T) {
	_, n := runScript(t, "genesis nodes=n1:10 accounts=alice:100\n")
	root := n.s.Root()
	op := &staking.Transfer{To: n.addr("bob"), Amount: 1}
	good := staking.Sign(n.s.Network(), n.acct("alice"), staking.Tx{Op: op})
	forged := *good
	forged.Sig = staking.Sign(n.s.Network(), n.acct("mallory"), staking.Tx{Op: op}).Sig
	forged.Tx.Sender = good.Tx.Sender
	cases := []struct {
		name string
		raw  []byte
		want staking.Code
	}{
		{"malformed", []byte{1, 2, 3}, staking.CodeMalformed},
		{"forged", forged.Encode(), staking.CodeBadSignature},
		{"other network", staking.Sign((&staking.Genesis{}).NetworkID(), n.acct("alice"), staking.Tx{Op: op}).Encode(), staking.CodeBadSignature},
		{"nonce", staking.Sign(n.s.Network(), n.acct("alice"), staking.Tx{Nonce: 1, Op: op}).Encode(), staking.CodeBadNonce},
	}
	for _, c := range cases {
		if r := n.s.Apply(c.raw); r.Code != c.want {
			t.Errorf("%s: %v, want %s", c.name, r, c.want)
		}
		if n.s.Root() != root {
			t.Fatalf("%s: rejection changed the state", c.name)
		}
	}
	if r := n.s.Apply(good.Encode()); !r.OK() || n.s.Account(n.addr("alice")).Nonce != 1 {
		t.Fatalf("good transfer: %v", r)
	}
	if r := n.s.Apply(good.Encode()); r.Code != staking.CodeBadNonce {
		t.Fatalf("replay: %v", r)
	}
	res := staking.Sign(n.s.Network(), n.acct("alice"), staking.Tx{Nonce: 1, Op: &staking.ReserveStorage{Size: 1, Start: 0, End: 1}})
	r := n.s.Apply(res.Encode())
	want := staking.DeriveObjectID(n.addr("alice"), 1, 0)
	if !r.OK() || r.Created != want {
		t.Fatalf("reserve: %v, created %s", r, r.Created)
	}
	if st, _, _ := n.s.Owned(n.addr("alice")); len(st) != 1 || st[0] != want {
		t.Fatalf("owned storage %v", st)
	}
}
