package query

import (
	"fmt"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/staking"
)

// Proven listings and receipts (docs/protocol.md §9.7, docs/architecture.md §4 "Light
// clients"): kinds 13 to 15 answer what QueryCommittee, QueryStakes and QueryBlobs answer,
// a page at a time, and kind 16 what QueryWaitTx answers, each proven against a certified
// checkpoint. A listing page is a staking.PageProof: its entries in tree-path order after
// the cursor (a path: the last entry's, zero for the first page), proven complete — no
// entry left out or added, "more" true — in one multiproof with the entries the page needs
// beside it (the objects an owner index names; parameters and committees). The pages of one
// listing are read at one height (Query.At), so together they describe one state. A
// receipt is the state's receipt entry of the height and index the node names
// (staking.ReceiptKey), with the transaction's hash in it; its reason text is the node's
// word (display only).

// Proven listing and receipt kinds.
const (
	QueryProvenCommittee Kind = 13 + iota // cursor[32] | at u64
	QueryProvenStakes                     // address[32] | cursor[32] | at u64
	QueryProvenBlobs                      // address[32] | cursor[32] | at u64
	QueryProvenWaitTx                     // tx_hash[32] | wait_ms u32 | after u64
)

// Page sizes of the proven listings, and so the caps a decoder and a verifier enforce.
// Proven blob pages are smaller than QueryBlobs' pages: each object comes with its share of
// the multiproof (about 10 hashes once the pages' paths spread below the shared top).
const (
	MaxProvenCandidatesPerPage = MaxCandidatesPerPage
	MaxProvenStakesPerPage     = MaxStakesPerPage
	MaxProvenBlobsPerPage      = 256
)

// maxPagePoints caps the single entries of a page: one per entry and a few extra.
const maxPagePoints = MaxProvenStakesPerPage + 8

// ProvenPageAnswer answers the proven listing kinds.
type ProvenPageAnswer struct {
	Height uint64
	At     Certified
	Page   staking.PageProof
	// Pools (QueryProvenCommittee only) are the node's word: each entry's stake pool, one
	// per entry, summed over every stake (no entry proves a sum).
	Pools []staking.Pool
}

const poolSize = 4*8 + 4

// EncodeProvenPageAnswer encodes a ProvenPageAnswer.
func EncodeProvenPageAnswer(a *ProvenPageAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = appendCertified(b, &a.At)
	b = wire.AppendBool(b, a.Page.More)
	b = append(b, a.Page.Next[:]...)
	b = wire.AppendU32(b, uint32(len(a.Page.Entries)))
	for _, e := range a.Page.Entries {
		b = wire.AppendU32Bytes(b, e)
	}
	b = wire.AppendU32(b, uint32(len(a.Page.Points)))
	for _, p := range a.Page.Points {
		b = wire.AppendBool(b, p != nil)
		if p != nil {
			b = wire.AppendU32Bytes(b, p)
		}
	}
	b = wire.AppendU32Bytes(b, a.Page.Proof)
	b = wire.AppendU32(b, uint32(len(a.Pools)))
	for _, p := range a.Pools {
		b = wire.AppendU64(b, p.Active)
		b = wire.AppendU64(b, p.Next)
		b = wire.AppendU64(b, p.Pending)
		b = wire.AppendU64(b, p.Withdrawing)
		b = wire.AppendU32(b, uint32(p.Stakes))
	}
	return b
}

