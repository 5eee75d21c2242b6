package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shortlinks/shortlinks/internal/apikey"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
	"github.com/shortlinks/shortlinks/internal/routes"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/store/sqlite"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
	"github.com/shortlinks/shortlinks/internal/web"
)

// handlerFixture is an API server over a real SQLite database.
type handlerFixture struct {
	t       testing.TB
	handler http.Handler
	keys    *apikey.Service
	clock   *servicetest.Clock
	logs    *bytes.Buffer
	db      *sqlite.DB
}

// handlerSetup is what a test may change: the options of the API, of the
// edge and of the route table, the web page (nil: none) and the link
// service.
type handlerSetup struct {
	opts   httpapi.Options
	edge   edge.Options
	routes routes.Options
	pages  *web.Pages
	links  func(httpapi.Links) httpapi.Links
	db     *sqlite.DB // the fixture's database, for setups to build on
}

func newHandlerFixture(t testing.TB, setups ...func(*handlerSetup)) *handlerFixture {
	t.Helper()
	db := sqlitetest.Open(t)
	perm, err := shortcode.NewPermutation(bytes.Repeat([]byte{9}, shortcode.KeyLength))
	if err != nil {
		t.Fatal(err)
	}
	clock := servicetest.NewClock(time.Now().UTC().Truncate(time.Second))
	svc := link.NewService(db, db, shortcode.NewGenerator(perm, db, 100), link.Options{
		URLRules: link.URLRules{SelfHosts: []string{"sho.rt"}},
		Reserved: routes.ReservedPaths(),
		Now:      clock.Now,
	})
	reg := prometheus.NewRegistry()
	setup := handlerSetup{
		db: db,
		opts: httpapi.Options{
			BaseURL:      "https://sho.rt",
			CacheControl: config.Default().CacheControl,
			Registerer:   reg,
			Checks:       []httpapi.Check{{Name: "database", Critical: true, Run: db.Ping}},
		},
		edge:   edge.Options{SampledRoute: routes.RedirectRoute, Registerer: reg},
		routes: routes.Options{Registerer: reg, Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})},
		links:  func(l httpapi.Links) httpapi.Links { return l },
	}
	for _, s := range setups {
		s(&setup)
	}
	keys := apikey.NewService(db)
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil))
	// Wired as app wires them: the route table over the API (and the page)
	// behind the edge, failures through one renderer.
	var pages edge.Pages
	if setup.pages != nil {
		pages, setup.routes.Pages = setup.pages, setup.pages
	}
	setup.opts.Errors = edge.NewRenderer(log, pages, routes.APIPrefix)
	setup.routes.Errors = setup.opts.Errors
	pipeline := edge.New(log, setup.edge)
	setup.routes.ClientIP = pipeline.ClientIP
	if setup.opts.ClientIP == nil {
		setup.opts.ClientIP = pipeline.ClientIP
	}
	srv := httpapi.New(setup.links(svc), keys, log, setup.opts)
	h := pipeline.Wrap(routes.New(srv, log, setup.routes))
	return &handlerFixture{t: t, handler: h, keys: keys, clock: clock, logs: logs, db: db}
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// do sends a request; headers come as name, value pairs.
func (f *handlerFixture) do(method, path, body string, headers ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	f.handler.ServeHTTP(rec, req)
	return rec
}

func (f *handlerFixture) create(body string, headers ...string) *httptest.ResponseRecorder {
	f.t.Helper()
	return f.do(http.MethodPost, "/api/v1/links", body, append([]string{"Content-Type", "application/json"}, headers...)...)
}

func (f *handlerFixture) mustCreate(body string, headers ...string) httpapi.LinkJSON {
	f.t.Helper()
	rec := f.create(body, headers...)
	if rec.Code != http.StatusCreated {
		f.t.Fatalf("create %s: %d %s", body, rec.Code, rec.Body)
	}
	var l httpapi.LinkJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil {
		f.t.Fatal(err)
	}
	return l
}

func (f *handlerFixture) key(name string, admin bool) string {
	f.t.Helper()
	_, token, err := f.keys.Create(context.Background(), name, admin)
	if err != nil {
		f.t.Fatal(err)
	}
	return "Bearer " + token
}

