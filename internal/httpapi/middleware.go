package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// errReported stands for a cause already reported where it happened.
var errReported = errors.New("reported")

// statusWriter remembers the status a handler wrote, and the error behind
// a 5xx when the handler said.
type statusWriter struct {
	http.ResponseWriter
	status int
	err    error
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// NoteError records err as the cause of the response, for the error
// report and trace of a 5xx. Handlers outside this package (the web page)
// reach it through the interface { NoteError(error) }.
func (w *statusWriter) NoteError(err error) { w.err = err }

// noteError records err as the cause of the response w carries.
func noteError(w http.ResponseWriter, err error) {
	if n, ok := w.(interface{ NoteError(error) }); ok {
		n.NoteError(err)
	}
}

// observe gives every request its request id, trace span, metrics, access
// log line and, for a 5xx, an error report. Metrics are by route pattern,
// never by path, so that a billion codes make one time series.
//
// The request id goes into the response at once, and into the request's
// context only where something may log it (see withRequestID): a
// redirect that succeeds logs nothing but its sampled access line, and
// sparing it a new context and request saves a tenth of its cost.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// The gateway's id is echoed in the very slice it came in, which
		// neither side changes: no allocation on the usual path.
		given := requestID(r.Header)
		var id string
		if given != nil {
			id = given[0]
		} else {
			id = s.ids.Next()
			given = []string{id}
		}
		w.Header()["X-Request-Id"] = given
		var span trace.Span
		if s.tracer != nil {
			var ctx context.Context
			ctx, span = s.startSpan(telemetry.WithRequestID(r.Context(), id), r)
			r = r.WithContext(ctx)
		}

		sw := s.writers.Get().(*statusWriter)
		sw.ResponseWriter = w
		next.ServeHTTP(sw, r)
		status, cause := sw.status, sw.err
		// A handler may not touch its ResponseWriter once it has returned,
		// so the wrapper can serve the next request.
		*sw = statusWriter{}
		s.writers.Put(sw)
		if status == 0 {
			status = http.StatusOK
		}
		elapsed := time.Since(start)
		s.metrics.observe(r.Pattern, r.Method, status, elapsed)
		if span != nil {
			endSpan(span, r, status, cause)
		}
		report := status >= 500 && s.errors != nil && cause != errReported
		logged := s.shouldLog(r, status)
		if !report && !logged {
			return
		}
		r = s.withRequestID(w, r) // only now: most redirects end above
		if report {
			if cause == nil {
				cause = fmt.Errorf("%s answered %d", r.Pattern, status)
			}
			s.errors.ReportError(r, status, cause)
		}
		if logged {
			s.log.InfoContext(r.Context(), "request",
				"method", r.Method,
				"route", r.Pattern,
				"path", r.URL.Path,
				"status", status,
				"duration_ms", float64(elapsed.Microseconds())/1000,
				"bytes_in", max(r.ContentLength, 0),
				"client_ip", s.clientIP(r).String(),
				"user_agent", r.UserAgent(),
			)
		}
	})
}

// withRequestID returns r with its request id, which observe put in the
// response headers of w, in its context.
func (s *Server) withRequestID(w http.ResponseWriter, r *http.Request) *http.Request {
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

func (s *Server) shouldLog(r *http.Request, status int) bool {
	switch s.logRequests {
	case "all":
		return true
	case "none":
		return false
	case "errors":
		return status >= 500
	}
	// "api": every request but redirects, which are the bulk of traffic and
	// are better counted than logged: a sample of them, and their errors.
	if r.Pattern != redirectRoute || status >= 500 {
		return true
	}
	return s.redirectSample > 0 && rand.Float64() < s.redirectSample
}

// recoverPanics turns a panic into a logged and reported error and a plain
// 500.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v)
			}
			s.metrics.panics.Inc()
			r = s.withRequestID(w, r)
			s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "route", r.Pattern, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			if s.errors != nil {
				// Reported here, where the panicking frames are still on
				// the stack; observe reports only what it was not told of.
				s.errors.ReportPanic(r, v)
				noteError(w, errReported)
			}
			writeJSON(w, http.StatusInternalServerError, errorBody{Error: apiError{Code: errInternal.Code, Message: errInternal.Message}})
		}()
		next.ServeHTTP(w, r)
	})
}

// DefaultBodyTimeout bounds how long a client may take to send a request
// body.
const DefaultBodyTimeout = 15 * time.Second

// readsBody gives a handler that reads a request body a deadline for it.
// The HTTP server sets no read timeout of its own (only one for headers),
// so that requests without a body, redirects above all, arm no timer.
func (s *Server) readsBody(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// An error means the connection takes no deadlines (it is not a
		// plain HTTP/1 connection); the body is still size-limited.
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.bodyTimeout))
		next(w, r)
	}
}

// limitCreate rations link creation per client address.
func (s *Server) limitCreate(next http.HandlerFunc) http.HandlerFunc {
	if s.limiter == nil {
		return next
	}
	return func(w http.ResponseWriter, r *http.Request) {
		d, err := s.limiter.Allow(r.Context(), "create:"+s.clientIP(r).String())
		if err != nil {
			// A limiter that cannot decide must not stop people creating links.
			s.log.WarnContext(r.Context(), "rate limiter failed; allowing", "err", err)
		} else if !d.Allowed {
			s.metrics.rateLimited.Inc()
			s.fail(w, r, errRateLimited(d.RetryAfter))
			return
		}
		next(w, r)
	}
}

// clientIP is the address of the client: the peer, or, when the peer is a
// trusted proxy, the nearest untrusted address in X-Forwarded-For.
func (s *Server) clientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !s.isTrusted(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a hop we cannot read: trust nothing before it
		}
		a = a.Unmap()
		if !s.isTrusted(a) {
			return a
		}
		peer = a
	}
	return peer
}

func (s *Server) isTrusted(a netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// wantsHTML reports whether the client is a browser asking for a page.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }
