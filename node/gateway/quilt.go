package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/codec/quilt"
)

// Quilts (docs/quilts.md) over HTTP, as Walrus's publisher and aggregator serve them:
// PUT /v1/quilts stores a multipart form's files as one quilt; the aggregator lists a
// quilt's patches and serves one patch by identifier or by patch ID, fetching only the
// secondary slivers of the index and of that patch (each verified), and falling back to
// reading the whole quilt when those cannot be had.

// metadataField is the multipart field carrying the files' Walrus-native metadata.
const metadataField = "_metadata"

// maxMetadataJSON bounds the _metadata field (tags are at most 64 KiB per file in BCS).
const maxMetadataJSON = 1 << 20

// quiltMetadata is one entry of the _metadata field: Walrus's {"identifier", "tags"}.
type quiltMetadata struct {
	Identifier string            `json:"identifier"`
	Tags       map[string]string `json:"tags"`
}

// quiltVersionParam checks quilt_version: "v1", "V1" or "1" (QuiltVersionEnum).
func quiltVersionParam(r *http.Request) error {
	switch v := r.URL.Query().Get("quilt_version"); v {
	case "", "v1", "V1", "1":
		return nil
	default:
		return newError(http.StatusBadRequest, ReasonInvalidParameter,
			fmt.Sprintf("quilt_version must be v1, V1 or 1, not %q", truncate(v, 40)))
	}
}

// putQuilt is PUT /v1/quilts (publisher_openapi.yaml): a multipart/form-data body whose
// fields are files, each field's name its identifier, and an optional _metadata field, a
// JSON array of {"identifier", "tags"}. The files are laid out as a QuiltV1 blob and
// stored like PUT /v1/blobs; the answer is a QuiltStoreResult. The body limit applies to
// the whole form.
func (g *Gateway) putQuilt(w http.ResponseWriter, r *http.Request) {
	if err := quiltVersionParam(r); err != nil {
		writeError(w, err)
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		writeError(w, newError(http.StatusBadRequest, ReasonInvalidParameter, "the body must be multipart/form-data with a boundary"))
		return
	}
	u := g.beginUpload(w, r)
	if u == nil {
		return
	}
	defer u.release()
	p := g.cfg.Publisher.Params()
	files, size, err := readQuiltForm(r, params["boundary"], u.limit, quilt.MaxPatches(p))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			err = u.tooLarge()
		}
		writeError(w, err)
		return
	}
	q, err := quilt.Encode(p, files)
	switch {
	case errors.Is(err, quilt.ErrTooLarge):
		writeError(w, newError(http.StatusRequestEntityTooLarge, ReasonBlobTooLarge, err.Error()))
		return
	case err != nil:
		writeError(w, newError(http.StatusBadRequest, ReasonInvalidParameter, err.Error()))
		return
	}
	if err := g.spend(u, size); err != nil {
		writeError(w, err)
		return
	}
	res := g.store(w, r, u, q.Blob)
	if res == nil {
		return
	}
	patches := make([]map[string]any, len(q.Index.Patches))
	for i, pt := range q.Index.Patches {
		patches[i] = map[string]any{
			"identifier":   pt.Identifier,
			"quiltPatchId": pt.PatchID(res.BlobID).String(),
			"range":        [2]int{pt.Start, pt.End},
		}
	}
	writeJSON(w, map[string]any{"blobStoreResult": storeResponse(res), "storedQuiltBlobs": patches})
}

