package gateway

import (
	"bytes"
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/walrus-go/walrus-go/codec"
	"github.com/walrus-go/walrus-go/node/client"
	"github.com/walrus-go/walrus-go/staking"
)

// The published Walrus HTTP API documents (OpenAPI 3.1), copied verbatim: GET /v1/api
// serves the one of the gateway's role.
//
//go:embed openapi/*.yaml
var apiDocs embed.FS

// Role is what a gateway serves: the publisher (stores), the aggregator (reads) or both
// (Walrus's daemon).
type Role int

// Roles.
const (
	RolePublisher  Role = 1 << iota // PUT /v1/blobs
	RoleAggregator                  // GET /v1/blobs/..., /v1/quilts/.../patches, /v1/sites/...
	RoleDaemon     = RolePublisher | RoleAggregator
)

// String names the role as the CLI command does.
func (r Role) String() string {
	switch r {
	case RolePublisher:
		return "publisher"
	case RoleAggregator:
		return "aggregator"
	case RoleDaemon:
		return "daemon"
	}
	return "role(" + strconv.Itoa(int(r)) + ")"
}

// OpenAPI returns the published API document of role (YAML).
func OpenAPI(role Role) ([]byte, error) {
	switch role {
	case RolePublisher, RoleAggregator, RoleDaemon:
		return apiDocs.ReadFile("openapi/" + role.String() + "_openapi.yaml")
	}
	return nil, fmt.Errorf("gateway: no API document for %v", role)
}

// Defaults of Config.
const (
	// DefaultBindAddress is Walrus's daemon default.
	DefaultBindAddress = "127.0.0.1:31415"
	// DefaultMaxBodySize is Walrus's publisher default (10 MiB).
	DefaultMaxBodySize = 10 << 20
	// DefaultMaxConcurrentUploads bounds stores in progress (each holds its body in memory).
	DefaultMaxConcurrentUploads = 8
	// DefaultMaxConcurrentReads bounds reads in progress (each holds a window of slivers,
	// Session.ReadWindow, or a quilt patch).
	DefaultMaxConcurrentReads = 32
	// DefaultStoreTimeout bounds one store (encode, register, upload, certify).
	DefaultStoreTimeout = 4 * time.Minute
	// DefaultReadTimeout bounds one read from the network.
	DefaultReadTimeout = 2 * time.Minute
	// DefaultMaxReadSize is the largest blob the aggregator returns (403 above): 1 GiB.
	DefaultMaxReadSize = 1 << 30
)

// Config configures a Gateway.
type Config struct {
	// Role selects the routes: RolePublisher, RoleAggregator or RoleDaemon. Required.
	Role Role
	// Reader serves the aggregator routes; required with RoleAggregator.
	Reader Reader
	// Publisher serves PUT /v1/blobs; required with RolePublisher.
	Publisher Publisher
	// MaxBodySize bounds a store's body (413 above; default DefaultMaxBodySize).
	MaxBodySize int64
	// MaxConcurrentUploads bounds stores in progress; one more is refused with 429
	// (default DefaultMaxConcurrentUploads).
	MaxConcurrentUploads int
	// MaxConcurrentReads bounds aggregator reads in progress; one more is refused with
	// 429 (default DefaultMaxConcurrentReads).
	MaxConcurrentReads int
	// MaxReadSize is the largest blob returned; larger ones are refused with 403, as the
	// documents say (default DefaultMaxReadSize).
	MaxReadSize uint64
	// StoreTimeout and ReadTimeout bound the network side of one request.
	StoreTimeout, ReadTimeout time.Duration
	// JWT, if set, requires a JWT on every store.
	JWT *JWTConfig
	// Registry receives the gateway's metrics (default: a new registry); GET /metrics
	// serves it.
	Registry *prometheus.Registry
	// Now is the clock for JWT expiry (default time.Now).
	Now func() time.Time
	// Logger receives request errors (default slog.Default()).
	Logger *slog.Logger
}

// Gateway is the HTTP handler of the Walrus API over walrus-go.
type Gateway struct {
	cfg     Config
	mux     *http.ServeMux
	handler http.Handler
	metrics *metrics
	auth    *jwtAuth
	uploads chan struct{} // semaphore: a slot per store in progress
	reads   chan struct{} // semaphore: a slot per read in progress
	apiDoc  []byte
	types   sniffedTypes
	indexes quiltIndexes
}

