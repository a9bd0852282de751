package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/quilt"
	"github.com/walrus-go/walrus-go/node/gateway"
	"github.com/walrus-go/walrus-go/staking"
)

// These tests run the gateway over fake backends: the HTTP contract (status codes,
// shapes, limits, JWT) without a network. gateway_cluster_test.go runs it over a real
// in-process testnet.

// memBackend is an in-memory Reader and Publisher.
type memBackend struct {
	mu    sync.Mutex
	blobs map[codec.BlobID][]byte
	// stat, if set, overrides Stat's answer for a blob.
	stat map[codec.BlobID]error
	// gate, if set, makes Store signal entered and wait for gate before storing.
	gate, entered chan struct{}
	stores        int
}

func newMem() *memBackend {
	return &memBackend{blobs: map[codec.BlobID][]byte{}, stat: map[codec.BlobID]error{}}
}

func (m *memBackend) Stat(_ context.Context, id codec.BlobID) (gateway.BlobInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.stat[id]; err != nil {
		return gateway.BlobInfo{}, err
	}
	b, ok := m.blobs[id]
	if !ok {
		return gateway.BlobInfo{}, gateway.ErrBlobNotFound
	}
	return gateway.BlobInfo{Size: uint64(len(b))}, nil
}

func (m *memBackend) Params() codec.Params { return codec.MustParams(10) }

func (m *memBackend) blob(id codec.BlobID) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[id]
	if !ok {
		return nil, gateway.ErrBlobNotFound
	}
	return b, nil
}

func (m *memBackend) ReadRangeTo(_ context.Context, id codec.BlobID, _ gateway.BlobInfo, off, n uint64, w io.Writer) (int64, error) {
	b, err := m.blob(id)
	if err != nil {
		return 0, err
	}
	if off+n > uint64(len(b)) {
		return 0, fmt.Errorf("range [%d, +%d) of %d bytes", off, n, len(b))
	}
	k, err := w.Write(b[off : off+n])
	return int64(k), err
}

// ReadSecondarySlivers cuts the columns out of a quilt-shaped blob (R × C × s bytes,
// stored row by row: docs/quilts.md §1).
func (m *memBackend) ReadSecondarySlivers(_ context.Context, id codec.BlobID, _ gateway.BlobInfo, cols []int) (map[int][]byte, error) {
	b, err := m.blob(id)
	if err != nil {
		return nil, err
	}
	p := m.Params()
	s, err := quilt.SymbolSize(p, uint64(len(b)))
	if err != nil {
		return nil, err
	}
	out := map[int][]byte{}
	for _, c := range cols {
		col := make([]byte, 0, p.R*s)
		for r := 0; r < p.R; r++ {
			at := (r*p.C + c) * s
			col = append(col, b[at:at+s]...)
		}
		out[c] = col
	}
	return out, nil
}

