// Package httpapi serves the JSON API, the redirect path and the health and
// metrics endpoints, and holds the API client the CLI uses. It states what it
// needs from the rest of the service as small interfaces.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// Links is the link service the handlers call.
type Links interface {
	Create(ctx context.Context, p link.CreateParams) (link.Link, error)
	Resolve(ctx context.Context, c link.Code) (link.Link, link.Source, error)
	Get(ctx context.Context, c link.Code, p link.Principal) (link.Link, error)
	Delete(ctx context.Context, c link.Code, p link.Principal) error
	List(ctx context.Context, p link.Principal, after *link.Cursor, limit int) (link.Page, error)
}

// Authenticator turns a bearer token into a principal. It returns a
// *link.Error of Kind Unauthenticated for a bad token.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (link.Principal, error)
}

// Limiter rations actions per client.
type Limiter interface {
	Allow(ctx context.Context, key string) (ratelimit.Decision, error)
}

// Pages is the HTML side of the service: the shortening page, its assets
// and friendly error pages for browsers.
type Pages interface {
	Home(w http.ResponseWriter, r *http.Request)
	Shorten(w http.ResponseWriter, r *http.Request)
	Assets() http.Handler
	Error(w http.ResponseWriter, r *http.Request, status int, code, message string)
}

// ErrorReporter sends errors to an error tracker with the request they
// happened in.
type ErrorReporter interface {
	ReportError(r *http.Request, status int, err error)
	// ReportPanic is called while the panic unwinds, so the report can
	// carry the panicking stack.
	ReportPanic(r *http.Request, v any)
}

// Check is one dependency that /readyz reports. The instance is ready while
// every Critical check passes.
type Check struct {
	Name     string
	Critical bool
	Run      func(ctx context.Context) error
}

// Options configure a Server.
type Options struct {
	BaseURL        string         // origin of short links, like https://sho.rt
	RedirectStatus int            // 301, 302, 307 or 308
	CacheControl   string         // Cache-Control on redirects; empty: none
	RequireAPIKey  bool           // refuse anonymous creation
	TrustedProxies []netip.Prefix // whose X-Forwarded-For is believed
	LogRequests    string         // "all", "api", "errors" or "none"
	RedirectSample float64        // share of redirects logged in "api" mode, 0 to 1
	BodyTimeout    time.Duration  // longest a request body may take to arrive; zero: DefaultBodyTimeout
	Checks         []Check
	Pages          Pages // nil: no web page
	QR             QR    // nil: no QR codes
	Registerer     prometheus.Registerer
	Metrics        http.Handler                  // served at /metrics; nil: not served
	Tracer         trace.TracerProvider          // nil: requests are not traced
	Propagator     propagation.TextMapPropagator // how incoming trace context is read; nil: W3C trace context
	Errors         ErrorReporter                 // nil: errors are only logged
}

// Default redirect settings.
const (
	DefaultRedirectStatus = http.StatusFound
)

// Server serves the API and the redirect path.
type Server struct {
	links          Links
	auth           Authenticator
	limiter        Limiter
	pages          Pages
	qr             QR
	log            *slog.Logger
	metrics        *metrics
	base           string
	redirectStatus int
	cacheControl   []string
	requireKey     bool
	trusted        []netip.Prefix
	logRequests    string
	redirectSample float64
	ids            *telemetry.RequestIDs
	tracer         trace.Tracer
	propagator     propagation.TextMapPropagator
	errors         ErrorReporter
	draining       atomic.Bool
	checks         []Check
	metricsHandler http.Handler
	now            func() time.Time
	writers        sync.Pool // *statusWriter, reused to save an allocation per request
	ownNames       map[string]struct{}
	bodyTimeout    time.Duration
}

