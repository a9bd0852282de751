package gateway

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the gateway's own Prometheus metrics (docs/gateway.md "Metrics").
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec // route, code
	bytesIn  *prometheus.CounterVec // route
	bytesOut *prometheus.CounterVec // route
	uploads  prometheus.Gauge
	reads    prometheus.Gauge
	stores   *prometheus.CounterVec // result: newly_created, already_certified
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "walrus_gateway_requests_total", Help: "HTTP requests answered, by route pattern and status code.",
		}, []string{"route", "code"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "walrus_gateway_request_bytes_total", Help: "Request body bytes read, by route pattern.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "walrus_gateway_response_bytes_total", Help: "Response body bytes written, by route pattern.",
		}, []string{"route"}),
		uploads: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "walrus_gateway_uploads_in_flight", Help: "Stores holding an upload slot (reading the body or storing).",
		}),
		reads: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "walrus_gateway_reads_in_flight", Help: "Reads holding a read slot.",
		}),
		stores: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "walrus_gateway_stores_total", Help: "Successful stores, by result (newly_created, already_certified).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.requests, m.bytesIn, m.bytesOut, m.uploads, m.reads, m.stores)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// recorder wraps a ResponseWriter to learn the status code and the bytes written.
type recorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (deadlines, flush).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// countingBody counts request body bytes read.
type countingBody struct {
	rc interface {
		Read([]byte) (int, error)
		Close() error
	}
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingBody) Close() error { return c.rc.Close() }

// instrument counts every request by the route pattern that served it (a bounded set:
// unmatched paths count as "other").
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w}
		var body *countingBody
		if r.Body != nil {
			body = &countingBody{rc: r.Body}
			r.Body = body
		}
		defer func() {
			v := recover()
			m.count(r, rec, body, v != nil)
			if v != nil {
				panic(v) // http.ErrAbortHandler: a response cut short; the server drops it
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// count records one request; aborted is a response cut short after its status.
func (m *metrics) count(r *http.Request, rec *recorder, body *countingBody, aborted bool) {
	route := r.Pattern
	if route == "" || route == "/" {
		route = "other"
	}
	code := rec.code
	switch {
	case code == 0 && (aborted || r.Context().Err() != nil):
		code = 499 // nothing sent: the client left first (nginx's "client closed request")
	case code == 0:
		code = http.StatusOK
	}
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.bytesOut.WithLabelValues(route).Add(float64(rec.bytes))
	if body != nil {
		m.bytesIn.WithLabelValues(route).Add(float64(body.n))
	}
}
