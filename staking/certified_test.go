package staking_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/staking"
)

// TestCertifiedBlobsPages: CertifiedBlobs pages, chained by the last ID of each page, list
// every certified blob exactly once and nothing else (not a registered-only, an invalidated
// or a deleted blob), whatever the page size, including blobs registered and certified in
// the state's write buffer (not yet flushed into the tree); a page never holds more than
// its limit.
func TestCertifiedBlobsPages(t *testing.T) {
	var src strings.Builder
	src.WriteString("genesis shards=10 nodes=n1:400,n2:300,n3:200,n4:100 accounts=alice:1000000000,bob:1000000000\n")
	const blobs = 40
	for i := range blobs {
		fmt.Fprintf(&src, "reserve who=alice size=1048576 epochs=5 as=r%d\n", i)
		fmt.Fprintf(&src, "register-blob who=alice storage=r%d data=blob%d length=1000 deletable=true as=b%d\n", i, i, i)
		if i%4 != 3 { // every fourth stays registered only
			fmt.Fprintf(&src, "certify who=bob blob=b%d signers=all\n", i)
		}
	}
	src.WriteString("invalidate who=bob blob=b0 signers=n1,n2\n")
	src.WriteString("delete who=alice blob=b1\n")
	_, n := runScript(t, src.String())

	// Two more, registered and certified in the buffer of a clone, never flushed.
	s := n.s.Clone()
	alice, bob := n.addr("alice"), n.addr("bob")
	for i := range 2 {
		id, root := blobFromSeed(fmt.Sprintf("fresh%d", i), 1000)
		nonce := s.Account(alice).Nonce
		storage := staking.DeriveObjectID(alice, nonce, 0)
		obj := staking.DeriveObjectID(alice, nonce+1, 0)
		ops := []staking.Op{&staking.ReserveStorage{Size: 1 << 20, Start: s.Epoch(), End: s.Epoch() + 5},
			&staking.RegisterBlob{Storage: storage, BlobID: id, Root: root, Length: 1000, Encoding: codec.EncodingTypeRS2}}
		for j, op := range ops {
			if r := s.Apply(staking.Sign(s.Network(), n.acct("alice"), staking.Tx{Nonce: nonce + uint64(j), Op: op}).Encode()); !r.OK() {
				t.Fatalf("%s: %v", op.Kind(), r)
			}
		}
		ep := s.Epoch()
		cert := n.cert(s.Committee(), ep, staking.ConfirmationMessage(s.Network(), ep, id, false, obj), []string{"all"})
		tx := staking.Tx{Nonce: s.Account(bob).Nonce, Op: &staking.CertifyBlob{Blob: obj, BlobID: id, Cert: cert}}
		if r := s.Apply(staking.Sign(s.Network(), n.acct("bob"), tx).Encode()); !r.OK() {
			t.Fatalf("certify: %v", r)
		}
		n.blobs[fmt.Sprintf("fresh%d", i)] = id
	}

	want := map[codec.BlobID]bool{}
	for _, id := range n.blobs {
		if s.BlobStatus(id).Kind == staking.StatusCertified {
			want[id] = true
		}
	}
	if len(want) != blobs-blobs/4-2+2 {
		t.Fatalf("%d certified blobs, want %d", len(want), blobs-blobs/4-2+2)
	}
	for _, limit := range []int{1, 3, 7, 1000} {
		seen := map[codec.BlobID]bool{}
		var after codec.BlobID
		for pages := 0; ; pages++ {
			if pages > len(want)+1 {
				t.Fatalf("limit %d: pages do not end", limit)
			}
			ids := s.CertifiedBlobs(after, limit)
			if len(ids) == 0 {
				break
			}
			if len(ids) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(ids))
			}
			for _, id := range ids {
				if !want[id] || seen[id] {
					t.Fatalf("limit %d: %s listed (certified %v, seen before %v)", limit, id, want[id], seen[id])
				}
				seen[id] = true
			}
			after = ids[len(ids)-1]
		}
		if len(seen) != len(want) {
			t.Fatalf("limit %d: %d of %d certified blobs listed", limit, len(seen), len(want))
		}
	}
}