// DecodeProvenPageAnswer parses an untrusted ProvenPageAnswer (shape and caps only; the
// client verifies).
func DecodeProvenPageAnswer(b []byte) (*ProvenPageAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &ProvenPageAnswer{Height: r.U64()}
	a.At = readCertified(&r)
	a.Page.More = r.Bool()
	r.Fixed(a.Page.Next[:])
	n := r.Count(4)
	if n > MaxProvenStakesPerPage {
		r.Failf("%d entries", n)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		e := r.U32Bytes(r.Len())
		if e == nil {
			e = []byte{} // never a valid entry: fails verification
		}
		a.Page.Entries = append(a.Page.Entries, e)
	}
	m := r.Count(1)
	if m > maxPagePoints {
		r.Failf("%d single entries", m)
	}
	for i := 0; i < m && r.Err() == nil; i++ {
		var v []byte
		if r.Bool() {
			if v = r.U32Bytes(r.Len()); v == nil {
				v = []byte{}
			}
		}
		a.Page.Points = append(a.Page.Points, v)
	}
	a.Page.Proof = r.U32Bytes(r.Len())
	k := r.Count(poolSize)
	if k > MaxProvenCandidatesPerPage {
		r.Failf("%d pools", k)
	}
	for i := 0; i < k && r.Err() == nil; i++ {
		a.Pools = append(a.Pools, staking.Pool{Active: r.U64(), Next: r.U64(), Pending: r.U64(), Withdrawing: r.U64(), Stakes: int(r.U32())})
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return a, nil
}

// ProvenWaitAnswer answers QueryProvenWaitTx: the receipt entry of the height and index
// where the node says the transaction was committed, proven at a later (or the same)
// certified checkpoint, with the reason text as the node's word.
type ProvenWaitAnswer struct {
	Height  uint64 // the checkpoint proven at
	At      Certified
	Where   uint64 // the height that committed the transaction
	Index   uint32 // its position there
	Message string // unproven
	Entry   ProvenEntry
}

// EncodeProvenWaitAnswer encodes a ProvenWaitAnswer; a message over MaxReceiptMessage is
// cut.
func EncodeProvenWaitAnswer(a *ProvenWaitAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = appendCertified(b, &a.At)
	b = wire.AppendU64(b, a.Where)
	b = wire.AppendU32(b, a.Index)
	b = wire.AppendU32Bytes(b, []byte(wire.CutUTF8(a.Message, MaxReceiptMessage)))
	return appendEntry(b, &a.Entry)
}

// DecodeProvenWaitAnswer parses an untrusted ProvenWaitAnswer.
func DecodeProvenWaitAnswer(b []byte) (*ProvenWaitAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &ProvenWaitAnswer{Height: r.U64()}
	a.At = readCertified(&r)
	a.Where, a.Index = r.U64(), r.U32()
	a.Message = string(r.U32Bytes(MaxReceiptMessage))
	a.Entry = readEntry(&r)
	if err := r.End(); err != nil {
		return nil, err
	}
	return a, nil
}

// ---- verification ----

func verifyPage(cp *staking.Checkpoint, l staking.Listing, cursor [32]byte, limit int, extra []staking.Key, a *ProvenPageAnswer) (named, extras [][]byte, err error) {
	named, extras, err = staking.VerifyPage(cp.StateRoot, l, cursor, limit, extra, &a.Page)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: page: %v", ErrUnverified, err)
	}
	return named, extras, nil
}

// VerifyCommitteePage checks a QueryProvenCommittee answer for the page after cursor
// against a verified checkpoint (of a network of nShards shards) and returns it as a
// CommitteeAnswer (candidates in path order; pools the node's word) and the cursor of the
// next page.
func VerifyCommitteePage(cp *staking.Checkpoint, cursor [32]byte, nShards int, a *ProvenPageAnswer) (*CommitteeAnswer, [32]byte, error) {
	extra := []staking.Key{staking.ParamsKey(), staking.CommitteeKey(false), staking.CommitteeKey(true)}
	_, ex, err := verifyPage(cp, staking.NodeListing(), cursor, MaxProvenCandidatesPerPage, extra, a)
	if err != nil {
		return nil, [32]byte{}, err
	}
	par, err := decodeParamsAt(cp, ex[0])
	if err != nil {
		return nil, [32]byte{}, err
	}
	com, err := decodeCommitteeAt(ex[1], cp.Epoch, nShards)
	if err != nil {
		return nil, [32]byte{}, err
	}
	var next *epoch.Committee
	if ex[2] != nil {
		if next, err = decodeCommitteeAt(ex[2], cp.Epoch+1, nShards); err != nil {
			return nil, [32]byte{}, err
		}
	}
	ans := &CommitteeAnswer{Height: cp.Height, Epoch: cp.Epoch, NShards: par.Config.NShards, More: a.Page.More, Proven: true}
	if next != nil {
		ans.NextSelected, ans.NextPrices = true, par.NextPrices
	}
	var last [32]byte
	for i, v := range a.Page.Entries {
		nd, err := staking.DecodeNodeEntry(v)
		if err != nil { // verified entries decode; never
			return nil, [32]byte{}, fmt.Errorf("%w: node entry: %v", ErrUnverified, err)
		}
		c := Candidate{Node: nd.ID, Operator: nd.Operator, PeerID: nd.PeerID, Addrs: nd.Addrs,
			Commission: nd.Commission, NextCommission: nd.NextCommission, NextCommissionEpoch: nd.NextCommissionEpoch,
			StoragePrice: nd.StoragePrice, WritePrice: nd.WritePrice, Capacity: nd.Capacity}
		if len(a.Pools) == len(a.Page.Entries) {
			c.Pool = a.Pools[i]
		}
		if m := com.MemberIndex(nd.ID); m >= 0 {
			c.Shards = com.Members[m].Shards
		}
		if next != nil {
			if m := next.MemberIndex(nd.ID); m >= 0 {
				c.NextShards = next.Members[m].Shards
			}
		}
		ans.Candidates = append(ans.Candidates, c)
		last = staking.NodeKey(nd.ID).Path()
	}
	return ans, last, nil
}