// readQuiltForm reads the multipart form of PUT /v1/quilts: at most limit bytes in all
// (a *http.MaxBytesError beyond), at most maxFiles files. It returns the files with their
// tags and the body's size.
func readQuiltForm(r *http.Request, boundary string, limit int64, maxFiles int) ([]quilt.File, int64, error) {
	body := &countingBody{rc: http.MaxBytesReader(nil, r.Body, limit)}
	defer body.Close()
	mr := multipart.NewReader(body, boundary)
	bad := func(format string, a ...any) error {
		return newError(http.StatusBadRequest, ReasonInvalidParameter, fmt.Sprintf(format, a...))
	}
	var files []quilt.File
	seen := map[string]int{}
	var meta []quiltMetadata
	haveMeta := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, formError(err, "reading the multipart form")
		}
		name := part.FormName()
		switch {
		case name == "":
			return nil, 0, bad("a form part without a field name (the field name is the file's identifier)")
		case name == metadataField:
			if haveMeta {
				return nil, 0, bad("more than one %s field", metadataField)
			}
			haveMeta = true
			b, err := io.ReadAll(io.LimitReader(part, maxMetadataJSON+1))
			if err != nil {
				return nil, 0, formError(err, "reading "+metadataField)
			}
			if len(b) > maxMetadataJSON {
				return nil, 0, bad("%s is over %d bytes", metadataField, maxMetadataJSON)
			}
			if err := json.Unmarshal(b, &meta); err != nil {
				return nil, 0, bad(`%s must be a JSON array of {"identifier": …, "tags": {…}}: %v`, metadataField, err)
			}
		default:
			if _, dup := seen[name]; dup {
				return nil, 0, bad("two files with the identifier %q", truncate(name, 100))
			}
			if len(files) == maxFiles {
				return nil, 0, newError(http.StatusRequestEntityTooLarge, ReasonBlobTooLarge,
					fmt.Sprintf("more than %d files: a quilt holds at most %d on this network", maxFiles, maxFiles))
			}
			data, err := io.ReadAll(part) // bounded by the body's limit
			if err != nil {
				return nil, 0, formError(err, "reading file "+truncate(name, 100))
			}
			seen[name] = len(files)
			files = append(files, quilt.File{Identifier: name, Data: data})
		}
	}
	if len(files) == 0 {
		return nil, 0, bad("no files in the form")
	}
	tagged := map[string]bool{}
	for _, m := range meta {
		i, ok := seen[m.Identifier]
		if !ok {
			return nil, 0, bad("%s names %q, which is not a file of the form", metadataField, truncate(m.Identifier, 100))
		}
		if tagged[m.Identifier] {
			return nil, 0, bad("%s names %q twice", metadataField, truncate(m.Identifier, 100))
		}
		tagged[m.Identifier] = true
		if len(m.Tags) > 0 {
			files[i].Tags = m.Tags
		}
	}
	return files, body.n, nil
}

// formError maps an error reading the form: over the limit, too slow, or malformed.
func formError(err error, what string) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return mbe
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return newError(http.StatusRequestTimeout, ReasonRequestTimeout, "the request body did not arrive in time")
	}
	return newError(http.StatusBadRequest, ReasonInvalidParameter, what+": "+err.Error())
}

// ---- Aggregator -------------------------------------------------------------------------

// quiltRead reads one quilt for one request: secondary slivers by column, each verified
// by the Reader, with a read of the whole quilt when they cannot be had.
type quiltRead struct {
	g      *Gateway
	id     codec.BlobID
	info   BlobInfo
	p      codec.Params
	symbol int
	cols   map[int][]byte
	whole  *quilt.Quilt
}

// notAQuilt: the blob is readable but not a quilt (404, as the document's "the requested
// quilt patch does not exist").
func notAQuilt(id codec.BlobID, why error) error {
	return newError(http.StatusNotFound, ReasonNotAQuilt, fmt.Sprintf("blob %s is not a quilt: %v", id, why))
}

// openQuilt checks the quilt is readable and shaped like a quilt.
func (g *Gateway) openQuilt(ctx context.Context, id codec.BlobID) (*quiltRead, error) {
	info, err := g.stat(ctx, id)
	if err != nil {
		return nil, err
	}
	p := g.cfg.Reader.Params()
	s, err := quilt.SymbolSize(p, info.Size)
	if err != nil {
		return nil, notAQuilt(id, err)
	}
	return &quiltRead{g: g, id: id, info: info, p: p, symbol: s, cols: map[int][]byte{}}, nil
}

