package staking_test

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/staking"
)

// listAll pages through l with limit, verifying every page, and returns the entries and
// the values they name.
func listAll(t *testing.T, s *staking.State, l staking.Listing, limit int, cursorOf func(v []byte) [32]byte) (entries, named [][]byte) {
	t.Helper()
	root := s.Root()
	var cursor [32]byte
	for pages := 0; ; pages++ {
		if pages > 10000 {
			t.Fatal("endless listing")
		}
		pp := s.ProvePage(l, cursor, limit, nil)
		nv, _, err := staking.VerifyPage(root, l, cursor, limit, nil, pp)
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		entries = append(entries, pp.Entries...)
		named = append(named, nv...)
		if !pp.More {
			return entries, named
		}
		cursor = cursorOf(pp.Entries[len(pp.Entries)-1])
	}
}

func scriptState(t *testing.T) *tnet {
	src, err := os.ReadFile("testdata/network_life.txt")
	if err != nil {
		t.Fatal(err)
	}
	src = append(src, "\nreserve who=alice size=1048576 epochs=2 as=rp1\n"+
		"register-blob who=alice storage=rp1 data=pageblob1 length=1000 as=bp1\n"+
		"reserve who=alice size=1048576 epochs=2 as=rp2\n"+
		"register-blob who=alice storage=rp2 data=pageblob2 length=1000 as=bp2\n"+
		"reserve who=alice size=1048576 epochs=2 as=rp3\n"+
		"register-blob who=alice storage=rp3 data=pageblob3 length=1000 as=bp3\n"+
		"stake who=alice node=n1 amount=5\nstake who=alice node=n1 amount=6\n"...)
	_, n := runScript(t, string(src))
	return n
}

// TestPagesComplete lists the nodes, and every account's stakes and blob objects, in pages of
// several sizes, verifying each page, and compares with what the state says (the owner
// indexes agree with a scan of the state).
func TestPagesComplete(t *testing.T) {
	n := scriptState(t)
	s := n.s
	nodeCursor := func(v []byte) [32]byte {
		nd, err := staking.DecodeNodeEntry(v)
		if err != nil {
			t.Fatal(err)
		}
		return staking.NodeKey(nd.ID).Path()
	}
	var sawStakes, sawBlobs, sawMore bool
	for _, limit := range []int{1, 2, 3, 1024} {
		ents, _ := listAll(t, s, staking.NodeListing(), limit, nodeCursor)
		var ids []epoch.NodeID
		for _, v := range ents {
			nd, _ := staking.DecodeNodeEntry(v)
			ids = append(ids, nd.ID)
		}
		slices.SortFunc(ids, func(a, b epoch.NodeID) int { return bytes.Compare(a[:], b[:]) })
		if !slices.Equal(ids, s.Nodes()) {
			t.Fatalf("limit %d: %d nodes listed, the state has %d", limit, len(ids), len(s.Nodes()))
		}
		sawMore = sawMore || len(ids) > limit
		for name := range n.accts {
			owner := n.addr(name)
			_, wantBlobs, wantStakes := s.Owned(owner)
			idxCursor := func(kind func(staking.Address, staking.ObjectID) staking.Key) func(v []byte) [32]byte {
				return func(v []byte) [32]byte { return kind(staking.Address(v[:32]), staking.ObjectID(v[32:])).Path() }
			}
			_, named := listAll(t, s, staking.StakeListing(owner), limit, idxCursor(staking.StakeIndexKey))
			var got []staking.ObjectID
			for _, v := range named {
				st, err := staking.DecodeStakeEntry(v)
				if err != nil || st.Owner != owner {
					t.Fatalf("stake entry %v", err)
				}
				got = append(got, st.ID)
			}
			slices.SortFunc(got, func(a, b staking.ObjectID) int { return bytes.Compare(a[:], b[:]) })
			if !slices.Equal(got, wantStakes) {
				t.Fatalf("%s: %d stakes listed, the state has %d", name, len(got), len(wantStakes))
			}
			sawStakes = sawStakes || len(got) > 1
			_, named = listAll(t, s, staking.BlobListing(owner), limit, idxCursor(staking.BlobIndexKey))
			got = got[:0]
			for _, v := range named {
				b, err := staking.DecodeBlobObject(v)
				if err != nil || b.Owner != owner {
					t.Fatalf("blob entry %v", err)
				}
				got = append(got, b.ID)
			}
			slices.SortFunc(got, func(a, b staking.ObjectID) int { return bytes.Compare(a[:], b[:]) })
			if !slices.Equal(got, wantBlobs) {
				t.Fatalf("%s: %d blobs listed, the state has %d", name, len(got), len(wantBlobs))
			}
			sawBlobs = sawBlobs || len(got) > 1
		}
	}
	if !sawStakes || !sawBlobs || !sawMore {
		t.Fatal("the scripted state lacks an owner of several stakes and blobs")
	}
}

