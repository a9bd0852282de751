package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/quilt"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/node/gateway"
	"github.com/walrus-go/walrus-go/testnet"
)

// formFile is one field of a PUT /v1/quilts form.
type formFile struct {
	name string
	data []byte
}

// quiltForm builds a multipart/form-data body of files and, when meta is not empty, a
// _metadata field.
func quiltForm(t testing.TB, files []formFile, meta string) (body []byte, contentType string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for _, f := range files {
		w, err := mw.CreateFormFile(f.name, f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.data)
	}
	if meta != "" {
		if err := mw.WriteField("_metadata", meta); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), mw.FormDataContentType()
}

func putQuilt(t testing.TB, hc *http.Client, url string, files []formFile, meta string) *response {
	t.Helper()
	body, ct := quiltForm(t, files, meta)
	req := newReq(t, "PUT", url, body)
	req.Header.Set("Content-Type", ct)
	return do(t, hc, req)
}

// sliverSpy records what the gateway asks its Reader for.
type sliverSpy struct {
	gateway.Reader
	mu        sync.Mutex
	secondary []int
	ranges    [][2]uint64
}

func (s *sliverSpy) ReadSecondarySlivers(ctx context.Context, id codec.BlobID, info gateway.BlobInfo, cols []int) (map[int][]byte, error) {
	s.mu.Lock()
	s.secondary = append(s.secondary, cols...)
	s.mu.Unlock()
	return s.Reader.ReadSecondarySlivers(ctx, id, info, cols)
}

func (s *sliverSpy) ReadRangeTo(ctx context.Context, id codec.BlobID, info gateway.BlobInfo, off, n uint64, w io.Writer) (int64, error) {
	s.mu.Lock()
	s.ranges = append(s.ranges, [2]uint64{off, n})
	s.mu.Unlock()
	return s.Reader.ReadRangeTo(ctx, id, info, off, n, w)
}

func (s *sliverSpy) take() ([]int, [][2]uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, rg := s.secondary, s.ranges
	s.secondary, s.ranges = nil, nil
	slices.Sort(sec)
	return sec, rg
}

