package staking_test

import (
	"fmt"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/staking"
)

// pruneNet is a 4-node network with cheap storage for the pruning tests (epochs of 100 ms).
func pruneNet(t *testing.T) *tnet {
	n := newTnet(t, 7)
	p := staking.Prices{Storage: 1, Write: 1, Capacity: 1 << 50, Fees: staking.Fees{Deposit: 1000}}
	n.genesis(4, 100, []string{"n1", "n2", "n3", "n4"}, []uint64{1000, 1000, 1000, 1000},
		map[string]uint64{"alice": 1 << 40, "carol": 1 << 30}, 0, p)
	return n
}

// batch signs ops from who with consecutive nonces.
func (n *tnet) batch(who string, ops []staking.Op) [][]byte {
	nonce := n.s.Account(n.addr(who)).Nonce
	raws := make([][]byte, len(ops))
	for i, op := range ops {
		raws[i] = staking.Sign(n.s.Network(), n.acct(who), staking.Tx{Nonce: nonce + uint64(i), Op: op}).Encode()
	}
	return raws
}

// commit applies txs in one checkpoint 1 ms after the last and fails on a refused one.
func (n *tnet) commit(txs [][]byte) {
	n.t.Helper()
	for i, r := range n.checkpoint(n.s.Time()+1, txs).Receipts {
		if !r.OK() {
			n.t.Fatalf("transaction %d: %v", i, r)
		}
	}
}

func (n *tnet) toEpochEnd() {
	n.t.Helper()
	n.checkpoint(max(n.s.Config().EpochStart(n.s.Epoch()+1), n.s.Time()+1), nil)
}

// TestPruneBatchBounded: more expiries than one checkpoint removes are worked off by the
// following checkpoints, blob objects first, PruneBatch entries per checkpoint, and
// blob-status moves from expired to nonexistent as each object goes.
func TestPruneBatchBounded(t *testing.T) {
	n := pruneNet(t)
	const blobs, extra = 4500, 500 // blob objects ending at 1, resources ending at 1 and at 3
	var ops []staking.Op
	for range blobs + extra {
		ops = append(ops, &staking.ReserveStorage{Size: 100_000, Start: 0, End: 1})
	}
	n.commit(n.batch("alice", ops))
	// A blob on each of the first resources; the other resources stay unused and end at 1;
	// then as many resources ending at 3.
	addr := n.addr("alice")
	var regs []staking.Op
	ids := make([]codec.BlobID, blobs)
	for i := range blobs {
		id, root := blobFromSeed(fmt.Sprint("p", i), 1000)
		ids[i] = id
		regs = append(regs, &staking.RegisterBlob{Storage: staking.DeriveObjectID(addr, uint64(i), 0), BlobID: id, Root: root,
			Length: 1000, Encoding: codec.EncodingTypeRS2})
	}
	var later []staking.Op
	for range extra {
		later = append(later, &staking.ReserveStorage{Size: 100_000, Start: 0, End: 3})
	}
	n.commit(n.batch("alice", regs))
	n.commit(n.batch("alice", later))
	count := func() (int, int) { k := n.s.EntryKinds(); return k["blobs"], k["storage"] }
	if b, s := count(); b != blobs || s != 2*extra {
		t.Fatalf("before: %d blobs, %d storage", b, s)
	}
	// Epoch 1: the unused resources ending at 1 go (2000 <= PruneBatch).
	n.toEpochEnd()
	if b, s := count(); b != blobs || s != extra {
		t.Fatalf("epoch 1: %d blobs, %d storage", b, s)
	}
	if st := n.s.BlobStatus(ids[0]); st.Kind != staking.StatusExpired {
		t.Fatalf("status %v", st.Kind)
	}
	n.toEpochEnd() // epoch 2: expired, retained
	n.toEpochEnd() // epoch 3: blobs (ended at 1) pruned up to the batch; storage ended at 3 waits
	b, s := count()
	if want := max(0, blobs-staking.PruneBatch); b != want || s != extra-min(extra, staking.PruneBatch-(blobs-want)) {
		t.Fatalf("epoch 3 first checkpoint: %d blobs, %d storage; want %d blobs", b, s, want)
	}
	// The rest goes in the following checkpoints, whatever their time.
	for i := 0; i < 3 && b+s > 0; i++ {
		n.checkpoint(n.s.Time()+1, nil)
		b, s = count()
	}
	if b != 0 || s != 0 {
		t.Fatalf("left after the backlog: %d blobs, %d storage", b, s)
	}
	k := n.s.EntryKinds()
	if k["blob-index"]+k["blob-expiry"]+k["storage-expiry"]+k["blob-ids"] != 0 {
		t.Fatalf("index entries left: %v", k)
	}
	for _, id := range ids[:10] {
		if st := n.s.BlobStatus(id); st.Kind != staking.StatusNonexistent {
			t.Fatalf("pruned blob status %v", st.Kind)
		}
	}
}