func decodeParamsAt(cp *staking.Checkpoint, v []byte) (*staking.Params, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: no parameters", ErrUnverified)
	}
	p, err := staking.DecodeParams(v)
	if err != nil {
		return nil, fmt.Errorf("%w: parameters: %v", ErrUnverified, err)
	}
	if p.Network != cp.Network || p.Epoch != cp.Epoch || p.Time != cp.Time {
		return nil, fmt.Errorf("%w: parameters of epoch %d time %d in a checkpoint of epoch %d time %d", ErrUnverified, p.Epoch, p.Time, cp.Epoch, cp.Time)
	}
	return p, nil
}

func decodeCommitteeAt(v []byte, ep uint32, nShards int) (*epoch.Committee, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: no committee of epoch %d", ErrUnverified, ep)
	}
	c, err := staking.DecodeCommitteeEntry(v)
	if err != nil {
		return nil, fmt.Errorf("%w: committee: %v", ErrUnverified, err)
	}
	if c.Epoch != ep || c.NShards != nShards || len(c.Members) == 0 {
		return nil, fmt.Errorf("%w: committee of epoch %d with %d shards, want epoch %d with %d", ErrUnverified, c.Epoch, c.NShards, ep, nShards)
	}
	return c, nil
}

// ownerPage checks an owner listing's page and returns the named objects' values (of
// owner's entries only) and the next cursor.
func ownerPage(cp *staking.Checkpoint, l staking.Listing, index func(staking.Address, staking.ObjectID) staking.Key,
	owner staking.Address, cursor [32]byte, limit int, extra []staking.Key, a *ProvenPageAnswer) (objs [][]byte, ids []staking.ObjectID, ex [][]byte, next [32]byte, err error) {
	named, ex, err := verifyPage(cp, l, cursor, limit, extra, a)
	if err != nil {
		return nil, nil, nil, next, err
	}
	for i, v := range a.Page.Entries {
		o, id := staking.Address(v[:32]), staking.ObjectID(v[32:]) // 64 bytes: verified
		next = index(o, id).Path()
		if o != owner {
			continue // another owner sharing the range
		}
		if named[i] == nil {
			return nil, nil, nil, next, fmt.Errorf("%w: owner-index entry of object %s without the object", ErrUnverified, id)
		}
		objs, ids = append(objs, named[i]), append(ids, id)
	}
	return objs, ids, ex, next, nil
}