// columns returns the column-ordered bytes of columns [start, end), fetching those not
// held yet.
func (q *quiltRead) columns(ctx context.Context, start, end int) ([]byte, error) {
	if start < 0 || end > q.p.C || start >= end {
		return nil, fmt.Errorf("%w: columns [%d, %d) of %d", quilt.ErrMalformed, start, end, q.p.C)
	}
	var need []int
	for c := start; c < end; c++ {
		if q.cols[c] == nil {
			need = append(need, c)
		}
	}
	if len(need) > 0 {
		got, err := q.g.cfg.Reader.ReadSecondarySlivers(ctx, q.id, q.info, need)
		colLen := q.p.R * q.symbol
		for c, d := range got {
			if len(d) == colLen {
				q.cols[c] = d
			}
		}
		if err != nil {
			return nil, err
		}
		for _, c := range need {
			if q.cols[c] == nil {
				return nil, fmt.Errorf("gateway: secondary sliver %d missing or of the wrong size", c)
			}
		}
	}
	out := make([]byte, 0, (end-start)*q.p.R*q.symbol)
	for c := start; c < end; c++ {
		out = append(out, q.cols[c]...)
	}
	return out, nil
}

// fallback reads the whole quilt (bounded by MaxReadSize through stat) and decodes it.
func (q *quiltRead) fallback(ctx context.Context, why error) error {
	if q.whole != nil {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	q.g.cfg.Logger.Debug("gateway: quilt slivers unavailable, reading the whole quilt", "quilt_id", q.id, "err", why)
	var buf bytes.Buffer
	buf.Grow(int(q.info.Size))
	if _, err := q.g.cfg.Reader.ReadRangeTo(ctx, q.id, q.info, 0, q.info.Size, &buf); err != nil {
		return readError(err)
	}
	whole, err := quilt.Decode(q.p, buf.Bytes())
	if err != nil {
		return notAQuilt(q.id, err)
	}
	q.whole = whole
	q.g.indexes.put(q.id, &whole.Index)
	return nil
}

// index returns the quilt's index: remembered (verified indexes of content-addressed
// blobs never change), from the index's columns, or from the whole quilt.
func (q *quiltRead) index(ctx context.Context) (*quilt.Index, error) {
	if ix, ok := q.g.indexes.get(q.id); ok {
		return ix, nil
	}
	ix, err := func() (*quilt.Index, error) {
		c0, err := q.columns(ctx, 0, 1)
		if err != nil {
			return nil, err
		}
		k, err := quilt.IndexColumns(q.p, q.symbol, c0)
		if err != nil {
			return nil, err
		}
		cols, err := q.columns(ctx, 0, k)
		if err != nil {
			return nil, err
		}
		return quilt.ReadIndexFromColumns(q.p, q.symbol, cols)
	}()
	switch {
	case err == nil:
		q.g.indexes.put(q.id, ix)
		return ix, nil
	case errors.Is(err, quilt.ErrMalformed):
		return nil, notAQuilt(q.id, err)
	}
	if err := q.fallback(ctx, err); err != nil {
		return nil, err
	}
	return &q.whole.Index, nil
}

// patch returns one patch's file, from its columns.
func (q *quiltRead) patch(ctx context.Context, pt quilt.Patch) (quilt.File, error) {
	if q.whole == nil {
		cols, err := q.columns(ctx, pt.Start, pt.End)
		if err == nil {
			f, err := quilt.DecodePatch(cols)
			if err == nil && f.Identifier != pt.Identifier {
				err = fmt.Errorf("%w: the patch at column %d is %q, the index says %q", quilt.ErrMalformed, pt.Start, f.Identifier, pt.Identifier)
			}
			if err != nil {
				return quilt.File{}, notAQuilt(q.id, err)
			}
			return f, nil
		}
		if errors.Is(err, quilt.ErrMalformed) {
			return quilt.File{}, notAQuilt(q.id, err)
		}
		if err := q.fallback(ctx, err); err != nil {
			return quilt.File{}, err
		}
	}
	f, err := q.whole.PatchAt(pt.PatchID(q.id))
	if err != nil {
		return quilt.File{}, notAQuilt(q.id, err)
	}
	return f, nil
}

// quiltIndexes remembers verified quilt indexes (a site's pages each need the index).
type quiltIndexes struct {
	mu sync.Mutex
	m  map[codec.BlobID]*quilt.Index
}

const maxQuiltIndexes = 256

func (c *quiltIndexes) get(id codec.BlobID) (*quilt.Index, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ix, ok := c.m[id]
	return ix, ok
}

func (c *quiltIndexes) put(id codec.BlobID, ix *quilt.Index) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[codec.BlobID]*quilt.Index{}
	}
	if _, ok := c.m[id]; !ok && len(c.m) >= maxQuiltIndexes {
		for k := range c.m {
			delete(c.m, k)
			break
		}
	}
	c.m[id] = ix
}