// TestQuiltsOverTestnet stores a quilt through PUT /v1/quilts on a real testnet, lists
// its patches and reads each by identifier and by patch ID, checking every JSON answer
// against the documents, the patch headers, and that a patch read fetches only the
// index's and the patch's secondary slivers (and no primary ones); then serves the quilt
// as a site.
func TestQuiltsOverTestnet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4-node testnet")
	}
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	sess := c.Session(ctx)
	gw := gateway.NewSession(sess)
	t.Cleanup(gw.Close)
	spy := &sliverSpy{Reader: gw}
	base := serve(t, gateway.Config{Role: gateway.RoleDaemon, Reader: spy, Publisher: gw})
	hc := &http.Client{Timeout: 3 * time.Minute}

	files := []formFile{
		{"index.html", []byte(`<!doctype html><link rel="stylesheet" href="css/site.css"><h1>walrus</h1>`)},
		{"css/site.css", []byte("h1 { color: rgb(1, 2, 3); }")},
		{"海豹 seal.txt", []byte("a seal")},
		{"big.bin", bytes.Repeat([]byte("0123456789abcdef"), 8000)}, // 128 KB
		{"empty", []byte{}},
	}
	meta := `[{"identifier":"big.bin","tags":{"content-type":"application/x-walrus","rarity":"legendary"}},
	          {"identifier":"海豹 seal.txt","tags":{"creator":"walrus"}}]`
	resp := putQuilt(t, hc, base+"/v1/quilts?epochs=2&quilt_version=V1", files, meta)
	if resp.code != 200 {
		t.Fatalf("PUT /v1/quilts: %d %s", resp.code, resp.body)
	}
	v := checkJSON(t, gateway.RoleDaemon, "put", "/v1/quilts", resp).(map[string]any)
	obj := v["blobStoreResult"].(map[string]any)["newlyCreated"].(map[string]any)["blobObject"].(map[string]any)
	quiltID := obj["blobId"].(string)
	stored := v["storedQuiltBlobs"].([]any)
	if len(stored) != len(files) {
		t.Fatalf("storedQuiltBlobs: %s", resp.body)
	}
	// The store returns at the certificate, when the last members' uploads may still be on
	// their way; a patch read from a member still receiving its slivers rightly falls back
	// to a range read, which is not the path this test checks. So every member first holds
	// its pairs.
	waitAllHeld(ctx, t, sess, quiltID)
	// The same files give the same quilt as codec/quilt's encoder (the Walrus layout).
	qfiles := make([]quilt.File, len(files))
	for i, f := range files {
		qfiles[i] = quilt.File{Identifier: f.name, Data: f.data}
	}
	qfiles[3].Tags = map[string]string{"content-type": "application/x-walrus", "rarity": "legendary"}
	qfiles[2].Tags = map[string]string{"creator": "walrus"}
	q, err := quilt.Encode(gw.Params(), qfiles)
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := q.ComputeID(); want.String() != quiltID {
		t.Fatalf("quilt ID %s, the encoder's %s", quiltID, want)
	}
	patchIDs := map[string]string{}
	for _, s := range stored {
		s := s.(map[string]any)
		patchIDs[s["identifier"].(string)] = s["quiltPatchId"].(string)
	}

	// List: the index alone.
	spy.take()
	resp = do(t, hc, newReq(t, "GET", base+"/v1/quilts/"+quiltID+"/patches", nil))
	items := checkJSON(t, gateway.RoleDaemon, "get", "/v1/quilts/{quilt_id}/patches", resp)
	if resp.code != 200 || len(items.([]any)) != len(files) {
		t.Fatalf("patches: %d %s", resp.code, resp.body)
	}
	for _, it := range items.([]any) {
		it := it.(map[string]any)
		if patchIDs[it["identifier"].(string)] != it["patch_id"] {
			t.Fatalf("patch %v, stored as %s", it, patchIDs[it["identifier"].(string)])
		}
		if it["identifier"] == "big.bin" && it["tags"].(map[string]any)["rarity"] != "legendary" {
			t.Fatalf("tags: %v", it)
		}
	}
	ix := q.Index
	var indexCols []int
	for c := range ix.Columns {
		indexCols = append(indexCols, c)
	}
	if sec, rg := spy.take(); !slices.Equal(sec, indexCols) || len(rg) != 0 {
		t.Fatalf("listing fetched secondary slivers %v and ranges %v; the index is in columns %v", sec, rg, indexCols)
	}

	// Each patch by identifier and by patch ID: its bytes and headers, its columns only
	// (the index is remembered from the listing).
	for _, f := range files {
		pt, _ := ix.Lookup(f.name)
		var want []int
		for c := pt.Start; c < pt.End; c++ {
			want = append(want, c)
		}
		for _, u := range []string{
			base + "/v1/blobs/by-quilt-id/" + quiltID + "/" + escapeSegments(f.name),
			base + "/v1/blobs/by-quilt-patch-id/" + patchIDs[f.name],
		} {
			resp := do(t, hc, newReq(t, "GET", u, nil))
			if resp.code != 200 || !bytes.Equal(resp.body, f.data) || resp.header.Get("X-Quilt-Patch-Identifier") != f.name {
				t.Fatalf("GET %s: %d %v %q", u, resp.code, resp.header, resp.body)
			}
			if sec, rg := spy.take(); !slices.Equal(sec, want) || len(rg) != 0 {
				t.Fatalf("GET %s fetched secondary slivers %v and ranges %v; the patch is in columns %v", u, sec, rg, want)
			}
		}
	}
	resp = do(t, hc, newReq(t, "GET", base+"/v1/blobs/by-quilt-patch-id/"+patchIDs["big.bin"], nil))
	if resp.header.Get("Content-Type") != "application/x-walrus" || resp.header.Get("ETag") != `"`+patchIDs["big.bin"]+`"` {
		t.Fatalf("tagged patch headers: %v", resp.header)
	}
	resp = do(t, hc, newReq(t, "GET", base+"/v1/blobs/by-quilt-id/"+quiltID+"/css%2Fsite.css?content_type=text/css", nil))
	if resp.code != 200 || resp.header.Get("Content-Type") != "text/css" || resp.header.Get("ETag") != `"`+quiltID+`"` {
		t.Fatalf("escaped identifier with content_type: %d %v", resp.code, resp.header)
	}

	// Errors: unknown identifier and patch, bad patch ID, a blob that is not a quilt.
	for _, tc := range []struct {
		url, route string
		code       int
		reason     string
	}{
		{"/v1/blobs/by-quilt-id/" + quiltID + "/nope", "/v1/blobs/by-quilt-id/{quilt_id}/{identifier}", 404, gateway.ReasonQuiltPatchNotFound},
		{"/v1/blobs/by-quilt-id/AAAA/nope", "/v1/blobs/by-quilt-id/{quilt_id}/{identifier}", 400, gateway.ReasonInvalidBlobID},
		{"/v1/blobs/by-quilt-patch-id/" + quilt.PatchID{Quilt: mustID(t, quiltID), Version: 1, Start: 1, End: 2}.String(), "/v1/blobs/by-quilt-patch-id/{quilt_patch_id}", 404, gateway.ReasonQuiltPatchNotFound},
		{"/v1/blobs/by-quilt-patch-id/xyz", "/v1/blobs/by-quilt-patch-id/{quilt_patch_id}", 400, gateway.ReasonInvalidQuiltPatchID},
		{"/v1/quilts/" + codec.BlobID{9}.String() + "/patches", "/v1/quilts/{quilt_id}/patches", 404, gateway.ReasonBlobNotFound},
	} {
		resp := do(t, hc, newReq(t, "GET", base+tc.url, nil))
		checkJSON(t, gateway.RoleDaemon, "get", tc.route, resp)
		if resp.code != tc.code || reasonOf(t, resp) != tc.reason {
			t.Errorf("GET %s: %d %s", tc.url, resp.code, resp.body)
		}
	}
	resp = do(t, hc, newReq(t, "PUT", base+"/v1/blobs", []byte("not a quilt at all")))
	plain := checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp).(map[string]any)["newlyCreated"].(map[string]any)["blobObject"].(map[string]any)["blobId"].(string)
	resp = do(t, hc, newReq(t, "GET", base+"/v1/quilts/"+plain+"/patches", nil))
	checkJSON(t, gateway.RoleDaemon, "get", "/v1/quilts/{quilt_id}/patches", resp)
	if resp.code != 404 || reasonOf(t, resp) != gateway.ReasonNotAQuilt {
		t.Errorf("a blob that is no quilt: %d %s", resp.code, resp.body)
	}

	// The quilt as a site.
	noRedirect := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp = do(t, noRedirect, newReq(t, "GET", base+"/v1/sites/"+quiltID, nil))
	if resp.code != 301 || resp.header.Get("Location") != "/v1/sites/"+quiltID+"/" {
		t.Fatalf("site root without its slash: %d %v", resp.code, resp.header)
	}
	resp = do(t, hc, newReq(t, "GET", base+"/v1/sites/"+quiltID+"/", nil))
	if resp.code != 200 || !bytes.Equal(resp.body, files[0].data) || resp.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("site root: %d %v", resp.code, resp.header)
	}
	resp = do(t, hc, newReq(t, "GET", base+"/v1/sites/"+quiltID+"/css/site.css", nil))
	if resp.code != 200 || !bytes.Equal(resp.body, files[1].data) || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/css") {
		t.Fatalf("site stylesheet: %d %v", resp.code, resp.header)
	}
	resp = do(t, noRedirect, newReq(t, "GET", base+"/v1/sites/"+quiltID+"/nope.html", nil))
	if resp.code != 404 || reasonOf(t, resp) != gateway.ReasonQuiltPatchNotFound {
		t.Fatalf("unknown site path: %d %s", resp.code, resp.body)
	}
}

