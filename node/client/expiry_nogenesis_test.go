package client_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/ledger"
	"github.com/walrus-go/walrus-go/p2p"
	"github.com/walrus-go/walrus-go/p2p/protocol/query"
	"github.com/walrus-go/walrus-go/p2p/protocol/tx"
	"github.com/walrus-go/walrus-go/staking"
)

// TestExpiryWithoutGenesis: a client without a genesis proves nothing, but its transactions
// still carry an expiry — the highest height the nodes report plus the margin — so a
// transaction every node refused or dropped cannot be committed long after the client gave
// up on it (before, they carried expiry 0: valid forever).
func TestExpiryWithoutGenesis(t *testing.T) {
	a := newLCNet(t, "expiry-no-genesis", 1<<50)
	for range 3 {
		a.commit(0)
	}
	honest := serve(t, a.l)
	// A node that answers queries from the honest one and keeps every transaction offered.
	var mu sync.Mutex
	var got [][]byte
	h := newLCHost(t)
	h.Peerstore().AddAddrs(honest.ID(), honest.Addrs(), peerstore.PermanentAddrTTL)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := p2p.Handle(h, query.Spec, func(ctx context.Context, _ peer.ID, req []byte) ([]byte, error) {
		return p2p.Call(ctx, h, honest.ID(), query.Spec, req)
	}, logger); err != nil {
		t.Fatal(err)
	}
	if err := p2p.Handle(h, tx.Spec, func(_ context.Context, _ peer.ID, req []byte) ([]byte, error) {
		mu.Lock()
		got = append(got, append([]byte(nil), req...))
		mu.Unlock()
		return (&tx.Reply{Accepted: true, Hash: ledger.TxHash(req), Height: a.l.Height()}).Encode(), nil
	}, logger); err != nil {
		t.Fatal(err)
	}
	c, err := client.NewLedger(client.LedgerConfig{Host: newLCHost(t), Network: a.genesis.NetworkID(),
		Bootstrap: []peer.AddrInfo{{ID: h.ID(), Addrs: h.Addrs()}}, Key: a.faucet, NoWalletLock: true,
		ReceiptTimeout: 500 * time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if c.Verified() {
		t.Fatal("a client without a genesis verifies")
	}
	_, _ = c.Transfer(lcCtx(t), staking.Address{0xbb}, 1) // never committed: its wait times out
	mu.Lock()
	defer mu.Unlock()
	if len(got) == 0 {
		t.Fatal("no transaction offered")
	}
	if e, want := expiryOf(t, got[0]), a.l.Height()+64; e != want {
		t.Fatalf("expiry %d, want the reported height %d + 64 = %d", e, a.l.Height(), want)
	}
}