// quiltIDParam parses the {quilt_id} path segment.
func quiltIDParam(r *http.Request) (codec.BlobID, error) {
	s := r.PathValue("quilt_id")
	id, err := codec.ParseBlobID(s)
	if err != nil {
		return id, newError(http.StatusBadRequest, ReasonInvalidBlobID,
			fmt.Sprintf("bad quilt ID %q: want 43 characters of URL-safe base64", truncate(s, 100)))
	}
	return id, nil
}

// withQuilt runs fn with a read slot and the opened quilt, or answers the error.
func (g *Gateway) withQuilt(w http.ResponseWriter, r *http.Request, id codec.BlobID, fn func(ctx context.Context, q *quiltRead) error) {
	ctx, done, err := g.readSlot(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer done()
	q, err := g.openQuilt(ctx, id)
	if err == nil {
		err = fn(ctx, q)
	}
	if err != nil {
		if r.Context().Err() != nil {
			return // the client left
		}
		var ae *apiError
		if !errors.As(err, &ae) {
			g.cfg.Logger.Warn("gateway: quilt read failed", "quilt_id", id, "err", err)
			err = readError(err)
		}
		writeError(w, err)
	}
}

// listPatches is GET /v1/quilts/{quilt_id}/patches: [QuiltPatchItem], from the index's
// columns alone.
func (g *Gateway) listPatches(w http.ResponseWriter, r *http.Request) {
	id, err := quiltIDParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	g.withQuilt(w, r, id, func(ctx context.Context, q *quiltRead) error {
		ix, err := q.index(ctx)
		if err != nil {
			return err
		}
		items := make([]map[string]any, len(ix.Patches))
		for i, pt := range ix.Patches {
			tags := pt.Tags
			if tags == nil {
				tags = map[string]string{}
			}
			items[i] = map[string]any{"identifier": pt.Identifier, "patch_id": pt.PatchID(id).String(), "tags": tags}
		}
		writeJSON(w, items)
		return nil
	})
}

// patchNotFound is the 404 of an identifier or patch ID the quilt does not have.
func patchNotFound(format string, a ...any) error {
	return newError(http.StatusNotFound, ReasonQuiltPatchNotFound, fmt.Sprintf(format, a...))
}

// getPatchByIdentifier is GET /v1/blobs/by-quilt-id/{quilt_id}/{identifier}.
func (g *Gateway) getPatchByIdentifier(w http.ResponseWriter, r *http.Request) {
	id, err := quiltIDParam(r)
	if err == nil {
		err = readOptions(r)
	}
	var ctype string
	if err == nil {
		ctype, err = contentTypeParam(r)
	}
	if err != nil {
		writeError(w, err)
		return
	}
	ident := r.PathValue("identifier")
	g.withQuilt(w, r, id, func(ctx context.Context, q *quiltRead) error {
		ix, err := q.index(ctx)
		if err != nil {
			return err
		}
		pt, ok := ix.Lookup(ident)
		if !ok {
			return patchNotFound("quilt %s has no patch with identifier %q", id, truncate(ident, 200))
		}
		return g.servePatch(ctx, w, r, q, pt, `"`+id.String()+`"`, ctype)
	})
}

// getPatchByID is GET /v1/blobs/by-quilt-patch-id/{quilt_patch_id}.
func (g *Gateway) getPatchByID(w http.ResponseWriter, r *http.Request) {
	s := r.PathValue("sub")
	pid, err := quilt.ParsePatchID(s)
	if err == nil {
		err = pid.Check(g.cfg.Reader.Params())
	}
	if err != nil {
		writeError(w, newError(http.StatusBadRequest, ReasonInvalidQuiltPatchID,
			fmt.Sprintf("bad quilt patch ID %q: %v", truncate(s, 100), err)))
		return
	}
	if err := readOptions(r); err != nil {
		writeError(w, err)
		return
	}
	ctype, err := contentTypeParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	g.withQuilt(w, r, pid.Quilt, func(ctx context.Context, q *quiltRead) error {
		ix, err := q.index(ctx)
		if err != nil {
			return err
		}
		pt, ok := ix.At(int(pid.Start))
		if !ok || pt.End != int(pid.End) {
			return patchNotFound("quilt %s has no patch at columns [%d, %d)", pid.Quilt, pid.Start, pid.End)
		}
		return g.servePatch(ctx, w, r, q, pt, `"`+pid.String()+`"`, ctype)
	})
}

// patchHeaderTags are the tags sent as response headers of a patch read when a patch
// carries them (Walrus's "additional custom headers from blob tags"): the
// representation's own headers, nothing that changes how a browser treats the origin.
var patchHeaderTags = []string{"Content-Type", "Content-Disposition", "Content-Language"}

// servePatch answers one patch: its bytes, X-Quilt-Patch-Identifier, the ETag given, and
// the content type: ctype when not empty (asked for, or a site's by extension), else the
// patch's content-type tag when it is a media type, else sniffed.
func (g *Gateway) servePatch(ctx context.Context, w http.ResponseWriter, r *http.Request, q *quiltRead, pt quilt.Patch, etag, ctype string) error {
	f, err := q.patch(ctx, pt)
	if err != nil {
		return err
	}
	h := w.Header()
	for _, name := range patchHeaderTags {
		for k, v := range f.Tags {
			if !strings.EqualFold(k, name) || !validHeaderValue(v) {
				continue
			}
			if name == "Content-Type" {
				if mt, params, err := mime.ParseMediaType(v); err == nil && strings.Contains(mt, "/") && ctype == "" {
					ctype = mime.FormatMediaType(mt, params)
				}
				continue
			}
			h.Set(name, v)
		}
	}
	if ctype == "" {
		ctype = http.DetectContentType(f.Data[:min(len(f.Data), sniffLen)])
	}
	h.Set("X-Quilt-Patch-Identifier", headerSafe(f.Identifier))
	h.Set("ETag", etag)
	blobHeaders(h, ctype, uint64(len(f.Data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.Data)
	}
	return nil
}

// validHeaderValue: no control characters but tab, at most 1 KiB.
func validHeaderValue(v string) bool {
	if len(v) > 1024 {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// headerSafe is s as a header value: control characters (which a quilt written by
// anyone may hold in an identifier) escaped as Go string escapes.
func headerSafe(s string) string {
	if validHeaderValue(s) {
		return s
	}
	q := strconv.Quote(s)
	return truncate(q[1:len(q)-1], 1024)
}