// TestStateBoundedUnderChurn: a long run of register / certify-less expire / delete cycles
// and of node registrations that never get stake keeps the state's entry count bounded:
// after a warm-up, the count at every epoch start stays within what it was in the
// warm-up, and everything but the genesis and the live objects is gone at the end.
func TestStateBoundedUnderChurn(t *testing.T) {
	n := pruneNet(t)
	const perEpoch, epochs = 20, 40
	addr := n.addr("alice")
	total := func() int {
		k := n.s.EntryKinds()
		return n.s.Entries() - k["receipts"] // receipts have their own window (ReceiptHeights)
	}
	var warm int
	for e := 0; e < epochs; e++ {
		ep := n.s.Epoch()
		nonce := n.s.Account(addr).Nonce
		var ops []staking.Op
		for range perEpoch {
			ops = append(ops, &staking.ReserveStorage{Size: 100_000, Start: ep, End: ep + 1 + uint32(e%3)})
		}
		n.commit(n.batch("alice", ops))
		var regs []staking.Op
		for i := range perEpoch {
			id, root := blobFromSeed(fmt.Sprint("churn", e, i), 1000)
			regs = append(regs, &staking.RegisterBlob{Storage: staking.DeriveObjectID(addr, nonce+uint64(i), 0), BlobID: id, Root: root,
				Length: 1000, Encoding: codec.EncodingTypeRS2, Deletable: i%4 == 0})
		}
		n.commit(n.batch("alice", regs))
		// Delete a quarter of them (the deletable ones) at once.
		var dels []staking.Op
		for i := 0; i < perEpoch; i += 4 {
			dels = append(dels, &staking.DeleteBlob{Blob: staking.DeriveObjectID(addr, nonce+perEpoch+uint64(i), 0)})
		}
		n.commit(n.batch("alice", dels))
		// A node registered each epoch, never staked.
		k := n.nodeKey(fmt.Sprint("idle", e))
		n.commit(n.batch("carol", []staking.Op{&staking.RegisterNode{BLSKey: k.PublicKey(),
			PoP: staking.ProvePossession(n.s.Network(), n.addr("carol"), k), Info: staking.NodeInfo{PeerID: "p", Capacity: 1}}}))
		n.toEpochEnd()
		// The churn repeats every 3 epochs: after a warm-up of 10, the highest count of two
		// periods bounds every later one.
		got := total()
		switch {
		case e >= 10 && e < 16:
			warm = max(warm, got)
		case e >= 16 && got > warm:
			t.Fatalf("epoch %d: %d entries, at most %d after the warm-up", n.s.Epoch(), got, warm)
		}
	}
	// Quiet epochs: everything the churn made goes.
	for range 6 {
		n.toEpochEnd()
	}
	k := n.s.EntryKinds()
	for _, kind := range []string{"storage", "storage-expiry", "blobs", "blob-index", "blob-expiry", "blob-ids"} {
		if k[kind] != 0 {
			t.Errorf("%s: %d left", kind, k[kind])
		}
	}
	if k["nodes"] != 4 {
		t.Errorf("%d nodes left, want the 4 genesis nodes", k["nodes"])
	}
	if got := n.s.Account(n.addr("carol")).Balance; got != 1<<30 {
		t.Errorf("carol's deposits not all refunded: %d", got)
	}
	t.Logf("entries after warm-up %d, at the end %d (%v)", warm, total(), k)
}