// New returns a gateway for cfg.
func New(cfg Config) (*Gateway, error) {
	if cfg.Role&^RoleDaemon != 0 || cfg.Role == 0 {
		return nil, fmt.Errorf("gateway: bad role %d", cfg.Role)
	}
	if cfg.Role&RoleAggregator != 0 && cfg.Reader == nil {
		return nil, errors.New("gateway: the aggregator needs a Reader")
	}
	if cfg.Role&RolePublisher != 0 && cfg.Publisher == nil {
		return nil, errors.New("gateway: the publisher needs a Publisher")
	}
	if cfg.MaxBodySize <= 0 {
		cfg.MaxBodySize = DefaultMaxBodySize
	}
	if cfg.MaxConcurrentUploads <= 0 {
		cfg.MaxConcurrentUploads = DefaultMaxConcurrentUploads
	}
	if cfg.MaxConcurrentReads <= 0 {
		cfg.MaxConcurrentReads = DefaultMaxConcurrentReads
	}
	if cfg.MaxReadSize == 0 {
		cfg.MaxReadSize = DefaultMaxReadSize
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = DefaultStoreTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	doc, err := OpenAPI(cfg.Role)
	if err != nil {
		return nil, err
	}
	g := &Gateway{
		cfg: cfg, mux: http.NewServeMux(), metrics: newMetrics(cfg.Registry), apiDoc: doc,
		uploads: make(chan struct{}, cfg.MaxConcurrentUploads),
		reads:   make(chan struct{}, cfg.MaxConcurrentReads),
	}
	if cfg.JWT != nil {
		if len(cfg.JWT.Secret) == 0 {
			return nil, errors.New("gateway: JWT authentication needs a secret")
		}
		g.auth = newJWTAuth(*cfg.JWT, cfg.Now)
	}
	m := g.mux
	m.HandleFunc("GET /status", g.status)
	m.HandleFunc("GET /v1/api", g.api)
	m.Handle("GET /metrics", g.metrics.handler())
	if cfg.Role&RolePublisher != 0 {
		m.HandleFunc("PUT /v1/blobs", g.putBlob)
		m.HandleFunc("PUT /v1/quilts", g.putQuilt)
	}
	if cfg.Role&RoleAggregator != 0 {
		m.HandleFunc("GET /v1/blobs/{blob_id}", g.getBlob)
		// One pattern for .../byte-range, by-object-id/{id} and by-quilt-patch-id/{id}:
		// as three they would overlap with none more specific, which ServeMux refuses.
		m.HandleFunc("GET /v1/blobs/{blob_id}/{sub}", g.getBlobSub)
		// {identifier...}: identifiers may hold slashes (a site's paths), sent as they are
		// or as %2F.
		m.HandleFunc("GET /v1/blobs/by-quilt-id/{quilt_id}/{identifier...}", g.getPatchByIdentifier)
		m.HandleFunc("GET /v1/quilts/{quilt_id}/patches", g.listPatches)
		m.HandleFunc("GET /v1/sites/{quilt_id}", g.siteRoot)
		m.HandleFunc("GET /v1/sites/{quilt_id}/{path...}", g.getSite)
		for _, p := range []string{"GET /v1alpha/blobs/concat", "POST /v1alpha/blobs/concat"} {
			m.HandleFunc(p, g.notImplemented)
		}
	}
	m.HandleFunc("/", g.notFound)
	g.handler = g.metrics.instrument(m)
	return g, nil
}

// ServeHTTP serves the Walrus API.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.handler.ServeHTTP(w, r) }

// NewServer returns an http.Server for h with bounded timeouts and header size: a slow or
// stalled client cannot hold a connection or a slot for long.
func NewServer(addr string, h http.Handler, storeTimeout time.Duration) *http.Server {
	if storeTimeout <= 0 {
		storeTimeout = DefaultStoreTimeout
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		// The whole request, body included: 10 MiB at 100 KiB/s takes 100 s.
		ReadTimeout: 2 * time.Minute,
		// From the end of the headers to the end of the response: the body, the store
		// and its answer, or a read and its transfer.
		WriteTimeout:   storeTimeout + 3*time.Minute,
		IdleTimeout:    60 * time.Second,
		MaxHeaderBytes: 64 << 10,
	}
}

func (g *Gateway) status(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "OK")
}