// New returns a Server. limiter may be nil to turn rate limiting off.
func New(links Links, auth Authenticator, limiter Limiter, log *slog.Logger, opts Options) *Server {
	s := &Server{
		links:          links,
		auth:           auth,
		limiter:        limiter,
		pages:          opts.Pages,
		qr:             opts.QR,
		log:            log,
		base:           strings.TrimSuffix(opts.BaseURL, "/"),
		redirectStatus: opts.RedirectStatus,
		requireKey:     opts.RequireAPIKey,
		trusted:        opts.TrustedProxies,
		logRequests:    opts.LogRequests,
		redirectSample: opts.RedirectSample,
		ids:            telemetry.NewRequestIDs(),
		errors:         opts.Errors,
		propagator:     opts.Propagator,
		checks:         opts.Checks,
		metricsHandler: opts.Metrics,
		now:            time.Now,
		writers:        sync.Pool{New: func() any { return new(statusWriter) }},
		ownNames:       make(map[string]struct{}),
	}
	for _, name := range ReservedPaths() {
		s.ownNames[name] = struct{}{}
	}
	if s.redirectStatus == 0 {
		s.redirectStatus = DefaultRedirectStatus
	}
	if opts.CacheControl != "" {
		s.cacheControl = []string{opts.CacheControl}
	}
	s.bodyTimeout = opts.BodyTimeout
	if s.bodyTimeout <= 0 {
		s.bodyTimeout = DefaultBodyTimeout
	}
	if opts.Tracer != nil {
		s.tracer = opts.Tracer.Tracer("github.com/shortlinks/shortlinks/internal/httpapi")
		if s.propagator == nil {
			s.propagator = propagation.TraceContext{}
		}
	}
	if s.logRequests == "" {
		s.logRequests = "api"
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.metrics = newMetrics(reg)
	return s
}

// Drain makes /readyz answer 503 from now on, so that load balancers stop
// sending requests before the server stops taking them.
func (s *Server) Drain() { s.draining.Store(true) }

// ReservedPaths are the first path segments the server routes itself; no
// alias may take them.
func ReservedPaths() []string {
	return []string{
		"api", "healthz", "readyz", "metrics", "static", "favicon.ico", "robots.txt",
		"openapi.yaml", "debug", "admin", "login", "logout", "shorten", "links", "qr", "docs", "www",
	}
}

// Handler returns the server's routes with their middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	return s.observe(s.recoverPanics(s.shortcut(mux)))
}

// Patterns in the route table that metrics and the shortcut refer to.
const (
	redirectRoute   = "GET /{code}"
	createRoute     = "POST /api/v1/links"
	pageCreateRoute = "POST /{$}" // the web form
)

// shortcut sends requests that the route table could only give to the
// redirect handler straight to it, saving the table's matching on the
// busiest path: a GET or HEAD of a single, plain path segment that could be
// a code and is none of the server's own names. Everything else, and any
// path the table might treat differently, goes through mux.
func (s *Server) shortcut(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.RawPath == "" && len(r.URL.Path) > 1 {
			code := r.URL.Path[1:]
			if link.ValidCode(link.Code(code)) {
				if _, own := s.ownNames[code]; !own {
					r.Pattern = redirectRoute
					s.redirectTo(w, r, link.Code(code))
					return
				}
			}
		}
		rr := s.withRequestID(w, r)
		mux.ServeHTTP(w, rr)
		r.Pattern = rr.Pattern // for observe's metrics and log

	})
}

// router is what the route table is registered on: an *http.ServeMux, or
// the test that checks every route against openapi.yaml.
type router interface {
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// routes registers the route table on mux. openapi.yaml describes every
// route here; the tests hold the two together.
func (s *Server) routes(mux router) {
	mux.HandleFunc(createRoute, s.readsBody(s.limitCreate(s.createLink)))
	mux.HandleFunc("GET /api/v1/links", s.listLinks)
	mux.HandleFunc("GET /api/v1/links/{code}", s.getLink)
	mux.HandleFunc("DELETE /api/v1/links/{code}", s.deleteLink)
	mux.HandleFunc("GET /api/v1/links/{code}/qr", s.linkQR)
	mux.HandleFunc("GET /api/v1/openapi.yaml", s.openAPI)

	mux.HandleFunc("GET /healthz", s.live)
	mux.HandleFunc("GET /readyz", s.ready)
	if s.metricsHandler != nil {
		mux.Handle("GET /metrics", s.metricsHandler)
	}

	if s.pages != nil {
		mux.HandleFunc("GET /{$}", s.pages.Home)
		mux.HandleFunc(pageCreateRoute, s.readsBody(s.limitCreate(s.pages.Shorten)))
		mux.Handle("GET /static/", s.pages.Assets())
	}
	mux.HandleFunc("GET /robots.txt", robots)

	// GET also answers HEAD.
	mux.HandleFunc(redirectRoute, s.redirect)

	// Method-less patterns are less specific than the ones above, so they
	// catch only the methods a path does not accept.
	mux.Handle("/api/v1/links", s.notAllowed("GET, HEAD, POST"))
	mux.Handle("/api/v1/links/{code}", s.notAllowed("GET, HEAD, DELETE"))
	mux.Handle("/api/v1/links/{code}/qr", s.notAllowed("GET, HEAD"))
	mux.Handle("/api/v1/openapi.yaml", s.notAllowed("GET, HEAD"))
	if s.pages != nil {
		mux.Handle("/{$}", s.notAllowed("GET, HEAD, POST"))
	}
	mux.Handle("/{code}", s.notAllowed("GET, HEAD"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { s.fail(w, r, errRouteNotFound) })
}

func (s *Server) notAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, errMethodNotAllowed(allow))
	})
}

func robots(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// Short links are for people; crawlers should follow them from where
	// they are published, not from here.
	w.Write([]byte("User-agent: *\nAllow: /$\nDisallow: /\n"))
}

func (s *Server) shortURL(c link.Code) string { return s.base + "/" + string(c) }
