package gateway_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/walrus-go/walrus-go/node/gateway"
	"github.com/walrus-go/walrus-go/testnet"
)

// statusLog records the status of every response the gateway sends, by path.
type statusLog struct {
	mu  sync.Mutex
	log []string // "CODE PATH RANGE"
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = 200
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (l *statusLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			l.mu.Lock()
			l.log = append(l.log, strconv.Itoa(rec.code)+" "+r.URL.Path+" "+r.Header.Get("Range"))
			l.mu.Unlock()
		}()
		h.ServeHTTP(rec, r)
	})
}

func (l *statusLog) entries() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.log...)
}

// pngImage is a small PNG of w × h pixels.
func pngImage(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(20 * x), uint8(30 * y), 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// resultAttr reads data-NAME="VALUE" off the element with id="results" of a dumped DOM.
func resultAttr(t *testing.T, dom, name string) string {
	t.Helper()
	m := regexp.MustCompile(`<div id="results"[^>]*\sdata-` + regexp.QuoteMeta(name) + `="([^"]*)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("no data-%s in the dumped DOM:\n%s", name, dom)
	}
	return m[1]
}

// TestBrowser loads what the aggregator serves in a headless Chromium (Debian's chromium;
// a missing browser fails the test): a site published as a quilt, with a stylesheet, a
// script that changes the DOM and an image, renders; a <video> whose src is an aggregator
// blob URL plays and seeks through the browser's own Range requests. Results are read
// from the DOM once the pages' scripts have written them.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a 4-node testnet and a browser")
	}
	chromiumPath(t) // fail early, before the testnet, when the browser is missing
	c := testnet.New(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	gw := gateway.NewSession(c.Session(ctx))
	t.Cleanup(gw.Close)
	g, err := gateway.New(gateway.Config{Role: gateway.RoleDaemon, Reader: gw, Publisher: gw})
	if err != nil {
		t.Fatal(err)
	}
	var statuses statusLog
	srv := httptest.NewServer(statuses.wrap(g))
	t.Cleanup(srv.Close)
	base := srv.URL
	hc := &http.Client{Timeout: 3 * time.Minute}
	br := startBrowser(ctx, t)

	publish := func(files []formFile) string {
		t.Helper()
		resp := putQuilt(t, hc, base+"/v1/quilts?epochs=2", files, "")
		if resp.code != 200 {
			t.Fatalf("publishing a site: %d %s", resp.code, resp.body)
		}
		v := checkJSON(t, gateway.RoleDaemon, "put", "/v1/quilts", resp).(map[string]any)
		return v["blobStoreResult"].(map[string]any)["newlyCreated"].(map[string]any)["blobObject"].(map[string]any)["blobId"].(string)
	}

	t.Run("site", func(t *testing.T) {
		site := publish([]formFile{
			{"index.html", []byte(`<!doctype html>
<html><head><title>walrus site</title>
<link rel="stylesheet" href="css/style.css">
<script src="js/app.js" defer></script>
</head><body>
<h1 id="title">before the script</h1>
<div id="box">styled</div>
<img id="logo" src="img/logo.png" alt="logo">
<div id="results"></div>
</body></html>`)},
			{"css/style.css", []byte(`#box { color: rgb(10, 20, 30); width: 123px; }`)},
			{"js/app.js", []byte(`document.getElementById("title").textContent = "changed by the script";
window.addEventListener("load", () => {
  const r = document.getElementById("results");
  const img = document.getElementById("logo");
  const box = getComputedStyle(document.getElementById("box"));
  r.dataset.imgWidth = String(img.naturalWidth);
  r.dataset.imgHeight = String(img.naturalHeight);
  r.dataset.color = box.color;
  r.dataset.width = box.width;
  r.dataset.done = "1";
});`)},
			{"img/logo.png", pngImage(t, 7, 5)},
		})
		// The site's root without its slash: redirected, so the relative links resolve.
		session, err := br.open(ctx, base+"/v1/sites/"+site)
		if err != nil {
			t.Fatal(err)
		}
		dom, err := br.dumpDOMWhen(ctx, session, `document.getElementById("results").dataset.done === "1"`, 60_000)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(dom, `<h1 id="title">changed by the script</h1>`) {
			t.Errorf("the script's change is not in the DOM:\n%s", dom)
		}
		if resultAttr(t, dom, "done") != "1" {
			t.Fatalf("the page's load handler did not run:\n%s", dom)
		}
		if w, h := resultAttr(t, dom, "img-width"), resultAttr(t, dom, "img-height"); w != "7" || h != "5" {
			t.Errorf("image %s × %s, want 7 × 5", w, h)
		}
		if col, w := resultAttr(t, dom, "color"), resultAttr(t, dom, "width"); col != "rgb(10, 20, 30)" || w != "123px" {
			t.Errorf("stylesheet not applied: color %q, width %q", col, w)
		}
		saw := strings.Join(statuses.entries(), "\n")
		for _, want := range []string{"301 /v1/sites/" + site + " ", "200 /v1/sites/" + site + "/css/style.css", "200 /v1/sites/" + site + "/img/logo.png"} {
			if !strings.Contains(saw, want) {
				t.Errorf("the gateway did not answer %q; it answered:\n%s", want, saw)
			}
		}
	})

	t.Run("video", func(t *testing.T) {
		clip, err := os.ReadFile("testdata/clip.webm")
		if err != nil {
			t.Fatal(err)
		}
		resp := do(t, hc, newReq(t, "PUT", base+"/v1/blobs?epochs=2", clip))
		if resp.code != 200 {
			t.Fatalf("storing the clip: %d %s", resp.code, resp.body)
		}
		v := checkJSON(t, gateway.RoleDaemon, "put", "/v1/blobs", resp).(map[string]any)
		clipID := v["newlyCreated"].(map[string]any)["blobObject"].(map[string]any)["blobId"].(string)
		page := publish([]formFile{{"index.html", []byte(`<!doctype html>
<html><body>
<video id="v" src="/v1/blobs/` + clipID + `" muted preload="auto"></video>
<div id="results"></div>
<script>
const v = document.getElementById("v");
const r = document.getElementById("results");
let seeked = false;
v.addEventListener("loadedmetadata", () => {
  r.dataset.duration = String(v.duration);
  v.currentTime = 2.5;
});
v.addEventListener("seeked", () => {
  seeked = true;
  r.dataset.seeked = "1";
  r.dataset.seekedAt = String(v.currentTime);
  r.dataset.readyState = String(v.readyState);
  v.play().catch(e => { r.dataset.playError = String(e); });
});
v.addEventListener("timeupdate", () => {
  if (seeked && v.currentTime > 2.5) {
    r.dataset.timeupdate = String(v.currentTime);
    r.dataset.done = "1";
  }
});
v.addEventListener("error", () => { r.dataset.error = String(v.error && v.error.message); r.dataset.done = "1"; });
</script>
</body></html>`)}})
		session, err := br.open(ctx, base+"/v1/sites/"+page+"/")
		if err != nil {
			t.Fatal(err)
		}
		dom, err := br.dumpDOMWhen(ctx, session, `document.getElementById("results").dataset.done === "1"`, 90_000)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(dom, "data-error=") || strings.Contains(dom, "data-play-error=") {
			t.Fatalf("the video failed:\n%s", dom)
		}
		if d, err := strconv.ParseFloat(resultAttr(t, dom, "duration"), 64); err != nil || d < 3.9 || d > 4.1 {
			t.Errorf("duration %v (%v), want 4 s", d, err)
		}
		if resultAttr(t, dom, "seeked") != "1" {
			t.Fatal("no seeked event")
		}
		if at, err := strconv.ParseFloat(resultAttr(t, dom, "seeked-at"), 64); err != nil || at < 2.4 {
			t.Errorf("seeked to %v (%v), want 2.5", at, err)
		}
		if rs, _ := strconv.Atoi(resultAttr(t, dom, "ready-state")); rs < 2 {
			t.Errorf("readyState %d after the seek, want at least HAVE_CURRENT_DATA (2)", rs)
		}
		if tu, err := strconv.ParseFloat(resultAttr(t, dom, "timeupdate"), 64); err != nil || tu <= 2.5 {
			t.Errorf("played to %v (%v) after the seek", tu, err)
		}
		partial := 0
		var blobReqs []string
		for _, e := range statuses.entries() {
			if strings.Contains(e, " /v1/blobs/"+clipID+" ") {
				blobReqs = append(blobReqs, e)
				if strings.HasPrefix(e, "206 ") {
					partial++
				}
			}
		}
		if partial == 0 {
			t.Errorf("the browser's requests for the clip got no 206: %q", blobReqs)
		}
		t.Logf("the browser's requests for the clip: %q", blobReqs)
	})
}
