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
	"strings"
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
	Export(w http.ResponseWriter, r *http.Request)
	// StartImport and GetImport start an import in the background and
	// report on it.
	StartImport(w http.ResponseWriter, r *http.Request)
	GetImport(w http.ResponseWriter, r *http.Request)
	ListAudit(w http.ResponseWriter, r *http.Request)
	CreateReport(w http.ResponseWriter, r *http.Request)
	ListReports(w http.ResponseWriter, r *http.Request)
	ResolveReport(w http.ResponseWriter, r *http.Request)
	UpdateLink(w http.ResponseWriter, r *http.Request)
	BulkCreate(w http.ResponseWriter, r *http.Request)
	ListTags(w http.ResponseWriter, r *http.Request)
	Document(w http.ResponseWriter, r *http.Request) // openapi.yaml
	Live(w http.ResponseWriter, r *http.Request)
	Ready(w http.ResponseWriter, r *http.Request)
	// Redirect answers with the redirect for code, which the table has
	// taken from the path, on the domain with id domain, which it has
	// taken from the request's host (link.DefaultDomain while there is
	// no other).
	Redirect(w http.ResponseWriter, r *http.Request, domain int64, code link.Code)
	// Unlock takes the password form of a link with a password, posted
	// to the short URL, and redirects if it is right; the table gives the
	// code and the domain as it does to Redirect.
	Unlock(w http.ResponseWriter, r *http.Request, domain int64, code link.Code)
	// Domains serves the domains API: add, list and remove.
	CreateDomain(w http.ResponseWriter, r *http.Request)
	ListDomains(w http.ResponseWriter, r *http.Request)
	DeleteDomain(w http.ResponseWriter, r *http.Request)
	LinkStats(w http.ResponseWriter, r *http.Request)
	// NoRoute answers a path at which nothing is served (and counts it as
	// an orphan visit).
	NoRoute(w http.ResponseWriter, r *http.Request)
}

// StatsPages is the stats page of a link; *web.StatsPages is one.
type StatsPages interface {
	// Stats shows the page, or the form asking for an API key.
	Stats(w http.ResponseWriter, r *http.Request)
	// StatsKey takes the key entered in the form.
	StatsKey(w http.ResponseWriter, r *http.Request)
}

// Pages is the web page; *web.Pages is one.
type Pages interface {
	Home(w http.ResponseWriter, r *http.Request)
	Shorten(w http.ResponseWriter, r *http.Request)
	Assets() http.Handler
	// SameOrigin refuses a form post another site sent (cross-site request
	// forgery) before next sees it.
	SameOrigin(next http.Handler) http.Handler
	// Preview shows where the link with code on the domain with id
	// domain goes, without going there: the page at /{code}+. The table
	// gives the code and the domain as it does to API.Redirect.
	Preview(w http.ResponseWriter, r *http.Request, domain int64, code link.Code)
	// ReportForm and Report are the "Report this link" page at
	// /report/{code} and its form post, about the link on the domain with
	// id domain, which the table takes from the host as for Preview.
	ReportForm(w http.ResponseWriter, r *http.Request, domain int64)
	Report(w http.ResponseWriter, r *http.Request, domain int64)
}

