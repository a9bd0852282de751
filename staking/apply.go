package staking

import (
	"math/bits"
	"sort"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/epoch/bls"
)

// Apply decodes, verifies and applies one signed transaction in its canonical encoding.
// A rejected transaction changes nothing, not even the nonce (see the package comment).
func (s *State) Apply(raw []byte) Receipt {
	tx, err := DecodeSignedTx(raw)
	if err != nil {
		return reject(CodeMalformed, "%v", err)
	}
	return s.ApplyTx(tx)
}

// ApplyTx verifies and applies one decoded signed transaction.
func (s *State) ApplyTx(tx *SignedTx) Receipt {
	if tx.Tx.Op == nil {
		return reject(CodeMalformed, "no operation")
	}
	if !tx.Verify(s.network) {
		return reject(CodeBadSignature, "signature does not verify")
	}
	c := &txCtx{sender: AddressOf(tx.Tx.Sender), nonce: tx.Tx.Nonce}
	acc := s.accounts[c.sender]
	var want uint64
	if acc != nil {
		want = acc.Nonce
	}
	if tx.Tx.Nonce != want {
		return reject(CodeBadNonce, "nonce %d, want %d", tx.Tx.Nonce, want)
	}
	var r Receipt
	switch op := tx.Tx.Op.(type) {
	case *Transfer:
		r = s.transfer(c, op)
	case *ReserveStorage:
		r = s.reserve(c, op)
	case *SplitStorageEpoch:
		r = s.splitEpoch(c, op)
	case *SplitStorageSize:
		r = s.splitSize(c, op)
	case *RegisterBlob:
		r = s.registerBlob(c, op)
	case *CertifyBlob:
		r = s.certifyBlob(op)
	case *InvalidateBlob:
		r = s.invalidateBlob(op)
	case *DeleteBlob:
		r = s.deleteBlob(c, op)
	case *ExtendBlob:
		r = s.extendBlob(c, op)
	case *SetAttribute:
		r = s.setAttribute(c, op)
	case *RemoveAttribute:
		r = s.removeAttribute(c, op)
	case *RegisterNode:
		r = s.registerNode(c, op)
	case *UpdateNode:
		r = s.updateNode(c, op)
	case *StakeOp:
		r = s.stake(c, op)
	case *RequestWithdraw:
		r = s.requestWithdraw(c, op)
	case *Withdraw:
		r = s.withdraw(c, op)
	case *SyncDone:
		r = s.syncDoneTx(op)
	case *ChallengeResults:
		r = s.challengeResults(op)
	default:
		return reject(CodeMalformed, "unknown operation")
	}
	if r.OK() {
		// Only a successful transaction consumes the nonce; it creates the account if
		// needed (e.g. a fresh key submitting a certificate).
		s.account(c.sender).Nonce++
	}
	return r
}

// txCtx is what every handler knows about the transaction it applies.
type txCtx struct {
	sender Address
	nonce  uint64
}

// newID is the idx-th object ID the transaction creates.
func (c *txCtx) newID(idx uint8) ObjectID { return DeriveObjectID(c.sender, c.nonce, idx) }

// Handlers below check everything first and mutate only after the last check, so a
// rejection leaves the state untouched (FuzzApply and TestRejectionsChangeNothing check the
// state root for this).

func (s *State) account(a Address) *Account {
	acc := s.accounts[a]
	if acc == nil {
		acc = &Account{}
		s.accounts[a] = acc
	}
	return acc
}

func (s *State) balance(a Address) uint64 {
	if acc := s.accounts[a]; acc != nil {
		return acc.Balance
	}
	return 0
}

// credit adds to a balance. It cannot overflow: every FROST amount is part of the supply,
// which fits in uint64 (checked at genesis) and is conserved.
func (s *State) credit(a Address, v uint64) { s.account(a).Balance += v }

func units(size uint64) uint64 {
	u := size / BillingUnit
	if size%BillingUnit != 0 {
		u++
	}
	return u
}

func mul(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0
}

