package staking_test

import (
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/staking"
)

const feeScript = `genesis shards=10 nodes=n1:400,n2:300,n3:200,n4:100 accounts=alice:1000000,bob:1000000 storage-price=10 write-price=1 capacity=100000000 base-fee=100 byte-fee=2 verify-fee=1000 deposit=50000
reserve who=alice size=1048576 epochs=3 as=r1
register-blob who=alice storage=r1 data=hello length=1000 as=b1
`

// TestZeroBalanceCannotSubmit: with a fee schedule, a fresh account with no balance can
// submit no transaction of any kind, even correctly signed ones carrying valid BLS
// signatures; nothing changes (not the nonce), and a checkpoint proposer leaves them out.
func TestZeroBalanceCannotSubmit(t *testing.T) {
	_, n := runScript(t, feeScript)
	b1 := n.obj("b1")
	blob, _ := n.s.Blob(b1)
	net, ep := n.s.Network(), n.s.Epoch()
	cert := n.cert(n.s.Committee(), ep, staking.ConfirmationMessage(net, ep, blob.BlobID, false, b1), []string{"all"})
	k := n.nodeKey("n9")
	ops := []staking.Op{
		&staking.Transfer{To: n.addr("bob"), Amount: 1},
		&staking.ReserveStorage{Size: 1, End: 1},
		&staking.SplitStorageEpoch{Storage: n.obj("r1"), At: 1},
		&staking.SplitStorageSize{Storage: n.obj("r1"), Take: 1},
		&staking.RegisterBlob{Storage: n.obj("r1"), BlobID: blob.BlobID, Root: blob.Root, Length: 1000, Encoding: 1},
		&staking.CertifyBlob{Blob: b1, BlobID: blob.BlobID, Cert: cert},
		&staking.InvalidateBlob{BlobID: blob.BlobID, Cert: cert},
		&staking.DeleteBlob{Blob: b1},
		&staking.ExtendBlob{Blob: b1, End: 4},
		&staking.SetAttribute{Blob: b1, Key: "k", Value: "v"},
		&staking.RemoveAttribute{Blob: b1, Key: "k"},
		&staking.RegisterNode{BLSKey: k.PublicKey(), PoP: staking.ProvePossession(net, n.addr("fresh"), k)},
		&staking.UpdateNode{Node: n.nodeID("n1")},
		&staking.StakeOp{Node: n.nodeID("n1"), Amount: 1},
		&staking.RequestWithdraw{Stake: n.obj("gs-n1")},
		&staking.Withdraw{Stake: n.obj("gs-n1")},
		&staking.SyncDone{Node: n.nodeID("n1"), Epoch: ep, Sig: n.nodeKey("n1").Sign(staking.SyncDoneMessage(net, ep, n.nodeID("n1")))},
		&staking.ChallengeResults{Attester: n.nodeID("n1"), Epoch: ep, Results: []staking.ChallengeResult{{Node: n.nodeID("n2"), Pass: true}},
			Sig: n.nodeKey("n1").Sign(staking.ChallengeMessage(net, ep, []staking.ChallengeResult{{Node: n.nodeID("n2"), Pass: true}}))},
	}
	if len(ops) != 18 {
		t.Fatalf("%d kinds, want 18", len(ops))
	}
	root := n.s.Root()
	var raws [][]byte
	for _, op := range ops {
		raw := staking.Sign(net, n.acct("fresh"), staking.Tx{Op: op}).Encode()
		raws = append(raws, raw)
		s := n.s.Clone()
		if r := s.Apply(raw); r.Code != staking.CodeFee {
			t.Errorf("%s from a zero-balance account: %v, want fee", op.Kind(), r)
		}
		if s.Root() != root {
			t.Errorf("%s from a zero-balance account changed the state", op.Kind())
		}
	}
	cp, res, dropped, err := n.s.BuildProposal(n.s.Time()+1, raws)
	if err != nil || len(cp.Txs) != 0 || len(res.Receipts) != 0 || dropped != len(raws) {
		t.Fatalf("proposal kept %d of %d unpayable transactions (err %v)", len(cp.Txs), len(raws), err)
	}
}

