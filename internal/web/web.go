// Package web serves the shortening page: a server-rendered form that works
// without JavaScript and better with it, its embedded style sheet, script
// and icon, and friendly error pages for browsers. It is a peer of the
// API: the route table (package routes) mounts both, and both answer
// failures through package edge. It talks to the rest of the service only
// through the small Links interface.
package web

import (
	"bytes"
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Links creates links; *link.Service is one. Create reports rule
// violations as *link.Error values whose Field names the input at fault.
type Links interface {
	Create(ctx context.Context, p link.CreateParams) (link.Link, error)
}

// Options configure Pages.
type Options struct {
	BaseURL       string // origin of short links, like https://sho.rt
	RequireAPIKey bool   // anonymous creation is off: the page says so instead of showing the form
	// QRURL is the address of a link's QR code, which the API draws
	// (routes.QRURL): format "svg" or "png", size in pixels for a PNG (0:
	// the default). nil gives empty addresses.
	QRURL func(code, format string, size int) string
	// Resolver finds links for the preview page (/{code}+); nil: no
	// previews.
	Resolver Resolver
	// Reports takes reports from the "Report this link" page; nil: no
	// report page.
	Reports Reporter
	// Domains are the short domains, for the short URLs of links on
	// branded ones; nil: the default domain only.
	Domains *link.Domains
}

// Pages serves the HTML side of the service.
type Pages struct {
	links      Links
	log        *slog.Logger
	base       string
	requireKey bool
	home       *template.Template
	errPage    *template.Template
	preview    *template.Template
	report     *template.Template
	reported   *template.Template
	password   *template.Template
	resolver   Resolver
	reporter   Reporter
	assets     *assets
	csrf       *http.CrossOriginProtection
	qrURL      func(code, format string, size int) string
	domains    *link.Domains
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns Pages that create links with links.
func New(links Links, log *slog.Logger, opts Options) (*Pages, error) {
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	a, err := loadAssets(static)
	if err != nil {
		return nil, fmt.Errorf("web: assets: %w", err)
	}
	p := &Pages{
		links:      links,
		log:        log,
		base:       strings.TrimSuffix(opts.BaseURL, "/"),
		requireKey: opts.RequireAPIKey,
		resolver:   opts.Resolver,
		reporter:   opts.Reports,
		domains:    opts.Domains,
		assets:     a,
		// The form needs no token: browsers mark every request with
		// Sec-Fetch-Site (or, before 2023, Origin), which a page on another
		// site can neither forge nor remove. CrossOriginProtection refuses
		// non-safe requests that are marked cross-site or whose Origin is not
		// this host, and lets through requests without either header, which
		// come from programs rather than from a victim's browser. (The
		// script posts JSON to the API instead, which another site cannot
		// do without a CORS preflight that this server never grants.)
		csrf: http.NewCrossOriginProtection(),
	}
	p.csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.errorPage(w, r, edge.Problem{Status: http.StatusForbidden, Code: "cross_origin_request",
			Message: "This form was sent from another site, so it was refused. Open this page directly and try again."})
	}))
	qrURL := opts.QRURL
	if qrURL == nil {
		qrURL = func(string, string, int) string { return "" }
	}
	p.qrURL = qrURL
	funcs := template.FuncMap{"asset": a.url, "qr": qrURL}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	for name, dst := range map[string]**template.Template{
		"home.html": &p.home, "error.html": &p.errPage,
		"preview.html": &p.preview, "report.html": &p.report, "reported.html": &p.reported,
		"password.html": &p.password,
	} {
		t, err := layout.Clone()
		if err == nil {
			t, err = t.ParseFS(templateFS, "templates/"+name)
		}
		if err != nil {
			return nil, fmt.Errorf("web: templates: %w", err)
		}
		*dst = t
	}
	return p, nil
}

// pageData is what the templates show. The home page uses the form, error
// and result fields; the error page uses Status, Code and Message.
type pageData struct {
	Title string

	KeysRequired bool
	Form         formValues
	Errors       []fieldError
	Result       result
	Expiries     []option

	Status  int
	Code    string
	Message string

	Preview previewData // the preview page
	Reports bool        // the preview page links to the report page
	Report  reportData  // the report page and its thanks page

	Password passwordData // the password page of a link
}

