package client_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/walrus-go/walrus-go/internal/keyfile"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestConcurrentStoresOneSession stores 200 small blobs at once through one session (one
// wallet): the ledger client allocates consecutive nonces and pipelines the transactions,
// so every store succeeds.
func TestConcurrentStoresOneSession(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4-node testnet")
	}
	const n = 200
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int32
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Store(ctx, randomBlob(1000+i, uint64(7000+i)), client.StoreOptions{Epochs: 2})
			if err != nil {
				failed.Add(1)
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	t.Logf("%d concurrent stores through one session: %d failed, %v", n, failed.Load(), time.Since(start))
	shown := 0
	for i, err := range errs {
		if err != nil && shown < 10 {
			t.Errorf("store %d: %v", i, err)
			shown++
		}
	}
	if failed.Load() > 0 {
		t.Fatalf("%d of %d stores failed", failed.Load(), n)
	}
	_ = c
}

// TestConcurrentStoresManySessions stores from many sessions at once, each with its own
// libp2p host and Ledger but all with the same wallet, as separate processes would: they
// share the wallet lock file and meet at the wallet's home node. Lock-free, the writers
// (processes on different machines) still all succeed by re-signing, and by buying again
// when two of them signed the same reservation.
func TestConcurrentStoresManySessions(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4-node testnet")
	}
	const n = 32
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.WaitHeightContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	key, err := keyfile.ReadAccountKey(c.Layout.WalletKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	sessions := make([]*client.Session, n)
	for i := range sessions {
		lw := &logWriter{t: t}
		s, err := client.Open(ctx, c.Layout.ClientConfigFile, client.OpenOptions{NoGossip: true,
			Logger: slog.New(slog.NewTextHandler(lw, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		sessions[i] = s
	}
	for _, lockFree := range []bool{false, true} {
		name := "wallet lock"
		if lockFree {
			name = "lock-free"
		}
		t.Run(name, func(t *testing.T) {
			hooks := make([]client.LedgerHooks, n)
			for i, s := range sessions {
				hooks[i] = s.Ledger
				if lockFree {
					var boot []peer.AddrInfo
					for _, a := range s.Config.Bootstrap {
						ai, err := peer.AddrInfoFromString(a)
						if err != nil {
							t.Fatal(err)
						}
						boot = append(boot, *ai)
					}
					l, err := client.NewLedger(client.LedgerConfig{Host: s.Host, Network: s.Genesis.NetworkID(), Bootstrap: boot,
						Key: key, NoWalletLock: true, Logger: slog.New(slog.NewTextHandler(&logWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))})
					if err != nil {
						t.Fatal(err)
					}
					hooks[i] = l
				}
			}
			start := time.Now()
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					seed := uint64(9000 + i)
					if lockFree {
						seed += 1000
					}
					res, err := sessions[i].Client.Store(ctx, randomBlob(1000+i, seed), hooks[i], client.StoreOptions{Epochs: 2})
					if err == nil && res.Upload != nil {
						<-res.Upload.Done()
					}
					errs[i] = err
				}()
			}
			wg.Wait()
			failed := 0
			for i, err := range errs {
				if err != nil {
					failed++
					t.Errorf("store %d: %v", i, err)
				}
			}
			t.Logf("%d concurrent stores through %d sessions of one wallet (%s): %d failed, %v", n, n, name, failed, time.Since(start))
		})
	}
}

type logWriter struct{ t *testing.T }

// Write passes client debug logs to the test log with CLIENT_DEBUG set.
func (w *logWriter) Write(b []byte) (int, error) {
	if os.Getenv("CLIENT_DEBUG") != "" {
		w.t.Log(strings.TrimSpace(string(b)))
	}
	return len(b), nil
}
