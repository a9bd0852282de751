package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/gateway"
)

// spyReader is memBackend's reads, recorded, and (when gate is set) a whole-blob read
// that writes its first chunk, then waits for gate before writing the rest, or fails with
// failAfter after the first chunk.
type spyReader struct {
	*memBackend
	mu        sync.Mutex
	reads     [][2]uint64 // [off, n] of every ReadRangeTo
	gate      chan struct{}
	failAfter error
	failFirst error
}

func (s *spyReader) ReadRangeTo(ctx context.Context, id codec.BlobID, info gateway.BlobInfo, off, n uint64, w io.Writer) (int64, error) {
	s.mu.Lock()
	s.reads = append(s.reads, [2]uint64{off, n})
	gate, failAfter, failFirst := s.gate, s.failAfter, s.failFirst
	s.mu.Unlock()
	if failFirst != nil {
		return 0, failFirst
	}
	if gate == nil && failAfter == nil {
		return s.memBackend.ReadRangeTo(ctx, id, info, off, n, w)
	}
	b, err := s.blob(id)
	if err != nil {
		return 0, err
	}
	const chunk = 4096
	k, err := w.Write(b[off : off+chunk])
	if err != nil {
		return int64(k), err
	}
	if failAfter != nil {
		return int64(k), failAfter
	}
	select {
	case <-gate:
	case <-ctx.Done():
		return int64(k), ctx.Err()
	}
	k2, err := w.Write(b[off+chunk : off+n])
	return int64(k + k2), err
}

func (s *spyReader) recorded() [][2]uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.reads
	s.reads = nil
	return r
}

// TestReadStreams: a whole-blob GET sends its status, headers and first bytes before the
// read has finished (the reader is held until the client has them); a Range request and
// the byte-range route ask the reader for just their bytes; HEAD reads the first bytes
// alone (for the type) or nothing; a read failing before any byte gets its error status,
// one failing after cuts the response short.
func TestReadStreams(t *testing.T) {
	mem := newMem()
	spy := &spyReader{memBackend: mem}
	base := fakeGateway(t, mem, gateway.Config{Reader: spy})
	hc := &http.Client{}
	data := bytes.Repeat([]byte("<html>streamed "), 10_000) // 150 KB, sniffed as HTML
	resp := do(t, hc, newReq(t, "PUT", base+"/v1/blobs", data))
	id := checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp).(map[string]any)["newlyCreated"].(map[string]any)["blobObject"].(map[string]any)["blobId"].(string)
	url := base + "/v1/blobs/" + id

	// Streaming: the first bytes arrive while the reader still holds the rest.
	spy.mu.Lock()
	spy.gate = make(chan struct{})
	spy.mu.Unlock()
	r, err := hc.Do(newReq(t, "GET", url, nil))
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode != 200 || r.ContentLength != int64(len(data)) || r.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("streamed GET: %d, length %d, type %q", r.StatusCode, r.ContentLength, r.Header.Get("Content-Type"))
	}
	first := make([]byte, 4096)
	if _, err := io.ReadFull(r.Body, first); err != nil || !bytes.Equal(first, data[:4096]) {
		t.Fatalf("first bytes before the read finished: %v", err)
	}
	close(spy.gate)
	rest, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil || !bytes.Equal(append(first, rest...), data) {
		t.Fatalf("the rest: %v, %d bytes", err, len(rest))
	}
	spy.mu.Lock()
	spy.gate = nil
	spy.mu.Unlock()
	spy.recorded()

	// Range and byte-range fetch only their bytes; the type of a later range is the one
	// sniffed from the whole read.
	req := newReq(t, "GET", url, nil)
	req.Header.Set("Range", "bytes=100000-100009")
	resp = do(t, hc, req)
	if resp.code != 206 || !bytes.Equal(resp.body, data[100000:100010]) || resp.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("range: %d %q %q", resp.code, resp.header.Get("Content-Type"), resp.body)
	}
	req = newReq(t, "GET", url, nil)
	req.Header.Set("Range", "bytes=-7")
	if resp = do(t, hc, req); resp.code != 206 || !bytes.Equal(resp.body, data[len(data)-7:]) {
		t.Fatalf("suffix range: %d %q", resp.code, resp.body)
	}
	if resp = do(t, hc, newReq(t, "GET", url+"/byte-range?start=5&length=3", nil)); resp.code != 200 || !bytes.Equal(resp.body, data[5:8]) {
		t.Fatalf("byte-range: %d %q", resp.code, resp.body)
	}
	n := uint64(len(data))
	if got := spy.recorded(); fmt.Sprint(got) != fmt.Sprint([][2]uint64{{100000, 10}, {n - 7, 7}, {5, 3}}) {
		t.Fatalf("reads asked of the reader: %v", got)
	}

	// HEAD: the headers GET sends, no body; the type is known now, so nothing is read.
	resp = do(t, hc, newReq(t, "HEAD", url, nil))
	if resp.code != 200 || resp.header.Get("Content-Length") != fmt.Sprint(len(data)) || resp.header.Get("Content-Type") != "text/html; charset=utf-8" || len(resp.body) != 0 {
		t.Fatalf("HEAD: %d %v", resp.code, resp.header)
	}
	if got := spy.recorded(); len(got) != 0 {
		t.Fatalf("HEAD read %v", got)
	}
	// A blob never read: HEAD reads its first 512 bytes for the type, nothing more.
	resp = do(t, hc, newReq(t, "PUT", base+"/v1/blobs", append([]byte("%PDF-"), make([]byte, 5000)...)))
	pdf := checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp).(map[string]any)["newlyCreated"].(map[string]any)["blobObject"].(map[string]any)["blobId"].(string)
	resp = do(t, hc, newReq(t, "HEAD", base+"/v1/blobs/"+pdf, nil))
	if resp.code != 200 || resp.header.Get("Content-Type") != "application/pdf" || resp.header.Get("Content-Length") != "5005" {
		t.Fatalf("HEAD of an unread blob: %d %v", resp.code, resp.header)
	}
	if got := spy.recorded(); fmt.Sprint(got) != "[[0 512]]" {
		t.Fatalf("HEAD read %v", got)
	}

	// A read failing before any byte: its status. After the first bytes: cut short.
	spy.mu.Lock()
	spy.failFirst = gateway.ErrBlobUnavailable
	spy.mu.Unlock()
	resp = do(t, hc, newReq(t, "GET", url, nil))
	if resp.code != 503 || reasonOf(t, resp) != gateway.ReasonBlobNotRetrievable {
		t.Fatalf("failed read: %d %s", resp.code, resp.body)
	}
	checkJSON(t, gateway.RoleDaemon, "get", "/v1/blobs/{blob_id}", resp)
	spy.mu.Lock()
	spy.failFirst, spy.failAfter = nil, gateway.ErrBlobUnavailable
	spy.mu.Unlock()
	r, err = hc.Do(newReq(t, "GET", url, nil))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || len(body) >= len(data) {
		t.Fatalf("a read failing midway: %d, %d bytes, %v", r.StatusCode, len(body), err)
	}
}