// storageCost is price × units(size) per epoch and in total over epochs (PROTOCOL.md §6).
func (s *State) storageCost(size uint64, epochs uint32) (perEpoch, total uint64, ok bool) {
	perEpoch, ok = mul(s.prices.Storage, units(size))
	if !ok {
		return 0, 0, false
	}
	total, ok = mul(perEpoch, uint64(epochs))
	return perEpoch, total, ok
}

// checkCapacity reports whether size more bytes fit in every epoch of [from, to).
func (s *State) checkCapacity(size uint64, from, to uint32) bool {
	for e := from; e < to; e++ {
		if size > s.prices.Capacity || s.reserved[e] > s.prices.Capacity-size {
			return false
		}
	}
	return true
}

// buy charges perEpoch for each epoch of [from, to) into that epoch's income, reserving size.
func (s *State) buy(payer Address, size, perEpoch, total uint64, from, to uint32) {
	s.accounts[payer].Balance -= total
	for e := from; e < to; e++ {
		if perEpoch > 0 {
			s.income[e] += perEpoch
		}
		s.reserved[e] += size
	}
}

func (s *State) checkAhead(end uint32) bool { return uint64(end) <= uint64(s.ep)+MaxEpochsAhead }

func (s *State) transfer(c *txCtx, op *Transfer) Receipt {
	if op.Amount == 0 {
		return reject(CodeInvalidArgument, "zero transfer")
	}
	if s.balance(c.sender) < op.Amount {
		return reject(CodeInsufficient, "balance %d < %d", s.balance(c.sender), op.Amount)
	}
	s.accounts[c.sender].Balance -= op.Amount
	s.credit(op.To, op.Amount)
	return Receipt{}
}

func (s *State) reserve(c *txCtx, op *ReserveStorage) Receipt {
	if op.Size == 0 || op.End <= op.Start || op.Start < s.ep {
		return reject(CodeInvalidArgument, "size %d epochs [%d,%d) at epoch %d", op.Size, op.Start, op.End, s.ep)
	}
	if !s.checkAhead(op.End) {
		return reject(CodeTooFarAhead, "end %d > epoch %d + %d", op.End, s.ep, MaxEpochsAhead)
	}
	if !s.checkCapacity(op.Size, op.Start, op.End) {
		return reject(CodeCapacity, "%d bytes do not fit the capacity %d", op.Size, s.prices.Capacity)
	}
	per, total, ok := s.storageCost(op.Size, op.End-op.Start)
	if !ok {
		return reject(CodeOverflow, "storage cost overflows")
	}
	if s.balance(c.sender) < total {
		return reject(CodeInsufficient, "balance %d < cost %d", s.balance(c.sender), total)
	}
	s.account(c.sender)
	s.buy(c.sender, op.Size, per, total, op.Start, op.End)
	id := c.newID(0)
	s.storage[id] = &Storage{ID: id, Owner: c.sender, Start: op.Start, End: op.End, Size: op.Size}
	return Receipt{}
}

func (s *State) ownedStorage(c *txCtx, id ObjectID) (*Storage, Receipt) {
	st := s.storage[id]
	if st == nil {
		return nil, reject(CodeUnknownObject, "no storage %s", id)
	}
	if st.Owner != c.sender {
		return nil, reject(CodeNotOwner, "storage %s", id)
	}
	return st, Receipt{}
}

func (s *State) splitEpoch(c *txCtx, op *SplitStorageEpoch) Receipt {
	st, r := s.ownedStorage(c, op.Storage)
	if !r.OK() {
		return r
	}
	if op.At <= st.Start || op.At >= st.End {
		return reject(CodeInvalidArgument, "split epoch %d outside (%d,%d)", op.At, st.Start, st.End)
	}
	id := c.newID(0)
	s.storage[id] = &Storage{ID: id, Owner: c.sender, Start: op.At, End: st.End, Size: st.Size}
	st.End = op.At
	return Receipt{}
}