// TestRefusedTxCannotExecuteLater: a transfer refused for lack of funds consumes its nonce
// and pays its fee, so once the account is funded the same signed bytes are refused
// (bad-nonce) instead of executing; and a transaction past its expiry height is refused.
func TestRefusedTxCannotExecuteLater(t *testing.T) {
	_, n := runScript(t, feeScript+"transfer who=alice to=carol amount=10000\n")
	net := n.s.Network()
	carol := n.addr("carol")
	big := staking.Sign(net, n.acct("carol"), staking.Tx{Op: &staking.Transfer{To: n.addr("bob"), Amount: 500_000}}).Encode()
	res := n.checkpoint(n.s.Time()+1, [][]byte{big})
	if r := res.Receipts[0]; r.Code != staking.CodeInsufficient || r.Fee == 0 {
		t.Fatalf("transfer beyond the balance: %v, want insufficient with a fee", r)
	}
	if acc := n.s.Account(carol); acc.Nonce != 1 || acc.Balance != 10000-res.Receipts[0].Fee {
		t.Fatalf("after the refusal carol has %+v", acc)
	}
	// Fund carol; the old transaction still cannot run.
	if r, _ := n.submit("alice", &staking.Transfer{To: carol, Amount: 900_000}); !r.OK() {
		t.Fatal(r)
	}
	res = n.checkpoint(n.s.Time()+1, [][]byte{big})
	if r := res.Receipts[0]; r.Code != staking.CodeBadNonce {
		t.Fatalf("replayed refused transfer: %v, want bad-nonce", r)
	}
	if b := n.s.Account(n.addr("bob")).Balance; b != 1_000_000 {
		t.Fatalf("bob got the refused transfer: %d", b)
	}
	// Expiry: valid through its height, refused after.
	h := n.s.Height()
	exp := staking.Sign(net, n.acct("carol"), staking.Tx{Nonce: 1, Expiry: h + 1, Op: &staking.Transfer{To: n.addr("bob"), Amount: 1}}).Encode()
	late := n.s.Clone()
	n.checkpoint(n.s.Time()+1, nil) // height h+1 passes without it
	if r := n.s.Clone().Apply(exp); r.Code != staking.CodeTxExpired {
		t.Fatalf("after its expiry height: %v, want tx-expired", r)
	}
	if r := late.Apply(exp); !r.OK() {
		t.Fatalf("at its expiry height: %v", r)
	}
}

// TestProposalValidity: BuildProposal leaves out what CheckProposal forbids (bad
// signatures, wrong nonces, unpayable fees, failing BLS checks) and keeps admitted
// transactions whose operation is refused (they pay); CheckProposal refuses a checkpoint
// built with the junk in it.
func TestProposalValidity(t *testing.T) {
	_, n := runScript(t, feeScript)
	net, ep := n.s.Network(), n.s.Epoch()
	b1 := n.obj("b1")
	blob, _ := n.s.Blob(b1)
	alice := n.s.Account(n.addr("alice")).Nonce
	good := staking.Sign(net, n.acct("alice"), staking.Tx{Nonce: alice, Op: &staking.Transfer{To: n.addr("bob"), Amount: 1}}).Encode()
	refused := staking.Sign(net, n.acct("alice"), staking.Tx{Nonce: alice + 1, Op: &staking.DeleteBlob{Blob: b1}}).Encode() // not deletable: pays
	badSig := staking.Sign(net, n.acct("bob"), staking.Tx{Op: &staking.Transfer{To: n.addr("alice"), Amount: 1}}).Encode()
	badSig[len(badSig)-1] ^= 1
	future := staking.Sign(net, n.acct("bob"), staking.Tx{Nonce: 5, Op: &staking.Transfer{To: n.addr("alice"), Amount: 1}}).Encode()
	junkCert := n.cert(n.s.Committee(), ep, staking.ConfirmationMessage(net, ep, blob.BlobID, false, b1), []string{"n4"}) // under quorum
	junk := staking.Sign(net, n.acct("bob"), staking.Tx{Op: &staking.CertifyBlob{Blob: b1, BlobID: blob.BlobID, Cert: junkCert}}).Encode()
	unpaid := staking.Sign(net, n.acct("nobody"), staking.Tx{Op: &staking.Transfer{To: n.addr("bob"), Amount: 1}}).Encode()
	all := [][]byte{good, badSig, future, junk, unpaid, refused}

	now := n.s.Time() + 1
	cp, res, dropped, err := n.s.BuildProposal(now, all)
	if err != nil {
		t.Fatal(err)
	}
	if dropped != 4 || len(cp.Txs) != 2 || res.Receipts[0].Code != staking.OK || res.Receipts[1].Code != staking.CodeNotDeletable {
		t.Fatalf("proposal: %d dropped, receipts %v", dropped, res.Receipts)
	}
	if err := staking.CheckProposal(res); err != nil {
		t.Fatal(err)
	}
	applied, err := n.s.Clone().ApplyCheckpoint(cp)
	if err != nil || staking.CheckProposal(applied) != nil {
		t.Fatalf("the built proposal does not apply as valid: %v", err)
	}
	// The same transactions built naively make an invalid proposal.
	naive, _, err := n.s.BuildCheckpoint(now, all)
	if err != nil {
		t.Fatal(err)
	}
	r, err := n.s.Clone().ApplyCheckpoint(naive)
	if err != nil {
		t.Fatal(err)
	}
	if err := staking.CheckProposal(r); !errors.Is(err, staking.ErrInvalidProposal) {
		t.Fatalf("junk checkpoint passes CheckProposal: %v", err)
	}
}

