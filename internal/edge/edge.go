// Package edge is what every HTTP request passes through on its way in and
// out, whichever handler serves it: a request id, panic recovery, the
// status the handler wrote, the client's address behind trusted proxies,
// the access log and its sampling, metrics by route, a trace span and, for
// a 5xx, an error report. It also holds the one place where an error
// becomes a response (Describe, Renderer), so that the API, the redirect
// and the pages answer alike. It knows no route: app wraps the route table
// in it.
package edge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// ErrorReporter sends errors to an error tracker with the request they
// happened in; *telemetry.ErrorReporter is one.
type ErrorReporter interface {
	ReportError(r *http.Request, status int, err error)
	// ReportPanic is called while the panic unwinds, so the report can
	// carry the panicking stack.
	ReportPanic(r *http.Request, v any)
}

// Options configure an Edge.
type Options struct {
	TrustedProxies []netip.Prefix // whose X-Forwarded-For is believed
	LogRequests    string         // "all", "api" (the default), "errors" or "none"
	// SampledRoute is the route pattern, the redirect, whose answers below
	// 500 are logged only as a sample in "api" mode: they are the bulk of
	// traffic and are better counted than logged.
	SampledRoute   string
	RedirectSample float64 // share of SampledRoute's answers logged, 0 to 1
	Registerer     prometheus.Registerer
	Tracer         trace.TracerProvider          // nil: requests are not traced
	Propagator     propagation.TextMapPropagator // how incoming trace context is read; nil: W3C trace context
	Errors         ErrorReporter                 // nil: errors are only logged
	// HSTS is the Strict-Transport-Security header sent on every answer;
	// empty: none. Set it when the service is reached over https only.
	HSTS string
}

// Edge is the request pipeline. Wrap puts it around a handler.
type Edge struct {
	log        *slog.Logger
	metrics    *metrics
	trusted    []netip.Prefix
	logging    atomic.Pointer[logPolicy]
	sampled    string
	ids        *telemetry.RequestIDs
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	errors     ErrorReporter
	hsts       []string  // the header's value, made once so a request does not allocate it
	writers    sync.Pool // *statusWriter, reused to save an allocation per request
}

// New returns an Edge that logs to log.
func New(log *slog.Logger, opts Options) *Edge {
	e := &Edge{
		log:        log,
		trusted:    opts.TrustedProxies,
		sampled:    opts.SampledRoute,
		ids:        telemetry.NewRequestIDs(),
		propagator: opts.Propagator,
		errors:     opts.Errors,
		writers:    sync.Pool{New: func() any { return new(statusWriter) }},
	}
	if opts.HSTS != "" {
		e.hsts = []string{opts.HSTS}
	}
	e.SetLogging(opts.LogRequests, opts.RedirectSample)
	if opts.Tracer != nil {
		e.tracer = opts.Tracer.Tracer("github.com/shortlinks/shortlinks/internal/edge")
		if e.propagator == nil {
			e.propagator = propagation.TraceContext{}
		}
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	e.metrics = newMetrics(reg)
	return e
}

// logPolicy is which requests the access log gets: Options.LogRequests and
// Options.RedirectSample, swapped whole so that a request sees one or the
// other, never half of each.
type logPolicy struct {
	requests string
	sample   float64
}

// SetLogging changes which requests are logged, as Options.LogRequests and
// Options.RedirectSample say, from the next request on. It is safe to call
// while the edge serves: a live configuration reload calls it.
func (e *Edge) SetLogging(requests string, redirectSample float64) {
	if requests == "" {
		requests = "api"
	}
	e.logging.Store(&logPolicy{requests: requests, sample: redirectSample})
}

// Wrap returns next behind the pipeline.
func (e *Edge) Wrap(next http.Handler) http.Handler { return &handler{e: e, next: next} }

type handler struct {
	e    *Edge
	next http.Handler
}

// ServeHTTP gives the request its id, and its span when tracing is on, and
// serves it; finish does the rest once it is answered. Metrics are by route
// pattern, never by path, so that a billion codes make one time series.
//
// The request id goes into the response at once, and into the request's
// context only where something may log it (see WithRequestID): a redirect
// that succeeds logs nothing but its sampled access line, and sparing it a
// new context and request saves a tenth of its cost.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	e := h.e
	start := time.Now()
	// The gateway's id is echoed in the very slice it came in, which
	// neither side changes: no allocation on the usual path.
	// A new id comes as a header value from a block made for many
	// requests at once (telemetry.RequestIDs.Header).
	given := requestID(r.Header)
	if given == nil {
		given = e.ids.Header()
	}
	hdr := w.Header()
	hdr["X-Request-Id"] = given
	if e.hsts != nil {
		hdr["Strict-Transport-Security"] = e.hsts
	}
	var span trace.Span
	if e.tracer != nil {
		var ctx context.Context
		ctx, span = e.startSpan(telemetry.WithRequestID(r.Context(), given[0]), r)
		r = r.WithContext(ctx)
	}
	sw := e.writers.Get().(*statusWriter)
	sw.ResponseWriter = w
	sw.start = start
	// Deferred, so that it also runs, and recovers, when next panics.
	defer e.finish(sw, r, start, span)
	h.next.ServeHTTP(sw, r)
}