func (m *memBackend) Store(ctx context.Context, data []byte, req gateway.StoreRequest) (*gateway.StoreResult, error) {
	if m.gate != nil {
		m.entered <- struct{}{}
		select {
		case <-m.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p, _ := codec.NewParams(10)
	_, id, err := codec.ComputeMetadata(p, data)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stores++
	_, had := m.blobs[id]
	m.blobs[id] = append([]byte(nil), data...)
	obj := staking.Blob{ID: staking.ObjectID{1}, BlobID: id, Length: uint64(len(data)), Registered: 3, Certified: true, CertEpoch: 3,
		Deletable: req.Deletable, Storage: staking.Storage{ID: staking.ObjectID{2}, Start: 3, End: 3 + req.Epochs, Size: 1234}}
	return &gateway.StoreResult{BlobID: id, AlreadyCertified: had && !req.Force, Object: obj, EndEpoch: 3 + req.Epochs,
		Cost: 77, EncodedLength: 1234, EpochsAhead: req.Epochs}, nil
}

// fakeGateway serves cfg (backend defaults to mem) on an httptest server.
func fakeGateway(t *testing.T, mem *memBackend, cfg gateway.Config) string {
	t.Helper()
	if cfg.Role == 0 {
		cfg.Role = gateway.RoleDaemon
	}
	if cfg.Reader == nil && cfg.Role&gateway.RoleAggregator != 0 {
		cfg.Reader = mem
	}
	if cfg.Publisher == nil && cfg.Role&gateway.RolePublisher != 0 {
		cfg.Publisher = mem
	}
	g, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newReq(t testing.TB, method, url string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestFakeStoreReadAndErrors(t *testing.T) {
	mem := newMem()
	base := fakeGateway(t, mem, gateway.Config{MaxBodySize: 1000})
	c := &http.Client{Timeout: 30 * time.Second}
	data := []byte("<html><body>hello</body></html>")

	resp := do(t, c, newReq(t, "PUT", base+"/v1/blobs?epochs=2", data))
	if resp.code != 200 {
		t.Fatalf("store: %d %s", resp.code, resp.body)
	}
	v := checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp).(map[string]any)
	nc := v["newlyCreated"].(map[string]any)
	id := nc["blob_object"].(map[string]any)["blobId"].(string)
	if nc["blobObject"] == nil || nc["cost"].(float64) != 77 || nc["blob_object"].(map[string]any)["deletable"] != true {
		t.Fatalf("newlyCreated: %s", resp.body)
	}
	// The same again: alreadyCertified, as the document shapes it.
	resp = do(t, c, newReq(t, "PUT", base+"/v1/blobs?epochs=2&permanent=true", data))
	v = checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp).(map[string]any)
	if ac, ok := v["alreadyCertified"].(map[string]any); !ok || ac["blob_id"] != id || ac["end_epoch"].(float64) != 5 {
		t.Fatalf("alreadyCertified: %s", resp.body)
	}

	// Read it back, sniffed as HTML; with content_type as asked.
	resp = do(t, c, newReq(t, "GET", base+"/v1/blobs/"+id, nil))
	if resp.code != 200 || !bytes.Equal(resp.body, data) || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/html") ||
		resp.header.Get("Accept-Ranges") != "bytes" || resp.header.Get("ETag") != `"`+id+`"` {
		t.Fatalf("read: %d %v %q", resp.code, resp.header, resp.body)
	}
	checkJSON(t, gateway.RoleDaemon, "get", "/v1/blobs/{blob_id}", resp)
	resp = do(t, c, newReq(t, "GET", base+"/v1/blobs/"+id+"?content_type=image/png", nil))
	if resp.header.Get("Content-Type") != "image/png" {
		t.Fatalf("content_type: %v", resp.header)
	}
	req := newReq(t, "GET", base+"/v1/blobs/"+id, nil)
	req.Header.Set("Range", "bytes=-5")
	resp = do(t, c, req)
	if resp.code != 206 || string(resp.body) != "html>" || resp.header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", len(data)-5, len(data)-1, len(data)) {
		t.Fatalf("suffix range: %d %v %q", resp.code, resp.header, resp.body)
	}

	for _, tc := range []struct {
		name, method, url, route string
		body                     []byte
		code                     int
		reason                   string
	}{
		{"unknown blob", "GET", "/v1/blobs/" + codec.BlobID{9}.String(), "/v1/blobs/{blob_id}", nil, 404, gateway.ReasonBlobNotFound},
		{"malformed id", "GET", "/v1/blobs/not-a-blob-id", "/v1/blobs/{blob_id}", nil, 400, gateway.ReasonInvalidBlobID},
		{"bad content type", "GET", "/v1/blobs/" + id + "?content_type=%22", "/v1/blobs/{blob_id}", nil, 400, gateway.ReasonInvalidParameter},
		{"both consistency checks", "GET", "/v1/blobs/" + id + "?strict_consistency_check=true&skip_consistency_check=true", "/v1/blobs/{blob_id}", nil, 400, gateway.ReasonInvalidParameter},
		{"byte-range past the end", "GET", "/v1/blobs/" + id + "/byte-range?start=1&length=1000", "/v1/blobs/{blob_id}/byte-range", nil, 400, gateway.ReasonInvalidByteRange},
		{"byte-range length 0", "GET", "/v1/blobs/" + id + "/byte-range?start=0&length=0", "/v1/blobs/{blob_id}/byte-range", nil, 400, gateway.ReasonInvalidByteRange},
		{"byte-range no start", "GET", "/v1/blobs/" + id + "/byte-range?length=1", "/v1/blobs/{blob_id}/byte-range", nil, 400, gateway.ReasonInvalidByteRange},
		{"byte-range malformed id", "GET", "/v1/blobs/xyz/byte-range?start=0&length=1", "/v1/blobs/{blob_id}/byte-range", nil, 400, gateway.ReasonInvalidBlobID},
		{"epochs 0", "PUT", "/v1/blobs?epochs=0", "/v1/blobs", data, 400, gateway.ReasonInvalidParameter},
		{"epochs too many", "PUT", "/v1/blobs?epochs=54", "/v1/blobs", data, 400, gateway.ReasonInvalidParameter},
		{"deletable and permanent", "PUT", "/v1/blobs?deletable=true&permanent=true", "/v1/blobs", data, 400, gateway.ReasonInvalidPersistence},
		{"send_object_to", "PUT", "/v1/blobs?send_object_to=0x01", "/v1/blobs", data, 400, gateway.ReasonUnsupportedParameter},
		{"encoding", "PUT", "/v1/blobs?encoding_type=RS3", "/v1/blobs", data, 400, gateway.ReasonInvalidParameter},
		{"too large", "PUT", "/v1/blobs", "/v1/blobs", make([]byte, 1001), 413, gateway.ReasonBlobTooLarge},
		{"quilt not multipart", "PUT", "/v1/quilts", "/v1/quilts", data, 400, gateway.ReasonInvalidParameter},
		{"by object id", "GET", "/v1/blobs/by-object-id/0x01", "/v1/blobs/by-object-id/{blob_object_id}", nil, 501, gateway.ReasonNotImplemented},
		{"no route", "GET", "/v2/nothing", "/v2/nothing", nil, 404, gateway.ReasonNotFound},
	} {
		resp := do(t, c, newReq(t, tc.method, base+tc.url, tc.body))
		if resp.code != tc.code {
			t.Errorf("%s: %d, want %d: %s", tc.name, resp.code, tc.code, resp.body)
			continue
		}
		checkJSON(t, gateway.RoleDaemon, strings.ToLower(tc.method), tc.route, resp)
		if r := reasonOf(t, resp); r != tc.reason {
			t.Errorf("%s: reason %q, want %q", tc.name, r, tc.reason)
		}
	}
	if mem.stores != 2 {
		t.Errorf("%d stores reached the backend, want 2 (refused uploads must not)", mem.stores)
	}

	// 413 also without a Content-Length (chunked), found while reading.
	req = newReq(t, "PUT", base+"/v1/blobs", nil)
	req.Body = io.NopCloser(io.MultiReader(bytes.NewReader(make([]byte, 600)), bytes.NewReader(make([]byte, 600))))
	req.ContentLength = -1
	resp = do(t, c, req)
	if resp.code != 413 || reasonOf(t, resp) != gateway.ReasonBlobTooLarge {
		t.Fatalf("chunked over the limit: %d %s", resp.code, resp.body)
	}
	checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp)

	// Not retrievable now (registered, or too few nodes): a retryable 503.
	mem.mu.Lock()
	mem.stat[codec.BlobID{7}] = gateway.ErrBlobUnavailable
	mem.mu.Unlock()
	resp = do(t, c, newReq(t, "GET", base+"/v1/blobs/"+codec.BlobID{7}.String(), nil))
	if resp.code != 503 || resp.header.Get("Retry-After") == "" || reasonOf(t, resp) != gateway.ReasonBlobNotRetrievable {
		t.Fatalf("unavailable: %d %v %s", resp.code, resp.header, resp.body)
	}
	checkJSON(t, gateway.RoleDaemon, "get", "/v1/blobs/{blob_id}", resp)

	// The API document, the status and the metrics.
	resp = do(t, c, newReq(t, "GET", base+"/v1/api", nil))
	want, _ := gateway.OpenAPI(gateway.RoleDaemon)
	if resp.code != 200 || !bytes.Equal(resp.body, want) {
		t.Fatalf("/v1/api: %d, %d bytes", resp.code, len(resp.body))
	}
	if resp := do(t, c, newReq(t, "GET", base+"/status", nil)); resp.code != 200 {
		t.Fatalf("/status: %d", resp.code)
	}
	resp = do(t, c, newReq(t, "GET", base+"/metrics", nil))
	for _, m := range []string{`walrus_gateway_requests_total{code="413",route="PUT /v1/blobs"} 2`,
		`walrus_gateway_requests_total{code="206",route="GET /v1/blobs/{blob_id}"} 1`,
		`walrus_gateway_stores_total{result="already_certified"} 1`, "walrus_gateway_uploads_in_flight 0"} {
		if !strings.Contains(string(resp.body), m) {
			t.Errorf("metrics lack %q:\n%s", m, resp.body)
		}
	}
}