// FieldError returns the message for the input with the given id, if any.
func (d pageData) FieldError(input string) string {
	for _, e := range d.Errors {
		if e.Input == input {
			return e.Message
		}
	}
	return ""
}

type formValues struct {
	URL, Alias, ExpiresIn string
}

// fieldError is one problem to show: beside the input whose id is Input,
// and in the summary at the top of the form.
type fieldError struct {
	Input   string // "url", "alias", "expires" or "" for the form as a whole
	Message string
}

type result struct {
	Code      string
	ShortURL  string
	URL       string
	ExpiresAt time.Time
}

// ExpiresText is the expiry for people to read, in UTC.
func (r result) ExpiresText() string { return r.ExpiresAt.UTC().Format("2 January 2006, 15:04 UTC") }

// ExpiresISO is the expiry for <time datetime>.
func (r result) ExpiresISO() string { return r.ExpiresAt.UTC().Format(time.RFC3339) }

// csp allows only this origin's script, style sheet, images and API, and
// nothing inline: no template can become a script injection.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// setPageHeaders sets the headers every HTML response carries.
func setPageHeaders(h http.Header) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// same-origin sends no Referer to destinations and other sites, yet
	// keeps the Origin header of the form's own POST, which no-referrer
	// would turn into "null" for browsers that predate Sec-Fetch-Site.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
}

// render executes t into a buffer first, so that a template failure becomes
// a clean 500 rather than half a page.
func (p *Pages) render(w http.ResponseWriter, r *http.Request, t *template.Template, status int, d pageData) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", d); err != nil {
		p.log.ErrorContext(r.Context(), "render page", "page", d.Title, "err", err)
		setPageHeaders(w.Header())
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(edge.ErrInternal.Message + "\n"))
		return
	}
	setPageHeaders(w.Header())
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// ErrorPage renders a friendly page for a failed request, for the edge's
// Renderer. A failed form post (refused by the rate limit, say) gets the
// form back with the visitor's input and the message in its summary;
// anything else gets an error page.
func (p *Pages) ErrorPage(w http.ResponseWriter, r *http.Request, pr edge.Problem) {
	if r.Method == http.MethodPost && r.URL.Path == "/" && !p.requireKey {
		if form, err := p.readForm(w, r); err == nil {
			d := p.homeData(form)
			d.Errors = []fieldError{{Message: pr.Message}}
			p.render(w, r, p.home, pr.Status, d)
			return
		}
	}
	p.errorPage(w, r, pr)
}

func (p *Pages) errorPage(w http.ResponseWriter, r *http.Request, pr edge.Problem) {
	p.render(w, r, p.errPage, pr.Status, pageData{
		Title:   errorTitle(pr.Status, pr.Code),
		Status:  pr.Status,
		Code:    pr.Code,
		Message: pr.Message,
	})
}

// SameOrigin refuses a form post that another site sent, with an error
// page, before next sees it.
func (p *Pages) SameOrigin(next http.Handler) http.Handler { return p.csrf.Handler(next) }

func errorTitle(status int, code string) string {
	if code == "link_disabled" {
		return "This link has been disabled"
	}
	if code == "link_exhausted" {
		return "This link has reached its visit limit"
	}
	switch status {
	case http.StatusNotFound:
		return "Nothing here"
	case http.StatusGone:
		return "This link has expired"
	case http.StatusForbidden:
		return "Not allowed"
	case http.StatusUnauthorized:
		return "A key is needed"
	case http.StatusMethodNotAllowed:
		return "Not allowed here"
	case http.StatusRequestEntityTooLarge:
		return "Too much to send"
	case http.StatusTooManyRequests:
		return "Too many requests"
	case http.StatusServiceUnavailable:
		return "Try again shortly"
	}
	if status >= 500 {
		return "Something went wrong"
	}
	return "That did not work"
}

// Assets serves the embedded style sheet, script and icon under /static/.
func (p *Pages) Assets() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.assets.serve(w, r, strings.TrimPrefix(r.URL.Path, "/static/")) {
			p.errorPage(w, r, *edge.ErrNoRoute)
		}
	})
}