func (s *State) splitSize(c *txCtx, op *SplitStorageSize) Receipt {
	st, r := s.ownedStorage(c, op.Storage)
	if !r.OK() {
		return r
	}
	if op.Take == 0 || op.Take >= st.Size {
		return reject(CodeInvalidArgument, "split size %d of %d", op.Take, st.Size)
	}
	id := c.newID(0)
	s.storage[id] = &Storage{ID: id, Owner: c.sender, Start: st.Start, End: st.End, Size: op.Take}
	st.Size -= op.Take
	return Receipt{}
}

func (s *State) registerBlob(c *txCtx, op *RegisterBlob) Receipt {
	if op.Encoding != codec.EncodingTypeRS2 {
		return reject(CodeInvalidArgument, "encoding type %d", op.Encoding)
	}
	if codec.ComputeBlobID(op.Encoding, op.Length, op.Root) != op.BlobID {
		return reject(CodeInvalidArgument, "blob ID does not match length and root")
	}
	if _, bad := s.invalid[op.BlobID]; bad {
		return reject(CodeBlobInvalid, "blob %s is invalid", op.BlobID)
	}
	st, r := s.ownedStorage(c, op.Storage)
	if !r.OK() {
		return r
	}
	if st.Start > s.ep || st.End <= s.ep {
		return reject(CodeExpired, "storage [%d,%d) not live at epoch %d", st.Start, st.End, s.ep)
	}
	p, err := codec.NewParams(s.cfg.NShards)
	if err != nil {
		return reject(CodeInvalidArgument, "%v", err)
	}
	enc, err := p.EncodedLength(op.Length)
	if err != nil {
		return reject(CodeInvalidArgument, "%v", err)
	}
	if enc > st.Size {
		return reject(CodeInvalidArgument, "encoded size %d > storage %d", enc, st.Size)
	}
	fee, ok := mul(s.prices.Write, units(enc))
	if !ok {
		return reject(CodeOverflow, "write fee overflows")
	}
	if s.balance(c.sender) < fee {
		return reject(CodeInsufficient, "balance %d < write fee %d", s.balance(c.sender), fee)
	}
	if fee > 0 {
		s.accounts[c.sender].Balance -= fee
		s.income[s.ep] += fee
	}
	delete(s.storage, st.ID)
	b := &Blob{
		ID: c.newID(0), Owner: c.sender, BlobID: op.BlobID, Root: op.Root, Length: op.Length,
		Encoding: op.Encoding, EncodedSize: enc, Storage: *st, Deletable: op.Deletable,
		Registered: s.ep,
	}
	s.blobs[b.ID] = b
	s.indexBlob(b)
	return Receipt{}
}

// verifyCert checks a certificate against the current committee, using the checkpoint's
// parallel pre-verification when it covered this certificate.
func (s *State) verifyCert(msg []byte, cert *epoch.Certificate, th epoch.Threshold) error {
	if err, ok := s.preverified[cert]; ok {
		return err
	}
	return s.committee.VerifyCertificate(msg, cert, th)
}

func (s *State) certifyBlob(op *CertifyBlob) Receipt {
	b := s.blobs[op.Blob]
	if b == nil {
		return reject(CodeUnknownObject, "no blob object %s", op.Blob)
	}
	if b.BlobID != op.BlobID || b.Deletable != op.Deletable {
		return reject(CodeInvalidArgument, "blob ID or persistence does not match object")
	}
	if _, bad := s.invalid[b.BlobID]; bad {
		return reject(CodeBlobInvalid, "blob %s is invalid", b.BlobID)
	}
	if b.Storage.End <= s.ep {
		return reject(CodeExpired, "blob expired at epoch %d", b.Storage.End)
	}
	if b.Certified {
		return reject(CodeAlreadyDone, "already certified in epoch %d", b.CertEpoch)
	}
	if op.Cert.Epoch != s.ep {
		return reject(CodeWrongEpoch, "certificate epoch %d, current %d", op.Cert.Epoch, s.ep)
	}
	msg := ConfirmationMessage(s.network, s.ep, b.BlobID, b.Deletable, b.ID)
	if err := s.verifyCert(msg, &op.Cert, epoch.ThresholdQuorum); err != nil {
		return reject(CodeBadCertificate, "%v", err)
	}
	b.Certified, b.CertEpoch = true, s.ep
	return Receipt{}
}