// errorCode returns the code of a JSON error response, failing if the body
// does not follow the error schema.
func errorCode(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error response Content-Type %q, want application/json (body %s)", ct, rec.Body)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("error body %s does not follow the error schema", rec.Body)
	}
	return body.Error.Code
}

func TestCreate(t *testing.T) {
	f := newHandlerFixture(t)
	rec := f.create(`{"url": "HTTPS://Example.COM/Path?q=1#frag", "expires_in": 3600}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var l httpapi.LinkJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Code) != 7 || l.ShortURL != "https://sho.rt/"+l.Code || l.URL != "https://example.com/Path?q=1#frag" {
		t.Fatalf("created %+v", l)
	}
	if l.ExpiresAt == nil || !l.ExpiresAt.Equal(f.clock.Now().Add(time.Hour)) || !l.CreatedAt.Equal(f.clock.Now()) {
		t.Fatalf("times %v, %v; want created now and expiring in an hour", l.CreatedAt, l.ExpiresAt)
	}
	if loc := rec.Header().Get("Location"); loc != "https://sho.rt/api/v1/links/"+l.Code {
		t.Fatalf("Location %q", loc)
	}

	// expires_at null when the link never expires, and an alias is kept as given.
	rec = f.create(`{"url": "https://example.com/", "alias": "My_Alias-1"}`)
	if rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), `"expires_at":null`) || !strings.Contains(rec.Body.String(), `"code":"My_Alias-1"`) {
		t.Fatalf("alias create: %d %s", rec.Code, rec.Body)
	}
	at := f.clock.Now().Add(48 * time.Hour).Format(time.RFC3339)
	rec = f.create(`{"url": "https://example.com/", "expires_at": "` + at + `"}`)
	if rec.Code != http.StatusCreated || !strings.Contains(rec.Body.String(), at) {
		t.Fatalf("expires_at create: %d %s", rec.Code, rec.Body)
	}
}

func TestCreateErrors(t *testing.T) {
	f := newHandlerFixture(t)
	f.mustCreate(`{"url": "https://example.com/", "alias": "taken"}`)
	past := f.clock.Now().Add(-time.Minute).Format(time.RFC3339)
	tests := []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"malformed JSON", "application/json", `{"url": `, 400, "malformed_json"},
		{"not an object", "application/json", `["https://example.com"]`, 400, "malformed_json"},
		{"two values", "application/json", `{"url": "https://a.example"} {}`, 400, "malformed_json"},
		{"empty body", "application/json", ``, 400, "malformed_json"},
		{"unknown field", "application/json", `{"url": "https://example.com", "colour": "red"}`, 400, "unknown_field"},
		{"wrong type", "application/json", `{"url": 42}`, 400, "invalid_field_type"},
		{"fractional expires_in", "application/json", `{"url": "https://example.com", "expires_in": 1.5}`, 400, "invalid_field_type"},
		{"text/plain", "text/plain", `{"url": "https://example.com"}`, 415, "unsupported_media_type"},
		{"form", "application/x-www-form-urlencoded", `url=https://example.com`, 415, "unsupported_media_type"},
		{"no content type", "", `{"url": "https://example.com"}`, 415, "unsupported_media_type"},
		{"too large", "application/json", `{"url": "https://example.com/` + strings.Repeat("a", 70_000) + `"}`, 413, "body_too_large"},
		{"missing url", "application/json", `{}`, 400, "missing_url"},
		{"javascript", "application/json", `{"url": "javascript:alert(1)"}`, 400, "url_scheme_not_allowed"},
		{"credentials", "application/json", `{"url": "https://a:b@example.com/"}`, 400, "url_has_credentials"},
		{"own domain", "application/json", `{"url": "https://sho.rt/abc"}`, 400, "url_self_reference"},
		{"too long", "application/json", `{"url": "https://example.com/` + strings.Repeat("a", 8200) + `"}`, 400, "url_too_long"},
		{"alias taken", "application/json", `{"url": "https://example.com/", "alias": "taken"}`, 409, "alias_taken"},
		{"alias reserved", "application/json", `{"url": "https://example.com/", "alias": "healthz"}`, 400, "alias_reserved"},
		{"alias reserved any case", "application/json", `{"url": "https://example.com/", "alias": "Static"}`, 400, "alias_reserved"},
		{"alias of the dashboard's create form", "application/json", `{"url": "https://example.com/", "alias": "new"}`, 400, "alias_reserved"},
		{"alias invalid", "application/json", `{"url": "https://example.com/", "alias": "a"}`, 400, "invalid_alias"},
		{"expiry in past", "application/json", `{"url": "https://example.com/", "expires_at": "` + past + `"}`, 400, "expiry_in_past"},
		{"expiry not RFC 3339", "application/json", `{"url": "https://example.com/", "expires_at": "tomorrow"}`, 400, "invalid_expiry"},
		{"expires_in zero", "application/json", `{"url": "https://example.com/", "expires_in": 0}`, 400, "invalid_expiry"},
		{"both expiries", "application/json", `{"url": "https://example.com/", "expires_in": 60, "expires_at": "2099-01-01T00:00:00Z"}`, 400, "conflicting_expiry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var headers []string
			if tt.contentType != "" {
				headers = []string{"Content-Type", tt.contentType}
			}
			rec := f.do(http.MethodPost, "/api/v1/links", tt.body, headers...)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if got := errorCode(t, rec); got != tt.code {
				t.Fatalf("code %q, want %q", got, tt.code)
			}
		})
	}
	// Nothing was created by any of the failures: only the "taken" alias exists.
	admin := f.key("admin", true)
	rec := f.do(http.MethodGet, "/api/v1/links", "", "Authorization", admin)
	var list httpapi.LinkList
	if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil || len(list.Links) != 1 {
		t.Fatalf("after failed creates the store holds %s", rec.Body)
	}
}

