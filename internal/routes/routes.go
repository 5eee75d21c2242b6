// Package routes is the service's one route table. It mounts the JSON API,
// the redirect and the web page side by side, as peers, with the
// middleware each route needs (a body deadline, the form's cross-origin
// check, the create rate limit, counting creates), and sends the busiest
// request, a redirect, past the table straight to its handler. It states
// what it needs from the API and the pages as interfaces, so that neither
// knows the other, and app plugs them in.
package routes

import (
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// API is the JSON API, the redirect and the health endpoints;
// *httpapi.Server is one.
type API interface {
	CreateLink(w http.ResponseWriter, r *http.Request)
	ListLinks(w http.ResponseWriter, r *http.Request)
	GetLink(w http.ResponseWriter, r *http.Request)
	DeleteLink(w http.ResponseWriter, r *http.Request)
	LinkQR(w http.ResponseWriter, r *http.Request)
	Document(w http.ResponseWriter, r *http.Request) // openapi.yaml
	Live(w http.ResponseWriter, r *http.Request)
	Ready(w http.ResponseWriter, r *http.Request)
	// Redirect answers with the redirect for code, which the table has
	// taken from the path.
	Redirect(w http.ResponseWriter, r *http.Request, code link.Code)
}

// Pages is the web page; *web.Pages is one.
type Pages interface {
	Home(w http.ResponseWriter, r *http.Request)
	Shorten(w http.ResponseWriter, r *http.Request)
	Assets() http.Handler
	// SameOrigin refuses a form post another site sent (cross-site request
	// forgery) before next sees it.
	SameOrigin(next http.Handler) http.Handler
}

// Options configure a Table.
type Options struct {
	Pages       Pages                          // nil: no web page
	Errors      *edge.Renderer                 // how the table's own failures are answered; nil: JSON to everyone
	Metrics     http.Handler                   // served at /metrics; nil: not served
	Limiter     Limiter                        // rations creates per client; nil: no limit
	ClientIP    func(*http.Request) netip.Addr // whose budget a create spends; nil: the peer's
	BodyTimeout time.Duration                  // longest a request body may take to arrive; zero: DefaultBodyTimeout
	Registerer  prometheus.Registerer
}

// RedirectRoute is the redirect's pattern, which the shortcut gives the
// requests it takes and the edge samples in its access log.
const RedirectRoute = "GET /{code}"

// APIPrefix starts every path of the JSON API, where errors are JSON even
// for browsers.
const APIPrefix = "/api/"

// Table routes requests to the API and the pages.
type Table struct {
	api         API
	pages       Pages
	errs        *edge.Renderer
	log         *slog.Logger
	limiter     Limiter
	clientIP    func(*http.Request) netip.Addr
	bodyTimeout time.Duration
	metricsH    http.Handler
	metrics     *metrics
	reserved    map[string]struct{}
	mux         *http.ServeMux
}

// New returns the route table over api and opts.Pages. It answers failures
// of its own (no route, a method a path does not take, a rate limit) with
// opts.Errors, which should be the renderer the API and the pages use.
func New(api API, log *slog.Logger, opts Options) *Table {
	t := &Table{
		api:         api,
		pages:       opts.Pages,
		errs:        opts.Errors,
		log:         log,
		limiter:     opts.Limiter,
		clientIP:    opts.ClientIP,
		bodyTimeout: opts.BodyTimeout,
		metricsH:    opts.Metrics,
		reserved:    make(map[string]struct{}),
		mux:         http.NewServeMux(),
	}
	if t.errs == nil {
		t.errs = edge.NewRenderer(log, nil, "")
	}
	if t.clientIP == nil {
		t.clientIP = peerIP
	}
	if t.bodyTimeout <= 0 {
		t.bodyTimeout = DefaultBodyTimeout
	}
	for _, name := range ReservedPaths() {
		t.reserved[name] = struct{}{}
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	t.metrics = newMetrics(reg)
	t.register(t.mux)
	return t
}

// ReservedPaths are the first path segments the table routes itself; no
// alias may take them.
func ReservedPaths() []string {
	return []string{
		"api", "healthz", "readyz", "metrics", "static", "favicon.ico", "robots.txt",
		"openapi.yaml", "debug", "admin", "login", "logout", "shorten", "links", "qr", "docs", "www",
	}
}

// ServeHTTP sends requests that the table could only give to the redirect
// straight to it, saving the table's matching on the busiest path: a GET
// or HEAD of a single, plain path segment that could be a code and is none
// of the table's own names. Everything else, and any path the table might
// treat differently, goes through the table.
func (t *Table) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.URL.RawPath == "" && len(r.URL.Path) > 1 {
		code := r.URL.Path[1:]
		if link.ValidCode(link.Code(code)) {
			if _, own := t.reserved[code]; !own {
				r.Pattern = RedirectRoute
				t.api.Redirect(w, r, link.Code(code))
				return
			}
		}
	}
	// These requests may log: give them their id now (a redirect gets it
	// only if it fails).
	rr := edge.WithRequestID(w, r)
	t.mux.ServeHTTP(w, rr)
	r.Pattern = rr.Pattern // for the edge's metrics and log
}

// router is what the table is registered on: an *http.ServeMux, or the
// recorder behind Patterns.
type router interface {
	Handle(pattern string, h http.Handler)
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// register is the route table. openapi.yaml describes every route here;
// the tests hold the two together.
func (t *Table) register(mux router) {
	api, pages := t.api, t.pages

	mux.Handle("POST /api/v1/links", t.countCreates(t.limitCreates(t.readsBody(api.CreateLink))))
	mux.HandleFunc("GET /api/v1/links", api.ListLinks)
	mux.HandleFunc("GET /api/v1/links/{code}", api.GetLink)
	mux.HandleFunc("DELETE /api/v1/links/{code}", api.DeleteLink)
	mux.HandleFunc("GET /api/v1/links/{code}/qr", api.LinkQR)
	mux.HandleFunc("GET /api/v1/openapi.yaml", api.Document)

	mux.HandleFunc("GET /healthz", api.Live)
	mux.HandleFunc("GET /readyz", api.Ready)
	if t.metricsH != nil {
		mux.Handle("GET /metrics", t.metricsH)
	}

	if pages != nil {
		mux.HandleFunc("GET /{$}", pages.Home)
		// The cross-origin check comes before the rate limit, so that a
		// post another site forged does not spend the visitor's budget.
		mux.Handle("POST /{$}", t.countCreates(pages.SameOrigin(t.limitCreates(t.readsBody(pages.Shorten)))))
		mux.Handle("GET /static/", pages.Assets())
	}
	mux.HandleFunc("GET /robots.txt", robots)

	// GET also answers HEAD.
	mux.HandleFunc(RedirectRoute, func(w http.ResponseWriter, r *http.Request) {
		api.Redirect(w, r, link.Code(r.PathValue("code")))
	})

	// Method-less patterns are less specific than the ones above, so they
	// catch only the methods a path does not accept.
	mux.Handle("/api/v1/links", t.notAllowed("GET, HEAD, POST"))
	mux.Handle("/api/v1/links/{code}", t.notAllowed("GET, HEAD, DELETE"))
	mux.Handle("/api/v1/links/{code}/qr", t.notAllowed("GET, HEAD"))
	mux.Handle("/api/v1/openapi.yaml", t.notAllowed("GET, HEAD"))
	if pages != nil {
		mux.Handle("/{$}", t.notAllowed("GET, HEAD, POST"))
	}
	mux.Handle("/{code}", t.notAllowed("GET, HEAD"))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { t.errs.Fail(w, r, edge.ErrNoRoute) })
}

// Patterns lists the table's patterns in the order they are registered.
func (t *Table) Patterns() []string {
	var p patterns
	t.register(&p)
	return p
}

type patterns []string

func (p *patterns) Handle(pattern string, _ http.Handler) { *p = append(*p, pattern) }
func (p *patterns) HandleFunc(pattern string, _ func(http.ResponseWriter, *http.Request)) {
	*p = append(*p, pattern)
}

// QRURL is the address, on this origin, of the QR code the API draws for
// the link with code: format "png" or "svg", size in pixels for a PNG (0:
// the API's default).
func QRURL(code, format string, size int) string {
	u := "/api/v1/links/" + url.PathEscape(code) + "/qr?format=" + format
	if size > 0 {
		u += "&size=" + strconv.Itoa(size)
	}
	return u
}

func (t *Table) notAllowed(allow string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.errs.Fail(w, r, &edge.Problem{
			Status: http.StatusMethodNotAllowed, Header: http.Header{"Allow": {allow}}, Code: "method_not_allowed",
			Message: "This address does not accept that method; it accepts " + allow + ".",
		})
	})
}

func robots(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// Short links are for people; crawlers should follow them from where
	// they are published, not from here.
	w.Write([]byte("User-agent: *\nAllow: /$\nDisallow: /\n"))
}
