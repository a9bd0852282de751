package query

import (
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/staking"
)

// QueryBlobs lists the blob objects an account owns (`walrus list-blobs`), live or
// expired, without attributes, in pages ordered by object ID like QueryStakes: the client
// asks again after the last ID it got while the answer says there is more.

// MaxBlobsPerPage is the page size of QueryBlobs, and so the cap a decoder enforces (an
// object takes 285 bytes: a full page is about 290 KB).
const MaxBlobsPerPage = 1024

// BlobsAnswer is the answer to QueryBlobs: a page of an account's blob objects.
type BlobsAnswer struct {
	Height uint64
	Epoch  uint32 // the ledger's current epoch: a blob whose end epoch is not after it has expired
	// More: blob objects of the account with IDs above the last one's remain.
	More  bool
	Blobs []staking.Blob
	// Proven is not on the wire: a verifying client sets it when every page was proven
	// (QueryProvenBlobs) at Height, in Epoch.
	Proven bool
}

// blobObjectSize is the encoded size of one blob object (as in a BlobAnswer).
const blobObjectSize = 32 + 32 + 32 + 32 + 8 + 1 + 8 + 32 + 4 + 4 + 8 + 1 + 4 + 1 + 4

// EncodeBlobsAnswer encodes a BlobsAnswer; each object is encoded as in a BlobAnswer.
func EncodeBlobsAnswer(a *BlobsAnswer) []byte {
	b := wire.AppendU64(nil, a.Height)
	b = wire.AppendU32(b, a.Epoch)
	b = wire.AppendBool(b, a.More)
	b = wire.AppendU32(b, uint32(len(a.Blobs)))
	for i := range a.Blobs {
		b = appendBlobObject(b, &a.Blobs[i])
	}
	return b
}

// DecodeBlobsAnswer parses an untrusted BlobsAnswer: at most MaxBlobsPerPage objects in
// strictly ascending ID order.
func DecodeBlobsAnswer(b []byte) (*BlobsAnswer, error) {
	r := wire.NewReader(b, ErrMalformed)
	a := &BlobsAnswer{Height: r.U64(), Epoch: r.U32(), More: r.Bool()}
	n := r.Count(blobObjectSize)
	if n > MaxBlobsPerPage {
		r.Failf("%d blobs in one page", n)
	}
	for i := 0; i < n && r.Err() == nil; i++ {
		o := readBlobObject(&r)
		if i > 0 && string(a.Blobs[i-1].ID[:]) >= string(o.ID[:]) {
			r.Failf("blobs not in ascending ID order")
		}
		a.Blobs = append(a.Blobs, o)
	}
	if err := r.End(); err != nil {
		return nil, err
	}
	return a, nil
}

func appendBlobObject(b []byte, o *staking.Blob) []byte {
	b = append(b, o.ID[:]...)
	b = append(b, o.Owner[:]...)
	b = append(b, o.BlobID[:]...)
	b = append(b, o.Root[:]...)
	b = wire.AppendU64(b, o.Length)
	b = append(b, o.Encoding)
	b = wire.AppendU64(b, o.EncodedSize)
	b = append(b, o.Storage.ID[:]...)
	b = wire.AppendU32(b, o.Storage.Start)
	b = wire.AppendU32(b, o.Storage.End)
	b = wire.AppendU64(b, o.Storage.Size)
	b = wire.AppendBool(b, o.Deletable)
	b = wire.AppendU32(b, o.Registered)
	b = wire.AppendBool(b, o.Certified)
	return wire.AppendU32(b, o.CertEpoch)
}

func readBlobObject(r *wire.Reader) staking.Blob {
	var o staking.Blob
	r.Fixed(o.ID[:])
	r.Fixed(o.Owner[:])
	r.Fixed(o.BlobID[:])
	r.Fixed(o.Root[:])
	o.Length = r.U64()
	o.Encoding = r.U8()
	o.EncodedSize = r.U64()
	r.Fixed(o.Storage.ID[:])
	o.Storage.Start = r.U32()
	o.Storage.End = r.U32()
	o.Storage.Size = r.U64()
	o.Deletable = r.Bool()
	o.Registered = r.U32()
	o.Certified = r.Bool()
	o.CertEpoch = r.U32()
	o.Storage.Owner = o.Owner
	return o
}