func TestRedirect(t *testing.T) {
	f := newHandlerFixture(t)
	// Legal but unusual bytes that http.Redirect would rewrite.
	odd := "https://example.com/a/../b/./%7e%2F?x=%41&y=é&z=a+b#Frag!"
	l := f.mustCreate(`{"url": "` + odd + `"}`)
	// Non-ASCII is stored percent-encoded, so Location is plain ASCII.
	oddLoc := strings.Replace(odd, "é", "%C3%A9", 1)
	exp := f.mustCreate(`{"url": "https://example.com/soon", "expires_in": 60}`)

	tests := []struct {
		name, method, path, accept string
		status                     int
		location, code             string
	}{
		{"GET", http.MethodGet, "/" + l.Code, "", http.StatusFound, oddLoc, ""},
		{"HEAD", http.MethodHead, "/" + l.Code, "", http.StatusFound, oddLoc, ""},
		{"unknown", http.MethodGet, "/nothere", "", http.StatusNotFound, "", "not_found"},
		{"wrong case", http.MethodGet, "/" + strings.ToUpper(l.Code), "", http.StatusNotFound, "", "not_found"},
		{"impossible code", http.MethodGet, "/a.b", "", http.StatusNotFound, "", "not_found"},
		{"not yet expired", http.MethodGet, "/" + exp.Code, "", http.StatusFound, "https://example.com/soon", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(tt.method, tt.path, "", "Accept", tt.accept)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d", rec.Code, tt.status)
			}
			if got := rec.Header().Get("Location"); got != tt.location {
				t.Fatalf("Location %q, want %q", got, tt.location)
			}
			if tt.code != "" && errorCode(t, rec) != tt.code {
				t.Fatalf("body %s, want code %s", rec.Body, tt.code)
			}
			if tt.status == http.StatusFound {
				if cc := rec.Header().Get("Cache-Control"); cc != config.Default().CacheControl {
					t.Fatalf("Cache-Control %q", cc)
				}
				if rec.Body.Len() != 0 {
					t.Fatalf("redirect has a body: %q", rec.Body)
				}
			}
		})
	}

	f.clock.Add(time.Minute)
	rec := f.do(http.MethodGet, "/"+exp.Code, "")
	if rec.Code != http.StatusGone || errorCode(t, rec) != "link_expired" || rec.Header().Get("Location") != "" {
		t.Fatalf("expired link: %d %s", rec.Code, rec.Body)
	}
}