func (g *Gateway) api(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Content-Length", strconv.Itoa(len(g.apiDoc)))
	_, _ = w.Write(g.apiDoc)
}

func (g *Gateway) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError(http.StatusNotFound, ReasonNotFound, "no route "+r.Method+" "+truncate(r.URL.Path, 200)))
}

func (g *Gateway) notImplemented(w http.ResponseWriter, r *http.Request) {
	writeError(w, newError(http.StatusNotImplemented, ReasonNotImplemented,
		"walrus-go's gateway does not serve "+r.Method+" "+truncate(r.URL.Path, 200)+" yet (see docs/gateway.md)"))
}

// getBlobSub dispatches GET /v1/blobs/{blob_id}/{sub}.
func (g *Gateway) getBlobSub(w http.ResponseWriter, r *http.Request) {
	switch first := r.PathValue("blob_id"); {
	case first == "by-quilt-patch-id":
		g.getPatchByID(w, r)
	case first == "by-object-id":
		g.notImplemented(w, r)
	case r.PathValue("sub") == "byte-range":
		g.getByteRange(w, r)
	default:
		g.notFound(w, r)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// acquire takes a slot of sem without waiting, or answers 429.
func acquire(sem chan struct{}, what string) (release func(), err error) {
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	default:
		return nil, retryable(http.StatusTooManyRequests, ReasonTooManyRequests,
			fmt.Sprintf("all %d %s slots are in use; retry later", cap(sem), what))
	}
}

// ---- Publisher --------------------------------------------------------------------------

// storeParams are PUT /v1/blobs's query parameters.
type storeParams struct {
	epochs    uint32
	deletable bool
	force     bool
}

// parseStoreParams reads the query of PUT /v1/blobs (publisher_openapi.yaml).
func parseStoreParams(r *http.Request) (storeParams, error) {
	q := r.URL.Query()
	p := storeParams{deletable: true} // epochs 0: the publisher's default (beginUpload)
	bad := func(format string, a ...any) error {
		return newError(http.StatusBadRequest, ReasonInvalidParameter, fmt.Sprintf(format, a...))
	}
	if v := q.Get("epochs"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 || n > staking.MaxEpochsAhead {
			return p, bad("epochs must be an integer from 1 to %d, not %q", staking.MaxEpochsAhead, truncate(v, 40))
		}
		p.epochs = uint32(n)
	}
	boolParam := func(name string) (bool, bool, error) {
		v, ok := q[name]
		if !ok || len(v) == 0 {
			return false, false, nil
		}
		b, err := strconv.ParseBool(v[0])
		if err != nil {
			return false, true, bad("%s must be true or false, not %q", name, truncate(v[0], 40))
		}
		return b, true, nil
	}
	deletable, _, err := boolParam("deletable")
	if err != nil {
		return p, err
	}
	permanent, _, err := boolParam("permanent")
	if err != nil {
		return p, err
	}
	if deletable && permanent {
		return p, newError(http.StatusBadRequest, ReasonInvalidPersistence, "a blob cannot be both deletable and permanent")
	}
	p.deletable = !permanent
	if p.force, _, err = boolParam("force"); err != nil {
		return p, err
	}
	if _, _, err := boolParam("reuse_resources"); err != nil {
		return p, err
	}
	if v := q.Get("encoding_type"); v != "" && v != "RS2" {
		return p, bad("encoding_type must be RS2, not %q", truncate(v, 40))
	}
	if q.Has("send_object_to") {
		return p, newError(http.StatusBadRequest, ReasonUnsupportedParameter,
			"send_object_to: walrus-go has no Sui addresses; blob objects belong to the publisher's wallet")
	}
	if share, _, err := boolParam("share"); err != nil || share {
		if err != nil {
			return p, err
		}
		return p, newError(http.StatusBadRequest, ReasonUnsupportedParameter, "share: walrus-go has no shared blob objects")
	}
	return p, nil
}

// upload is a store request that passed the checks made before its body is read, and
// holds an upload slot (release gives it back).
type upload struct {
	p       storeParams
	claims  *Claims
	limit   int64
	release func()
}

// beginUpload runs the checks of a store before its body is read (parameters, JWT,
// Content-Length against the limits) and takes an upload slot, or answers the error and
// returns nil.
func (g *Gateway) beginUpload(w http.ResponseWriter, r *http.Request) *upload {
	p, err := parseStoreParams(r)
	if err == nil && p.epochs == 0 {
		p.epochs, err = g.defaultEpochs(r.Context())
	}
	if err != nil {
		writeError(w, err)
		return nil
	}
	u := &upload{p: p, limit: g.cfg.MaxBodySize}
	if g.auth != nil {
		if u.claims, err = g.auth.authenticate(r); err == nil {
			err = g.auth.checkParams(u.claims, p.epochs)
		}
		if err != nil {
			writeError(w, err)
			return nil
		}
	}
	if r.ContentLength > u.limit {
		writeError(w, u.tooLarge())
		return nil
	}
	if u.claims != nil && r.ContentLength >= 0 {
		if max := g.auth.sizeLimit(u.claims); max >= 0 && r.ContentLength > max {
			writeError(w, g.auth.checkSize(u.claims, r.ContentLength))
			return nil
		}
	}
	// A slot before the body: memory is bounded by slots × MaxBodySize.
	release, err := acquire(g.uploads, "upload")
	if err != nil {
		writeError(w, err)
		return nil
	}
	g.metrics.uploads.Inc()
	u.release = func() { g.metrics.uploads.Dec(); release() }
	return u
}

// EpochDefaulter is a Publisher that knows its network's epoch duration: a store with no
// `epochs` then buys client.DefaultEpochs of it, so that the blob lives at least a day
// (client.MinLifetime), as `walrus store` without --epochs does. Session is one.
type EpochDefaulter interface {
	DefaultEpochs(ctx context.Context) (uint32, error)
}

// defaultEpochs is how many epochs a store with no `epochs` buys: the publisher's
// DefaultEpochs, or, when it cannot tell its epoch duration, what the ledger sells ahead
// (client.DefaultEpochs of an unknown duration).
func (g *Gateway) defaultEpochs(ctx context.Context) (uint32, error) {
	d, ok := g.cfg.Publisher.(EpochDefaulter)
	if !ok {
		return client.DefaultEpochs(0), nil
	}
	n, err := d.DefaultEpochs(ctx)
	if err != nil {
		return 0, storeAPIError(fmt.Errorf("%w: the epoch duration, for the default epochs: %w", ErrNetworkUnavailable, err))
	}
	return n, nil
}

func (u *upload) tooLarge() error {
	return newError(http.StatusRequestEntityTooLarge, ReasonBlobTooLarge,
		fmt.Sprintf("the blob is larger than this publisher's limit of %d bytes", u.limit))
}

// spend checks the body's size against the token and spends the token: only a request
// that passed every check does.
func (g *Gateway) spend(u *upload, size int64) error {
	if u.claims == nil {
		return nil
	}
	if err := g.auth.checkSize(u.claims, size); err != nil {
		return err
	}
	return g.auth.consume(u.claims)
}

// store stores data for an upload and returns the result, or answers the error and
// returns nil.
func (g *Gateway) store(w http.ResponseWriter, r *http.Request, u *upload, data []byte) *StoreResult {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	res, err := g.cfg.Publisher.Store(ctx, data, StoreRequest{Epochs: u.p.epochs, Deletable: u.p.deletable, Force: u.p.force})
	if err != nil {
		if r.Context().Err() != nil {
			g.cfg.Logger.Debug("gateway: client left during a store", "err", err)
			return nil
		}
		g.cfg.Logger.Warn("gateway: store failed", "size", len(data), "err", err)
		writeError(w, storeAPIError(err))
		return nil
	}
	if res.AlreadyCertified {
		g.metrics.stores.WithLabelValues("already_certified").Inc()
	} else {
		g.metrics.stores.WithLabelValues("newly_created").Inc()
	}
	return res
}

func (g *Gateway) putBlob(w http.ResponseWriter, r *http.Request) {
	u := g.beginUpload(w, r)
	if u == nil {
		return
	}
	defer u.release()
	data, err := readBody(r, u.limit)
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			err = u.tooLarge()
		}
		writeError(w, err)
		return
	}
	if err := g.spend(u, int64(len(data))); err != nil {
		writeError(w, err)
		return
	}
	if res := g.store(w, r, u, data); res != nil {
		writeJSON(w, storeResponse(res))
	}
}