// TestPageLies: a page with an entry left out, an entry added, a false More either way, a
// single entry changed or dropped, or any one byte changed does not verify.
func TestPageLies(t *testing.T) {
	n := scriptState(t)
	s := n.s
	root := s.Root()
	alice := n.addr("alice")
	extra := []staking.Key{staking.ParamsKey(), staking.CommitteeKey(true)}
	type tc struct {
		name string
		l    staking.Listing
	}
	for _, c := range []tc{{"nodes", staking.NodeListing()}, {"blobs", staking.BlobListing(alice)}} {
		t.Run(c.name, func(t *testing.T) {
			full := s.ProvePage(c.l, [32]byte{}, 1000, extra)
			if full.More || len(full.Entries) < 3 {
				t.Fatalf("want one page of at least 3 entries, got %d (more %v)", len(full.Entries), full.More)
			}
			part := s.ProvePage(c.l, [32]byte{}, 2, extra)
			if !part.More {
				t.Fatal("a page of 2 says no more")
			}
			ok := func(pp *staking.PageProof, limit int) error {
				_, _, err := staking.VerifyPage(root, c.l, [32]byte{}, limit, extra, pp)
				return err
			}
			for _, pp := range []*staking.PageProof{full, part} {
				if err := ok(pp, 1000); err != nil {
					t.Fatal(err)
				}
			}
			clone := func(pp *staking.PageProof) *staking.PageProof {
				c := *pp
				c.Entries = slices.Clone(pp.Entries)
				c.Points = slices.Clone(pp.Points)
				c.Proof = slices.Clone(pp.Proof)
				return &c
			}
			lies := map[string]func() *staking.PageProof{
				"omitted entry": func() *staking.PageProof {
					c := clone(full)
					c.Entries = slices.Delete(c.Entries, 1, 2)
					return c
				},
				"omitted last entry": func() *staking.PageProof {
					c := clone(full)
					c.Entries = c.Entries[:len(c.Entries)-1]
					return c
				},
				"extra entry": func() *staking.PageProof {
					c := clone(part)
					c.Entries = append(c.Entries, full.Entries[2])
					return c
				},
				"duplicated entry": func() *staking.PageProof {
					c := clone(full)
					c.Entries[1] = c.Entries[0]
					return c
				},
				"no more when there is": func() *staking.PageProof {
					c := clone(part)
					c.More, c.Next = false, [32]byte{}
					return c
				},
				"more when there is not": func() *staking.PageProof {
					c := clone(full)
					c.More = true
					for i := range c.Next {
						c.Next[i] = 0xff
					}
					return c
				},
				"single entry changed": func() *staking.PageProof {
					c := clone(full)
					c.Points[0] = append([]byte{}, c.Points[0]...)
					c.Points[0][0] ^= 1
					return c
				},
				"single entry hidden": func() *staking.PageProof {
					c := clone(full)
					c.Points[0] = nil
					return c
				},
				"single entry dropped": func() *staking.PageProof {
					c := clone(full)
					c.Points = c.Points[1:]
					return c
				},
			}
			for name, lie := range lies {
				if err := ok(lie(), 1000); !errors.Is(err, staking.ErrProof) {
					t.Errorf("%s: %v", name, err)
				}
			}
			if err := ok(full, 2); err == nil {
				t.Error("a page over the limit verifies")
			}
			// One byte changed anywhere.
			for _, pp := range []*staking.PageProof{full, part} {
				for i := range pp.Entries {
					for j := range pp.Entries[i] {
						c := clone(pp)
						c.Entries[i] = slices.Clone(c.Entries[i])
						c.Entries[i][j] ^= 0x10
						if ok(c, 1000) == nil {
							t.Fatalf("entry %d byte %d changed verifies", i, j)
						}
					}
				}
				for i := range pp.Proof {
					c := clone(pp)
					c.Proof[i] ^= 0x10
					if ok(c, 1000) == nil {
						t.Fatalf("proof byte %d changed verifies", i)
					}
				}
				if pp.More {
					for i := range pp.Next {
						c := clone(pp)
						c.Next[i] ^= 0x10
						if ok(c, 1000) == nil {
							t.Fatalf("next byte %d changed verifies", i)
						}
					}
				}
			}
			other := root
			other[3] ^= 1
			if _, _, err := staking.VerifyPage(other, c.l, [32]byte{}, 1000, extra, full); err == nil {
				t.Fatal("verifies under another root")
			}
		})
	}
}