func TestRedirectSettings(t *testing.T) {
	for _, status := range []int{301, 302, 307, 308} {
		f := newHandlerFixture(t, func(s *handlerSetup) {
			s.opts.RedirectStatus = status
			s.opts.CacheControl = ""
		})
		l := f.mustCreate(`{"url": "https://example.com/"}`)
		rec := f.do(http.MethodGet, "/"+l.Code, "")
		if rec.Code != status || rec.Header().Get("Cache-Control") != "" {
			t.Fatalf("redirect-status %d: got %d with Cache-Control %q", status, rec.Code, rec.Header().Get("Cache-Control"))
		}
	}
}

func TestManage(t *testing.T) {
	f := newHandlerFixture(t)
	alice, bob, admin := f.key("alice", false), f.key("bob", false), f.key("admin", true)
	mine := f.mustCreate(`{"url": "https://alice.example/"}`, "Authorization", alice)
	anon := f.mustCreate(`{"url": "https://anon.example/"}`)

	tests := []struct {
		name, method, path, auth string
		status                   int
		code                     string
	}{
		{"get without key", http.MethodGet, "/api/v1/links/" + mine.Code, "", 401, "unauthorized"},
		{"get with unknown key", http.MethodGet, "/api/v1/links/" + mine.Code, "Bearer sl_AAAAAAAAAAAAAAAAAAAAAAAAAA", 401, "unauthorized"},
		{"get with malformed header", http.MethodGet, "/api/v1/links/" + mine.Code, "Basic YWxpY2U6cHc=", 401, "unauthorized"},
		{"get own", http.MethodGet, "/api/v1/links/" + mine.Code, alice, 200, ""},
		{"get another's", http.MethodGet, "/api/v1/links/" + mine.Code, bob, 404, "not_found"},
		{"get anonymous link as non-admin", http.MethodGet, "/api/v1/links/" + anon.Code, alice, 404, "not_found"},
		{"admin gets anything", http.MethodGet, "/api/v1/links/" + anon.Code, admin, 200, ""},
		{"get unknown", http.MethodGet, "/api/v1/links/absent", alice, 404, "not_found"},
		{"delete another's", http.MethodDelete, "/api/v1/links/" + mine.Code, bob, 404, "not_found"},
		{"delete without key", http.MethodDelete, "/api/v1/links/" + mine.Code, "", 401, "unauthorized"},
		{"list without key", http.MethodGet, "/api/v1/links", "", 401, "unauthorized"},
		{"list bad limit", http.MethodGet, "/api/v1/links?limit=0", alice, 400, "invalid_limit"},
		{"list huge limit", http.MethodGet, "/api/v1/links?limit=5000", alice, 400, "invalid_limit"},
		{"list bad cursor", http.MethodGet, "/api/v1/links?cursor=bm9jb2xvbg", alice, 400, "invalid_cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(tt.method, tt.path, "", "Authorization", tt.auth)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.code != "" && errorCode(t, rec) != tt.code {
				t.Fatalf("body %s, want code %s", rec.Body, tt.code)
			}
		})
	}

	rec := f.do(http.MethodDelete, "/api/v1/links/"+mine.Code, "", "Authorization", alice)
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("delete own: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do(http.MethodGet, "/"+mine.Code, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("redirect after delete: %d", rec.Code)
	}
	if rec := f.do(http.MethodGet, "/api/v1/links/"+mine.Code, "", "Authorization", alice); rec.Code != http.StatusNotFound {
		t.Fatalf("get after delete: %d", rec.Code)
	}
	if rec := f.do(http.MethodDelete, "/api/v1/links/"+mine.Code, "", "Authorization", alice); rec.Code != http.StatusNotFound {
		t.Fatalf("second delete: %d", rec.Code)
	}
}

func TestListPagination(t *testing.T) {
	f := newHandlerFixture(t)
	key := f.key("lister", false)
	var made []string
	for range 5 {
		made = append(made, f.mustCreate(`{"url": "https://example.com/"}`, "Authorization", key).Code)
		f.clock.Add(time.Second)
	}
	f.mustCreate(`{"url": "https://someone-else.example/"}`)

	var got []string
	path := "/api/v1/links?limit=2"
	for range 5 {
		rec := f.do(http.MethodGet, path, "", "Authorization", key)
		if rec.Code != http.StatusOK {
			t.Fatalf("list: %d %s", rec.Code, rec.Body)
		}
		var page httpapi.LinkList
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Fatal(err)
		}
		for _, l := range page.Links {
			got = append(got, l.Code)
		}
		if page.NextCursor == nil {
			break
		}
		path = "/api/v1/links?limit=2&cursor=" + *page.NextCursor
	}
	want := []string{made[4], made[3], made[2], made[1], made[0]}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("pages gave %v, want %v", got, want)
	}
}

