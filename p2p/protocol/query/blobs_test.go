package query_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/staking"
)

// TestBlobsAnswer round-trips a page of blob objects and refuses pages out of order, over
// the cap, or with trailing bytes.
func TestBlobsAnswer(t *testing.T) {
	owner := staking.Address{7}
	a := &query.BlobsAnswer{Height: 9, Epoch: 3, More: true, Blobs: []staking.Blob{
		{ID: staking.ObjectID{1}, Owner: owner, Length: 10, Encoding: 1, EncodedSize: 99, Deletable: true, Registered: 2,
			Storage: staking.Storage{ID: staking.ObjectID{5}, Owner: owner, Start: 2, End: 4, Size: 100}},
		{ID: staking.ObjectID{2}, Owner: owner, Certified: true, CertEpoch: 3, Storage: staking.Storage{Owner: owner, End: 9}},
	}}
	b := query.EncodeBlobsAnswer(a)
	got, err := query.DecodeBlobsAnswer(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Height != 9 || got.Epoch != 3 || !got.More || len(got.Blobs) != 2 || got.Blobs[0].Storage != a.Blobs[0].Storage ||
		got.Blobs[1].CertEpoch != 3 || !bytes.Equal(query.EncodeBlobsAnswer(got), b) {
		t.Fatalf("round trip: %+v", got)
	}
	q := &query.Query{Kind: query.QueryBlobs, Address: owner, Cursor: [32]byte{3}}
	if d, err := query.Decode(q.Encode()); err != nil || d.Kind != query.QueryBlobs || d.Address != owner || d.Cursor != q.Cursor {
		t.Fatalf("query round trip: %+v %v", d, err)
	}
	swapped := &query.BlobsAnswer{Blobs: []staking.Blob{a.Blobs[1], a.Blobs[0]}}
	over := &query.BlobsAnswer{Blobs: make([]staking.Blob, query.MaxBlobsPerPage+1)}
	for i := range over.Blobs {
		over.Blobs[i].ID = staking.ObjectID{byte(i >> 8), byte(i)}
	}
	for name, bad := range map[string][]byte{
		"order": query.EncodeBlobsAnswer(swapped), "cap": query.EncodeBlobsAnswer(over),
		"trailing": append(b, 0), "short": b[:len(b)-1],
	} {
		if _, err := query.DecodeBlobsAnswer(bad); !errors.Is(err, query.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}
