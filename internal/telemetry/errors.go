package telemetry

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/shortlinks/shortlinks/internal/environ"
)

// ErrorReporter sends panics and server errors to a Sentry-compatible
// tracker (Sentry, GlitchTip, Bugsink: all take the same DSN and envelope
// endpoint).
type ErrorReporter struct {
	client *sentry.Client
}

// NewErrorReporter returns a reporter for the SENTRY_DSN in env, with
// SENTRY_ENVIRONMENT and SENTRY_RELEASE (default: the build's version) if
// set, or nil when there is no DSN.
func NewErrorReporter(env []string, b Build) (*ErrorReporter, error) {
	get := func(name string) string { return environ.Get(env, name) }
	dsn := get("SENTRY_DSN")
	if dsn == "" {
		return nil, nil
	}
	release := get("SENTRY_RELEASE")
	if release == "" {
		release = "shortlinks@" + b.Version
	}
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:         dsn,
		Environment: get("SENTRY_ENVIRONMENT"),
		Release:     release,
		// Reports carry what is set below and nothing the SDK would
		// collect itself: no cookies, no addresses, no headers.
		SendDefaultPII: false,
	})
	if err != nil {
		return nil, fmt.Errorf("SENTRY_DSN: %w", err)
	}
	return &ErrorReporter{client: client}, nil
}

// ReportError reports err, behind a response of status to r.
func (e *ErrorReporter) ReportError(r *http.Request, status int, err error) {
	hub := e.hub(r, status)
	hub.CaptureException(err)
}

// ReportPanic reports the panic v raised while serving r. Call it from the
// deferred function that recovered v, so the stack shows where it began.
func (e *ErrorReporter) ReportPanic(r *http.Request, v any) {
	err, ok := v.(error)
	if !ok {
		err = fmt.Errorf("%v", v)
	}
	hub := e.hub(r, http.StatusInternalServerError)
	hub.Scope().SetLevel(sentry.LevelFatal)
	hub.Scope().SetTag("panic", "true")
	// An exception rather than a message, so that the report carries the
	// stack, which still holds the panicking frames.
	hub.CaptureException(err)
}

// Flush waits up to timeout for reports still being sent.
func (e *ErrorReporter) Flush(timeout time.Duration) bool { return e.client.Flush(timeout) }

// reportedHeaders are the only request headers a report carries: never
// Authorization, which holds API keys, nor cookies.
var reportedHeaders = []string{"Accept", "Content-Type", "Content-Length", "User-Agent", "Referer", "X-Request-Id"}

func (e *ErrorReporter) hub(r *http.Request, status int) *sentry.Hub {
	scope := sentry.NewScope()
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	scope.SetTag("route", route)
	scope.SetTag("method", r.Method)
	scope.SetTag("status", strconv.Itoa(status))
	if id := RequestID(r.Context()); id != "" {
		scope.SetTag("request_id", id)
	}
	req := &sentry.Request{Method: r.Method, URL: requestURL(r), Headers: map[string]string{}}
	for _, h := range reportedHeaders {
		if v := r.Header.Get(h); v != "" {
			req.Headers[h] = v
		}
	}
	scope.AddEventProcessor(func(ev *sentry.Event, _ *sentry.EventHint) *sentry.Event {
		ev.Request = req
		ev.Transaction = route
		return ev
	})
	return sentry.NewHub(e.client, scope)
}

// requestURL is r's URL without its query, which may hold anything.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.EscapedPath()
}
