package gateway_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// A headless Chromium driven over the DevTools protocol (CDP), with a minimal websocket
// client (RFC 6455: text frames, masking, fragmentation, ping), so that the browser tests
// need no new module. Every wait is bounded by a context; every frame by maxWSMessage.

// chromiumFlags are the flags of docs/gateway.md's browser test (Debian's chromium, as
// root in a container): no sandbox, no GPU, nothing reaching the Internet.
var chromiumFlags = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
	"--autoplay-policy=no-user-gesture-required",
}

// chromiumPath finds the browser: $WALRUS_CHROMIUM, /usr/bin/chromium, or chromium on
// PATH. A missing browser fails the test (make test installs it: make chromium).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("WALRUS_CHROMIUM"), "/usr/bin/chromium"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("chromium not found: the browser tests need Debian's chromium (`make chromium` installs it, as root; or set WALRUS_CHROMIUM)")
	return ""
}

// browser is a running headless Chromium and a CDP connection to it.
type browser struct {
	cmd  *exec.Cmd
	ws   *wsConn
	mu   sync.Mutex
	next int
}

// startBrowser starts Chromium with a fresh profile and connects to its DevTools
// endpoint; the test's cleanup kills it.
func startBrowser(ctx context.Context, t *testing.T) *browser {
	t.Helper()
	bin := chromiumPath(t)
	profile := t.TempDir()
	args := append(append([]string{}, chromiumFlags...), "--user-data-dir="+profile, "--remote-debugging-port=0", "about:blank")
	cmd := exec.Command(bin, args...)
	var stderr lockedBuf
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	// Chromium writes the port it chose and the browser target's path to
	// DevToolsActivePort in the profile.
	var port, path string
	for {
		b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort"))
		if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); err == nil && len(lines) == 2 {
			port, path = lines[0], lines[1]
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("chromium did not open its DevTools port: %v\nstderr:\n%s", ctx.Err(), stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	ws, err := dialWS(ctx, "ws://127.0.0.1:"+port+path)
	if err != nil {
		t.Fatalf("DevTools websocket: %v\nstderr:\n%s", err, stderr.String())
	}
	t.Cleanup(func() { ws.Close() })
	return &browser{cmd: cmd, ws: ws}
}

// cdpMessage is a CDP command answer or event.
type cdpMessage struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// call sends a CDP command (to the page session when sessionID is set) and waits for its
// answer, skipping events. One call at a time.
func (b *browser) call(ctx context.Context, sessionID, method string, params any, result any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	id := b.next
	msg := map[string]any{"id": id, "method": method, "params": params}
	if sessionID != "" {
		msg["sessionId"] = sessionID
	}
	raw, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if err := b.ws.WriteText(ctx, raw); err != nil {
		return err
	}
	for {
		data, err := b.ws.ReadMessage(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", method, err)
		}
		var m cdpMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("%s: bad CDP message: %w", method, err)
		}
		if m.ID != id {
			continue // an event, or another session's
		}
		if m.Error != nil {
			return fmt.Errorf("%s: CDP error %d: %s", method, m.Error.Code, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	}
}

// open opens url in a new tab and returns the tab's CDP session.
func (b *browser) open(ctx context.Context, url string) (string, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": url}, &target); err != nil {
		return "", err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		return "", err
	}
	return att.SessionID, nil
}

// eval evaluates a JavaScript expression in the tab, awaiting it if it is a promise, and
// returns its value as JSON.
func (b *browser) eval(ctx context.Context, session, expr string) (json.RawMessage, error) {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	err := b.call(ctx, session, "Runtime.evaluate", map[string]any{
		"expression": expr, "awaitPromise": true, "returnByValue": true,
	}, &res)
	if err != nil {
		return nil, err
	}
	if e := res.ExceptionDetails; e != nil {
		msg := e.Text
		if e.Exception != nil {
			msg += " " + e.Exception.Description
		}
		return nil, errors.New("javascript: " + msg)
	}
	return res.Result.Value, nil
}

// dumpDOMWhen waits (in the page, at most waitMS) until the expression cond is true, then
// returns the document's serialized DOM (document.documentElement.outerHTML), as
// `chromium --dump-dom` prints it, but taken once the page's scripts have finished.
func (b *browser) dumpDOMWhen(ctx context.Context, session, cond string, waitMS int) (string, error) {
	expr := fmt.Sprintf(`new Promise(resolve => {
		const deadline = Date.now() + %d;
		const check = () => {
			let ok = false;
			try { ok = !!(%s); } catch (e) {}
			if (ok || Date.now() > deadline) { resolve(document.documentElement.outerHTML); return; }
			setTimeout(check, 50);
		};
		check();
	})`, waitMS, cond)
	for {
		v, err := b.eval(ctx, session, expr)
		if err != nil && (strings.Contains(err.Error(), "context was destroyed") || strings.Contains(err.Error(), "Cannot find context")) {
			// A navigation (the first load, a redirect) replaced the page under the
			// evaluation: evaluate again in the new one.
			select {
			case <-ctx.Done():
				return "", err
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if err != nil {
			return "", err
		}
		var s string
		err = json.Unmarshal(v, &s)
		return s, err
	}
}

// ---- a minimal websocket client ----------------------------------------------------------

// maxWSMessage bounds one message read.
const maxWSMessage = 32 << 20

type wsConn struct {
	c  net.Conn
	br *bufio.Reader
	wm sync.Mutex
}

func dialWS(ctx context.Context, rawURL string) (*wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "ws" {
		return nil, fmt.Errorf("websocket URL %q", rawURL)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	var key [16]byte
	_, _ = rand.Read(key[:])
	req := &http.Request{Method: "GET", URL: u, Host: u.Host, Header: http.Header{
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-WebSocket-Key":     {base64.StdEncoding.EncodeToString(key[:])},
		"Sec-WebSocket-Version": {"13"},
	}}
	if err := req.Write(c); err != nil {
		c.Close()
		return nil, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	_ = c.SetDeadline(time.Time{})
	return &wsConn{c: c, br: br}, nil
}

func (w *wsConn) Close() error { return w.c.Close() }

// writeFrame sends one masked frame (a client must mask).
func (w *wsConn) writeFrame(ctx context.Context, opcode byte, payload []byte) error {
	w.wm.Lock()
	defer w.wm.Unlock()
	if dl, ok := ctx.Deadline(); ok {
		_ = w.c.SetWriteDeadline(dl)
	}
	hdr := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	masked := make([]byte, len(payload))
	for i, b := range payload {
		masked[i] = b ^ mask[i%4]
	}
	_, err := w.c.Write(append(hdr, masked...))
	return err
}

func (w *wsConn) WriteText(ctx context.Context, p []byte) error { return w.writeFrame(ctx, 0x1, p) }

// ReadMessage returns the next text or binary message, answering pings on the way.
func (w *wsConn) ReadMessage(ctx context.Context) ([]byte, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = w.c.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = w.c.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			return nil, err
		}
		fin, opcode := h[0]&0x80 != 0, h[0]&0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if h[1]&0x80 != 0 {
			return nil, errors.New("websocket: masked frame from the server")
		}
		if n > maxWSMessage || uint64(len(msg))+n > maxWSMessage {
			return nil, fmt.Errorf("websocket: message over %d bytes", maxWSMessage)
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(w.br, payload); err != nil {
			return nil, err
		}
		switch opcode {
		case 0x9: // ping
			if err := w.writeFrame(ctx, 0xA, payload); err != nil {
				return nil, err
			}
			continue
		case 0xA: // pong
			continue
		case 0x8:
			return nil, errors.New("websocket: closed by the browser")
		case 0x0, 0x1, 0x2:
			msg = append(msg, payload...)
		default:
			return nil, fmt.Errorf("websocket: opcode %d", opcode)
		}
		if fin {
			return msg, nil
		}
	}
}

// lockedBuf collects a process's stderr.
type lockedBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
