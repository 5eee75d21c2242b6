package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/shortlinks/shortlinks/internal/account"
	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
)

// Users is what the dashboard asks of the accounts; *account.Service is
// one.
type Users interface {
	SignIn(ctx context.Context, email, password, addr string) (account.User, error)
	List(ctx context.Context, by link.Principal, after int64, limit int) ([]account.User, error)
	Create(ctx context.Context, by link.Principal, nu account.NewUser) (account.User, error)
	Disable(ctx context.Context, by link.Principal, id int64) error
	Enable(ctx context.Context, by link.Principal, id int64) error
	ResetPassword(ctx context.Context, by link.Principal, id int64, password string) error
	SignOutEverywhere(ctx context.Context, by link.Principal, id int64) (int64, error)
}

// Sessions keeps people signed in; *account.Sessions is one.
type Sessions interface {
	Manager() *scs.SessionManager
	SignIn(ctx context.Context, u account.User) error
	SignOut(ctx context.Context) error
	Current(ctx context.Context) (account.User, error)
}

// ManagedLinks is what the dashboard does with links; *link.Service is
// one. Each call names who acts, and the service shows and changes only
// what they may see.
type ManagedLinks interface {
	Create(ctx context.Context, p link.CreateParams) (link.Link, error)
	Search(ctx context.Context, p link.Principal, q link.ListQuery) (link.Page, error)
	Tags(ctx context.Context, p link.Principal) ([]link.TagCount, error)
	CreateBatch(ctx context.Context, ps []link.CreateParams) ([]link.Result, error)
	// GetOn, DeleteOn and UpdateOn act on the link with code c on domain
	// d (link.DefaultDomain, or a branded domain's id).
	GetOn(ctx context.Context, d int64, c link.Code, p link.Principal) (link.Link, error)
	DeleteOn(ctx context.Context, d int64, c link.Code, p link.Principal) error
	UpdateOn(ctx context.Context, d int64, c link.Code, patch link.Patch, p link.Principal) (link.Link, error)
}

// ClickTotals reads links' clicks of all time; analytics.Stats is one.
type ClickTotals interface {
	Totals(ctx context.Context, linkIDs []int64) (map[int64]analytics.TotalCount, error)
}

// Keys issues and revokes API keys; *apikey.Service is one.
type Keys interface {
	Issue(ctx context.Context, by link.Principal, p apikey.IssueParams) (apikey.Key, string, error)
	ListFor(ctx context.Context, by link.Principal) ([]apikey.Key, error)
	RevokeBy(ctx context.Context, by link.Principal, id int64) error
}

// DashboardOptions configure a Dashboard.
type DashboardOptions struct {
	Users    Users
	Sessions Sessions
	Links    ManagedLinks
	Keys     Keys
	// Imports runs the import page's imports; nil: the page is not served.
	Imports Imports
	// ClientIP is the client's address, on which sign-in attempts are
	// limited; nil: the connection's peer.
	ClientIP func(*http.Request) netip.Addr
	// Clicks gives the lists and link pages their clicks; nil (analytics
	// off): no clicks are shown, nor offered as a sort.
	Clicks ClickTotals
	// Domains are the short domains, for the domains page and the forms'
	// domain select; nil: the default domain only, and no domains page.
	Domains DomainAdmin
	// DomainCounts counts the links on each branded domain for the
	// domains page; nil: no counts shown.
	DomainCounts link.DomainCounter
}

// Dashboard is the signed-in side of the pages: signing in and out, a
// person's links, their API keys, and for administrators the users.
//
// Forms carry no token against cross-site request forgery. Every
// state-changing form goes through SameOrigin, which refuses what a page
// on another site sends (browsers mark it with Sec-Fetch-Site or Origin,
// which pages cannot forge), and the session cookie is SameSite=Lax, so a
// cross-site post does not carry it anyway. Either is enough alone.
type Dashboard struct {
	p        *Pages
	users    Users
	sessions Sessions
	links    ManagedLinks
	keys     Keys
	imports  Imports
	clicks   ClickTotals
	clientIP func(*http.Request) netip.Addr
	tmpl     map[string]*template.Template
	domains  DomainAdmin
	counts   link.DomainCounter
}