// Dashboard is the signed-in side of the pages; *web.Dashboard is one.
// Its handlers find the signed-in user in the session that Sessions
// loads.
type Dashboard interface {
	Sessions(next http.Handler) http.Handler

	LoginForm(w http.ResponseWriter, r *http.Request)
	Login(w http.ResponseWriter, r *http.Request)
	Logout(w http.ResponseWriter, r *http.Request)
	Account(w http.ResponseWriter, r *http.Request)
	SignOutEverywhere(w http.ResponseWriter, r *http.Request)

	Links(w http.ResponseWriter, r *http.Request)
	NewLink(w http.ResponseWriter, r *http.Request)
	CreateLink(w http.ResponseWriter, r *http.Request)
	Link(w http.ResponseWriter, r *http.Request)
	ConfirmDelete(w http.ResponseWriter, r *http.Request)
	DeleteLink(w http.ResponseWriter, r *http.Request)
	UpdateLink(w http.ResponseWriter, r *http.Request)
	DisableLink(w http.ResponseWriter, r *http.Request)
	EnableLink(w http.ResponseWriter, r *http.Request)
	BulkForm(w http.ResponseWriter, r *http.Request)
	BulkCreate(w http.ResponseWriter, r *http.Request)

	Keys(w http.ResponseWriter, r *http.Request)
	CreateKey(w http.ResponseWriter, r *http.Request)
	RevokeKey(w http.ResponseWriter, r *http.Request)

	Users(w http.ResponseWriter, r *http.Request)
	CreateUser(w http.ResponseWriter, r *http.Request)
	DisableUser(w http.ResponseWriter, r *http.Request)
	EnableUser(w http.ResponseWriter, r *http.Request)
	ResetPassword(w http.ResponseWriter, r *http.Request)

	ImportForm(w http.ResponseWriter, r *http.Request)
	Import(w http.ResponseWriter, r *http.Request)
	// ImportStatus shows an import job's progress and problems.
	ImportStatus(w http.ResponseWriter, r *http.Request)

	// The short domains: everyone sees those they may use, admins add and
	// remove them.
	Domains(w http.ResponseWriter, r *http.Request)
	CreateDomain(w http.ResponseWriter, r *http.Request)
	RemoveDomain(w http.ResponseWriter, r *http.Request)
}

// Options configure a Table.
type Options struct {
	Pages       Pages                          // nil: no web page
	Dashboard   Dashboard                      // nil: no dashboard; needs Pages
	Errors      *edge.Renderer                 // how the table's own failures are answered; nil: JSON to everyone
	Metrics     http.Handler                   // served at /metrics; nil: not served
	Limiter     Limiter                        // rations creates per client; nil: no limit
	Reports     Limiter                        // rations abuse reports per client; nil: no limit
	QRLimiter   Limiter                        // rations QR images per client; nil: no limit
	IPv6Prefix  int                            // bits of an IPv6 address that name one client; zero: ratelimit.DefaultIPv6Prefix
	ClientIP    func(*http.Request) netip.Addr // whose budget a create spends; nil: the peer's
	BodyTimeout time.Duration                  // longest a request body may take to arrive; zero: DefaultBodyTimeout
	// YOURLS serves the YOURLS API at /yourls-api.php (--compat yourls); nil:
	// not served.
	YOURLS     http.Handler
	Registerer prometheus.Registerer
	StatsPages StatsPages // nil: no stats page (analytics off, or no web page)
	Shlink     Shlink     // the Shlink-compatible API under /rest/ (--compat shlink); nil: not served
	// Passwords rations password attempts per link and client; nil: no
	// limit.
	Passwords Limiter
	// Domains are the short domains redirects are served on, by the
	// request's host; nil: the default domain only, whatever the host.
	Domains *link.Domains
	// Host is the host a request asked for (edge.Edge.Host, which trusts
	// X-Forwarded-Host from trusted proxies only); nil: r.Host.
	Host func(*http.Request) string
}

// RedirectRoute is the redirect's pattern, which the shortcut gives the
// requests it takes and the edge samples in its access log.
const RedirectRoute = "GET /{code}"

// UnlockRoute is the pattern of the password form's post.
const UnlockRoute = "POST /{code}"

// PreviewRoute labels the preview page, /{code}+, in metrics and logs: it
// is served under RedirectRoute's pattern, since a pattern's wildcard is a
// whole segment.
const PreviewRoute = "GET /{code}+"

// APIPrefix starts every path of the JSON API, where errors are JSON even
// for browsers.
const APIPrefix = "/api/"

// Table routes requests to the API and the pages.
type Table struct {
	api         API
	pages       Pages
	statsPages  StatsPages
	dash        Dashboard
	errs        *edge.Renderer
	log         *slog.Logger
	limiter     Limiter
	reports     Limiter
	qrLimiter   Limiter
	ipv6Prefix  int
	clientIP    func(*http.Request) netip.Addr
	bodyTimeout time.Duration
	metricsH    http.Handler
	yourls      http.Handler
	metrics     *metrics
	reserved    map[string]struct{}
	shlink      Shlink
	passwords   Limiter
	domains     *link.Domains
	host        func(*http.Request) string
	mux         *http.ServeMux
}

