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
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Links is the link service the handlers call.
type Links interface {
	Create(ctx context.Context, p link.CreateParams) (link.Link, error)
	Resolve(ctx context.Context, c link.Code) (link.Link, error)
	Get(ctx context.Context, c link.Code, p link.Principal) (link.Link, error)
	Delete(ctx context.Context, c link.Code, p link.Principal) error
	List(ctx context.Context, p link.Principal, after *link.Cursor, limit int) (link.Page, error)
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
}

// DefaultRedirectStatus is the redirect status when Options gives none.
const DefaultRedirectStatus = http.StatusFound

// Server serves the API and the redirect.
type Server struct {
	links      Links
	auth       Authenticator
	qr         QR
	errs       *edge.Renderer
	log        *slog.Logger
	base       string
	requireKey bool
	redirect   redirect
	checks     []Check
	draining   atomic.Bool
}

// New returns a Server.
func New(links Links, auth Authenticator, log *slog.Logger, opts Options) *Server {
	s := &Server{
		links:      links,
		auth:       auth,
		qr:         opts.QR,
		errs:       opts.Errors,
		log:        log,
		base:       strings.TrimSuffix(opts.BaseURL, "/"),
		requireKey: opts.RequireAPIKey,
		checks:     opts.Checks,
	}
	if s.errs == nil {
		s.errs = edge.NewRenderer(log, nil, "")
	}
	reg := opts.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s.redirect = newRedirect(opts.RedirectStatus, opts.CacheControl, reg)
	return s
}

// Drain makes /readyz answer 503 from now on, so that load balancers stop
// sending requests before the server stops taking them.
func (s *Server) Drain() { s.draining.Store(true) }

func (s *Server) shortURL(c link.Code) string { return s.base + "/" + string(c) }