// dashPages are the dashboard's templates, each drawn in dash_layout.html.
var dashPages = []string{"login", "links", "link", "link_new", "link_delete", "link_bulk", "keys", "users", "account", "import", "domains"}

// Dashboard returns the dashboard over opts, drawn with p's assets and
// error page.
func (p *Pages) Dashboard(opts DashboardOptions) (*Dashboard, error) {
	if opts.Users == nil || opts.Sessions == nil || opts.Links == nil || opts.Keys == nil {
		return nil, errors.New("web: the dashboard needs users, sessions, links and keys")
	}
	d := &Dashboard{
		p: p, users: opts.Users, sessions: opts.Sessions, links: opts.Links, keys: opts.Keys,
		imports: opts.Imports, clicks: opts.Clicks, clientIP: opts.ClientIP, tmpl: map[string]*template.Template{},
		domains: opts.Domains, counts: opts.DomainCounts,
	}
	if d.clientIP == nil {
		d.clientIP = func(r *http.Request) netip.Addr { return edge.ClientIP(r, nil) }
	}
	opts.Sessions.Manager().ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		p.log.ErrorContext(r.Context(), "session", "err", err)
		p.errorPage(w, r, edge.Problem{Status: http.StatusServiceUnavailable, Code: "sessions_unavailable",
			Message: "Signing in is not available right now; try again shortly."})
	}
	funcs := template.FuncMap{"asset": p.assets.url, "qr": p.qrURL, "date": dateText, "iso": isoTime, "inc": func(n int) int { return n + 1 }}
	layout, err := template.New("dash_layout.html").Funcs(funcs).ParseFS(templateFS, "templates/dash_layout.html", "templates/dash_link_options.html")
	if err != nil {
		return nil, fmt.Errorf("web: dashboard templates: %w", err)
	}
	for _, name := range dashPages {
		t, err := layout.Clone()
		if err == nil {
			t, err = t.ParseFS(templateFS, "templates/"+name+".html")
		}
		if err != nil {
			return nil, fmt.Errorf("web: dashboard templates: %w", err)
		}
		d.tmpl[name] = t
	}
	return d, nil
}

// Sessions loads the session of each request before next and saves it
// after. Only the dashboard's routes go through it: the redirect and the
// API never touch a session.
func (d *Dashboard) Sessions(next http.Handler) http.Handler {
	return d.sessions.Manager().LoadAndSave(next)
}

func dateText(t time.Time) string {
	if t.IsZero() {
		return "Never"
	}
	return t.UTC().Format("2 Jan 2006 15:04 UTC")
}

func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// dashData is what the dashboard's templates show.
type dashData struct {
	Title string
	Nav   string // the navigation item of the page, marked aria-current
	// Refresh, when positive, reloads the page after that many seconds
	// (an import's page while it runs).
	Refresh int
	User    account.User
	Admin   bool
	Flash   flash
	Errors  []fieldError
	Form    map[string]string

	Next string // where signing in leads

	Links    []linkRow
	NextPage string
	Link     linkRow
	Expiries []option

	List      listView    // the list's search, filter and sort
	Options   linkOptions // the options inputs of the create and edit forms
	ShowClick bool        // clicks are counted, so shown
	Bulk      *bulkView

	Keys   []keyRow
	NewKey newKey
	Scopes []scopeChoice

	Users []userRow

	Import importView

	Domains       []domainRow
	DomainChoices []option // the forms' domain select; nil: not shown
}

// FieldError returns the message for the input with the given id, if any.
func (d dashData) FieldError(input string) string {
	for _, e := range d.Errors {
		if e.Input == input {
			return e.Message
		}
	}
	return ""
}

// flash is a message shown once, on the page after an action.
type flash struct {
	Message string
	Error   bool
}

