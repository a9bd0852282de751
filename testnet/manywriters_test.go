package testnet_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/gateway"
	"github.com/walrus-go/walrus-go/testnet"
)

// Many writers, one wallet (docs/operating.md, "Many stores at once"): parallel `walrus
// store` processes sharing the testnet wallet, and concurrent PUT /v1/blobs to one
// publisher, all succeed.

// manyWritersEnv sets the number of `walrus store` processes of
// TestManyStoreProcessesOneWallet (default 16, which `make test` runs; the 64:
// WALRUS_MANY_WRITERS=64 go test -run TestManyStoreProcessesOneWallet ./testnet/).
const manyWritersEnv = "WALRUS_MANY_WRITERS"

// TestManyStoreProcessesOneWallet runs N `walrus store` processes at once (the real binary)
// against an in-process 4-node testnet, every one with the same client.yaml and wallet, and
// checks that every one succeeds and that the wallet paid for N distinct blobs.
func TestManyStoreProcessesOneWallet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a testnet and many processes")
	}
	n := 16
	if v := os.Getenv(manyWritersEnv); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("%s=%q: want a positive number", manyWritersEnv, v)
		}
	}
	tmp := t.TempDir()
	bin := buildWalrus(t, tmp)
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := c.Session(ctx)
	before, err := s.Ledger.Account(ctx, s.Ledger.Address())
	if err != nil {
		t.Fatal(err)
	}
	files := make([]string, n)
	for i := range files {
		files[i] = filepath.Join(tmp, fmt.Sprintf("f%03d", i))
		data := bytes.Repeat([]byte(fmt.Sprintf("writer %d of %d; ", i, n)), 10_000/20)
		if err := os.WriteFile(files[i], data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		out, errb string
		err       error
	}
	results := make([]result, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, bin, "--config", c.Layout.ClientConfigFile, "store", "--epochs", "2", "--json", files[i])
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			results[i] = result{out.String(), "", cmd.Run()}
			results[i].out, results[i].errb = out.String(), errb.String()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var cost uint64
	ids := map[string]bool{}
	failed := 0
	for i, r := range results {
		var sum struct {
			BlobID string `json:"blobId"`
			Cost   uint64 `json:"cost"`
			Fee    uint64 `json:"fee"`
		}
		if r.err != nil || json.Unmarshal([]byte(r.out), &sum) != nil || sum.BlobID == "" {
			failed++
			t.Errorf("process %d: %v: %s", i, r.err, r.errb)
			continue
		}
		ids[sum.BlobID] = true
		cost += sum.Cost + sum.Fee
	}
	t.Logf("%d parallel `walrus store` processes, one wallet: %d failed, %v", n, failed, elapsed)
	if failed > 0 {
		t.FailNow()
	}
	if len(ids) != n {
		t.Fatalf("%d distinct blob IDs for %d files", len(ids), n)
	}
	// Each store paid once: the wallet's balance fell by exactly the costs and fees reported.
	deadline := time.Now().Add(30 * time.Second)
	for {
		after, err := s.Ledger.Account(ctx, s.Ledger.Address())
		if err != nil {
			t.Fatal(err)
		}
		if before.Account.Balance-after.Account.Balance == cost {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("balance fell by %d, the stores report %d", before.Account.Balance-after.Account.Balance, cost)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPublisherManyConcurrentPuts sends 200 concurrent PUT /v1/blobs of small blobs to one
// publisher (node/gateway over one client session, so one wallet) and checks that every one
// is newly created and certified.
func TestPublisherManyConcurrentPuts(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4-node testnet")
	}
	const n = 200
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sess := c.Session(ctx)
	pub := gateway.NewSession(sess)
	t.Cleanup(pub.Close)
	g, err := gateway.New(gateway.Config{Role: gateway.RolePublisher, Publisher: pub, MaxConcurrentUploads: n})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	hc := &http.Client{Timeout: 4 * time.Minute}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := bytes.Repeat([]byte(fmt.Sprintf("publisher blob %d; ", i)), 50)
			req, err := http.NewRequestWithContext(ctx, http.MethodPut, srv.URL+"/v1/blobs?epochs=2", bytes.NewReader(body))
			if err != nil {
				errs[i] = err
				return
			}
			resp, err := hc.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var v struct {
				NewlyCreated *struct {
					BlobObject struct {
						BlobID         string `json:"blobId"`
						CertifiedEpoch *int   `json:"certifiedEpoch"`
					} `json:"blobObject"`
				} `json:"newlyCreated"`
			}
			if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &v) != nil || v.NewlyCreated == nil ||
				v.NewlyCreated.BlobObject.BlobID == "" || v.NewlyCreated.BlobObject.CertifiedEpoch == nil {
				errs[i] = fmt.Errorf("status %d: %s", resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			failed++
			if failed <= 10 {
				t.Errorf("PUT %d: %v", i, err)
			}
		}
	}
	t.Logf("%d concurrent PUT /v1/blobs to one publisher: %d failed, %v", n, failed, time.Since(start))
}