// TestVerifyCacheSkipsPairings: a state with a verify cache filled by VerifyTxBLS applies
// exactly like one without (same receipts and root).
func TestVerifyCacheSkipsPairings(t *testing.T) {
	_, n := runScript(t, feeScript)
	net, ep := n.s.Network(), n.s.Epoch()
	b1 := n.obj("b1")
	blob, _ := n.s.Blob(b1)
	cert := n.cert(n.s.Committee(), ep, staking.ConfirmationMessage(net, ep, blob.BlobID, false, b1), []string{"all"})
	k := n.nodeKey("n9")
	txs := []*staking.SignedTx{
		staking.Sign(net, n.acct("bob"), staking.Tx{Op: &staking.CertifyBlob{Blob: b1, BlobID: blob.BlobID, Cert: cert}}),
		staking.Sign(net, n.acct("bob"), staking.Tx{Nonce: 1, Op: &staking.RegisterNode{BLSKey: k.PublicKey(), PoP: staking.ProvePossession(net, n.addr("bob"), k)}}),
		staking.Sign(net, n.acct("bob"), staking.Tx{Nonce: 2, Op: &staking.SyncDone{Node: n.nodeID("n1"), Epoch: ep, Sig: n.nodeKey("n1").Sign(staking.SyncDoneMessage(net, ep, n.nodeID("n1")))}}),
	}
	cache := staking.NewVerifyCache(16)
	cached := n.s.Clone()
	cached.SetVerifyCache(cache)
	plain := n.s.Clone()
	for _, tx := range txs {
		if err := cached.VerifyTxBLS(tx); err != nil {
			t.Fatal(err)
		}
	}
	if cache.Len() != 3 {
		t.Fatalf("cache holds %d checks, want 3", cache.Len())
	}
	for i, tx := range txs {
		a, b := cached.ApplyTx(tx), plain.ApplyTx(tx)
		if a != b || !a.OK() {
			t.Fatalf("tx %d: cached %v, plain %v", i, a, b)
		}
	}
	if cached.Root() != plain.Root() {
		t.Fatal("a verify cache changed the outcome")
	}
}

// TestFeeOverflowNotAdmitted: a transaction whose minimum fee overflows u64 under the
// schedule cannot be paid by any balance: it is refused as `fee`, not admitted — no fee
// paid, no nonce used, the state root unchanged — so a proposer leaves it out and
// CheckProposal refuses a checkpoint holding it (as `overflow` it counted as admitted and
// could fill proposals for free). An operation's own overflow stays admitted: it pays.
func TestFeeOverflowNotAdmitted(t *testing.T) {
	_, n := runScript(t, "genesis shards=10 nodes=n1:400,n2:300,n3:200,n4:100 accounts=alice:1000000 byte-fee=9223372036854775807\n")
	net := n.s.Network()
	raw := staking.Sign(net, n.acct("alice"), staking.Tx{Op: &staking.Transfer{To: n.addr("bob"), Amount: 1}}).Encode()
	root, acc := n.s.Root(), n.s.Account(n.addr("alice"))
	s := n.s.Clone()
	r := s.Apply(raw)
	if r.Code != staking.CodeFee || r.Code.Admitted() || r.Fee != 0 {
		t.Fatalf("transaction with an overflowing fee: %v (fee %d), want fee, not admitted", r, r.Fee)
	}
	if s.Root() != root || s.Account(n.addr("alice")) != acc {
		t.Fatal("a transaction with an overflowing fee changed the state")
	}
	if _, pr := n.s.Precheck(staking.Sign(net, n.acct("alice"), staking.Tx{Op: &staking.Transfer{To: n.addr("bob"), Amount: 1}}), len(raw)); pr.Code != staking.CodeFee {
		t.Fatalf("precheck: %v, want fee", pr)
	}
	now := n.s.Time() + 1
	if cp, _, dropped, err := n.s.BuildProposal(now, [][]byte{raw}); err != nil || len(cp.Txs) != 0 || dropped != 1 {
		t.Fatalf("proposal kept the unpayable transaction (%d dropped, err %v)", dropped, err)
	}
	naive, _, err := n.s.BuildCheckpoint(now, [][]byte{raw})
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.s.Clone().ApplyCheckpoint(naive)
	if err != nil {
		t.Fatal(err)
	}
	if err := staking.CheckProposal(res); !errors.Is(err, staking.ErrInvalidProposal) {
		t.Fatalf("a checkpoint holding an unpayable transaction passes CheckProposal: %v", err)
	}
	if !staking.CodeOverflow.Admitted() {
		t.Fatal("an operation's overflow (after paying) must stay admitted")
	}
}