const (
	flashKey      = "web.flash"
	flashErrorKey = "web.flash_error"
)

func (d *Dashboard) setFlash(ctx context.Context, msg string) {
	d.sessions.Manager().Put(ctx, flashKey, msg)
}

func (d *Dashboard) setFlashError(ctx context.Context, msg string) {
	d.sessions.Manager().Put(ctx, flashErrorKey, msg)
}

// data starts the data of a page for u, taking the flash message waiting
// in the session.
func (d *Dashboard) data(r *http.Request, u account.User, title, nav string) dashData {
	m := d.sessions.Manager()
	dd := dashData{Title: title, Nav: nav, User: u, Admin: u.Role == account.RoleAdmin, Form: map[string]string{}}
	if msg := m.PopString(r.Context(), flashErrorKey); msg != "" {
		dd.Flash = flash{Message: msg, Error: true}
	} else if msg := m.PopString(r.Context(), flashKey); msg != "" {
		dd.Flash = flash{Message: msg}
	}
	return dd
}

// render draws the named page; a template failure is a clean 500.
func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, name string, status int, dd dashData) {
	var buf bytes.Buffer
	if err := d.tmpl[name].ExecuteTemplate(&buf, "layout", dd); err != nil {
		d.p.log.ErrorContext(r.Context(), "render page", "page", name, "err", err)
		d.p.errorPage(w, r, *edge.ErrInternal)
		return
	}
	setPageHeaders(w.Header())
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// user returns the signed-in user. Without one it sends the browser to
// sign in, coming back here afterwards for a page, and reports false.
func (d *Dashboard) user(w http.ResponseWriter, r *http.Request) (account.User, bool) {
	u, err := d.sessions.Current(r.Context())
	if err == nil {
		return u, true
	}
	if !errors.Is(err, account.ErrNotSignedIn) {
		d.fail(w, r, err)
		return account.User{}, false
	}
	to := "/login"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		to += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return account.User{}, false
}

// admin is user for the pages only administrators see: others get 403.
func (d *Dashboard) admin(w http.ResponseWriter, r *http.Request) (account.User, bool) {
	u, ok := d.user(w, r)
	if ok && u.Role != account.RoleAdmin {
		d.p.errorPage(w, r, edge.Problem{Status: http.StatusForbidden, Code: account.ErrForbidden.Code, Message: account.ErrForbidden.Message})
		return account.User{}, false
	}
	return u, ok
}

// fail answers err with the error page, as the API would describe it.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, err error) {
	pr := edge.Describe(w, r, d.p.log, err)
	if ra := pr.Header.Get("Retry-After"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	d.p.errorPage(w, r, pr)
}

// problem describes err for a form: its status, and the message beside
// the input it concerns (inputs maps the error's field to an input id).
func (d *Dashboard) problem(w http.ResponseWriter, r *http.Request, err error, inputs map[string]string) (int, fieldError) {
	pr := edge.Describe(w, r, d.p.log, err)
	if ra := pr.Header.Get("Retry-After"); ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	return pr.Status, fieldError{Input: inputs[pr.Field], Message: pr.Message}
}

// readForm parses the posted form, bounded in size; a form that cannot be
// read is answered here, and false returned.
func (d *Dashboard) readForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			d.p.errorPage(w, r, edge.Problem{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
				Message: "The form is too large to send."})
			return false
		}
		d.p.errorPage(w, r, edge.Problem{Status: http.StatusBadRequest, Code: "malformed_form",
			Message: "The form could not be read; reload the page and try again."})
		return false
	}
	return true
}

// seeOther ends an action: the browser loads to with GET, so reloading
// it does not repeat the action.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// pathID reads a numeric id from the path; false answers 404.
func (d *Dashboard) pathID(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id <= 0 {
		d.p.errorPage(w, r, *edge.ErrNoRoute)
		return 0, false
	}
	return id, true
}

// safeNext is where to go after signing in: a path on this site, or the
// list of links.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/links"
	}
	return next
}
