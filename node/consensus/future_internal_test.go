package consensus

import (
	"crypto/ed25519"
	"testing"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/walrus-go/walrus-go/actors"
	"github.com/walrus-go/walrus-go/epoch/epochtest"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/staking"
)

// TestFutureSidePoolTakesOnlyFundedSenders: the side pool of future nonces takes a
// transaction only from a sender that exists with a balance covering its fee. Under a
// zero fee schedule a fresh key passes the fee check, so existence is what keeps it out;
// under fees, a fresh key fails the fee check before the nonce and is not parked either.
func TestFutureSidePoolTakesOnlyFundedSenders(t *testing.T) {
	for _, fees := range []staking.Fees{{}, {Base: 10, PerByte: 1}} {
		rich := ed25519.NewKeyFromSeed(make([]byte, 32))
		seed := make([]byte, 32)
		seed[0] = 1
		fresh := ed25519.NewKeyFromSeed(seed)
		g := &staking.Genesis{Network: "future", NShards: 4, EpochDuration: 3_600_000, GenesisTime: 1_000_000,
			Prices:   staking.Prices{Storage: 1, Write: 1, Capacity: 1 << 30, Fees: fees},
			Accounts: []staking.GenesisAccount{{Address: staking.AddressOf(rich.Public().(ed25519.PublicKey)), Balance: 1_000_000}}}
		k := epochtest.Key(1, 0)
		g.Nodes = append(g.Nodes, staking.GenesisNode{Operator: staking.Address{1}, BLSKey: k.PublicKey(), PoP: k.ProvePossession(),
			Info: staking.NodeInfo{PeerID: "p", Capacity: 1 << 30, StoragePrice: 1, WritePrice: 1, Fees: fees}, Stake: 100})
		sys, err := actors.New("future")
		if err != nil {
			t.Fatal(err)
		}
		l, err := ledger.New(sys, ledger.Config{Genesis: g, Datastore: dssync.MutexWrap(ds.NewMapDatastore())})
		if err != nil {
			t.Fatal(err)
		}
		v := l.View()
		a := &actor{base: v, scratch: v.State().Clone()}
		tx := func(key ed25519.PrivateKey, nonce uint64) ([32]byte, []byte) {
			raw := staking.Sign(v.State().Network(), key, staking.Tx{Nonce: nonce,
				Op: &staking.Transfer{To: staking.Address{9}, Amount: 1}}).Encode()
			return staking.TxHash(raw), raw
		}
		for _, c := range []struct {
			name string
			key  ed25519.PrivateKey
			want bool
		}{{"fresh key", fresh, false}, {"funded account", rich, true}} {
			h, raw := tx(c.key, 2)
			r := a.dryRun(raw)
			if got := a.park(h, raw, r); got != c.want {
				t.Errorf("fees %+v, %s: parked %v (dry run %v), want %v", fees, c.name, got, r, c.want)
			}
		}
		_ = sys.Stop()
	}
}