// readBody reads the request body, at most limit bytes (a *http.MaxBytesError beyond),
// into one buffer sized by Content-Length when it is known.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	body := http.MaxBytesReader(nil, r.Body, limit)
	defer body.Close()
	size := int64(512)
	if r.ContentLength > 0 {
		size = r.ContentLength + 1 // +1: EOF is seen without growing
	}
	buf := make([]byte, 0, min(size, limit+1))
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, err
			}
			if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
				return nil, newError(http.StatusRequestTimeout, ReasonRequestTimeout, "the request body did not arrive in time")
			}
			return nil, newError(http.StatusBadRequest, ReasonInvalidParameter, "reading the request body: "+err.Error())
		}
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// storeAPIError maps a Publisher error to the status the document gives it.
func storeAPIError(err error) error {
	switch {
	case errors.Is(err, ErrTooLarge):
		return newError(http.StatusRequestEntityTooLarge, ReasonBlobTooLarge, err.Error())
	case errors.Is(err, ErrNoQuorum):
		return retryable(http.StatusGatewayTimeout, ReasonInsufficientConfirms, err.Error())
	case errors.Is(err, ErrStoreTimeout), errors.Is(err, context.DeadlineExceeded):
		return retryable(http.StatusGatewayTimeout, ReasonTimeout, err.Error())
	case errors.Is(err, ErrNetworkUnavailable):
		return retryable(http.StatusServiceUnavailable, ReasonNetworkUnavailable, err.Error())
	case errors.Is(err, ErrLedgerRejected):
		return newError(http.StatusInternalServerError, ReasonLedgerRejected, err.Error())
	case errors.Is(err, client.ErrInsufficientBalance):
		return newError(http.StatusInternalServerError, ReasonInsufficientFunds, err.Error())
	}
	return newError(http.StatusInternalServerError, ReasonInternal, err.Error())
}