func TestFakeRoles(t *testing.T) {
	mem := newMem()
	c := &http.Client{Timeout: 30 * time.Second}
	pub := fakeGateway(t, mem, gateway.Config{Role: gateway.RolePublisher})
	agg := fakeGateway(t, mem, gateway.Config{Role: gateway.RoleAggregator})
	id := codec.BlobID{1}.String()
	if r := do(t, c, newReq(t, "GET", pub+"/v1/blobs/"+id, nil)); r.code != 404 && r.code != 405 {
		t.Errorf("publisher serves reads: %d", r.code)
	}
	if r := do(t, c, newReq(t, "PUT", agg+"/v1/blobs", []byte("x"))); r.code != 404 && r.code != 405 {
		t.Errorf("aggregator serves stores: %d", r.code)
	}
	for role, url := range map[gateway.Role]string{gateway.RolePublisher: pub, gateway.RoleAggregator: agg} {
		r := do(t, c, newReq(t, "GET", url+"/v1/api", nil))
		want, _ := gateway.OpenAPI(role)
		if !bytes.Equal(r.body, want) {
			t.Errorf("%v serves another API document", role)
		}
	}
}

func TestFakeUploadSaturation(t *testing.T) {
	mem := newMem()
	mem.gate, mem.entered = make(chan struct{}), make(chan struct{}, 2)
	base := fakeGateway(t, mem, gateway.Config{MaxConcurrentUploads: 2})
	c := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Do(newReq(t, "PUT", base+"/v1/blobs", []byte{byte(i)}))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	<-mem.entered
	<-mem.entered // both slots are held inside Store
	resp := do(t, c, newReq(t, "PUT", base+"/v1/blobs", []byte("third")))
	if resp.code != 429 || resp.header.Get("Retry-After") == "" || reasonOf(t, resp) != gateway.ReasonTooManyRequests {
		t.Fatalf("third upload: %d %v %s", resp.code, resp.header, resp.body)
	}
	checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp)
	close(mem.gate)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Fatalf("held uploads: %v", codes)
	}
	// The slots are free again.
	if resp := do(t, c, newReq(t, "PUT", base+"/v1/blobs", []byte("fourth"))); resp.code != 200 {
		t.Fatalf("after saturation: %d %s", resp.code, resp.body)
	}
}

