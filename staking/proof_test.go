package staking_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"golang.org/x/crypto/blake2b"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/epoch"
	"github.com/walrus-go/walrus-go/staking"
)

// proveOK proves k, checks the proof survives its encoding and verifies against root, and
// that it fails for a one-byte change of the value, for absence (or presence) and against
// another root. It returns the value.
func proveOK(t *testing.T, s *staking.State, k staking.Key) []byte {
	t.Helper()
	root := s.Root()
	v, p := s.Prove(k)
	dp, err := staking.DecodeProof(p.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := staking.VerifyProof(root, k, v, dp); err != nil {
		t.Fatalf("key %x: %v", k.Bytes(), err)
	}
	if v != nil {
		w := bytes.Clone(v)
		w[len(w)-1] ^= 1
		if staking.VerifyProof(root, k, w, dp) == nil || staking.VerifyProof(root, k, nil, dp) == nil {
			t.Fatal("proof verifies another value")
		}
	} else if staking.VerifyProof(root, k, []byte{0}, dp) == nil {
		t.Fatal("absence proof verifies a value")
	}
	other := root
	other[5] ^= 1
	if !errors.Is(staking.VerifyProof(other, k, v, dp), staking.ErrProof) {
		t.Fatal("proof verifies against another root")
	}
	return v
}

// TestProveEveryEntry proves every entry of a state that went through the scripted life of
// a network (accounts, storage, blobs with attributes, invalid blobs, nodes, stakes,
// committees, parameters), decodes each proven value and compares it with what the state
// says; and proves absences.
func TestProveEveryEntry(t *testing.T) {
	all := map[staking.BlobStatusKind]int{}
	for _, script := range []string{"network_life", "edge_cases", "committee"} {
		t.Run(script, func(t *testing.T) {
			src, err := os.ReadFile("testdata/" + script + ".txt")
			if err != nil {
				t.Fatal(err)
			}
			if script == "network_life" {
				// end with a live certified blob too
				src = append(src, "\nreserve who=alice size=1048576 epochs=2 as=rproof\n"+
					"register-blob who=alice storage=rproof data=proofblob length=1000 as=bproof\n"+
					"certify who=bob blob=bproof signers=all\n"...)
			}
			_, n := runScript(t, string(src))
			for k, v := range proveEveryEntry(t, n) {
				all[k] += v
			}
		})
	}
	if all[staking.StatusInvalid] == 0 || all[staking.StatusCertified] == 0 || all[staking.StatusExpired] == 0 {
		t.Fatalf("the scripted states lack variety: %v", all)
	}
}

func proveEveryEntry(t *testing.T, n *tnet) map[staking.BlobStatusKind]int {
	s := n.s
	p, err := staking.DecodeParams(proveOK(t, s, staking.ParamsKey()))
	if err != nil || p.Network != s.Network() || p.Epoch != s.Epoch() || p.Time != s.Time() || p.Prices != s.Prices() || p.Burned != s.Burned() || p.Config != s.Config() {
		t.Fatalf("params %+v %v", p, err)
	}
	c, err := staking.DecodeCommitteeEntry(proveOK(t, s, staking.CommitteeKey(false)))
	if err != nil || c.Epoch != s.Committee().Epoch || len(c.Members) != len(s.Committee().Members) {
		t.Fatalf("committee: %v", err)
	}
	if v := proveOK(t, s, staking.CommitteeKey(true)); (v == nil) != (s.NextCommittee() == nil) {
		t.Fatal("next committee")
	}
	var blobs, objects int
	for name := range n.accts {
		a := n.addr(name)
		v := proveOK(t, s, staking.AccountKey(a))
		if v == nil {
			continue
		}
		addr, acc, err := staking.DecodeAccountEntry(v)
		if err != nil || addr != a || acc != s.Account(a) {
			t.Fatalf("account %s: %v", name, err)
		}
		st, bl, sk := s.Owned(a)
		for _, id := range st {
			got, err := staking.DecodeStorageEntry(proveOK(t, s, staking.StorageKey(id)))
			if want, _ := s.Storage(id); err != nil || *got != want {
				t.Fatalf("storage: %v", err)
			}
		}
		for _, id := range bl {
			got, err := staking.DecodeBlobObject(proveOK(t, s, staking.BlobObjectKey(id)))
			if err != nil || got.ID != id {
				t.Fatalf("blob object: %v", err)
			}
			objects++
		}
		for _, id := range sk {
			got, err := staking.DecodeStakeEntry(proveOK(t, s, staking.StakeKey(id)))
			if want, _ := s.Stake(id); err != nil || *got != want {
				t.Fatalf("stake: %v", err)
			}
		}
	}
	for _, id := range s.Nodes() {
		got, err := staking.DecodeNodeEntry(proveOK(t, s, staking.NodeKey(id)))
		if err != nil || got.ID != id {
			t.Fatalf("node: %v", err)
		}
	}
	kinds := map[staking.BlobStatusKind]int{}
	for _, id := range n.blobs {
		want := s.BlobStatus(id)
		got, bp := s.ProveBlobStatus(id)
		if got != want {
			t.Fatal("ProveBlobStatus disagrees with BlobStatus")
		}
		v, err := staking.VerifyBlobStatus(s.Root(), s.Epoch(), id, bp)
		if err != nil || v != want {
			t.Fatalf("blob %s: %v %+v, want %+v", id, err, v, want)
		}
		kinds[want.Kind]++
		blobs++
		if len(bp.Objects) > 0 {
			bp.Objects = bp.Objects[1:]
			if _, err := staking.VerifyBlobStatus(s.Root(), s.Epoch(), id, bp); err == nil {
				t.Fatal("status verifies with an object left out")
			}
		}
	}
	// absences
	for i := 0; i < 50; i++ {
		h := blake2b.Sum256([]byte{byte(i)})
		for _, k := range []staking.Key{staking.AccountKey(h), staking.BlobObjectKey(h), staking.BlobIDKey(codec.BlobID(h)),
			staking.NodeKey(epoch.NodeID(h)), staking.StakeKey(h), staking.IncomeKey(uint32(1000 + i))} {
			if proveOK(t, s, k) != nil {
				t.Fatal("random key present")
			}
		}
		st, err := staking.VerifyBlobStatus(s.Root(), s.Epoch(), codec.BlobID(h), func() *staking.BlobStatusProof {
			_, bp := s.ProveBlobStatus(codec.BlobID(h))
			return bp
		}())
		if err != nil || st.Kind != staking.StatusNonexistent {
			t.Fatalf("absent blob: %v %v", st, err)
		}
	}
	if blobs > 0 && objects == 0 {
		t.Fatal("blobs without objects")
	}
	// A proof from one state does not prove the entry after it changed.
	a := n.addr("alice")
	v, pr := s.Prove(staking.AccountKey(a))
	old := s.Root()
	n.submit("alice", &staking.Transfer{To: n.addr("bob"), Amount: 1})
	if s.Root() == old || staking.VerifyProof(n.s.Root(), staking.AccountKey(a), v, pr) == nil {
		t.Fatal("an old proof verifies against the new root")
	}
	return kinds
}

// FuzzDecodeEntries: the entry decoders a light client runs on proven values never panic
// and accept only canonical encodings.
func FuzzDecodeEntries(f *testing.F) {
	f.Add([]byte{}, byte(0))
	f.Add(make([]byte, 48), byte(2))
	f.Add(append(make([]byte, 32), 1, 5, 0, 0, 0, 0, 0, 0, 0), byte(4))
	f.Fuzz(func(t *testing.T, b []byte, which byte) {
		switch which % 9 {
		case 0:
			if p, err := staking.DecodeParams(b); err == nil && p == nil {
				t.Fatal("nil")
			}
		case 1:
			_, _ = staking.DecodeCommitteeEntry(b)
		case 2:
			_, _, _ = staking.DecodeAccountEntry(b)
		case 3:
			_, _ = staking.DecodeStorageEntry(b)
		case 4:
			if r, err := staking.DecodeBlobIDRecord(b); err == nil {
				for i := 1; i < len(r.Objects); i++ {
					if bytes.Compare(r.Objects[i-1][:], r.Objects[i][:]) >= 0 {
						t.Fatal("objects not ascending")
					}
				}
			}
		case 5:
			_, _ = staking.DecodeBlobObject(b)
		case 6:
			_, _ = staking.DecodeNodeEntry(b)
		case 7:
			_, _ = staking.DecodeStakeEntry(b)
		case 8:
			_, _ = staking.DecodeReceiptEntry(b)
		}
	})
}