// objectID prints a walrus-go ledger object ID where the documents have a Sui object ID:
// 0x and 64 hex digits, the same shape.
func objectID(id staking.ObjectID) string { return "0x" + hex.EncodeToString(id[:]) }

// storeResponse is the BlobStoreResult of publisher_openapi.yaml. The document's schema
// names the fields in snake_case (blob_object, resource_operation, encoded_length, ...)
// while Walrus's publisher sends camelCase (blobObject, resourceOperation, ...); both
// spellings are sent, so clients written against either find theirs.
func storeResponse(res *StoreResult) map[string]any {
	id := res.BlobID.String()
	if res.AlreadyCertified {
		return map[string]any{"alreadyCertified": map[string]any{
			// EventOrObjectId: walrus-go's ledger has no events; the certified object's ID
			// stands for it, as Walrus does for a deletable blob.
			"object":    objectID(res.Object.ID),
			"blob_id":   id,
			"blobId":    id,
			"end_epoch": res.EndEpoch,
			"endEpoch":  res.EndEpoch,
		}}
	}
	o := &res.Object
	var certified any
	if o.Certified {
		certified = o.CertEpoch
	}
	blob := map[string]any{
		"id":              objectID(o.ID),
		"registeredEpoch": o.Registered,
		"blobId":          id,
		"size":            o.Length,
		"encodingType":    "RS2",
		"certifiedEpoch":  certified,
		"storage": map[string]any{
			"id":          objectID(o.Storage.ID),
			"startEpoch":  o.Storage.Start,
			"endEpoch":    o.Storage.End,
			"storageSize": o.Storage.Size,
		},
		"deletable": o.Deletable,
	}
	var op map[string]any
	if res.ReusedRegistration {
		op = map[string]any{"reuseRegistration": map[string]any{
			"encoded_length": res.EncodedLength, "encodedLength": res.EncodedLength,
		}}
	} else {
		op = map[string]any{"registerFromScratch": map[string]any{
			"encoded_length": res.EncodedLength, "encodedLength": res.EncodedLength,
			"epochs_ahead": res.EpochsAhead, "epochsAhead": res.EpochsAhead,
		}}
	}
	return map[string]any{"newlyCreated": map[string]any{
		"blob_object": blob, "blobObject": blob,
		"resource_operation": op, "resourceOperation": op,
		"cost":               res.Cost,
		"shared_blob_object": nil, "sharedBlobObject": nil,
	}}
}