func TestFakeJWT(t *testing.T) {
	secret := []byte("test secret")
	now := time.Unix(1_800_000_000, 0)
	mem := newMem()
	base := fakeGateway(t, mem, gateway.Config{
		JWT: &gateway.JWTConfig{Secret: secret, VerifyUpload: true},
		Now: func() time.Time { return now },
	})
	c := &http.Client{Timeout: 30 * time.Second}
	u64 := func(v uint64) *uint64 { return &v }
	u32 := func(v uint32) *uint32 { return &v }
	exp := now.Unix() + 60
	jti := 0
	token := func(secret []byte, edit func(*gateway.Claims)) string {
		jti++
		e := exp
		cl := gateway.Claims{Exp: &e, Jti: fmt.Sprint("token-", jti)}
		if edit != nil {
			edit(&cl)
		}
		s, err := gateway.SignHS256(secret, cl)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	put := func(query, auth string, body []byte) *response {
		req := newReq(t, "PUT", base+"/v1/blobs"+query, body)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp := do(t, c, req)
		checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp)
		return resp
	}
	good := token(secret, nil)
	past := now.Unix() - 1
	for _, tc := range []struct {
		name, query, auth string
		body              []byte
		code              int
		reason            string
	}{
		{"missing", "", "", []byte("a"), 401, gateway.ReasonMissingToken},
		{"not bearer", "", "Basic dXNlcjpwdw==", []byte("a"), 401, gateway.ReasonMissingToken},
		{"garbage", "", "Bearer abc", []byte("a"), 401, gateway.ReasonInvalidToken},
		{"wrong secret", "", "Bearer " + token([]byte("other"), nil), []byte("a"), 401, gateway.ReasonInvalidSignature},
		{"alg none", "", "Bearer " + noneToken(t, exp), []byte("a"), 401, gateway.ReasonInvalidToken},
		{"expired", "", "Bearer " + token(secret, func(c *gateway.Claims) { c.Exp = &past }), []byte("a"), 401, gateway.ReasonExpiredSignature},
		{"no jti", "", "Bearer " + token(secret, func(c *gateway.Claims) { c.Jti = "" }), []byte("a"), 401, gateway.ReasonInvalidToken},
		{"over max_size", "", "Bearer " + token(secret, func(c *gateway.Claims) { c.MaxSize = u64(3) }), []byte("abcd"), 403, gateway.ReasonMaxSizeExceeded},
		{"wrong size", "", "Bearer " + token(secret, func(c *gateway.Claims) { c.Size = u64(3) }), []byte("ab"), 403, gateway.ReasonSizeIncorrect},
		{"wrong epochs", "?epochs=2", "Bearer " + token(secret, func(c *gateway.Claims) { c.Epochs = u32(3) }), []byte("a"), 403, gateway.ReasonInvalidEpochs},
		{"epochs above max", "?epochs=4", "Bearer " + token(secret, func(c *gateway.Claims) { c.MaxEpochs = u32(3) }), []byte("a"), 403, gateway.ReasonEpochsAboveMax},
		{"good", "", "Bearer " + good, []byte("a"), 200, ""},
		{"replay", "", "Bearer " + good, []byte("b"), 403, gateway.ReasonTokenAlreadyUsed},
		{"within limits", "?epochs=3", "Bearer " + token(secret, func(c *gateway.Claims) { c.MaxEpochs = u32(3); c.MaxSize = u64(3) }), []byte("abc"), 200, ""},
	} {
		resp := put(tc.query, tc.auth, tc.body)
		if resp.code != tc.code {
			t.Errorf("%s: %d, want %d: %s", tc.name, resp.code, tc.code, resp.body)
			continue
		}
		if tc.code == 401 && resp.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
		if tc.reason != "" {
			if r := reasonOf(t, resp); r != tc.reason {
				t.Errorf("%s: reason %q, want %q", tc.name, r, tc.reason)
			}
		}
	}
	if mem.stores != 2 {
		t.Errorf("%d stores reached the backend, want 2", mem.stores)
	}
	// Reads need no token.
	if resp := do(t, c, newReq(t, "GET", base+"/v1/blobs/"+codec.BlobID{3}.String(), nil)); resp.code != 404 {
		t.Errorf("read with JWT on: %d", resp.code)
	}
}

// noneToken is an unsigned token (alg "none"), which must never pass.
func noneToken(t *testing.T, exp int64) string {
	t.Helper()
	s, err := gateway.SignHS256([]byte("x"), map[string]any{"exp": exp, "jti": "none"})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(s, ".")
	return "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + "."
}
