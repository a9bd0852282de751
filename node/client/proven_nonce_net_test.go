package client_test

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/internal/keyfile"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
	"github.com/walrus-go/walrus-go/testnet"
)

// countWriter counts the lines of a log that contain a phrase.
type countWriter struct {
	phrase string
	n      atomic.Int64
}

func (w *countWriter) Write(b []byte) (int, error) {
	if strings.Contains(string(b), w.phrase) {
		w.n.Add(1)
	}
	return len(b), nil
}

// TestProvenNonceRaceTestnet: two verifying writers of one wallet without a shared lock,
// each sending to another node, race for the same nonces on a 4-node testnet. Every
// transfer of each succeeds exactly once — the losers of a race proved their loss and
// signed again, and nothing executed twice: each recipient holds exactly what its writer
// sent.
func TestProvenNonceRaceTestnet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4-node testnet")
	}
	const writers, transfers = 2, 8
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := c.WaitHeightContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	key, err := keyfile.ReadAccountKey(c.Layout.WalletKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := client.Open(ctx, c.Layout.ClientConfigFile, client.OpenOptions{NoGossip: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	lost := &countWriter{phrase: "transaction lost its nonce (proven)"}
	var ls []*client.Ledger
	for i := range writers {
		ai, err := peer.AddrInfoFromString(s.Config.Bootstrap[i%len(s.Config.Bootstrap)])
		if err != nil {
			t.Fatal(err)
		}
		l, err := client.NewLedger(client.LedgerConfig{Host: s.Host, Network: s.Genesis.NetworkID(), Bootstrap: []peer.AddrInfo{*ai},
			Genesis: s.Genesis, Key: key, NoWalletLock: true, ReceiptTimeout: time.Minute,
			Logger: slog.New(slog.NewTextHandler(lost, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		if !l.Verified() {
			t.Fatal("not a verifying client")
		}
		ls = append(ls, l)
	}
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i, l := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range transfers {
				if _, err := l.Transfer(ctx, staking.Address{0xa0, byte(i)}, 3); err != nil {
					errs[i] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	for i := range writers {
		// Asked of the writer's own node, which proved its receipts: another node may be
		// a height behind.
		acc, err := ls[i].Account(ctx, staking.Address{0xa0, byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		if acc.Account.Balance != 3*transfers {
			t.Fatalf("recipient %d holds %d, want %d", i, acc.Account.Balance, 3*transfers)
		}
	}
	t.Logf("%d writers × %d transfers, each executed once; %d proven losses re-signed", writers, transfers, lost.n.Load())
}