func (s *State) invalidateBlob(op *InvalidateBlob) Receipt {
	if e, bad := s.invalid[op.BlobID]; bad {
		return reject(CodeAlreadyDone, "invalidated in epoch %d", e)
	}
	if op.Cert.Epoch != s.ep {
		return reject(CodeWrongEpoch, "certificate epoch %d, current %d", op.Cert.Epoch, s.ep)
	}
	msg := InvalidBlobMessage(s.network, s.ep, op.BlobID)
	if err := s.verifyCert(msg, &op.Cert, epoch.ThresholdValidity); err != nil {
		return reject(CodeBadCertificate, "%v", err)
	}
	s.invalid[op.BlobID] = s.ep
	return Receipt{}
}

func (s *State) ownedBlob(c *txCtx, id ObjectID) (*Blob, Receipt) {
	b := s.blobs[id]
	if b == nil {
		return nil, reject(CodeUnknownObject, "no blob object %s", id)
	}
	if b.Owner != c.sender {
		return nil, reject(CodeNotOwner, "blob object %s", id)
	}
	if b.Storage.End <= s.ep {
		return nil, reject(CodeExpired, "blob expired at epoch %d", b.Storage.End)
	}
	return b, Receipt{}
}

func (s *State) deleteBlob(c *txCtx, op *DeleteBlob) Receipt {
	b, r := s.ownedBlob(c, op.Blob)
	if !r.OK() {
		return r
	}
	if !b.Deletable {
		return reject(CodeNotDeletable, "blob object %s is permanent", op.Blob)
	}
	delete(s.blobs, b.ID)
	s.unindexBlob(b)
	// The resource comes back (PROTOCOL.md §6) under a fresh ID, from the current epoch on
	// (epochs already past are of no use to anyone).
	id := c.newID(0)
	s.storage[id] = &Storage{ID: id, Owner: c.sender, Start: max(b.Storage.Start, s.ep), End: b.Storage.End, Size: b.Storage.Size}
	return Receipt{}
}

func (s *State) extendBlob(c *txCtx, op *ExtendBlob) Receipt {
	b, r := s.ownedBlob(c, op.Blob)
	if !r.OK() {
		return r
	}
	if _, bad := s.invalid[b.BlobID]; bad {
		return reject(CodeBlobInvalid, "blob %s is invalid", b.BlobID)
	}
	if op.End <= b.Storage.End {
		return reject(CodeInvalidArgument, "new end %d <= end %d", op.End, b.Storage.End)
	}
	if !s.checkAhead(op.End) {
		return reject(CodeTooFarAhead, "end %d > epoch %d + %d", op.End, s.ep, MaxEpochsAhead)
	}
	size := b.Storage.Size
	if !s.checkCapacity(size, b.Storage.End, op.End) {
		return reject(CodeCapacity, "%d bytes do not fit the capacity %d", size, s.prices.Capacity)
	}
	per, total, ok := s.storageCost(size, op.End-b.Storage.End)
	if !ok {
		return reject(CodeOverflow, "storage cost overflows")
	}
	if s.balance(c.sender) < total {
		return reject(CodeInsufficient, "balance %d < cost %d", s.balance(c.sender), total)
	}
	s.buy(c.sender, size, per, total, b.Storage.End, op.End)
	b.Storage.End = op.End
	return Receipt{}
}

