package gateway_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/gateway"
)

// TestSlowClients: the server's bounded timeouts (NewServer, here shortened) end a client
// that trickles its headers, and answer one that stalls mid-body 408 with nothing stored.
func TestSlowClients(t *testing.T) {
	mem := newMem()
	g, err := gateway.New(gateway.Config{Role: gateway.RoleDaemon, Reader: mem, Publisher: mem, MaxBodySize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := gateway.NewServer(ln.Addr().String(), g, 0)
	srv.ReadHeaderTimeout, srv.ReadTimeout = 300*time.Millisecond, time.Second
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // our own bound on the test
		return c
	}

	// Headers that never end: the server closes the connection.
	c := dial()
	if _, err := io.WriteString(c, "GET /status HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(c); err != nil || strings.Contains(string(b), "200 OK") {
		t.Fatalf("a client that never finished its headers got %q (%v)", b, err)
	}

	// A body that stalls: 408, and nothing stored.
	c = dial()
	if _, err := io.WriteString(c, "PUT /v1/blobs?epochs=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), gateway.ReasonRequestTimeout) {
		t.Fatalf("stalled body: %d %s", resp.StatusCode, body)
	}
	if mem.stores != 0 {
		t.Fatalf("%d stores after a refused upload", mem.stores)
	}
}
