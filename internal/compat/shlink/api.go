// Package shlink serves a REST API shaped like Shlink's (version 3, and
// version 2 where the two agree), so that the Shlink web client, Shlink's
// SDKs and scripts written for Shlink work against Shortlinks unchanged.
//
// It is a front end like the JSON API: it authenticates Shlink's
// X-Api-Key with the same API keys, calls the same link service, and is
// mounted by the route table behind the same rate limit, metrics and
// request pipeline. It only translates: Shlink's fields and errors to
// ours and back. Visits come from click analytics: each link's totals and
// the raw visits kept. What Shortlinks has no equivalent for is answered
// as Shlink answers when that feature is off (no domains, no Mercure hub).
package shlink

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
)

// Links is the link service the handlers call; *link.Service is one.
type Links interface {
	Create(ctx context.Context, p link.CreateParams) (link.Link, error)
	Get(ctx context.Context, c link.Code, p link.Principal) (link.Link, error)
	GetOn(ctx context.Context, d int64, c link.Code, p link.Principal) (link.Link, error)
	Delete(ctx context.Context, c link.Code, p link.Principal) error
	DeleteOn(ctx context.Context, d int64, c link.Code, p link.Principal) error
	List(ctx context.Context, p link.Principal, after *link.Cursor, limit int) (link.Page, error)
	Update(ctx context.Context, c link.Code, p link.Patch, pr link.Principal) (link.Link, error)
	UpdateOn(ctx context.Context, d int64, c link.Code, p link.Patch, pr link.Principal) (link.Link, error)
	Tags(ctx context.Context, p link.Principal) ([]link.TagCount, error)
}

// Authenticator turns an API key into a principal; *apikey.Service is
// one. It returns a *link.Error of Kind Unauthenticated for a bad key.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (link.Principal, error)
}

// Options configure an API.
type Options struct {
	BaseURL string // origin of short links, like https://sho.rt
	// URLRules are the rules the link service holds destinations to; the
	// API uses them to recognise a destination it already has
	// (findIfExists).
	URLRules link.URLRules
	// Healthy reports whether the service can serve, for /rest/health;
	// nil: always.
	Healthy func(ctx context.Context) error
	Now     func() time.Time // time.Now when nil
	// KeyLimiter rations the links each key creates, with the native
	// API's budget (the same limiter and keys); nil: no per-key limit.
	KeyLimiter KeyLimiter
	// Visits reads click analytics for visit counts and lists; nil when
	// analytics is off: every count is 0 and every list empty, as in a
	// Shlink that tracks nothing.
	Visits Visits
	// Domains are the short domains links live on, which Shlink's
	// "domain" names; nil: the base URL's host only.
	Domains *link.Domains
}

// KeyLimiter rations what one API key may do; *ratelimit.Local and
// *ratelimit.Shared are two.
type KeyLimiter interface {
	Allow(ctx context.Context, key string) (ratelimit.Decision, error)
}

// API serves the Shlink-compatible routes.
type API struct {
	links   Links
	auth    Authenticator
	log     *slog.Logger
	base    string
	host    string
	urls    link.URLRules
	healthy func(ctx context.Context) error
	now     func() time.Time
	perKey  KeyLimiter
	visits  Visits
	domains *link.Domains
	scheme  string
}

// New returns the API over links, authenticating with auth.
func New(links Links, auth Authenticator, log *slog.Logger, opts Options) *API {
	a := &API{
		links: links, auth: auth, log: log,
		base:    strings.TrimSuffix(opts.BaseURL, "/"),
		urls:    opts.URLRules,
		healthy: opts.Healthy,
		now:     opts.Now,
		perKey:  opts.KeyLimiter,
		visits:  opts.Visits,
		domains: opts.Domains,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if u, err := url.Parse(a.base); err == nil {
		a.host, a.scheme = u.Host, u.Scheme
	}
	return a
}

// keyHeader is the header Shlink's clients send their API key in.
const keyHeader = "X-Api-Key"

// principal authenticates the key r carries in X-Api-Key or, where
// query is true, in the apiKey query parameter (the GET shortcut's only
// way). Every route needs a key, as in Shlink. The key is held to its
// scopes as on the native API: reading (GET, HEAD) needs links:read,
// anything else links:write.
func (a *API) principal(r *http.Request, query bool) (link.Principal, error) {
	key := r.Header.Get(keyHeader)
	if key == "" && query {
		key = r.URL.Query().Get("apiKey")
	}
	if key == "" {
		if query {
			return link.Principal{}, errMissingQueryKey
		}
		return link.Principal{}, errMissingKey
	}
	p, err := a.auth.Authenticate(r.Context(), key)
	if err != nil {
		return link.Principal{}, err
	}
	if p.Anonymous() {
		return p, errInvalidKey
	}
	need, what := link.ScopeLinksWrite, "change"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		need, what = link.ScopeLinksRead, "read"
	}
	if !p.Can(need) {
		return p, forbidden("This API key may not " + what + " links: it lacks the " + need.String() + " scope.")
	}
	return p, nil
}

// creator is principal for the routes that create links: a key's creates
// spend the same per-key budget as on the native API.
func (a *API) creator(r *http.Request, query bool) (link.Principal, error) {
	p, err := a.principal(r, query)
	if err != nil {
		return p, err
	}
	// The shortcut creates with a GET.
	if !p.Can(link.ScopeLinksWrite) {
		return p, forbidden("This API key may not change links: it lacks the links:write scope.")
	}
	if a.perKey == nil {
		return p, nil
	}
	d, err := a.perKey.Allow(r.Context(), "create-key:"+strconv.FormatInt(p.KeyID, 10))
	if err != nil {
		// A limiter that cannot decide must not stop people creating links.
		a.log.WarnContext(r.Context(), "key rate limiter failed; allowing", "err", err)
		return p, nil
	}
	if !d.Allowed {
		secs := max(int(d.RetryAfter.Seconds()+0.999), 1)
		return p, &edge.Problem{
			Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {strconv.Itoa(secs)}}, Code: "key_rate_limited",
			Message: "Too many links created with this API key; retry in " + strconv.Itoa(secs) + " seconds.",
		}
	}
	return p, nil
}

func (a *API) shortURL(c link.Code) string { return a.base + "/" + string(c) }

// shortURLOn is the short URL of code c on the domain with id d.
func (a *API) shortURLOn(d int64, c link.Code) string {
	if d == link.DefaultDomain || a.domains == nil {
		return a.shortURL(c)
	}
	return a.scheme + "://" + a.domains.Host(d) + "/" + string(c)
}