// finish turns a panic in the handler into a logged and reported error and
// a plain 500, then counts the request, ends its span, reports a 5xx and
// writes the access log line.
func (e *Edge) finish(sw *statusWriter, r *http.Request, start time.Time, span trace.Span) {
	if v := recover(); v != nil {
		if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
			panic(v)
		}
		e.recovered(sw, r, v)
	}
	w, status, cause := sw.ResponseWriter, sw.status, sw.err
	// A handler may not touch its ResponseWriter once it has returned, so
	// the wrapper can serve the next request.
	*sw = statusWriter{}
	e.writers.Put(sw)
	if status == 0 {
		status = http.StatusOK
	}
	elapsed := time.Since(start)
	e.metrics.observe(r.Pattern, r.Method, status, elapsed)
	if span != nil {
		endSpan(span, r, status, cause)
	}
	report := status >= 500 && e.errors != nil && cause != errReported
	logged := e.shouldLog(r, status)
	if !report && !logged {
		return
	}
	r = WithRequestID(w, r) // only now: most redirects end above
	if report {
		if cause == nil {
			cause = fmt.Errorf("%s answered %d", r.Pattern, status)
		}
		e.errors.ReportError(r, status, cause)
	}
	if logged {
		e.log.InfoContext(r.Context(), "request",
			"method", r.Method,
			"route", r.Pattern,
			"path", r.URL.Path,
			"status", status,
			"duration_ms", float64(elapsed.Microseconds())/1000,
			"bytes_in", max(r.ContentLength, 0),
			"client_ip", e.ClientIP(r).String(),
			"user_agent", r.UserAgent(),
		)
	}
}

// recovered logs and reports the panic v and answers 500, as JSON whoever
// asked: the page that would explain it may be what panicked.
func (e *Edge) recovered(w *statusWriter, r *http.Request, v any) {
	e.metrics.panics.Inc()
	r = WithRequestID(w, r)
	e.log.ErrorContext(r.Context(), "panic", "method", r.Method, "route", r.Pattern, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
	if e.errors != nil {
		// Reported here, where the panicking frames are still on the
		// stack; finish reports only what it was not told of.
		e.errors.ReportPanic(r, v)
		w.err = errReported
	}
	WriteJSON(w, ErrInternal.Status, ErrorBody{Error: *ErrInternal})
}

// WithRequestID returns r with the request id the edge gave it in its
// context, for anything that logs. The edge adds it itself to requests it
// logs or reports; a handler calls this before work that may log.
func WithRequestID(w http.ResponseWriter, r *http.Request) *http.Request {
	if telemetry.RequestID(r.Context()) != "" {
		return r
	}
	id := w.Header()["X-Request-Id"]
	if len(id) == 0 {
		return r
	}
	return r.WithContext(telemetry.WithRequestID(r.Context(), id[0]))
}

// requestID is the X-Request-ID header the client or gateway sent, when
// it is one id fit to be logged and echoed, else nil.
func requestID(h http.Header) []string {
	if v := h["X-Request-Id"]; len(v) == 1 && telemetry.ValidRequestID(v[0]) {
		return v
	}
	return nil
}

func (e *Edge) shouldLog(r *http.Request, status int) bool {
	p := e.logging.Load()
	switch p.requests {
	case "all":
		return true
	case "none":
		return false
	case "errors":
		return status >= 500
	}
	// "api": every request but the sampled route's, which is logged when it
	// fails and otherwise as a sample.
	if e.sampled == "" || r.Pattern != e.sampled || status >= 500 {
		return true
	}
	return p.sample > 0 && rand.Float64() < p.sample
}
