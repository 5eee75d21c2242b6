// Package yourls serves the YOURLS API (yourls-api.php) over Shortlinks, so
// that tools written for YOURLS (ShareX, browser extensions, WordPress and
// Raycast plugins, scripts) keep working when pointed at Shortlinks.
//
// It is a translation, not a second service: every action goes through the
// same link service, the same API keys and users, and the same rate limit
// and metrics as Shortlinks' own API. YOURLS' "signature" is an API key, or
// the key's signature token for time-limited signatures; "username" and
// "password" are a user's email and password.
package yourls

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/link"
)

// Version is the YOURLS version this API answers as: the release whose
// API it follows, so that clients that check for features find them.
const (
	Version   = "1.9.2"
	DBVersion = "506"
)

// Path is where YOURLS serves its API, and so where clients look for it.
const Path = "/yourls-api.php"

// Links is the link service the actions call.
type Links interface {
	Create(ctx context.Context, p link.CreateParams) (link.Link, error)
	Resolve(ctx context.Context, c link.Code) (link.Link, error)
	Get(ctx context.Context, c link.Code, p link.Principal) (link.Link, error)
	Delete(ctx context.Context, c link.Code, p link.Principal) error
	List(ctx context.Context, p link.Principal, after *link.Cursor, limit int) (link.Page, error)
}

// Keys authenticates YOURLS signatures; *apikey.Service is one.
type Keys interface {
	SignedBy(ctx context.Context, signature, timestamp, algo string) (link.Principal, error)
}

// Users signs a user in with an email and password; nil when accounts are
// not served.
type Users interface {
	SignIn(ctx context.Context, email, password, addr string) (link.Principal, error)
}

// Counts reports link and click totals for a principal's links (all, for an
// admin). Clicks returns each link's total.
type Counts interface {
	Totals(ctx context.Context, p link.Principal) (links, clicks int64, err error)
	Clicks(ctx context.Context, ids []int64) (map[int64]int64, error)
}

// Options configure a Handler.
type Options struct {
	BaseURL  string                         // origin of short links, like https://sho.rt
	Users    Users                          // nil: username/password is refused
	Counts   Counts                         // nil: every total is 0
	ClientIP func(*http.Request) netip.Addr // the client's address; nil: the peer's
	Log      *slog.Logger
}

// Handler serves yourls-api.php.
type Handler struct {
	links Links
	keys  Keys
	opts  Options
}

// New returns a Handler.
func New(links Links, keys Keys, opts Options) *Handler {
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Handler{links: links, keys: keys, opts: opts}
}

// statsLimit bounds "limit" in the stats action.
const statsLimit = 1000

// ServeHTTP answers one API request, given as GET query or POST form.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.write(w, r, answer{status: http.StatusBadRequest, body: obj{
			{"errorCode", 400}, {"message", "The request could not be read: " + err.Error()},
		}, simple: "The request could not be read"})
		return
	}
	action := r.Form.Get("action")
	if action == "version" {
		h.write(w, r, h.version(r))
		return
	}
	who, err := h.authenticate(r)
	if err != nil {
		h.write(w, r, h.authFailure(r, err))
		return
	}
	var a answer
	switch action {
	case "shorturl":
		a = h.shorten(r, who)
	case "expand":
		a = h.expand(r)
	case "url-stats":
		a = h.urlStats(r, who)
	case "stats":
		a = h.stats(r, who)
	case "db-stats":
		a = h.dbStats(r, who)
	case "delete":
		a = h.delete(r, who)
	default:
		a = answer{status: http.StatusBadRequest, body: obj{
			{"errorCode", 400}, {"message", `Unknown or missing "action" parameter`},
		}, simple: `Unknown or missing "action" parameter`}
	}
	h.write(w, r, a)
}

// errBadCredentials is a username and password that did not sign in.
var errBadCredentials = errors.New("invalid username or password")