// TestReceiptsInState: every checkpoint's receipts are proven at ReceiptKey with the
// transaction's hash, and those older than ReceiptHeights heights are gone.
func TestReceiptsInState(t *testing.T) {
	_, n := runScript(t, "genesis shards=10 duration=1000000 nodes=n1:400 accounts=alice:1000000,bob:1000000 faucet=1000000000 storage-price=1000 write-price=100 capacity=10000000\n")
	var firstHeight uint64
	var firstTx []byte
	for i := 0; i < staking.ReceiptHeights+3; i++ {
		r, nonce := n.submit("alice", &staking.Transfer{To: n.addr("bob"), Amount: 1})
		if i == 0 {
			firstHeight = n.s.Height()
			firstTx = staking.Sign(n.s.Network(), n.acct("alice"), staking.Tx{Nonce: nonce, Op: &staking.Transfer{To: n.addr("bob"), Amount: 1}}).Encode()
		}
		v := proveOK(t, n.s, staking.ReceiptKey(n.s.Height(), 0))
		e, err := staking.DecodeReceiptEntry(v)
		if err != nil || e.Height != n.s.Height() || e.Index != 0 || e.Code != r.Code || e.Fee != r.Fee || e.Created != r.Created {
			t.Fatalf("receipt %+v, %v; want %+v", e, err, r)
		}
		if i == 0 && e.TxHash != staking.TxHash(firstTx) {
			t.Fatal("receipt of another transaction")
		}
		if proveOK(t, n.s, staking.ReceiptKey(n.s.Height(), 1)) != nil {
			t.Fatal("a receipt past the checkpoint's transactions")
		}
	}
	h := n.s.Height()
	if proveOK(t, n.s, staking.ReceiptKey(firstHeight, 0)) != nil || proveOK(t, n.s, staking.ReceiptKey(h-staking.ReceiptHeights, 0)) != nil {
		t.Fatal("a receipt older than the window is still there")
	}
	if proveOK(t, n.s, staking.ReceiptKey(h-staking.ReceiptHeights+1, 0)) == nil {
		t.Fatal("the oldest receipt of the window is gone")
	}
}

// FuzzVerifyPage: a page of any entries, single values, next path and proof bytes either
// fails with ErrProof or is the true page (nothing forged, nothing hidden); never a panic.
func FuzzVerifyPage(f *testing.F) {
	_, n := runScript(f, "genesis shards=10 duration=1000000 nodes=n1:400,n2:300,n3:200 accounts=alice:1000000 faucet=1000000000 storage-price=1000 write-price=100 capacity=10000000\n")
	s := n.s
	root := s.Root()
	l := staking.NodeListing()
	extra := []staking.Key{staking.ParamsKey()}
	truth := s.ProvePage(l, [32]byte{}, 2, extra)
	f.Add(truth.Entries[0], truth.Entries[1], truth.Points[0], truth.Proof, truth.Next[:], true)
	f.Add([]byte{}, []byte{}, []byte{}, []byte{0}, []byte{}, false)
	f.Fuzz(func(t *testing.T, e0, e1, p0, proof, next []byte, more bool) {
		pp := &staking.PageProof{More: more, Entries: [][]byte{e0, e1}, Points: [][]byte{p0}, Proof: proof}
		copy(pp.Next[:], next)
		_, _, err := staking.VerifyPage(root, l, [32]byte{}, 2, extra, pp)
		if err != nil {
			if !errors.Is(err, staking.ErrProof) {
				t.Fatalf("error %v does not wrap ErrProof", err)
			}
			return
		}
		if pp.More != truth.More || pp.Next != truth.Next || !bytes.Equal(e0, truth.Entries[0]) || !bytes.Equal(e1, truth.Entries[1]) || !bytes.Equal(p0, truth.Points[0]) {
			t.Fatal("a false page verified")
		}
	})
}