// New returns the route table over api and opts.Pages. It answers failures
// of its own (no route, a method a path does not take, a rate limit) with
// opts.Errors, which should be the renderer the API and the pages use.
func New(api API, log *slog.Logger, opts Options) *Table {
	t := &Table{
		api:         api,
		pages:       opts.Pages,
		statsPages:  opts.StatsPages,
		dash:        opts.Dashboard,
		errs:        opts.Errors,
		log:         log,
		limiter:     opts.Limiter,
		reports:     opts.Reports,
		qrLimiter:   opts.QRLimiter,
		ipv6Prefix:  opts.IPv6Prefix,
		clientIP:    opts.ClientIP,
		bodyTimeout: opts.BodyTimeout,
		metricsH:    opts.Metrics,
		yourls:      opts.YOURLS,
		shlink:      opts.Shlink,
		passwords:   opts.Passwords,
		domains:     opts.Domains,
		host:        opts.Host,
		reserved:    make(map[string]struct{}),
		mux:         http.NewServeMux(),
	}
	if t.errs == nil {
		t.errs = edge.NewRenderer(log, nil, "")
	}
	if t.clientIP == nil {
		t.clientIP = peerIP
	}
	if t.host == nil {
		t.host = func(r *http.Request) string { return r.Host }
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
		"report",
		// /api/v1/links/bulk is the bulk create, so no link may be named bulk.
		"bulk",
		"keys", "users", "account",
		"domains",
		// /links/new is the dashboard's create form, so no link may be
		// named new: its own page would be /links/new.
		"new",
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
				// With the default domain alone, every host is it: one
				// atomic load, then the redirect as before domains.
				if t.domains == nil || !t.domains.Branded() {
					t.api.Redirect(w, r, link.DefaultDomain, link.Code(code))
					return
				}
				t.redirectOn(w, r, link.Code(code))
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

// compatBodyBytes bounds the form of another shortener's API request.
const compatBodyBytes = 64 << 10

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
	mux.Handle("GET /api/v1/links/{code}/qr", t.limit(t.qrLimiter, "qr:", http.HandlerFunc(api.LinkQR)))
	mux.HandleFunc("GET /api/v1/export", api.Export)
	mux.Handle("POST /api/v1/imports", t.readsBody(api.StartImport))
	mux.HandleFunc("GET /api/v1/imports/{id}", api.GetImport)
	mux.Handle("PATCH /api/v1/links/{code}", t.readsBody(api.UpdateLink))
	mux.Handle("POST /api/v1/links/bulk", t.readsBody(t.limitBulk(api.BulkCreate)))
	mux.HandleFunc("GET /api/v1/tags", api.ListTags)
	mux.HandleFunc("GET /api/v1/openapi.yaml", api.Document)
	mux.HandleFunc("GET /api/v1/audit", api.ListAudit)
	mux.Handle("POST /api/v1/reports", t.limitReports(t.readsBody(api.CreateReport)))
	mux.HandleFunc("GET /api/v1/reports", api.ListReports)
	mux.Handle("POST /api/v1/reports/{id}/resolve", t.readsBody(api.ResolveReport))
	mux.HandleFunc("GET /api/v1/links/{code}/stats", api.LinkStats)

	mux.HandleFunc("GET /healthz", api.Live)
	mux.HandleFunc("GET /readyz", api.Ready)
	if t.metricsH != nil {
		mux.Handle("GET /metrics", t.metricsH)
	}

	mux.Handle("POST /api/v1/domains", t.readsBody(api.CreateDomain))
	mux.HandleFunc("GET /api/v1/domains", api.ListDomains)
	mux.HandleFunc("DELETE /api/v1/domains/{host}", api.DeleteDomain)

	if pages != nil {
		mux.HandleFunc("GET /{$}", t.root(pages.Home))
		// The cross-origin check comes before the rate limit, so that a
		// post another site forged does not spend the visitor's budget.
		mux.Handle("POST /{$}", t.countCreates(pages.SameOrigin(t.limitCreates(t.readsBody(pages.Shorten)))))
		mux.Handle("GET /static/", pages.Assets())
		mux.HandleFunc("GET /report/{code}", t.onDomain(pages.ReportForm))
		mux.Handle("POST /report/{code}", pages.SameOrigin(t.limitReports(t.readsBody(t.onDomain(pages.Report)))))
	}
	if sp := t.statsPages; sp != nil && pages != nil {
		mux.HandleFunc("GET /links/{code}/stats", sp.Stats)
		mux.Handle("POST /links/{code}/stats", pages.SameOrigin(t.readsBody(sp.StatsKey)))
	}
	if pages != nil && t.dash != nil {
		t.registerDashboard(mux, pages, t.dash)
	}
	mux.HandleFunc("GET /robots.txt", robots)
	if t.yourls != nil {
		// One path for every action: only shorturl creates, so only it
		// spends the create budget and is counted as a create.
		creates := t.countCompatCreates(t.limitCreates(t.yourls))
		yourls := t.readsBody(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, compatBodyBytes)
			if r.FormValue("action") == "shorturl" {
				creates.ServeHTTP(w, r)
				return
			}
			t.yourls.ServeHTTP(w, r)
		})
		mux.Handle("GET /yourls-api.php", yourls)
		mux.Handle("POST /yourls-api.php", yourls)
	}
	if t.shlink != nil {
		t.registerShlink(mux)
	}

	// GET also answers HEAD. A code followed by "+" is its preview, which
	// the shortcut never takes (a code has no "+"), so the redirect pays
	// nothing for it.
	mux.HandleFunc(RedirectRoute, func(w http.ResponseWriter, r *http.Request) {
		code := r.PathValue("code")
		if c, ok := strings.CutSuffix(code, "+"); ok && pages != nil {
			r.Pattern = PreviewRoute
			t.onDomain(func(w http.ResponseWriter, r *http.Request, d int64) { pages.Preview(w, r, d, link.Code(c)) })(w, r)
			return
		}
		if t.domains == nil || !t.domains.Branded() {
			api.Redirect(w, r, link.DefaultDomain, link.Code(code))
			return
		}
		t.redirectOn(w, r, link.Code(code))
	})
	// The password form of a link with a password posts to the short URL
	// itself. The cross-origin check, as for every form, comes before the
	// rate limit, and the rate limit before any password is hashed.
	var unlock http.Handler = t.limitPasswords(t.readsBody(t.unlockOn))
	if pages != nil {
		unlock = pages.SameOrigin(unlock)
	}
	mux.Handle(UnlockRoute, t.notOwnPath(unlock))

	// Method-less patterns are less specific than the ones above, so they
	// catch only the methods a path does not accept.
	mux.Handle("/api/v1/links", t.notAllowed("GET, HEAD, POST"))
	mux.Handle("/api/v1/links/{code}", t.notAllowed("GET, HEAD, DELETE, PATCH"))
	for _, m := range []string{"GET", "PUT", "PATCH", "DELETE"} {
		mux.Handle(m+" /api/v1/links/bulk", t.notAllowed("POST"))
	}
	mux.Handle("/api/v1/tags", t.notAllowed("GET, HEAD"))
	mux.Handle("/api/v1/links/{code}/qr", t.notAllowed("GET, HEAD"))
	mux.Handle("/api/v1/export", t.notAllowed("GET, HEAD"))
	mux.Handle("/api/v1/imports", t.notAllowed("POST"))
	mux.Handle("/api/v1/imports/{id}", t.notAllowed("GET, HEAD"))
	mux.Handle("/api/v1/openapi.yaml", t.notAllowed("GET, HEAD"))
	mux.Handle("/api/v1/audit", t.notAllowed("GET, HEAD"))
	mux.Handle("/api/v1/reports", t.notAllowed("GET, HEAD, POST"))
	mux.Handle("/api/v1/reports/{id}/resolve", t.notAllowed("POST"))
	mux.Handle("/api/v1/links/{code}/stats", t.notAllowed("GET, HEAD"))
	mux.Handle("/api/v1/domains", t.notAllowed("GET, HEAD, POST"))
	mux.Handle("/api/v1/domains/{host}", t.notAllowed("DELETE"))
	if pages != nil {
		mux.Handle("/{$}", t.notAllowed("GET, HEAD, POST"))
		mux.Handle("/report/{code}", t.notAllowed("GET, HEAD, POST"))
	}
	mux.Handle("/{code}", t.notOwnPath(t.notAllowed("GET, HEAD, POST")))
	mux.HandleFunc("/", api.NoRoute)
}

