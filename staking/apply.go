package staking

import "math/bits"

// Apply decodes, verifies and applies one signed transaction in its canonical encoding.
// See ApplyTx for what a rejection changes.
func (s *State) Apply(raw []byte) Receipt {
	tx, err := DecodeSignedTx(raw)
	if err != nil {
		return reject(CodeMalformed, "%v", err)
	}
	return s.applyTx(tx, len(raw))
}

// ApplyTx verifies and applies one decoded signed transaction. Admission comes first,
// cheapest check first: an operation, the expiry height, the fee (the sender's balance
// must cover max(tx.Fee, RequiredFee)), the Ed25519 signature, the nonce. A transaction
// failing admission changes nothing at all. An admitted one pays its fee (into the current
// epoch's income) and consumes its nonce before its operation runs, so an operation the
// state then refuses still costs its sender and can never execute later.
func (s *State) ApplyTx(tx *SignedTx) Receipt { return s.applyTx(tx, tx.Size()) }

func (s *State) applyTx(tx *SignedTx, size int) Receipt {
	if tx.Tx.Op == nil {
		return reject(CodeMalformed, "no operation")
	}
	c := &txCtx{sender: AddressOf(tx.Tx.Sender), nonce: tx.Tx.Nonce}
	acc := s.accounts.get(c.sender)
	var want, bal uint64
	if acc != nil {
		want, bal = acc.Nonce, acc.Balance
	}
	fee, fr := s.feeCheck(&tx.Tx, size, bal)
	if !fr.OK() {
		return fr
	}
	if !tx.Verify(s.network) {
		return reject(CodeBadSignature, "signature does not verify")
	}
	if tx.Tx.Nonce != want {
		return reject(CodeBadNonce, "nonce %d, want %d", tx.Tx.Nonce, want)
	}
	// Admitted: pay and consume the nonce (creating the account if needed, e.g. a fresh key
	// submitting a certificate under a zero fee schedule).
	a := s.account(c.sender)
	a.Balance -= fee
	a.Nonce++
	if fee > 0 {
		addEpoch(&s.income, s.ep, fee)
	}
	r := s.applyOp(c, tx.Tx.Op)
	r.Fee = fee
	if r.OK() {
		switch tx.Tx.Op.(type) {
		case *ReserveStorage, *SplitStorageEpoch, *SplitStorageSize, *RegisterBlob, *DeleteBlob, *StakeOp:
			r.Created = c.newID(0)
		}
	}
	return r
}

// applyOp runs one operation's checks and effects (apply_blob.go, apply_node.go).
func (s *State) applyOp(c *txCtx, op Op) Receipt {
	var r Receipt
	switch op := op.(type) {
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
	return r
}

// txCtx is what every handler knows about the transaction it applies.
type txCtx struct {
	sender Address
	nonce  uint64
}

// newID is the idx-th object ID the transaction creates.
func (c *txCtx) newID(idx uint8) ObjectID { return DeriveObjectID(c.sender, c.nonce, idx) }

// Every operation handler (apply_blob.go, apply_node.go) checks everything first and
// mutates only after the last check, so a rejection leaves the state untouched (FuzzApply
// and the script harness check the state root after every rejection).

// account returns a writable account, creating it if needed.
func (s *State) account(a Address) *Account {
	acc := s.accounts.mut(a)
	if acc == nil {
		acc = &acctEntry{Addr: a}
		s.accounts.put(a, acc)
	}
	return &acc.Account
}

func (s *State) balance(a Address) uint64 {
	if acc := s.accounts.get(a); acc != nil {
		return acc.Balance
	}
	return 0
}

// credit adds to a balance. It cannot overflow: every FROST amount is part of the supply,
// which fits in uint64 (checked at genesis) and is conserved.
func (s *State) credit(a Address, v uint64) { s.account(a).Balance += v }

// units is the number of billing units (BillingUnit, 1 MiB) that size bytes take, rounded up.
func units(size uint64) uint64 {
	u := size / BillingUnit
	if size%BillingUnit != 0 {
		u++
	}
	return u
}

// mul is a × b and whether it did not overflow.
func mul(a, b uint64) (uint64, bool) {
	hi, lo := bits.Mul64(a, b)
	return lo, hi == 0
}

// reservationCost is what ReserveStorage of size bytes for epochs epochs charges at prices:
// storage price × units(size) per epoch, and that times epochs in total (docs/protocol.md §6).
// ok is false on overflow.
func reservationCost(prices Prices, size uint64, epochs uint32) (perEpoch, total uint64, ok bool) {
	perEpoch, ok = mul(prices.Storage, units(size))
	if !ok {
		return 0, 0, false
	}
	total, ok = mul(perEpoch, uint64(epochs))
	return perEpoch, total, ok
}

// writeFee is what RegisterBlob charges for a blob of encodedLen encoded bytes at prices:
// write price × units(encodedLen). ok is false on overflow.
func writeFee(prices Prices, encodedLen uint64) (uint64, bool) {
	return mul(prices.Write, units(encodedLen))
}

// StorageCost is what storing a blob of encodedLen encoded bytes for epochs epochs costs a
// client at prices: the reservation of encodedLen bytes for those epochs (storage price ×
// 1 MiB units × epochs) plus the write fee of registering it (write price × units), exactly
// what a ReserveStorage and a RegisterBlob of that size charge (docs/protocol.md §6). ok is
// false when the cost does not fit in a uint64.
func StorageCost(prices Prices, encodedLen uint64, epochs uint32) (cost uint64, ok bool) {
	_, reserve, ok := reservationCost(prices, encodedLen, epochs)
	if !ok {
		return 0, false
	}
	fee, ok := writeFee(prices, encodedLen)
	if !ok || reserve+fee < reserve {
		return 0, false
	}
	return reserve + fee, true
}

// storageCost is reservationCost at the current prices.
func (s *State) storageCost(size uint64, epochs uint32) (perEpoch, total uint64, ok bool) {
	return reservationCost(s.prices, size, epochs)
}

// checkCapacity reports whether size more bytes fit in every epoch of [from, to).
func (s *State) checkCapacity(size uint64, from, to uint32) bool {
	for e := from; e < to; e++ {
		if size > s.prices.Capacity || s.reservedAt(e) > s.prices.Capacity-size {
			return false
		}
	}
	return true
}

// buy charges perEpoch for each epoch of [from, to) into that epoch's income, reserving size.
func (s *State) buy(payer Address, size, perEpoch, total uint64, from, to uint32) {
	s.account(payer).Balance -= total
	for e := from; e < to; e++ {
		if perEpoch > 0 {
			addEpoch(&s.income, e, perEpoch)
		}
		addEpoch(&s.reserved, e, size)
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
	s.account(c.sender).Balance -= op.Amount
	s.credit(op.To, op.Amount)
	return Receipt{}
}

// verifyCert checks a certificate against the current committee, using the checkpoint's
// parallel pre-verification when it covered this certificate.
// lastSelected is the last epoch whose committee is already chosen.

// reservedAt is the bytes sold for epoch e.
func (s *State) reservedAt(e uint32) uint64 {
	if r := s.reserved.get(e); r != nil {
		return r.Amount
	}
	return 0
}

// addEpoch adds v (> 0) to epoch e's amount in t (income or reserved).
func addEpoch(t *table[uint32, epochAmount], e uint32, v uint64) {
	if a := t.mut(e); a != nil {
		a.Amount += v
		return
	}
	t.put(e, &epochAmount{Epoch: e, Amount: v})
}