// authenticate finds who the request acts for: a signature (an API key,
// its signature token, or a time-limited signature) or a username and
// password.
func (h *Handler) authenticate(r *http.Request) (link.Principal, error) {
	f := r.Form
	if sig := f.Get("signature"); sig != "" {
		return h.keys.SignedBy(r.Context(), sig, f.Get("timestamp"), f.Get("hash"))
	}
	user, pw := f.Get("username"), f.Get("password")
	if user == "" || pw == "" || h.opts.Users == nil {
		return link.Principal{}, errNoCredentials
	}
	p, err := h.opts.Users.SignIn(r.Context(), user, pw, limitKey(h.clientIP(r)))
	var le *link.Error
	if errors.As(err, &le) && le.Kind == link.Unauthenticated {
		return link.Principal{}, errBadCredentials
	}
	return p, err
}

var errNoCredentials = errors.New("no credentials")

// limitKey is the client's address as sign-in attempts are counted, as
// the dashboard counts them: an IPv4 address alone, an IPv6 client by its
// /64, which one client usually holds whole.
func limitKey(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	a = a.Unmap()
	if a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

func (h *Handler) authFailure(r *http.Request, err error) answer {
	var le *link.Error
	switch {
	case errors.Is(err, errNoCredentials):
		return fail(http.StatusForbidden, "Please log in")
	case errors.Is(err, errBadCredentials), errors.As(err, &le) && le.Kind == link.Unauthenticated:
		return fail(http.StatusForbidden, "Invalid username or password")
	case errors.As(err, &le) && le.Kind == link.TooManyRequests:
		return fail(http.StatusTooManyRequests, "Too many attempts; try again later")
	}
	return h.internal(r, err)
}

// fail is an answer with only an errorCode and a message, as YOURLS gives
// for refused requests.
func fail(status int, msg string) answer {
	return answer{status: status, body: obj{{"errorCode", status}, {"message", msg}}, simple: msg}
}

func (h *Handler) internal(r *http.Request, err error) answer {
	var le *link.Error
	if errors.As(err, &le) && le.Kind == link.Unavailable {
		return fail(http.StatusServiceUnavailable, "Links cannot be read or stored right now; try again shortly")
	}
	h.opts.Log.ErrorContext(r.Context(), "yourls api request failed", "action", r.Form.Get("action"), "err", err)
	return fail(http.StatusInternalServerError, "Something went wrong on our side")
}

func (h *Handler) clientIP(r *http.Request) netip.Addr {
	if h.opts.ClientIP != nil {
		return h.opts.ClientIP(r)
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (h *Handler) shortURL(c link.Code) string { return h.opts.BaseURL + "/" + string(c) }

// keyword takes the code out of "shorturl", which may be the code or the
// whole short URL.
func (h *Handler) keyword(r *http.Request) link.Code {
	s := strings.TrimSpace(r.Form.Get("shorturl"))
	for _, prefix := range []string{h.opts.BaseURL + "/", strings.Replace(h.opts.BaseURL, "https://", "http://", 1) + "/"} {
		s = strings.TrimPrefix(s, prefix)
	}
	return link.Code(s)
}

// date is how YOURLS writes times: in UTC, to the second.
func date(t time.Time) string { return t.UTC().Format(time.DateTime) }

func (h *Handler) version(r *http.Request) answer {
	body := obj{{"version", Version}}
	if r.Form.Get("db") == "1" {
		body = append(body, kv{"db_version", DBVersion})
	}
	return answer{status: http.StatusOK, body: body, simple: Version}
}

func (h *Handler) shorten(r *http.Request, who link.Principal) answer {
	f := r.Form
	raw, keyword, title := strings.TrimSpace(f.Get("url")), f.Get("keyword"), f.Get("title")
	if raw == "" {
		return addFail(http.StatusBadRequest, "error:nourl", "Missing or malformed URL")
	}
	p := link.CreateParams{URL: raw, Alias: link.Code(keyword), Owner: who}
	if title != "" {
		p.Options = &link.Patch{Title: link.To(title)}
	}
	l, err := h.links.Create(r.Context(), p)
	if err != nil {
		var le *link.Error
		switch {
		case errors.Is(err, link.ErrCodeTaken):
			return addFail(http.StatusBadRequest, "error:keyword", fmt.Sprintf("Short URL %s already exists in database or is reserved", keyword))
		case errors.As(err, &le) && (le.Code == "url_self_reference" || le.Code == "url_is_short_link"):
			return addFail(http.StatusBadRequest, "error:noloop", "URL is a short URL")
		case errors.As(err, &le) && le.Field == "alias":
			return addFail(http.StatusBadRequest, "error:keyword", le.Message)
		case errors.As(err, &le) && le.Kind == link.Invalid:
			return addFail(http.StatusBadRequest, "error:nourl", le.Message)
		case errors.As(err, &le) && (le.Kind == link.Forbidden || le.Kind == link.Unauthenticated):
			return addFail(http.StatusForbidden, "error:auth", le.Message)
		case errors.As(err, &le) && le.Kind == link.TooManyRequests:
			return addFail(http.StatusTooManyRequests, "error:flood", le.Message)
		case errors.As(err, &le) && le.Kind == link.Unavailable:
			return addFail(http.StatusServiceUnavailable, "error:db", "Error saving url to database")
		}
		return h.internal(r, err)
	}
	short := h.shortURL(l.Code)
	return answer{status: http.StatusOK, simple: short, body: obj{
		{"url", obj{{"keyword", string(l.Code)}, {"url", l.URL}, {"title", l.Title}, {"date", date(l.CreatedAt)}, {"ip", h.clientIP(r).String()}}},
		{"status", "success"},
		{"message", l.URL + " added to database"},
		{"title", l.Title},
		{"shorturl", short},
		{"statusCode", "200"},
	}}
}

// addFail is a refused shorturl, in YOURLS' shape for it.
func addFail(status int, code, msg string) answer {
	return answer{status: status, simple: "", body: obj{
		{"status", "fail"}, {"code", code}, {"message", msg},
		{"errorCode", strconv.Itoa(status)}, {"statusCode", strconv.Itoa(status)},
	}}
}

func notFound(c link.Code) answer {
	return answer{status: http.StatusNotFound, simple: "not found", body: obj{
		{"keyword", string(c)}, {"message", "Error: short URL not found"}, {"errorCode", 404},
	}}
}

func (h *Handler) expand(r *http.Request) answer {
	c := h.keyword(r)
	l, err := h.links.Resolve(r.Context(), c)
	if errors.Is(err, link.ErrNotFound) || errors.Is(err, link.ErrExpired) {
		return notFound(c)
	}
	if err != nil {
		return h.internal(r, err)
	}
	return answer{status: http.StatusOK, simple: l.URL, body: obj{
		{"keyword", string(c)}, {"shorturl", h.shortURL(c)}, {"longurl", l.URL}, {"title", l.Title},
		{"message", "success"}, {"statusCode", 200},
	}}
}

// linkStats describes l as YOURLS' stats do.
func (h *Handler) linkStats(l link.Link, clicks int64) obj {
	return obj{
		{"shorturl", h.shortURL(l.Code)}, {"url", l.URL}, {"title", l.Title},
		{"timestamp", date(l.CreatedAt)}, {"ip", ""}, {"clicks", strconv.FormatInt(clicks, 10)},
	}
}

func (h *Handler) clicks(ctx context.Context, links []link.Link) (map[int64]int64, error) {
	if h.opts.Counts == nil || len(links) == 0 {
		return map[int64]int64{}, nil
	}
	ids := make([]int64, len(links))
	for i, l := range links {
		ids[i] = l.ID
	}
	return h.opts.Counts.Clicks(ctx, ids)
}

func (h *Handler) urlStats(r *http.Request, who link.Principal) answer {
	c := h.keyword(r)
	l, err := h.links.Get(r.Context(), c, who)
	if errors.Is(err, link.ErrNotFound) {
		return answer{status: http.StatusNotFound, simple: "Need either XML or JSON format for stats", body: obj{
			{"statusCode", 404}, {"message", "Error: short URL not found"},
		}}
	}
	if err != nil {
		return h.internal(r, err)
	}
	clicks, err := h.clicks(r.Context(), []link.Link{l})
	if err != nil {
		return h.internal(r, err)
	}
	return answer{status: http.StatusOK, simple: "Need either XML or JSON format for stats", body: obj{
		{"statusCode", 200}, {"message", "success"}, {"link", h.linkStats(l, clicks[l.ID])},
	}}
}

// statsScan bounds how many of the principal's newest links the top,
// bottom and rand filters rank.
const statsScan = 10 * link.MaxPageSize

func (h *Handler) stats(r *http.Request, who link.Principal) answer {
	f := r.Form
	filter := f.Get("filter")
	if filter == "" {
		filter = "top"
	}
	limit, start := 10, 0
	if v, err := strconv.Atoi(f.Get("limit")); err == nil && v > 0 {
		limit = min(v, statsLimit)
	}
	if v, err := strconv.Atoi(f.Get("start")); err == nil && v > 0 {
		start = v
	}
	if !slices.Contains([]string{"top", "bottom", "rand", "last"}, filter) {
		return fail(http.StatusBadRequest, `filter must be "top", "bottom", "rand" or "last"`)
	}
	// The newest links, a page at a time: all "last" needs, and the pool
	// the other filters rank.
	want := start + limit
	if filter != "last" {
		want = statsScan
	}
	var pool []link.Link
	var after *link.Cursor
	for len(pool) < want {
		page, err := h.links.List(r.Context(), who, after, min(link.MaxPageSize, want-len(pool)))
		if err != nil {
			return h.internal(r, err)
		}
		for _, l := range page.Links {
			// YOURLS has one domain: the default one's links are its.
			if l.Domain == link.DefaultDomain {
				pool = append(pool, l)
			}
		}
		if page.Next == nil {
			break
		}
		after = page.Next
	}
	clicks, err := h.clicks(r.Context(), pool)
	if err != nil {
		return h.internal(r, err)
	}
	switch filter {
	case "top":
		slices.SortStableFunc(pool, func(a, b link.Link) int { return int(clicks[b.ID] - clicks[a.ID]) })
	case "bottom":
		slices.SortStableFunc(pool, func(a, b link.Link) int { return int(clicks[a.ID] - clicks[b.ID]) })
	case "rand":
		rand.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
	}
	pool = pool[min(start, len(pool)):min(start+limit, len(pool))]
	links := make(obj, 0, len(pool))
	for i, l := range pool {
		links = append(links, kv{"link_" + strconv.Itoa(i+1), h.linkStats(l, clicks[l.ID])})
	}
	total, totalClicks, err := h.totals(r.Context(), who)
	if err != nil {
		return h.internal(r, err)
	}
	return answer{status: http.StatusOK, simple: "Need either XML or JSON format for stats", body: obj{
		{"links", links},
		{"stats", obj{{"total_links", strconv.FormatInt(total, 10)}, {"total_clicks", strconv.FormatInt(totalClicks, 10)}}},
		{"statusCode", 200}, {"message", "success"},
	}}
}

func (h *Handler) totals(ctx context.Context, who link.Principal) (int64, int64, error) {
	if h.opts.Counts == nil {
		return 0, 0, nil
	}
	return h.opts.Counts.Totals(ctx, who)
}

func (h *Handler) dbStats(r *http.Request, who link.Principal) answer {
	total, clicks, err := h.totals(r.Context(), who)
	if err != nil {
		return h.internal(r, err)
	}
	return answer{status: http.StatusOK, simple: "Need either XML or JSON format for stats", body: obj{
		{"db-stats", obj{{"total_links", strconv.FormatInt(total, 10)}, {"total_clicks", strconv.FormatInt(clicks, 10)}}},
		{"statusCode", 200}, {"message", "success"},
	}}
}

func (h *Handler) delete(r *http.Request, who link.Principal) answer {
	c := link.Code(r.Form.Get("keyword"))
	err := h.links.Delete(r.Context(), c, who)
	if errors.Is(err, link.ErrNotFound) {
		return notFound(c)
	}
	var le *link.Error
	if errors.As(err, &le) && le.Kind == link.Forbidden {
		return fail(http.StatusForbidden, le.Message)
	}
	if err != nil {
		return h.internal(r, err)
	}
	return answer{status: http.StatusOK, simple: "deleted", body: obj{
		{"keyword", string(c)}, {"statusCode", 200}, {"message", "success"},
	}}
}
