// Package httpapi serves the JSON API, the redirect and the health
// endpoints, and holds the API client the CLI uses. Its handlers are
// mounted by the route table (package routes) behind the request pipeline
// (package edge); it states what it needs from the rest of the service as
// small interfaces.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Links is the link service the handlers call.
type Links interface {
	Create(ctx context.Context, p link.CreateParams) (link.Link, error)
	Get(ctx context.Context, c link.Code, p link.Principal) (link.Link, error)
	Delete(ctx context.Context, c link.Code, p link.Principal) error
	List(ctx context.Context, p link.Principal, after *link.Cursor, limit int) (link.Page, error)
	Search(ctx context.Context, p link.Principal, q link.ListQuery) (link.Page, error)
	Update(ctx context.Context, c link.Code, patch link.Patch, p link.Principal) (link.Link, error)
	Tags(ctx context.Context, p link.Principal) ([]link.TagCount, error)
	CreateBatch(ctx context.Context, ps []link.CreateParams) ([]link.Result, error)
	// Visit counts a redirect of a link with a visit limit; ErrExhausted
	// past it.
	Visit(ctx context.Context, l link.Link) error
	// CheckPassword returns ErrWrongPassword unless secret is l's
	// password.
	CheckPassword(ctx context.Context, l link.Link, secret string) error

	// ResolveOn returns the live link for c on domain d: the redirect path.
	ResolveOn(ctx context.Context, d int64, c link.Code) (link.Link, error)

	// The same on any domain; on link.DefaultDomain they are the above.
	GetOn(ctx context.Context, d int64, c link.Code, p link.Principal) (link.Link, error)
	DeleteOn(ctx context.Context, d int64, c link.Code, p link.Principal) error
	UpdateOn(ctx context.Context, d int64, c link.Code, patch link.Patch, p link.Principal) (link.Link, error)
}

// Authenticator turns a bearer token into a principal. It returns a
// *link.Error of Kind Unauthenticated for a bad token.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (link.Principal, error)
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
	BaseURL        string // origin of short links, like https://sho.rt
	RedirectStatus int    // 301, 302, 307 or 308
	CacheControl   string // Cache-Control on redirects; empty: none
	RequireAPIKey  bool   // refuse anonymous creation
	Checks         []Check
	QR             QR             // nil: no QR codes
	Errors         *edge.Renderer // how failures are answered; nil: JSON to everyone
	Registerer     prometheus.Registerer
	// KeyLimiter rations the links each API key creates, on top of the
	// per-address limit; nil: no limit per key.
	KeyLimiter KeyLimiter
	// Audit is the audit log admin keys read at /api/v1/audit; nil: 404.
	Audit AuditLog
	// Reports takes abuse reports at /api/v1/reports; nil: 404.
	Reports Reports
	// Clicks receives visits for click analytics; nil records none.
	Clicks Clicks
	// ClientIP gives the client's address behind trusted proxies, for
	// analytics (edge.Edge.ClientIP); nil records none.
	ClientIP func(*http.Request) netip.Addr
	// Stats answers the stats endpoint and the clicks of links; nil: the
	// endpoint answers 404 analytics_off and links carry no clicks.
	Stats Stats
	// PasswordForm shows browsers the form that asks for a link's
	// password; nil: they get the JSON error, as programs do.
	PasswordForm PasswordForm
	// Countries finds visitors' countries for rules by country (it needs
	// ClientIP too); nil: rules by country never match.
	Countries Countries
	// Domains are the short domains links live on; nil: the default
	// domain (BaseURL's host) only, and the domains API answers 404.
	Domains *link.Domains
	// Host is the host a request asked for (edge.Edge.Host, which trusts
	// X-Forwarded-Host from trusted proxies only), for the domain of an
	// orphan visit to a path that is no code; nil: r.Host.
	Host func(*http.Request) string
	// Imports runs the imports of /api/v1/imports; nil: 404.
	Imports Imports
}

// DefaultRedirectStatus is the redirect status when Options gives none.
const DefaultRedirectStatus = http.StatusFound

// Server serves the API and the redirect.
type Server struct {
	links    Links
	keys     keys
	qr       QR
	errs     *edge.Renderer
	log      *slog.Logger
	base     string
	scheme   string // BaseURL's, for other domains' short URLs
	redirect redirect
	health   health
	audit    AuditLog
	reports  Reports
	stats    Stats
	domains  *link.Domains
	host     func(*http.Request) string // the request's host, X-Forwarded-Host from trusted proxies
	imports  Imports
}

// keys is how API keys are checked: who a key is, its rate limit, and
// whether a create needs one.
type keys struct {
	auth     Authenticator
	limit    KeyLimiter
	required bool
}

// health is what /healthz and /readyz answer from.
type health struct {
	checks   []Check
	draining atomic.Bool
}

// New returns a Server.
func New(links Links, auth Authenticator, log *slog.Logger, opts Options) *Server {
	s := &Server{
		links:   links,
		keys:    keys{auth: auth, limit: opts.KeyLimiter, required: opts.RequireAPIKey},
		qr:      opts.QR,
		errs:    opts.Errors,
		log:     log,
		base:    strings.TrimSuffix(opts.BaseURL, "/"),
		audit:   opts.Audit,
		reports: opts.Reports,
		stats:   opts.Stats,
		domains: opts.Domains,
		host:    opts.Host,
		imports: opts.Imports,
		redirect: redirect{
			clicks:       opts.Clicks,
			clientIP:     opts.ClientIP,
			passwordForm: opts.PasswordForm,
			countries:    opts.Countries,
		},
		health: health{checks: opts.Checks},
	}
	if s.host == nil {
		s.host = func(r *http.Request) string { return r.Host }
	}
	s.scheme, _, _ = strings.Cut(s.base, "://")
	if s.errs == nil {
		s.errs = edge.NewRenderer(log, nil, "")
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.redirect.init(opts.RedirectStatus, opts.CacheControl, reg)
	s.redirect.options.init(reg)
	return s
}

// Drain makes /readyz answer 503 from now on, so that load balancers stop
// sending requests before the server stops taking them.
func (s *Server) Drain() { s.health.draining.Store(true) }

func (s *Server) shortURL(c link.Code) string { return s.base + "/" + string(c) }