// ---- Aggregator -------------------------------------------------------------------------

// blobIDParam parses the {blob_id} path segment (400 when malformed).
func blobIDParam(r *http.Request) (codec.BlobID, error) {
	s := r.PathValue("blob_id")
	id, err := codec.ParseBlobID(s)
	if err != nil {
		return id, newError(http.StatusBadRequest, ReasonInvalidBlobID,
			fmt.Sprintf("bad blob ID %q: want 43 characters of URL-safe base64", truncate(s, 100)))
	}
	return id, nil
}

// readError maps a Reader error to the status the document gives it.
func readError(err error) error {
	switch {
	case errors.Is(err, ErrBlobNotFound):
		return newError(http.StatusNotFound, ReasonBlobNotFound, err.Error())
	case errors.Is(err, ErrBlobInvalid):
		return newError(http.StatusNotFound, ReasonBlobInvalid, err.Error())
	case errors.Is(err, ErrBlobUnavailable), errors.Is(err, context.DeadlineExceeded):
		return retryable(http.StatusServiceUnavailable, ReasonBlobNotRetrievable, err.Error())
	case errors.Is(err, ErrNetworkUnavailable):
		return retryable(http.StatusServiceUnavailable, ReasonNetworkUnavailable, err.Error())
	}
	return newError(http.StatusInternalServerError, ReasonInternal, err.Error())
}

// readOptions checks the documented consistency flags: walrus-go always runs the default
// consistency check (docs/protocol.md §4); both flags are accepted, and both at once are
// refused as the document's 400 says.
func readOptions(r *http.Request) error {
	q := r.URL.Query()
	var set [2]bool
	for i, name := range []string{"strict_consistency_check", "skip_consistency_check"} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return newError(http.StatusBadRequest, ReasonInvalidParameter, name+" must be true or false")
			}
			set[i] = b
		}
	}
	if set[0] && set[1] {
		return newError(http.StatusBadRequest, ReasonInvalidParameter, "strict_consistency_check and skip_consistency_check exclude each other")
	}
	return nil
}

// contentTypeParam is the content_type query parameter: the type to answer with, checked
// to be a media type.
func contentTypeParam(r *http.Request) (string, error) {
	v := r.URL.Query().Get("content_type")
	if v == "" {
		return "", nil
	}
	if len(v) > 200 {
		return "", newError(http.StatusBadRequest, ReasonInvalidParameter, "content_type is too long")
	}
	mt, params, err := mime.ParseMediaType(v)
	if err != nil || !strings.Contains(mt, "/") {
		return "", newError(http.StatusBadRequest, ReasonInvalidParameter, fmt.Sprintf("content_type %q is not a media type", v))
	}
	return mime.FormatMediaType(mt, params), nil
}

// stat runs the Reader's Stat and the size limit.
func (g *Gateway) stat(ctx context.Context, id codec.BlobID) (BlobInfo, error) {
	info, err := g.cfg.Reader.Stat(ctx, id)
	if err != nil {
		return info, readError(err)
	}
	if info.Size > g.cfg.MaxReadSize {
		return info, newError(http.StatusForbidden, ReasonBlobTooLarge,
			fmt.Sprintf("the blob has %d bytes, over this aggregator's limit of %d; it is still stored and readable elsewhere", info.Size, g.cfg.MaxReadSize))
	}
	return info, nil
}

// readSlot takes a read slot and the read's deadline.
func (g *Gateway) readSlot(r *http.Request) (context.Context, func(), error) {
	release, err := acquire(g.reads, "read")
	if err != nil {
		return nil, nil, err
	}
	g.metrics.reads.Inc()
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.ReadTimeout)
	return ctx, func() { cancel(); g.metrics.reads.Dec(); release() }, nil
}

// sniffLen is how many leading bytes http.DetectContentType looks at.
const sniffLen = 512

// errWrite marks a failure to write the response (the client left or stalled), as
// opposed to one of the read.
var errWrite = errors.New("gateway: writing the response")

// bodyStream is the io.Writer a streaming read writes the body to. It holds back the
// status line and headers until the first bytes are in hand, so that a read failing
// before them still gets its error status; when the content type is to be sniffed, until
// the first sniffLen bytes are (or all of a shorter body). begin sets the headers from
// those bytes and writes the status.
type bodyStream struct {
	w       http.ResponseWriter
	hold    int // bytes to hold back before beginning (0: begin at the first write)
	buf     []byte
	begin   func(head []byte)
	started bool
}

