package staking_test

import (
	"errors"
	"math"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/internal/wire"
	"github.com/walrus-go/walrus-go/staking"
)

// TestStorageCostMatchesLedger: what StorageCost quotes a client is what the state machine
// takes from its balance for a ReserveStorage of the encoded length and the RegisterBlob on
// it, for blob sizes on both sides of billing-unit boundaries and several lifetimes.
func TestStorageCostMatchesLedger(t *testing.T) {
	_, n := runScript(t, `genesis shards=10 nodes=n1:400,n2:300,n3:200,n4:100 accounts=alice:1000000000000 storage-price=7 write-price=3 capacity=100000000000`)
	p := codec.MustParams(n.s.Committee().NShards)
	for i, c := range []struct {
		length uint64
		epochs uint32
	}{{1, 1}, {1000, 3}, {100_000, 2}, {1 << 20, 5}, {p.MaxBlobSize(), 1}} {
		enc, err := p.EncodedLength(c.length)
		if err != nil {
			t.Fatal(err)
		}
		want, ok := staking.StorageCost(n.s.Prices(), enc, c.epochs)
		if !ok {
			t.Fatalf("%d bytes: cost overflows", c.length)
		}
		before := n.s.Account(n.addr("alice")).Balance
		ep := n.s.Epoch()
		r, nonce := n.submit("alice", &staking.ReserveStorage{Size: enc, Start: ep, End: ep + c.epochs})
		if !r.OK() {
			t.Fatalf("reserve: %v", r)
		}
		id, root := blobFromSeed(string(rune('a'+i)), c.length)
		r, _ = n.submit("alice", &staking.RegisterBlob{Storage: staking.DeriveObjectID(n.addr("alice"), nonce, 0),
			BlobID: id, Root: root, Length: c.length, Encoding: codec.EncodingTypeRS2})
		if !r.OK() {
			t.Fatalf("register: %v", r)
		}
		if got := before - n.s.Account(n.addr("alice")).Balance; got != want {
			t.Errorf("%d bytes (%d encoded) for %d epochs: charged %d, StorageCost %d", c.length, enc, c.epochs, got, want)
		}
	}
}

// TestStorageCostOverflow: a cost that does not fit in a uint64 is not ok, whichever term
// overflows.
func TestStorageCostOverflow(t *testing.T) {
	for _, c := range []struct {
		prices staking.Prices
		size   uint64
		epochs uint32
	}{
		{staking.Prices{Storage: math.MaxUint64}, 2 * staking.BillingUnit, 1},
		{staking.Prices{Storage: math.MaxUint64 / 2}, staking.BillingUnit, 3},
		{staking.Prices{Write: math.MaxUint64}, 2 * staking.BillingUnit, 1},
		{staking.Prices{Storage: math.MaxUint64 / 2, Write: math.MaxUint64 / 2}, staking.BillingUnit, 2},
	} {
		if cost, ok := staking.StorageCost(c.prices, c.size, c.epochs); ok {
			t.Errorf("%+v, %d bytes, %d epochs: cost %d, want overflow", c.prices, c.size, c.epochs, cost)
		}
	}
	if cost, ok := staking.StorageCost(staking.Prices{Storage: 5, Write: 2}, staking.BillingUnit+1, 3); !ok || cost != 5*2*3+2*2 {
		t.Errorf("cost %d (ok %v), want %d", cost, ok, 5*2*3+2*2)
	}
}

// TestDecodeErrorFamily: decoding failures are ErrDecode and wire.ErrMalformed.
func TestDecodeErrorFamily(t *testing.T) {
	_, err1 := staking.DecodeSignedTx([]byte{1, 2, 3})
	_, err2 := staking.DecodeCheckpoint(nil)
	_, err3 := staking.DecodeGenesis([]byte{0xff, 0xff, 0xff, 0xff})
	_, err4 := staking.Restore([]byte("x"))
	for i, err := range []error{err1, err2, err3, err4} {
		if !errors.Is(err, staking.ErrDecode) || !errors.Is(err, wire.ErrMalformed) {
			t.Errorf("case %d: %v is not in the malformed family", i+1, err)
		}
	}
}
