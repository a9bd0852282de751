package gateway_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/internal/keyfile"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/gateway"
	"github.com/walrus-go/walrus-go/testnet"
)

// gatedPublisher holds each store until the test lets it through, so that a test can
// fill the upload slots deterministically; then it stores for real.
type gatedPublisher struct {
	gateway.Publisher
	entered chan struct{}
	gate    chan struct{}
}

func (p *gatedPublisher) Store(ctx context.Context, data []byte, req gateway.StoreRequest) (*gateway.StoreResult, error) {
	p.entered <- struct{}{}
	select {
	case <-p.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return p.Publisher.Store(ctx, data, req)
}

// serve runs a gateway for cfg on a loopback httptest server.
func serve(t *testing.T, cfg gateway.Config) string {
	t.Helper()
	g, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestGatewayOverTestnet runs the daemon over a real in-process testnet (4 nodes, 10
// shards, libp2p on loopback) and a real HTTP client: stores, reads, ranges at the edges,
// and every error path, each JSON answer validated against the published document.
func TestGatewayOverTestnet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4-node testnet")
	}
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sess := c.Session(ctx)
	gw := gateway.NewSession(sess)
	t.Cleanup(gw.Close)
	const maxBody = 512 << 10
	base := serve(t, gateway.Config{Role: gateway.RoleDaemon, Reader: gw, Publisher: gw, MaxBodySize: maxBody})
	hc := &http.Client{Timeout: 3 * time.Minute}

	// A blob of several rows, and the row size of its encoding.
	rng := mrand.New(mrand.NewPCG(16, 1))
	data := make([]byte, 100_000+rng.IntN(1000))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	p, err := codec.NewParams(testnet.DefaultClusterShards)
	if err != nil {
		t.Fatal(err)
	}
	meta, wantID, err := codec.ComputeMetadata(p, data)
	if err != nil {
		t.Fatal(err)
	}
	symbol, err := meta.SymbolSize(p)
	if err != nil {
		t.Fatal(err)
	}
	row := p.PrimarySliverSize(symbol)
	if row >= len(data) {
		t.Fatalf("row %d bytes: the blob of %d bytes must span several rows", row, len(data))
	}
	id := wantID.String()

	// Store: newlyCreated, with the walrus-go object IDs and the cost.
	resp := do(t, hc, newReq(t, "PUT", base+"/v1/blobs?epochs=2", data))
	if resp.code != 200 {
		t.Fatalf("store: %d %s", resp.code, resp.body)
	}
	v := checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp).(map[string]any)
	nc := v["newlyCreated"].(map[string]any)
	obj := nc["blob_object"].(map[string]any)
	storage := obj["storage"].(map[string]any)
	if obj["blobId"] != id || obj["size"].(float64) != float64(len(data)) || obj["deletable"] != true ||
		obj["certifiedEpoch"] == nil || nc["cost"].(float64) <= 0 ||
		storage["endEpoch"].(float64) != storage["startEpoch"].(float64)+2 || len(obj["id"].(string)) != 66 {
		t.Fatalf("newlyCreated: %s", resp.body)
	}
	firstObject := obj["id"].(string)

	// Again: already certified for long enough, nothing bought.
	resp = do(t, hc, newReq(t, "PUT", base+"/v1/blobs?epochs=1", data))
	v = checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp).(map[string]any)
	ac, ok := v["alreadyCertified"].(map[string]any)
	if resp.code != 200 || !ok || ac["blob_id"] != id || ac["object"] != firstObject || ac["end_epoch"] != storage["endEpoch"] {
		t.Fatalf("already certified: %d %s", resp.code, resp.body)
	}
	// force=true: a new, permanent blob object all the same.
	resp = do(t, hc, newReq(t, "PUT", base+"/v1/blobs?epochs=1&force=true&permanent=true", data))
	if resp.code != 200 {
		t.Fatalf("forced store: %d %s", resp.code, resp.body)
	}
	v = checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp).(map[string]any)
	forced := v["newlyCreated"].(map[string]any)["blob_object"].(map[string]any)
	if forced["id"] == firstObject || forced["deletable"] != false || forced["blobId"] != id {
		t.Fatalf("forced store: %s", resp.body)
	}

	// Read: whole, sniffed, and ranges at the edges.
	get := func(rangeHeader string) *response {
		req := newReq(t, "GET", base+"/v1/blobs/"+id, nil)
		if rangeHeader != "" {
			req.Header.Set("Range", rangeHeader)
		}
		resp := do(t, hc, req)
		checkJSON(t, gateway.RoleDaemon, "get", "/v1/blobs/{blob_id}", resp)
		return resp
	}
	resp = get("")
	if resp.code != 200 || !bytes.Equal(resp.body, data) || resp.header.Get("Content-Type") != "application/octet-stream" ||
		resp.header.Get("Accept-Ranges") != "bytes" {
		t.Fatalf("read: %d %v, %d bytes", resp.code, resp.header, len(resp.body))
	}
	n := len(data)
	for _, tc := range []struct {
		h        string
		off, end int // [off, end)
	}{
		{"bytes=0-0", 0, 1},
		{fmt.Sprintf("bytes=%d-%d", n-1, n-1), n - 1, n},
		{"bytes=-1", n - 1, n},
		{fmt.Sprintf("bytes=%d-", n-10), n - 10, n},
		{fmt.Sprintf("bytes=%d-%d", row-5, row+4), row - 5, row + 5},       // crosses rows 0 and 1
		{fmt.Sprintf("bytes=%d-%d", 2*row-1, 2*row), 2*row - 1, 2*row + 1}, // the last byte of row 1, the first of row 2
		{fmt.Sprintf("bytes=%d-%d", n-3, n+100), n - 3, n},                 // clipped at the end
	} {
		resp := get(tc.h)
		wantCR := fmt.Sprintf("bytes %d-%d/%d", tc.off, tc.end-1, n)
		if resp.code != 206 || !bytes.Equal(resp.body, data[tc.off:tc.end]) || resp.header.Get("Content-Range") != wantCR {
			t.Errorf("Range %s: %d, Content-Range %q (want %q), %d bytes", tc.h, resp.code, resp.header.Get("Content-Range"), wantCR, len(resp.body))
		}
	}
	for _, h := range []string{fmt.Sprintf("bytes=%d-", n), fmt.Sprintf("bytes=%d-%d", n+5, n+10), "bytes=9-3", "bytes=x-"} {
		resp := get(h)
		if resp.code != 416 || resp.header.Get("Content-Range") != fmt.Sprintf("bytes */%d", n) || reasonOf(t, resp) != gateway.ReasonInvalidByteRange {
			t.Errorf("Range %s: %d %v %s", h, resp.code, resp.header, resp.body)
		}
	}
	// Several ranges: served whole.
	if resp := get("bytes=0-0,5-6"); resp.code != 200 || !bytes.Equal(resp.body, data) {
		t.Errorf("multi-range: %d, %d bytes", resp.code, len(resp.body))
	}
	// The byte-range route.
	resp = do(t, hc, newReq(t, "GET", fmt.Sprintf("%s/v1/blobs/%s/byte-range?start=%d&length=%d", base, id, row-1, 2), nil))
	if resp.code != 200 || !bytes.Equal(resp.body, data[row-1:row+1]) {
		t.Errorf("byte-range: %d %q", resp.code, resp.body)
	}
	resp = do(t, hc, newReq(t, "GET", fmt.Sprintf("%s/v1/blobs/%s/byte-range?start=%d&length=2", base, id, n-1), nil))
	if resp.code != 400 || reasonOf(t, resp) != gateway.ReasonInvalidByteRange {
		t.Errorf("byte-range past the end: %d %s", resp.code, resp.body)
	}
	checkJSON(t, gateway.RoleDaemon, "get", "/v1/blobs/{blob_id}/byte-range", resp)

	// Unknown, malformed, registered but not certified.
	resp = do(t, hc, newReq(t, "GET", base+"/v1/blobs/"+codec.BlobID{1, 2, 3}.String(), nil))
	if resp.code != 404 || reasonOf(t, resp) != gateway.ReasonBlobNotFound {
		t.Errorf("unknown blob: %d %s", resp.code, resp.body)
	}
	checkJSON(t, gateway.RoleDaemon, "get", "/v1/blobs/{blob_id}", resp)
	resp = do(t, hc, newReq(t, "GET", base+"/v1/blobs/AAAA", nil))
	if resp.code != 400 || reasonOf(t, resp) != gateway.ReasonInvalidBlobID {
		t.Errorf("malformed blob ID: %d %s", resp.code, resp.body)
	}
	checkJSON(t, gateway.RoleDaemon, "get", "/v1/blobs/{blob_id}", resp)
	other := []byte("registered, never uploaded")
	enc, err := codec.Encode(p, other)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := sess.Ledger.RegisterBlob(ctx, enc, client.StoreOptions{Epochs: 1}); err != nil {
		t.Fatal(err)
	}
	resp = do(t, hc, newReq(t, "GET", base+"/v1/blobs/"+enc.BlobID.String(), nil))
	if resp.code != 503 || resp.header.Get("Retry-After") == "" || reasonOf(t, resp) != gateway.ReasonBlobNotRetrievable {
		t.Errorf("registered blob: %d %v %s", resp.code, resp.header, resp.body)
	}
	checkJSON(t, gateway.RoleDaemon, "get", "/v1/blobs/{blob_id}", resp)

	// Over the body limit: 413, nothing stored.
	big := make([]byte, maxBody+1)
	resp = do(t, hc, newReq(t, "PUT", base+"/v1/blobs", big))
	if resp.code != 413 || reasonOf(t, resp) != gateway.ReasonBlobTooLarge {
		t.Errorf("over the limit: %d %s", resp.code, resp.body)
	}
	checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp)
	bigMeta, bigID, err := codec.ComputeMetadata(p, big)
	_ = bigMeta
	if err != nil {
		t.Fatal(err)
	}
	if st, err := sess.Ledger.BlobStatus(ctx, bigID); err != nil || st.Status.Kind.String() != "nonexistent" {
		t.Errorf("a refused upload left a trace on the ledger: %+v %v", st, err)
	}

	// Saturation: one upload slot, held by a store; the next is refused with 429.
	gated := &gatedPublisher{Publisher: gw, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	satBase := serve(t, gateway.Config{Role: gateway.RolePublisher, Publisher: gated, MaxConcurrentUploads: 1})
	held := make(chan *response, 1)
	go func() {
		resp, err := hc.Do(newReq(t, "PUT", satBase+"/v1/blobs", []byte("held upload")))
		if err != nil {
			held <- &response{code: -1, body: []byte(err.Error())}
			return
		}
		resp.Body.Close()
		held <- &response{code: resp.StatusCode}
	}()
	<-gated.entered
	resp = do(t, hc, newReq(t, "PUT", satBase+"/v1/blobs", []byte("one too many")))
	if resp.code != 429 || reasonOf(t, resp) != gateway.ReasonTooManyRequests {
		t.Errorf("saturated: %d %s", resp.code, resp.body)
	}
	checkJSON(t, gateway.RolePublisher, "put", "/v1/blobs", resp)
	close(gated.gate)
	if r := <-held; r.code != 200 {
		t.Errorf("held upload: %d %s", r.code, r.body)
	}

	// JWT: missing, bad signature, expired are 401; over max_size 403; a good token stores.
	secret := []byte("gateway test secret")
	jwtBase := serve(t, gateway.Config{Role: gateway.RolePublisher, Publisher: gw,
		JWT: &gateway.JWTConfig{Secret: secret, VerifyUpload: true}})
	now := time.Now().Unix()
	tok := func(key []byte, exp int64, jti string, maxSize uint64) string {
		s, err := gateway.SignHS256(key, map[string]any{"exp": exp, "jti": jti, "max_size": maxSize})
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	for _, tc := range []struct {
		name, auth string
		code       int
		reason     string
	}{
		{"missing", "", 401, gateway.ReasonMissingToken},
		{"bad signature", tok([]byte("wrong"), now+300, "a", 1000), 401, gateway.ReasonInvalidSignature},
		{"expired", tok(secret, now-10, "b", 1000), 401, gateway.ReasonExpiredSignature},
		{"over max_size", tok(secret, now+300, "c", 3), 403, gateway.ReasonMaxSizeExceeded},
		{"good", tok(secret, now+300, "d", 1000), 200, ""},
	} {
		req := newReq(t, "PUT", jwtBase+"/v1/blobs", []byte("authenticated blob"))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp := do(t, hc, req)
		checkJSON(t, gateway.RolePublisher, "put", "/v1/blobs", resp)
		if resp.code != tc.code || (tc.reason != "" && reasonOf(t, resp) != tc.reason) {
			t.Errorf("JWT %s: %d %s", tc.name, resp.code, resp.body)
		}
		if tc.code == 200 {
			// No `epochs`: the CLI's default, at least a day (client.DefaultEpochs), not one epoch.
			in, err := sess.Ledger.Info(ctx)
			if err != nil {
				t.Fatal(err)
			}
			want := client.DefaultEpochs(time.Duration(in.EpochDuration) * time.Millisecond)
			var v struct {
				NewlyCreated struct {
					BlobObject struct {
						Storage struct{ StartEpoch, EndEpoch uint32 } `json:"storage"`
					} `json:"blobObject"`
				} `json:"newlyCreated"`
			}
			if err := json.Unmarshal(resp.body, &v); err != nil {
				t.Fatal(err)
			}
			if st := v.NewlyCreated.BlobObject.Storage; want < 2 || st.EndEpoch != st.StartEpoch+want {
				t.Errorf("store without epochs: storage %+v, want %d epochs", st, want)
			}
		}
	}

	// A wallet that cannot pay: the forced store (its own hooks) and the plain one are both
	// refused before anything is sent, naming the shortfall; the wallet's nonce is unused.
	fc, err := client.LoadFileConfig(c.Layout.ClientConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	_, poorKey, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	fc.WalletKeyFile = filepath.Join(t.TempDir(), "poor.key")
	if err := keyfile.WriteAccountKey(fc.WalletKeyFile, poorKey); err != nil {
		t.Fatal(err)
	}
	poorCfg := filepath.Join(t.TempDir(), "poor.yaml")
	if err := client.WriteFileConfig(poorCfg, fc); err != nil {
		t.Fatal(err)
	}
	poor, err := client.Open(ctx, poorCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer poor.Close()
	poorGW := gateway.NewSession(poor)
	defer poorGW.Close()
	poorBase := serve(t, gateway.Config{Role: gateway.RolePublisher, Publisher: poorGW, MaxBodySize: maxBody})
	for _, q := range []string{"epochs=1&force=true", "epochs=1"} {
		resp := do(t, hc, newReq(t, "PUT", poorBase+"/v1/blobs?"+q, []byte("a blob nobody pays for "+q)))
		checkJSON(t, gateway.RolePublisher, "put", "/v1/blobs", resp)
		if resp.code != 500 || reasonOf(t, resp) != gateway.ReasonInsufficientFunds || !bytes.Contains(resp.body, []byte("short")) {
			t.Errorf("unfunded store (%s): %d %s", q, resp.code, resp.body)
		}
	}
	if acc, err := sess.Ledger.Account(ctx, poor.Ledger.Address()); err != nil || acc.Account.Nonce != 0 {
		t.Errorf("the unfunded wallet: %+v, %v; want nonce 0 (nothing sent)", acc, err)
	}
}
