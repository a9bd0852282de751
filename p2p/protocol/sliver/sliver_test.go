package sliver_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/p2p/protocol/sliver"
)

// TestEncodePutPairsLayout checks that EncodePutPairs writes each sliver exactly as
// Sliver.MarshalBCS would (one- and multi-byte length prefixes) and that
// DecodeRequest returns the pairs and those very bytes as Raw.
func TestEncodePutPairsLayout(t *testing.T) {
	for _, blobLen := range []int{100, 40000} {
		p, err := codec.NewParams(10)
		if err != nil {
			t.Fatal(err)
		}
		data := make([]byte, blobLen)
		for i := range data {
			data[i] = byte(i*31 + 7)
		}
		enc, err := codec.Encode(p, data)
		if err != nil {
			t.Fatal(err)
		}
		pairs := [][2]*codec.Sliver{}
		for _, i := range []int{0, 3, 9} {
			pr, se := enc.Pair(i)
			pairs = append(pairs, [2]*codec.Sliver{pr, se})
		}
		got := sliver.EncodePutPairs(enc.BlobID, pairs)
		want := []byte{sliver.OpPut}
		want = append(want, enc.BlobID[:]...)
		want = binary.LittleEndian.AppendUint16(want, uint16(len(pairs)))
		for _, pr := range pairs {
			for _, s := range pr {
				b := s.MarshalBCS()
				want = binary.LittleEndian.AppendUint32(want, uint32(len(b)))
				want = append(want, b...)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("blob of %d bytes: EncodePutPairs differs from the MarshalBCS layout", blobLen)
		}
		req, err := sliver.DecodeRequest(p, got)
		if err != nil {
			t.Fatal(err)
		}
		if len(req.Pairs) != len(pairs) || len(req.Raw) != len(pairs) {
			t.Fatalf("decoded %d pairs, %d raw", len(req.Pairs), len(req.Raw))
		}
		for i, pr := range pairs {
			for j, s := range pr {
				if d := req.Pairs[i][j]; d.Index != s.Index || !bytes.Equal(d.Data, s.Data) {
					t.Fatalf("pair %d sliver %d decoded wrong", i, j)
				}
				if !bytes.Equal(req.Raw[i][j], s.MarshalBCS()) {
					t.Fatalf("pair %d sliver %d: Raw is not the sliver's encoding", i, j)
				}
			}
		}
	}
}