func (b *bodyStream) start() error {
	b.started = true
	b.begin(b.buf)
	if len(b.buf) > 0 {
		if _, err := b.w.Write(b.buf); err != nil {
			return fmt.Errorf("%w: %w", errWrite, err)
		}
	}
	b.buf = nil
	return nil
}

// Write passes p on, after the held-back head, and flushes: the Reader writes verified
// rows (tens of KiB and more), each worth sending at once.
func (b *bodyStream) Write(p []byte) (int, error) {
	taken := 0
	if !b.started {
		need := b.hold - len(b.buf)
		if len(p) < need {
			b.buf = append(b.buf, p...)
			return len(p), nil
		}
		if need > 0 {
			b.buf = append(b.buf, p[:need]...)
			p, taken = p[need:], need
		}
		if err := b.start(); err != nil {
			return 0, err
		}
	}
	n := 0
	if len(p) > 0 {
		var err error
		if n, err = b.w.Write(p); err != nil {
			return taken + n, fmt.Errorf("%w: %w", errWrite, err)
		}
	}
	if err := http.NewResponseController(b.w).Flush(); err != nil {
		return taken + n, fmt.Errorf("%w: %w", errWrite, err)
	}
	return taken + n, nil
}

// stream writes bytes [off, off+n) of the blob as the response body: the headers go out
// with the first bytes (begin sets them from the first hold bytes), the rest as the
// Reader verifies them. A read that fails before anything was sent gets its error
// status; one that fails after aborts the response (the client sees it cut short of its
// Content-Length).
func (g *Gateway) stream(ctx context.Context, w http.ResponseWriter, r *http.Request, id codec.BlobID, info BlobInfo, off, n uint64, hold int, begin func(head []byte)) {
	bs := &bodyStream{w: w, hold: hold, begin: begin}
	written, err := g.cfg.Reader.ReadRangeTo(ctx, id, info, off, n, bs)
	if err == nil && uint64(written) != n {
		err = fmt.Errorf("gateway: the read of blob %s wrote %d bytes, want %d", id, written, n)
	}
	if err == nil && !bs.started {
		err = bs.start()
	}
	if err == nil {
		return
	}
	if r.Context().Err() != nil || errors.Is(err, errWrite) {
		g.cfg.Logger.Debug("gateway: client left during a read", "blob_id", id, "written", written, "err", err)
		if bs.started {
			panic(http.ErrAbortHandler)
		}
		return
	}
	g.cfg.Logger.Warn("gateway: read failed", "blob_id", id, "written", written, "err", err)
	if bs.started {
		panic(http.ErrAbortHandler) // the status is out: cut the response short
	}
	writeError(w, readError(err))
}

// sniffedTypes remembers the type sniffed from a blob's first bytes, so that a range that
// does not start at 0 is answered with the type the whole blob got (a video's later
// ranges, say) without fetching its first row again. Blob IDs are content addresses: an
// entry never goes stale.
type sniffedTypes struct {
	mu sync.Mutex
	m  map[codec.BlobID]string
}

const maxSniffedTypes = 4096

func (s *sniffedTypes) get(id codec.BlobID) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[id]
	return t, ok
}

func (s *sniffedTypes) put(id codec.BlobID, t string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[codec.BlobID]string{}
	}
	if _, ok := s.m[id]; !ok && len(s.m) >= maxSniffedTypes {
		for k := range s.m { // drop one at random
			delete(s.m, k)
			break
		}
	}
	s.m[id] = t
}

// blobHeaders sets the headers every blob or patch read sends.
func blobHeaders(h http.Header, ctype string, n uint64) {
	h.Set("Content-Type", ctype)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "public, max-age=86400, stale-while-revalidate=3600")
	h.Set("Content-Length", strconv.FormatUint(n, 10))
}