func TestRequireAPIKey(t *testing.T) {
	f := newHandlerFixture(t, func(s *handlerSetup) { s.opts.RequireAPIKey = true })
	rec := f.create(`{"url": "https://example.com/"}`)
	if rec.Code != http.StatusUnauthorized || errorCode(t, rec) != "unauthorized" {
		t.Fatalf("anonymous create with keys required: %d %s", rec.Code, rec.Body)
	}
	f.mustCreate(`{"url": "https://example.com/"}`, "Authorization", f.key("k", false))

	// A revoked key stops working.
	open := newHandlerFixture(t)
	k, token, err := open.keys.Create(t.Context(), "temp", false)
	if err != nil {
		t.Fatal(err)
	}
	open.mustCreate(`{"url": "https://example.com/"}`, "Authorization", "Bearer "+token)
	if err := open.keys.Revoke(t.Context(), k.ID); err != nil {
		t.Fatal(err)
	}
	if rec := open.create(`{"url": "https://example.com/"}`, "Authorization", "Bearer "+token); rec.Code != http.StatusUnauthorized {
		t.Fatalf("create with a revoked key: %d", rec.Code)
	}
}

func TestRateLimit(t *testing.T) {
	f := newHandlerFixture(t, func(s *handlerSetup) {
		s.routes.Limiter = ratelimit.NewLocal(ratelimit.Limit{Rate: 0.001, Burst: 2})
		s.edge.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	send := func(remote, xff string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/links", strings.NewReader(`{"url": "https://example.com/"}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = remote
		if xff != "" {
			req.Header.Set("X-Forwarded-For", xff)
		}
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		return rec
	}
	for i := range 2 {
		if rec := send("203.0.113.9:1000", ""); rec.Code != http.StatusCreated {
			t.Fatalf("create %d within burst: %d", i, rec.Code)
		}
	}
	rec := send("203.0.113.9:1000", "")
	if rec.Code != http.StatusTooManyRequests || errorCode(t, rec) != "rate_limited" {
		t.Fatalf("third create: %d %s", rec.Code, rec.Body)
	}
	if ra := rec.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Fatalf("Retry-After %q", ra)
	}
	// An untrusted peer cannot dodge the limit with X-Forwarded-For.
	if rec := send("203.0.113.9:1000", "198.51.100.7"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("spoofed X-Forwarded-For from an untrusted peer: %d", rec.Code)
	}
	// Behind a trusted proxy, each client has its own bucket.
	if rec := send("10.1.1.1:1000", "198.51.100.7"); rec.Code != http.StatusCreated {
		t.Fatalf("client behind trusted proxy: %d", rec.Code)
	}
	if rec := send("10.1.1.1:1000", "192.0.2.1, 198.51.100.8"); rec.Code != http.StatusCreated {
		t.Fatalf("second client behind trusted proxy: %d", rec.Code)
	}
	// Redirects are not rationed, even for a client out of tokens.
	l := f.mustCreate(`{"url": "https://example.com/"}`) // from httptest's default peer
	for range 10 {
		if rec := f.do(http.MethodGet, "/"+l.Code, ""); rec.Code != http.StatusFound {
			t.Fatalf("redirect: %d", rec.Code)
		}
	}
}

// panicking is a link service that fails in a way real storage cannot be
// made to: it panics.
type panicking struct{ httpapi.Links }

func (panicking) ResolveOn(context.Context, int64, link.Code) (link.Link, error) {
	panic("secret internal detail")
}

func TestPanicRecovered(t *testing.T) {
	f := newHandlerFixture(t, func(s *handlerSetup) {
		s.links = func(l httpapi.Links) httpapi.Links { return panicking{l} }
	})
	rec := f.do(http.MethodGet, "/abcdefg", "")
	if rec.Code != http.StatusInternalServerError || errorCode(t, rec) != "internal" {
		t.Fatalf("panic: %d %s", rec.Code, rec.Body)
	}
	if strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("panic value leaked: %s", rec.Body)
	}
	if !strings.Contains(f.logs.String(), "secret internal detail") {
		t.Fatal("panic was not logged")
	}
	// The server goes on serving.
	if rec := f.create(`{"url": "https://example.com/"}`); rec.Code != http.StatusCreated {
		t.Fatalf("create after panic: %d", rec.Code)
	}
}

