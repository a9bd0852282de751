package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/gateway"
	"github.com/walrus-go/walrus-go/testnet"
)

// TestSitePublish publishes a directory with `walrus site publish` and reads it back
// through an aggregator at the URL the command prints: index.html for the root and for
// directories, a directory without its slash redirected, content types by extension,
// 404 for unknown paths.
func TestSitePublish(t *testing.T) {
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.WaitHeightContext(ctx, 1); err != nil {
		t.Fatal(err)
	}
	gw := gateway.NewSession(c.Session(ctx))
	t.Cleanup(gw.Close)
	g, err := gateway.New(gateway.Config{Role: gateway.RoleAggregator, Reader: gw})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	files := map[string]string{
		"index.html":      `<!doctype html><a href="docs/">docs</a>`,
		"docs/index.html": `<!doctype html><link rel="stylesheet" href="../css/site.css">`,
		"css/site.css":    `body { margin: 0 }`,
		"app.mjs":         `export const x = 1;`,
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out, errb bytes.Buffer
	cfg := c.Layout.ClientConfigFile
	if code := run([]string{"--config", cfg, "site", "publish", dir, "--epochs", "2", "--json", "--aggregator", srv.URL + "/"}, &out, &errb); code != 0 {
		t.Fatalf("site publish: exit %d: %s", code, errb.String())
	}
	var res struct {
		QuiltID string `json:"quiltId"`
		URL     string `json:"url"`
		Files   []struct {
			Identifier   string `json:"identifier"`
			QuiltPatchID string `json:"quiltPatchId"`
		} `json:"files"`
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || len(res.Files) != len(files) || res.URL != srv.URL+"/v1/sites/"+res.QuiltID+"/" {
		t.Fatalf("site publish --json: %v\n%s", err, out.String())
	}
	for _, f := range res.Files {
		if _, ok := files[f.Identifier]; !ok {
			t.Fatalf("identifier %q is not a relative path of the directory", f.Identifier)
		}
	}

	hc := &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		resp, err := hc.Get(res.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp, string(b)
	}
	for _, tc := range []struct {
		path, body, ctype string
	}{
		{"", files["index.html"], "text/html; charset=utf-8"},
		{"docs/", files["docs/index.html"], "text/html; charset=utf-8"},
		{"docs/index.html", files["docs/index.html"], "text/html; charset=utf-8"},
		{"css/site.css", files["css/site.css"], "text/css; charset=utf-8"},
		{"app.mjs", files["app.mjs"], "text/javascript; charset=utf-8"},
	} {
		resp, body := get(tc.path)
		if resp.StatusCode != 200 || body != tc.body || resp.Header.Get("Content-Type") != tc.ctype {
			t.Errorf("GET %s: %d %q %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	if resp, _ := get("docs"); resp.StatusCode != 301 || resp.Header.Get("Location") != "/v1/sites/"+res.QuiltID+"/docs/" {
		t.Errorf("a directory without its slash: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get("missing.html"); resp.StatusCode != 404 {
		t.Errorf("unknown path: %d", resp.StatusCode)
	}

	// The human output prints the URL; publishing again stores nothing new.
	out.Reset()
	if code := run([]string{"--config", cfg, "site", "publish", "--epochs", "1", "--aggregator", srv.URL, dir}, &out, &errb); code != 0 {
		t.Fatalf("site publish: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "URL: "+res.URL) || !strings.Contains(out.String(), "already stored") {
		t.Fatalf("site publish:\n%s", out.String())
	}
	// Errors: not a directory, no directory.
	for _, args := range [][]string{{"site", "publish", filepath.Join(dir, "index.html")}, {"site", "publish"}, {"site"}} {
		if code := run(append([]string{"--config", cfg}, args...), &out, &errb); code == 0 {
			t.Errorf("walrus %v succeeded", args)
		}
	}
}
