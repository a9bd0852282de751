package staking

import (
	"sort"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
)

// Storage and blob operations (docs/protocol.md §5–6).

func (s *State) reserve(c *txCtx, op *ReserveStorage) Receipt {
	if op.Size == 0 || op.End <= op.Start {
		return reject(CodeInvalidArgument, "size %d epochs [%d,%d)", op.Size, op.Start, op.End)
	}
	if op.Start < s.ep {
		// The client picked Start from the epoch it last saw; the ledger moved on before
		// the transaction committed. A wrong epoch, so the client retries in the new one.
		return reject(CodeWrongEpoch, "storage starts at epoch %d, before the current epoch %d", op.Start, s.ep)
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
	s.storage.put(id, &Storage{ID: id, Owner: c.sender, Start: op.Start, End: op.End, Size: op.Size})
	return Receipt{}
}

func (s *State) ownedStorage(c *txCtx, id ObjectID) (*Storage, Receipt) {
	st := s.storage.mut(id)
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
	s.storage.put(id, &Storage{ID: id, Owner: c.sender, Start: op.At, End: st.End, Size: st.Size})
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
	s.storage.put(id, &Storage{ID: id, Owner: c.sender, Start: st.Start, End: st.End, Size: op.Take})
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
	if s.isInvalid(op.BlobID) {
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
	fee, ok := writeFee(s.prices, enc)
	if !ok {
		return reject(CodeOverflow, "write fee overflows")
	}
	if s.balance(c.sender) < fee {
		return reject(CodeInsufficient, "balance %d < write fee %d", s.balance(c.sender), fee)
	}
	if fee > 0 {
		s.account(c.sender).Balance -= fee
		addEpoch(&s.income, s.ep, fee)
	}
	s.storage.del(st.ID)
	b := &Blob{
		ID: c.newID(0), Owner: c.sender, BlobID: op.BlobID, Root: op.Root, Length: op.Length,
		Encoding: op.Encoding, EncodedSize: enc, Storage: *st, Deletable: op.Deletable,
		Registered: s.ep,
	}
	s.blobs.put(b.ID, b)
	s.indexBlob(b)
	return Receipt{}
}

func (s *State) verifyCert(msg []byte, cert *epoch.Certificate, th epoch.Threshold) error {
	if err, ok := s.preverified[cert]; ok {
		if err == nil && s.cache != nil {
			s.cache.add(certKey(msg, cert, th))
		}
		return err
	}
	return s.certVerify(msg, cert, th)
}

func (s *State) certifyBlob(op *CertifyBlob) Receipt {
	b := s.blobs.get(op.Blob)
	if b == nil {
		return reject(CodeUnknownObject, "no blob object %s", op.Blob)
	}
	if b.BlobID != op.BlobID || b.Deletable != op.Deletable {
		return reject(CodeInvalidArgument, "blob ID or persistence does not match object")
	}
	if s.isInvalid(b.BlobID) {
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
	b = s.blobs.mut(b.ID)
	b.Certified, b.CertEpoch = true, s.ep
	return Receipt{}
}

func (s *State) invalidateBlob(op *InvalidateBlob) Receipt {
	if rec := s.blobIDs.get(op.BlobID); rec != nil && rec.Invalid {
		return reject(CodeAlreadyDone, "invalidated in epoch %d", rec.InvalidAt)
	}
	if op.Cert.Epoch != s.ep {
		return reject(CodeWrongEpoch, "certificate epoch %d, current %d", op.Cert.Epoch, s.ep)
	}
	msg := InvalidBlobMessage(s.network, s.ep, op.BlobID)
	if err := s.verifyCert(msg, &op.Cert, epoch.ThresholdValidity); err != nil {
		return reject(CodeBadCertificate, "%v", err)
	}
	rec := s.blobIDs.mut(op.BlobID)
	if rec == nil {
		rec = &blobRec{ID: op.BlobID}
		s.blobIDs.put(op.BlobID, rec)
	}
	rec.Invalid, rec.InvalidAt = true, s.ep
	return Receipt{}
}

func (s *State) ownedBlob(c *txCtx, id ObjectID) (*Blob, Receipt) {
	b := s.blobs.get(id)
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
	s.blobs.del(b.ID)
	s.unindexBlob(b)
	// The resource comes back (docs/protocol.md §6) under a fresh ID, from the current epoch on
	// (epochs already past are of no use to anyone).
	id := c.newID(0)
	s.storage.put(id, &Storage{ID: id, Owner: c.sender, Start: max(b.Storage.Start, s.ep), End: b.Storage.End, Size: b.Storage.Size})
	return Receipt{}
}

func (s *State) extendBlob(c *txCtx, op *ExtendBlob) Receipt {
	b, r := s.ownedBlob(c, op.Blob)
	if !r.OK() {
		return r
	}
	if s.isInvalid(b.BlobID) {
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
	s.blobs.mut(b.ID).Storage.End = op.End
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
	b = s.blobs.mut(b.ID)
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
	b = s.blobs.mut(b.ID)
	i := sort.Search(len(b.Attributes), func(i int) bool { return b.Attributes[i].Key >= op.Key })
	if i == len(b.Attributes) || b.Attributes[i].Key != op.Key {
		return reject(CodeUnknownObject, "no attribute %q", op.Key)
	}
	b.Attributes = append(b.Attributes[:i:i], b.Attributes[i+1:]...)
	return Receipt{}
}

func (s *State) isInvalid(id codec.BlobID) bool {
	rec := s.blobIDs.get(id)
	return rec != nil && rec.Invalid
}