// VerifyStakesPage checks a QueryProvenStakes answer for owner's page after cursor
// against a verified checkpoint and returns it as a StakesAnswer (stakes in path order)
// and the cursor of the next page.
func VerifyStakesPage(cp *staking.Checkpoint, owner staking.Address, cursor [32]byte, a *ProvenPageAnswer) (*StakesAnswer, [32]byte, error) {
	objs, ids, ex, next, err := ownerPage(cp, staking.StakeListing(owner), staking.StakeIndexKey, owner, cursor,
		MaxProvenStakesPerPage, []staking.Key{staking.CommitteeKey(true)}, a)
	if err != nil {
		return nil, next, err
	}
	ans := &StakesAnswer{Height: cp.Height, Epoch: cp.Epoch, FirstUnselected: cp.Epoch + 1, More: a.Page.More, Proven: true}
	if ex[0] != nil {
		ans.FirstUnselected = cp.Epoch + 2 // the next committee is selected
	}
	for i, v := range objs {
		st, err := staking.DecodeStakeEntry(v)
		if err != nil || st.ID != ids[i] || st.Owner != owner {
			return nil, next, fmt.Errorf("%w: stake %s does not match its owner-index entry", ErrUnverified, ids[i])
		}
		ans.Stakes = append(ans.Stakes, StakeInfo{ID: st.ID, Node: st.Node, Amount: st.Amount, Activation: st.Activation,
			Withdrawing: st.Withdrawing, WithdrawAt: st.WithdrawAt})
	}
	return ans, next, nil
}

// VerifyBlobsPage checks a QueryProvenBlobs answer for owner's page after cursor against
// a verified checkpoint and returns it as a BlobsAnswer (objects in path order, without
// attributes) and the cursor of the next page.
func VerifyBlobsPage(cp *staking.Checkpoint, owner staking.Address, cursor [32]byte, a *ProvenPageAnswer) (*BlobsAnswer, [32]byte, error) {
	objs, ids, _, next, err := ownerPage(cp, staking.BlobListing(owner), staking.BlobIndexKey, owner, cursor,
		MaxProvenBlobsPerPage, nil, a)
	if err != nil {
		return nil, next, err
	}
	ans := &BlobsAnswer{Height: cp.Height, Epoch: cp.Epoch, More: a.Page.More, Proven: true}
	for i, v := range objs {
		b, err := staking.DecodeBlobObject(v)
		if err != nil || b.ID != ids[i] || b.Owner != owner {
			return nil, next, fmt.Errorf("%w: blob object %s does not match its owner-index entry", ErrUnverified, ids[i])
		}
		b.Attributes = nil
		ans.Blobs = append(ans.Blobs, *b)
	}
	return ans, next, nil
}

// VerifyReceipt checks a QueryProvenWaitTx answer against a verified checkpoint: the
// receipt entry is proven, it is of the transaction hash, and it was committed above
// height after. It returns the receipt (its message the node's word).
func VerifyReceipt(cp *staking.Checkpoint, hash [32]byte, after uint64, a *ProvenWaitAnswer) (TxReceipt, error) {
	switch {
	case a.Where <= after:
		return TxReceipt{}, fmt.Errorf("%w: a receipt of height %d, not above %d", ErrUnverified, a.Where, after)
	case a.Where > cp.Height:
		return TxReceipt{}, fmt.Errorf("%w: a receipt of height %d proven at height %d", ErrUnverified, a.Where, cp.Height)
	}
	if err := VerifyEntry(cp, staking.ReceiptKey(a.Where, a.Index), &a.Entry); err != nil {
		return TxReceipt{}, fmt.Errorf("receipt: %w", err)
	}
	if a.Entry.Value == nil {
		return TxReceipt{}, fmt.Errorf("%w: no receipt at height %d index %d", ErrUnverified, a.Where, a.Index)
	}
	e, err := staking.DecodeReceiptEntry(a.Entry.Value)
	if err != nil {
		return TxReceipt{}, fmt.Errorf("%w: receipt: %v", ErrUnverified, err)
	}
	if e.TxHash != hash || e.Height != a.Where || e.Index != a.Index {
		return TxReceipt{}, fmt.Errorf("%w: the receipt at height %d index %d is of another transaction", ErrUnverified, a.Where, a.Index)
	}
	msg := a.Message
	if e.Code == staking.OK {
		msg = "" // no reason for a success, whatever the node says
	}
	return TxReceipt{Hash: hash, Height: e.Height, Index: e.Index,
		Receipt: staking.Receipt{Code: e.Code, Message: msg, Fee: e.Fee, Created: e.Created}}, nil
}