// registerDashboard mounts the dashboard. Each of its routes loads the
// session; each that changes something first refuses what another site
// sent (SameOrigin), before the session is touched, and bounds its body's
// arrival.
func (t *Table) registerDashboard(mux router, pages Pages, d Dashboard) {
	view := func(h http.HandlerFunc) http.Handler { return d.Sessions(h) }
	act := func(h http.HandlerFunc) http.Handler { return pages.SameOrigin(d.Sessions(t.readsBody(h))) }

	mux.Handle("GET /login", view(d.LoginForm))
	mux.Handle("POST /login", act(d.Login))
	mux.Handle("POST /logout", act(d.Logout))
	mux.Handle("GET /account", view(d.Account))
	mux.Handle("POST /account/sign-out-everywhere", act(d.SignOutEverywhere))

	mux.Handle("GET /links", view(d.Links))
	mux.Handle("GET /links/new", view(d.NewLink))
	// Creating spends the same per-client budget as the API and the form.
	mux.Handle("POST /links", t.countCreates(pages.SameOrigin(t.limitCreates(d.Sessions(t.readsBody(d.CreateLink))))))
	mux.Handle("GET /links/{code}", view(d.Link))
	mux.Handle("GET /links/{code}/delete", view(d.ConfirmDelete))
	mux.Handle("POST /links/{code}/delete", act(d.DeleteLink))
	// Editing a link, and creating many from a CSV file ("bulk" is
	// reserved, so no link's page is hidden behind it). An upload spends
	// the per-client create budget a line at a time.
	mux.Handle("POST /links/{code}", act(d.UpdateLink))
	mux.Handle("POST /links/{code}/disable", act(d.DisableLink))
	mux.Handle("POST /links/{code}/enable", act(d.EnableLink))
	mux.Handle("GET /links/bulk", view(d.BulkForm))
	mux.Handle("POST /links/bulk", t.countCreates(pages.SameOrigin(t.readsBody(t.limitUpload(d.Sessions(http.HandlerFunc(d.BulkCreate)).ServeHTTP)))))

	mux.Handle("GET /keys", view(d.Keys))
	mux.Handle("POST /keys", act(d.CreateKey))
	mux.Handle("POST /keys/{id}/revoke", act(d.RevokeKey))

	mux.Handle("GET /users", view(d.Users))
	mux.Handle("POST /users", act(d.CreateUser))
	mux.Handle("POST /users/{id}/disable", act(d.DisableUser))
	mux.Handle("POST /users/{id}/enable", act(d.EnableUser))
	mux.Handle("POST /users/{id}/password", act(d.ResetPassword))

	// Administrators import links from a file or another shortener.
	mux.Handle("GET /admin/import", view(d.ImportForm))
	mux.Handle("POST /admin/import", act(d.Import))
	mux.Handle("GET /admin/import/{id}", view(d.ImportStatus))

	mux.Handle("GET /domains", view(d.Domains))
	mux.Handle("POST /domains", act(d.CreateDomain))
	mux.Handle("POST /domains/{host}/remove", act(d.RemoveDomain))

	// Following a sign-out link (not a form) is refused: signing out
	// changes something, so it is a post.
	mux.Handle("GET /logout", t.notAllowed("POST"))
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
		t.errs.Fail(w, r, methodNotAllowed(allow))
	})
}

func methodNotAllowed(allow string) *edge.Problem {
	return &edge.Problem{
		Status: http.StatusMethodNotAllowed, Header: http.Header{"Allow": {allow}}, Code: "method_not_allowed",
		Message: "This address does not accept that method; it accepts " + allow + ".",
	}
}

func robots(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// Short links are for people; crawlers should follow them from where
	// they are published, not from here.
	w.Write([]byte("User-agent: *\nAllow: /$\nDisallow: /\n"))
}
