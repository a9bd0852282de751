package testnet_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/walrus-go/walrus-go/testnet"
)

func TestHealthReady(t *testing.T) {
	serve := func(status int, body string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/health" {
				http.NotFound(w, r)
				return
			}
			w.WriteHeader(status)
			w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return strings.TrimPrefix(s.URL, "http://")
	}
	top1 := serve(200, `{"status":"ok","height":1}`)
	nested2 := serve(200, `{"ledger":{"height":2}}`)
	zero := serve(200, `{"status":"starting","height":0}`)
	for _, tc := range []struct {
		name  string
		addrs []string
		ready bool
	}{
		{"top-level height", []string{top1}, true},
		{"nested height", []string{nested2}, true},
		{"one node committed", []string{zero, top1}, true},
		{"nothing committed", []string{zero, zero}, false},
		{"no height field", []string{serve(200, `{"status":"ok"}`)}, false},
		{"garbage", []string{serve(200, `not json`)}, false},
		{"negative height", []string{serve(200, `{"height":-1}`)}, false},
		{"error status", []string{serve(503, `{"height":5}`)}, false},
		{"a node down", []string{top1, "127.0.0.1:1"}, false},
		{"no API", []string{""}, false},
	} {
		l := &testnet.Layout{}
		for _, a := range tc.addrs {
			l.Nodes = append(l.Nodes, testnet.NodeFiles{APIAddr: a})
		}
		ok, err := testnet.HealthReady(context.Background(), l)
		if ok != tc.ready {
			t.Errorf("%s: ready=%v (%v), want %v", tc.name, ok, err, tc.ready)
		}
		if !ok && err == nil {
			t.Errorf("%s: not ready without a reason", tc.name)
		}
	}
}