func (s *State) setAttribute(c *txCtx, op *SetAttribute) Receipt {
	if op.Key == "" || len(op.Key) > MaxAttrKeyLen || len(op.Value) > MaxAttrValueLen {
		return reject(CodeInvalidArgument, "attribute key %d bytes, value %d bytes", len(op.Key), len(op.Value))
	}
	b, r := s.ownedBlob(c, op.Blob)
	if !r.OK() {
		return r
	}
	i := sort.Search(len(b.Attributes), func(i int) bool { return b.Attributes[i].Key >= op.Key })
	if i < len(b.Attributes) && b.Attributes[i].Key == op.Key {
		b.Attributes[i].Value = op.Value
		return Receipt{}
	}
	if len(b.Attributes) >= MaxAttributes {
		return reject(CodeInvalidArgument, "more than %d attributes", MaxAttributes)
	}
	b.Attributes = append(b.Attributes, Attribute{})
	copy(b.Attributes[i+1:], b.Attributes[i:])
	b.Attributes[i] = Attribute{Key: op.Key, Value: op.Value}
	return Receipt{}
}

func (s *State) removeAttribute(c *txCtx, op *RemoveAttribute) Receipt {
	b, r := s.ownedBlob(c, op.Blob)
	if !r.OK() {
		return r
	}
	i := sort.Search(len(b.Attributes), func(i int) bool { return b.Attributes[i].Key >= op.Key })
	if i == len(b.Attributes) || b.Attributes[i].Key != op.Key {
		return reject(CodeUnknownObject, "no attribute %q", op.Key)
	}
	b.Attributes = append(b.Attributes[:i:i], b.Attributes[i+1:]...)
	return Receipt{}
}

func (s *State) registerNode(c *txCtx, op *RegisterNode) Receipt {
	if err := validateInfo(&op.Info); err != nil {
		return reject(CodeInvalidArgument, "%v", err)
	}
	id := NodeIDOf(op.BLSKey)
	if _, dup := s.nodes[id]; dup {
		return reject(CodeAlreadyDone, "node already registered")
	}
	if err := bls.VerifyPossession(op.BLSKey, op.PoP); err != nil {
		return reject(CodeBadCertificate, "proof of possession: %v", err)
	}
	s.nodes[id] = nodeFromInfo(id, c.sender, op.BLSKey, &op.Info)
	return Receipt{}
}

func (s *State) updateNode(c *txCtx, op *UpdateNode) Receipt {
	nd := s.nodes[op.Node]
	if nd == nil {
		return reject(CodeUnknownObject, "no node")
	}
	if nd.Operator != c.sender {
		return reject(CodeNotOwner, "not the node's operator")
	}
	if err := validateInfo(&op.Info); err != nil {
		return reject(CodeInvalidArgument, "%v", err)
	}
	nd.PeerID = op.Info.PeerID
	nd.Addrs = append([]string(nil), op.Info.Addrs...)
	nd.StoragePrice, nd.WritePrice, nd.Capacity = op.Info.StoragePrice, op.Info.WritePrice, op.Info.Capacity
	// Commission changes take effect two epochs later (PROTOCOL.md §6), so delegators can
	// withdraw before a raise applies to them.
	if op.Info.Commission != nd.Commission || nd.NextCommissionEpoch != 0 {
		nd.NextCommission, nd.NextCommissionEpoch = op.Info.Commission, s.ep+2
	}
	return Receipt{}
}

// lastSelected is the last epoch whose committee is already chosen.
func (s *State) lastSelected() uint32 {
	if s.next != nil {
		return s.ep + 1
	}
	return s.ep
}

func (s *State) stake(c *txCtx, op *StakeOp) Receipt {
	if s.nodes[op.Node] == nil {
		return reject(CodeUnknownObject, "no node")
	}
	if op.Amount == 0 {
		return reject(CodeInvalidArgument, "zero stake")
	}
	if s.balance(c.sender) < op.Amount {
		return reject(CodeInsufficient, "balance %d < %d", s.balance(c.sender), op.Amount)
	}
	s.accounts[c.sender].Balance -= op.Amount
	// Mid-epoch rule (PROTOCOL.md §6): stake counts from the first committee not yet chosen,
	// e+1 before the mid-epoch selection, e+2 after it.
	id := c.newID(0)
	s.stakes[id] = &Stake{ID: id, Owner: c.sender, Node: op.Node, Amount: op.Amount, Activation: s.lastSelected() + 1}
	return Receipt{}
}

