package gateway

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/walrus-go/walrus-go/codec/quilt"
)

// Sites: a static site stored as a quilt whose identifiers are the files' paths relative
// to the site's root, with '/' between directories (`walrus site publish DIR`), served by
// the aggregator under /v1/sites/{quilt_id}/. A path names a patch; a path ending in '/'
// (and the root) names its index.html; a path that is a directory without its '/' is
// redirected to it, so that the pages' relative links resolve as they do on disk.

// siteTypes are content types by extension where mime.TypeByExtension may not know them
// (it reads the system's tables, which a minimal container may lack).
var siteTypes = map[string]string{
	".html": "text/html; charset=utf-8", ".htm": "text/html; charset=utf-8",
	".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
	".mjs": "text/javascript; charset=utf-8", ".json": "application/json",
	".map": "application/json", ".txt": "text/plain; charset=utf-8",
	".md": "text/markdown; charset=utf-8", ".xml": "text/xml; charset=utf-8",
	".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
	".gif": "image/gif", ".webp": "image/webp", ".avif": "image/avif", ".ico": "image/x-icon",
	".wasm": "application/wasm", ".pdf": "application/pdf", ".webm": "video/webm",
	".mp4": "video/mp4", ".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".wav": "audio/wav",
	".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".otf": "font/otf",
	".webmanifest": "application/manifest+json",
}

// siteContentType is the type of a site's file by its extension ("" when unknown: the
// patch's tag or its sniffed type decides).
func siteContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ext == "" {
		return ""
	}
	if t, ok := siteTypes[ext]; ok {
		return t
	}
	return mime.TypeByExtension(ext)
}

// siteRoot is GET /v1/sites/{quilt_id}: redirected to .../{quilt_id}/, where the index
// page's relative links resolve inside the site.
func (g *Gateway) siteRoot(w http.ResponseWriter, r *http.Request) {
	id, err := quiltIDParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	http.Redirect(w, r, "/v1/sites/"+id.String()+"/", http.StatusMovedPermanently)
}

// getSite is GET /v1/sites/{quilt_id}/{path...}.
func (g *Gateway) getSite(w http.ResponseWriter, r *http.Request) {
	id, err := quiltIDParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	p := r.PathValue("path")
	if strings.Contains(p, "\x00") || len(p) > quilt.MaxIdentifierLen {
		writeError(w, patchNotFound("no such path in site %s", id))
		return
	}
	g.withQuilt(w, r, id, func(ctx context.Context, q *quiltRead) error {
		ix, err := q.index(ctx)
		if err != nil {
			return err
		}
		name := p
		if name == "" || strings.HasSuffix(name, "/") {
			name += "index.html"
		}
		pt, ok := ix.Lookup(name)
		if !ok {
			if _, dir := ix.Lookup(name + "/index.html"); dir && !strings.HasSuffix(p, "/") && p != "" {
				u := "/v1/sites/" + id.String() + "/" + escapePath(p) + "/"
				if r.URL.RawQuery != "" {
					u += "?" + r.URL.RawQuery
				}
				http.Redirect(w, r, u, http.StatusMovedPermanently)
				return nil
			}
			return patchNotFound("site %s has no file %q", id, truncate(name, 200))
		}
		return g.servePatch(ctx, w, r, q, pt, `"`+pt.PatchID(id).String()+`"`, siteContentType(name))
	})
}

// escapePath escapes each segment of a slash-separated path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
