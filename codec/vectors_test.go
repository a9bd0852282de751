package codec_test

import (
	"testing"

	"github.com/walrus-go/walrus-go/codec"
)

// The public vectors of docs/protocol.md §3, computed with the Walrus reference encoder. They pin
// rate selection, the chunk layout, the Merkle trees and the blob ID at once.
func TestPublicVectors(t *testing.T) {
	for _, tc := range []struct {
		n    int
		blob string
		id   string
	}{
		{10, "walrus blob id v1 regression test", "RcU82Mwf-CFkv1LaI_2qcpANwpGUuG3TMwnVzZxD2kY"},
		{1000, "some other string", "M4hsZGQ1oCktdzegB6HnI6Mi28S2nqOPHxK-W7_4BUk"},
	} {
		p := codec.MustParams(tc.n)
		_, id, err := codec.ComputeMetadata(p, []byte(tc.blob))
		if err != nil {
			t.Fatalf("n=%d: %v", tc.n, err)
		}
		if id.String() != tc.id {
			t.Errorf("n=%d ComputeMetadata: blob ID %s, want %s", tc.n, id, tc.id)
		}
		enc, err := codec.Encode(p, []byte(tc.blob))
		if err != nil {
			t.Fatalf("n=%d: %v", tc.n, err)
		}
		if enc.BlobID.String() != tc.id {
			t.Errorf("n=%d Encode: blob ID %s, want %s", tc.n, enc.BlobID, tc.id)
		}
	}
}