func (s *State) requestWithdraw(c *txCtx, op *RequestWithdraw) Receipt {
	st := s.stakes[op.Stake]
	if st == nil {
		return reject(CodeUnknownObject, "no stake %s", op.Stake)
	}
	if st.Owner != c.sender {
		return reject(CodeNotOwner, "stake %s", op.Stake)
	}
	if st.Withdrawing {
		return reject(CodeAlreadyDone, "already withdrawing from epoch %d", st.WithdrawAt)
	}
	last := s.lastSelected()
	st.Withdrawing = true
	if st.Activation > last {
		// Never counted in a chosen committee: withdrawable at once.
		st.WithdrawAt = s.ep
	} else {
		// It backs the committees already chosen; free after the next boundary past them.
		st.WithdrawAt = last + 1
	}
	return Receipt{}
}

func (s *State) withdraw(c *txCtx, op *Withdraw) Receipt {
	st := s.stakes[op.Stake]
	if st == nil {
		return reject(CodeUnknownObject, "no stake %s", op.Stake)
	}
	if st.Owner != c.sender {
		return reject(CodeNotOwner, "stake %s", op.Stake)
	}
	if !st.Withdrawing || st.WithdrawAt > s.ep {
		return reject(CodeNotWithdrawable, "stake not withdrawable at epoch %d", s.ep)
	}
	delete(s.stakes, st.ID)
	s.credit(c.sender, st.Amount)
	return Receipt{}
}

func (s *State) member(id epoch.NodeID) (*epoch.Member, Receipt) {
	i := s.committee.MemberIndex(id)
	if i < 0 {
		return nil, reject(CodeNotMember, "node not in the epoch %d committee", s.ep)
	}
	return &s.committee.Members[i], Receipt{}
}

func (s *State) syncDoneTx(op *SyncDone) Receipt {
	m, r := s.member(op.Node)
	if !r.OK() {
		return r
	}
	if op.Epoch != s.ep {
		return reject(CodeWrongEpoch, "sync done for epoch %d, current %d", op.Epoch, s.ep)
	}
	if s.syncDone[op.Node] {
		return reject(CodeAlreadyDone, "sync done already recorded")
	}
	if err := bls.Verify(m.BLSKey, SyncDoneMessage(s.network, s.ep, op.Node), op.Sig); err != nil {
		return reject(CodeBadCertificate, "%v", err)
	}
	s.syncDone[op.Node] = true
	return Receipt{}
}

func (s *State) challengeResults(op *ChallengeResults) Receipt {
	m, r := s.member(op.Attester)
	if !r.OK() {
		return r
	}
	if op.Epoch != s.ep {
		return reject(CodeWrongEpoch, "results for epoch %d, current %d", op.Epoch, s.ep)
	}
	if len(op.Results) == 0 || len(op.Results) > MaxChallengeList {
		return reject(CodeInvalidArgument, "%d results", len(op.Results))
	}
	for i, res := range op.Results {
		if i > 0 && !lessID32(op.Results[i-1].Node, res.Node) {
			return reject(CodeInvalidArgument, "results not strictly ordered by node ID")
		}
		if s.committee.MemberIndex(res.Node) < 0 {
			return reject(CodeNotMember, "result for a node outside the committee")
		}
		if _, dup := s.challenges[[2]epoch.NodeID{res.Node, op.Attester}]; dup {
			return reject(CodeAlreadyDone, "result already attested")
		}
	}
	if err := bls.Verify(m.BLSKey, ChallengeMessage(s.network, s.ep, op.Results), op.Sig); err != nil {
		return reject(CodeBadCertificate, "%v", err)
	}
	for _, res := range op.Results {
		s.challenges[[2]epoch.NodeID{res.Node, op.Attester}] = res.Pass
	}
	return Receipt{}
}