func mustID(t testing.TB, s string) codec.BlobID {
	t.Helper()
	id, err := codec.ParseBlobID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// escapeSegments escapes each '/'-separated segment of an identifier for a URL path.
func escapeSegments(s string) string {
	parts := strings.Split(s, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// TestFakeQuiltErrors: what PUT /v1/quilts refuses, before anything is stored, each with
// the document's status and error shape; and a quilt read back from the in-memory backend.
func TestFakeQuiltErrors(t *testing.T) {
	mem := newMem()
	base := fakeGateway(t, mem, gateway.Config{MaxBodySize: 4000})
	hc := &http.Client{Timeout: 30 * time.Second}
	one := []formFile{{"a.txt", []byte("alpha")}}
	many := make([]formFile, codec.MustParams(10).C) // one more than a quilt holds at n = 10
	for i := range many {
		many[i] = formFile{fmt.Sprintf("f%d", i), []byte("x")}
	}
	for _, tc := range []struct {
		name   string
		query  string
		files  []formFile
		meta   string
		code   int
		reason string
	}{
		{"bad quilt_version", "?quilt_version=2", one, "", 400, gateway.ReasonInvalidParameter},
		{"bad _metadata", "", one, "{", 400, gateway.ReasonInvalidParameter},
		{"_metadata names no file", "", one, `[{"identifier":"b.txt","tags":{}}]`, 400, gateway.ReasonInvalidParameter},
		{"duplicate identifiers", "", []formFile{one[0], one[0]}, "", 400, gateway.ReasonInvalidParameter},
		{"identifier with trailing space", "", []formFile{{"a ", []byte("x")}}, "", 400, gateway.ReasonInvalidParameter},
		{"too many files", "", many, "", 413, gateway.ReasonBlobTooLarge},
		{"over the body limit", "", []formFile{{"big", make([]byte, 5000)}}, "", 413, gateway.ReasonBlobTooLarge},
		{"both deletable and permanent", "?deletable=true&permanent=true", one, "", 400, gateway.ReasonInvalidPersistence},
		{"no files", "", nil, `[]`, 400, gateway.ReasonInvalidParameter},
	} {
		resp := putQuilt(t, hc, base+"/v1/quilts"+tc.query, tc.files, tc.meta)
		checkJSON(t, gateway.RoleDaemon, "put", "/v1/quilts", resp)
		if resp.code != tc.code || reasonOf(t, resp) != tc.reason {
			t.Errorf("%s: %d %s", tc.name, resp.code, resp.body)
		}
	}
	resp := do(t, hc, newReq(t, "PUT", base+"/v1/quilts", []byte("plain body")))
	if resp.code != 400 || reasonOf(t, resp) != gateway.ReasonInvalidParameter {
		t.Errorf("not multipart: %d %s", resp.code, resp.body)
	}
	if mem.stores != 0 {
		t.Fatalf("%d stores after refused requests", mem.stores)
	}

	// A good one, read back through the in-memory backend's columns.
	resp = putQuilt(t, hc, base+"/v1/quilts?epochs=3", []formFile{{"a.txt", []byte("alpha")}, {"b/c.css", []byte("p{}")}},
		`[{"identifier":"a.txt","tags":{"Content-Disposition":"attachment"}}]`)
	v := checkJSON(t, gateway.RoleDaemon, "put", "/v1/quilts", resp).(map[string]any)
	id := v["blobStoreResult"].(map[string]any)["newlyCreated"].(map[string]any)["blobObject"].(map[string]any)["blobId"].(string)
	resp = do(t, hc, newReq(t, "GET", base+"/v1/blobs/by-quilt-id/"+id+"/a.txt", nil))
	if resp.code != 200 || string(resp.body) != "alpha" || resp.header.Get("Content-Disposition") != "attachment" {
		t.Fatalf("patch: %d %v %q", resp.code, resp.header, resp.body)
	}
	resp = do(t, hc, newReq(t, "HEAD", base+"/v1/sites/"+id+"/b/c.css", nil))
	if resp.code != 200 || resp.header.Get("Content-Type") != "text/css; charset=utf-8" || resp.header.Get("Content-Length") != "3" {
		t.Fatalf("HEAD of a site file: %d %v", resp.code, resp.header)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp = do(t, noRedirect, newReq(t, "GET", base+"/v1/sites/"+id+"/", nil))
	if resp.code != 404 {
		t.Fatalf("a site without index.html: %d", resp.code)
	}
}

// waitAllHeld waits until every committee member holds every pair of its shards of the
// blob.
func waitAllHeld(ctx context.Context, t *testing.T, s *client.Session, blobID string) {
	t.Helper()
	id, err := codec.ParseBlobID(blobID)
	if err != nil {
		t.Fatal(err)
	}
	com, err := s.Ledger.Committee(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for m := range com.Members {
		for {
			st, err := s.Client.Status(ctx, &com.Members[m], id)
			if err == nil && st.ShardsHeld > 0 && st.ShardsStored == st.ShardsHeld {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("member %d does not hold blob %s: %+v, %v", m, blobID, st, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