func (g *Gateway) getBlob(w http.ResponseWriter, r *http.Request) {
	id, err := blobIDParam(r)
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
	ctx, done, err := g.readSlot(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer done()
	info, err := g.stat(ctx, id)
	if err != nil {
		writeError(w, err)
		return
	}
	etag := `"` + id.String() + `"`
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", etag)
	rangeHeader := r.Header.Get("Range")
	if ir := r.Header.Get("If-Range"); ir != "" && ir != etag {
		rangeHeader = "" // a different representation: send it whole
	}
	rng, partial, err := parseRange(rangeHeader, info.Size)
	if err != nil {
		h.Set("Content-Range", "bytes */"+strconv.FormatUint(info.Size, 10))
		msg := fmt.Sprintf("range %q of a blob of %d bytes", truncate(rangeHeader, 100), info.Size)
		if errors.Is(err, errRangeMalformed) {
			msg = "malformed " + msg
		} else {
			msg = "unsatisfiable " + msg
		}
		writeError(w, newError(http.StatusRequestedRangeNotSatisfiable, ReasonInvalidByteRange, msg))
		return
	}
	if !partial {
		rng = byteRange{0, info.Size}
	}
	status := http.StatusOK
	if partial {
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", rng.Off, rng.Off+rng.N-1, info.Size))
	}
	// The type: asked for, known from an earlier read, or sniffed from the first bytes
	// (those of this read when it starts at 0; for HEAD, the first row alone).
	sniff := false
	if ctype == "" {
		if t, ok := g.types.get(id); ok {
			ctype = t
		} else if rng.Off == 0 || r.Method == http.MethodHead {
			sniff = true
		} else {
			ctype = "application/octet-stream"
		}
	}
	if r.Method == http.MethodHead {
		if sniff {
			var head bytes.Buffer
			n := min(info.Size, sniffLen)
			if _, err := g.cfg.Reader.ReadRangeTo(ctx, id, info, 0, n, &head); err != nil {
				if r.Context().Err() == nil {
					g.cfg.Logger.Warn("gateway: reading a blob's head failed", "blob_id", id, "err", err)
					writeError(w, readError(err))
				}
				return
			}
			ctype = http.DetectContentType(head.Bytes())
			g.types.put(id, ctype)
		}
		blobHeaders(h, ctype, rng.N)
		w.WriteHeader(status)
		return
	}
	hold := 0
	if sniff {
		hold = int(min(rng.N, sniffLen))
	}
	g.stream(ctx, w, r, id, info, rng.Off, rng.N, hold, func(head []byte) {
		if sniff {
			ctype = http.DetectContentType(head)
			if uint64(len(head)) == min(info.Size, sniffLen) {
				g.types.put(id, ctype)
			}
		}
		blobHeaders(h, ctype, rng.N)
		w.WriteHeader(status)
	})
}

// getByteRange is GET /v1/blobs/{blob_id}/byte-range?start=S&length=L: 200 with those
// bytes, streamed like a Range read; 400 when the range is not within the blob
// (aggregator_openapi.yaml).
func (g *Gateway) getByteRange(w http.ResponseWriter, r *http.Request) {
	id, err := blobIDParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	q := r.URL.Query()
	num := func(name string) (uint64, error) {
		v := q.Get(name)
		n, err := strconv.ParseUint(v, 10, 63)
		if err != nil {
			return 0, newError(http.StatusBadRequest, ReasonInvalidByteRange,
				fmt.Sprintf("%s must be a non-negative integer, not %q", name, truncate(v, 40)))
		}
		return n, nil
	}
	start, err := num("start")
	var length uint64
	if err == nil {
		length, err = num("length")
	}
	if err == nil && length == 0 {
		err = newError(http.StatusBadRequest, ReasonInvalidByteRange, "length must be greater than 0")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	ctx, done, err := g.readSlot(r)
	if err != nil {
		writeError(w, err)
		return
	}
	defer done()
	info, err := g.stat(ctx, id)
	if err != nil {
		writeError(w, err)
		return
	}
	if start >= info.Size || length > info.Size-start {
		writeError(w, newError(http.StatusBadRequest, ReasonInvalidByteRange,
			fmt.Sprintf("bytes [%d, %d+%d) are not within the blob's %d bytes", start, start, length, info.Size)))
		return
	}
	begin := func([]byte) {
		blobHeaders(w.Header(), "application/octet-stream", length)
		w.WriteHeader(http.StatusOK)
	}
	if r.Method == http.MethodHead {
		begin(nil)
		return
	}
	g.stream(ctx, w, r, id, info, start, length, 0, begin)
}