func TestRoutingErrors(t *testing.T) {
	f := newHandlerFixture(t)
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodPut, "/api/v1/links", 405, "method_not_allowed", "GET, HEAD, POST"},
		{http.MethodPut, "/api/v1/links/abc", 405, "method_not_allowed", "GET, HEAD, DELETE, PATCH"},
		{http.MethodPut, "/abcdefg", 405, "method_not_allowed", "GET, HEAD, POST"},
		// POST is a password form's; a code that is no link's is not found.
		{http.MethodPost, "/abcdefg", 404, "not_found", ""},
		{http.MethodGet, "/a/b/c", 404, "not_found", ""},
		{http.MethodGet, "/api/v2/links", 404, "not_found", ""},
	}
	for _, tt := range tests {
		rec := f.do(tt.method, tt.path, "")
		if rec.Code != tt.status || errorCode(t, rec) != tt.code || rec.Header().Get("Allow") != tt.allow {
			t.Errorf("%s %s: %d Allow=%q %s", tt.method, tt.path, rec.Code, rec.Header().Get("Allow"), rec.Body)
		}
	}
}

func TestHealth(t *testing.T) {
	failing := func(context.Context) error { return errors.New("dial tcp 10.9.8.7:5432: connection refused") }
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name   string
		checks []httpapi.Check
		status int
	}{
		{"all up", []httpapi.Check{{Name: "db", Critical: true, Run: ok}, {Name: "redis", Run: ok}}, 200},
		{"optional down", []httpapi.Check{{Name: "db", Critical: true, Run: ok}, {Name: "redis", Run: failing}}, 200},
		{"critical down", []httpapi.Check{{Name: "db", Critical: true, Run: failing}, {Name: "redis", Run: ok}}, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newHandlerFixture(t, func(s *handlerSetup) { s.opts.Checks = tt.checks })
			rec := f.do(http.MethodGet, "/readyz", "")
			if rec.Code != tt.status {
				t.Fatalf("readyz %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			var body struct {
				Checks map[string]struct{ Status string } `json:"checks"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Checks) != len(tt.checks) {
				t.Fatalf("readyz body %s", rec.Body)
			}
			for _, c := range tt.checks {
				want := "up"
				if c.Run(t.Context()) != nil {
					want = "down"
				}
				if got := body.Checks[c.Name].Status; got != want {
					t.Errorf("check %s = %q, want %q", c.Name, got, want)
				}
			}
			// The failure's detail is for operators: logged, never served.
			failed := strings.Contains(f.logs.String(), "10.9.8.7")
			if strings.Contains(rec.Body.String(), "10.9.8.7") || failed != (tt.name != "all up") {
				t.Errorf("readyz body %s; logs %s", rec.Body, f.logs)
			}
			if rec := f.do(http.MethodGet, "/healthz", ""); rec.Code != http.StatusOK {
				t.Fatalf("healthz %d", rec.Code)
			}
		})
	}
}

// TestLinksCreatedCountsEveryFrontEnd checks that creates through the web
// form count in shortlinks_creates_total as API creates do, by outcome.
func TestLinksCreatedCountsEveryFrontEnd(t *testing.T) {
	srv := startContractApp(t)
	created := func(outcome string) string {
		t.Helper()
		resp, err := http.Get(srv.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, `shortlinks_creates_total{outcome="`+outcome+`"} `); ok {
				return strings.TrimSpace(v)
			}
		}
		t.Fatalf("no shortlinks_creates_total{outcome=%q} in /metrics", outcome)
		return ""
	}
	post := func(path, contentType, body string, want int) {
		t.Helper()
		resp, err := http.Post(srv.url+path, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %s %s = %d, want %d", path, body, resp.StatusCode, want)
		}
	}
	form := "application/x-www-form-urlencoded"
	post("/", form, "url=https%3A%2F%2Fexample.com%2Fform", http.StatusCreated)
	post("/", form, "url=javascript%3Aalert(1)", http.StatusBadRequest)
	if ok, invalid := created("ok"), created("invalid"); ok != "1" || invalid != "1" {
		t.Fatalf("after one form create and one refused: creates ok %s, invalid %s; want 1 and 1", ok, invalid)
	}
	post("/api/v1/links", "application/json", `{"url": "https://example.com/api"}`, http.StatusCreated)
	post("/api/v1/links", "application/json", `{"url": "ftp://example.com/"}`, http.StatusBadRequest)
	post("/api/v1/links", "application/json", `{"url": "https://example.com/taken", "alias": "taken"}`, http.StatusCreated)
	post("/api/v1/links", "application/json", `{"url": "https://example.com/taken", "alias": "taken"}`, http.StatusConflict)
	post("/", form, "url=https%3A%2F%2Fexample.com%2Fform&alias=taken", http.StatusConflict)
	for outcome, want := range map[string]string{"ok": "3", "invalid": "2", "alias_taken": "2", "rate_limited": "0", "error": "0"} {
		if got := created(outcome); got != want {
			t.Errorf("creates %s = %s, want %s", outcome, got, want)
		}
	}
}

func TestMetricsLabelByRoute(t *testing.T) {
	f := newHandlerFixture(t)
	l := f.mustCreate(`{"url": "https://example.com/"}`)
	f.do(http.MethodGet, "/"+l.Code, "")
	f.do(http.MethodGet, "/nothere", "")
	rec := f.do(http.MethodGet, "/metrics", "")
	body := rec.Body.String()
	for _, want := range []string{
		`shortlinks_redirects_total{outcome="ok"} 1`,
		`shortlinks_redirects_total{outcome="not_found"} 1`,
		`shortlinks_redirects_total{outcome="expired"} 0`,
		`shortlinks_creates_total{outcome="ok"} 1`,
		`shortlinks_http_requests_total{method="GET",route="GET /{code}",status="3xx"} 1`,
		`shortlinks_http_requests_total{method="GET",route="GET /{code}",status="4xx"} 1`,
		`shortlinks_http_request_duration_seconds_count{method="POST",route="POST /api/v1/links"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, l.Code) || strings.Contains(body, "nothere") {
		t.Error("metrics are labelled with a short code")
	}
}

func TestClientAgainstServer(t *testing.T) {
	f := newHandlerFixture(t)
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	key := f.key("client", false)
	c := httpapi.NewClient(srv.URL, strings.TrimPrefix(key, "Bearer "), srv.Client())
	secs := int64(120)
	l, err := c.Create(t.Context(), httpapi.CreateRequest{URL: "https://example.com/c", Alias: "client-made", ExpiresIn: &secs})
	if err != nil || l.Code != "client-made" || l.ExpiresAt == nil {
		t.Fatalf("Create = %+v, %v", l, err)
	}
	got, err := c.Get(t.Context(), "client-made")
	if err != nil || got.URL != "https://example.com/c" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
	page, err := c.List(t.Context(), "", 10)
	if err != nil || len(page.Links) != 1 {
		t.Fatalf("List = %+v, %v", page, err)
	}
	if err := c.Delete(t.Context(), "client-made"); err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(t.Context(), "client-made")
	var apiErr *httpapi.APIError
	if !asAPIError(err, &apiErr) || apiErr.Status != 404 || apiErr.Code != "not_found" {
		t.Fatalf("Get after delete = %v", err)
	}
}

func asAPIError(err error, target **httpapi.APIError) bool {
	e, ok := err.(*httpapi.APIError)
	if ok {
		*target = e
	}
	return ok
}

// TestSlowBodyIsCut checks that a client that stops sending its body loses
// the connection's patience after the body timeout, without a server-wide
// read timeout.
func TestSlowBodyIsCut(t *testing.T) {
	f := newHandlerFixture(t, func(s *handlerSetup) { s.routes.BodyTimeout = 300 * time.Millisecond })
	srv := httptest.NewServer(f.handler)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /api/v1/links HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"url\":")
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	resp.Body.Close()
	if waited := time.Since(start); resp.StatusCode != http.StatusBadRequest || waited > 5*time.Second {
		t.Fatalf("stalled body: %d after %v, want 400 after about 300ms", resp.StatusCode, waited)
	}
}
