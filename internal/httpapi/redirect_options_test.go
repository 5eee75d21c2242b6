package httpapi_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/analytics/geotest"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/password"
	"github.com/shortlinks/shortlinks/internal/ratelimit"
	"github.com/shortlinks/shortlinks/internal/routes"
	"github.com/shortlinks/shortlinks/internal/shortcode"
	"github.com/shortlinks/shortlinks/internal/web"
)

// cheapHash is argon2id at its smallest, so that tests hash quickly.
var cheapHash = password.Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const (
	iphone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
	android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36"
	windows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)

// optionsFixture is the handler fixture with what links with options
// need, wired as app wires it: visits counted in the database, passwords
// hashed and checked, the password page, a password rate limit of burst
// attempts, a GeoIP database (203.0.113.0/24 is in DE) and click
// analytics.
func optionsFixture(t *testing.T, burst int) (*handlerFixture, *analytics.Recorder, *collector) {
	t.Helper()
	col := &collector{}
	rec := newRecorder(t, col)
	geo, err := analytics.OpenGeoIP(geotest.WriteCountryDB(t, t.TempDir(), map[string]string{"203.0.113.0/24": "DE"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { geo.Close() })
	h, err := password.New(cheapHash, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := newHandlerFixture(t, func(s *handlerSetup) {
		perm, err := shortcode.NewPermutation(bytes.Repeat([]byte{7}, shortcode.KeyLength))
		if err != nil {
			t.Fatal(err)
		}
		svc := link.NewService(s.db, s.db, shortcode.NewGenerator(perm, s.db, 100), link.Options{
			URLRules: link.URLRules{SelfHosts: []string{"sho.rt"}}, Reserved: routes.ReservedPaths(),
			Editor: s.db, HashPassword: h.Hash, Visits: s.db,
			VerifyPassword: func(ctx context.Context, hash, secret string) (bool, error) {
				ok, _, err := h.Verify(ctx, hash, secret)
				return ok, err
			},
		})
		s.links = func(httpapi.Links) httpapi.Links { return svc }
		pages, err := web.New(svc, slog.New(slog.DiscardHandler), web.Options{BaseURL: "https://sho.rt"})
		if err != nil {
			t.Fatal(err)
		}
		s.pages, s.opts.PasswordForm = pages, pages
		s.opts.Countries = geo
		s.opts.Clicks = rec
		// httptest's requests come from 192.0.2.1, the proxy here.
		s.edge.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}
		s.routes.Passwords = ratelimit.NewLocal(ratelimit.Limit{Rate: 1e-9, Burst: burst})
	})
	return f, rec, col
}

// visit is one request to a short link and what must come of it.
type visit struct {
	method  string
	query   string            // after the code, with its "?"
	headers map[string]string // besides Accept: application/json
	body    string            // form body of a POST
	status  int
	where   string // Location; "" when there must be none
	code    string // error code of a JSON answer
	page    string // text the HTML answer must hold
}

func (v visit) do(t *testing.T, f *handlerFixture, code string) {
	t.Helper()
	method := v.method
	if method == "" {
		method = http.MethodGet
	}
	hs := []string{"Accept", "application/json"}
	if v.body != "" {
		hs = append(hs, "Content-Type", "application/x-www-form-urlencoded")
	}
	for k, val := range v.headers {
		hs = append(hs, k, val)
	}
	rec := f.do(method, "/"+code+v.query, v.body, hs...)
	if rec.Code != v.status {
		t.Fatalf("%s /%s%s: status %d, want %d (%s)", method, code, v.query, rec.Code, v.status, rec.Body)
	}
	if got := rec.Header().Get("Location"); got != v.where {
		t.Errorf("%s /%s%s: Location %q, want %q", method, code, v.query, got, v.where)
	}
	if v.where != "" && rec.Header().Get("Cache-Control") != "private, no-store" {
		t.Errorf("redirect of a link with options: Cache-Control %q, want private, no-store", rec.Header().Get("Cache-Control"))
	}
	if v.code != "" {
		if got := errorCode(t, rec); got != v.code {
			t.Errorf("%s /%s%s: error %s, want %s", method, code, v.query, got, v.code)
		}
	}
	if v.page != "" {
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(rec.Body.String(), v.page) {
			t.Errorf("%s /%s%s: %s page without %q:\n%s", method, code, v.query, ct, v.page, rec.Body)
		}
	}
}

func TestRedirectOptions(t *testing.T) {
	html := map[string]string{"Accept": "text/html,application/xhtml+xml"}
	tests := []struct {
		name   string
		create string
		visits []visit
	}{
		{"forward query appended to the destination's, before its fragment",
			`{"url": "https://dest.example/p?a=1#top", "forward_query": true}`, []visit{
				{query: "?utm_source=x&utm_medium=y", status: 302, where: "https://dest.example/p?a=1&utm_source=x&utm_medium=y#top"},
				{status: 302, where: "https://dest.example/p?a=1#top"},
			}},
		{"forward query to a destination without a query",
			`{"url": "https://dest.example/#frag", "forward_query": true}`, []visit{
				{query: "?utm_source=x", status: 302, where: "https://dest.example/?utm_source=x#frag"},
			}},
		{"forward query to a destination with an empty query",
			`{"url": "https://dest.example/p?", "forward_query": true}`, []visit{
				{query: "?q=%C3%A4", status: 302, where: "https://dest.example/p?q=%C3%A4"},
			}},
		{"rules: first match wins, else the URL",
			`{"url": "https://dest.example/", "rules": [
				{"when": {"device": "ios"}, "url": "https://apps.apple.com/app/x"},
				{"when": {"device": "android"}, "url": "https://play.google.com/store/apps/x"},
				{"when": {"country": "DE", "language": "de"}, "url": "https://dest.example/de"},
				{"when": {"language": "fr"}, "url": "https://dest.example/fr"},
				{"when": {"device": "desktop"}, "url": "https://dest.example/desktop"}]}`, []visit{
				{headers: map[string]string{"User-Agent": iphone, "Accept-Language": "fr"}, status: 302, where: "https://apps.apple.com/app/x"},
				{headers: map[string]string{"User-Agent": android}, status: 302, where: "https://play.google.com/store/apps/x"},
				{headers: map[string]string{"User-Agent": windows, "Accept-Language": "de-DE,de;q=0.9,en;q=0.8", "X-Forwarded-For": "203.0.113.9"}, status: 302, where: "https://dest.example/de"},
				// German, but not in Germany: the country rule does not match.
				{headers: map[string]string{"User-Agent": windows, "Accept-Language": "de-DE", "X-Forwarded-For": "198.51.100.1"}, status: 302, where: "https://dest.example/desktop"},
				{headers: map[string]string{"User-Agent": windows, "Accept-Language": "en;q=0.5, fr-CA"}, status: 302, where: "https://dest.example/fr"},
				{headers: map[string]string{"User-Agent": "curl/8.5.0"}, status: 302, where: "https://dest.example/"},
			}},
		{"rules and forward query together",
			`{"url": "https://dest.example/", "forward_query": true, "rules": [{"when": {"device": "ios"}, "url": "https://apps.apple.com/app/x?pt=1"}]}`, []visit{
				{query: "?ref=mail", headers: map[string]string{"User-Agent": iphone}, status: 302, where: "https://apps.apple.com/app/x?pt=1&ref=mail"},
			}},
		{"max visits: exactly that many redirects, then 410",
			`{"url": "https://dest.example/limited", "max_visits": 2}`, []visit{
				{status: 302, where: "https://dest.example/limited"},
				{method: http.MethodHead, status: 302, where: "https://dest.example/limited"},
				{status: 410, code: "link_exhausted"},
				{headers: html, status: 410, page: "This link has reached its visit limit"},
			}},
		{"password: asked for, refused when wrong, redirects with 303 when right",
			`{"url": "https://dest.example/secret", "password": "correct horse"}`, []visit{
				{status: 401, code: "password_required"},
				{headers: html, status: 200, page: `name="password"`},
				{method: http.MethodPost, body: "password=wrong", status: 401, code: "wrong_password"},
				{method: http.MethodPost, body: "password=wrong", headers: html, status: 401, page: "not the link&#39;s password"},
				{method: http.MethodPost, body: "", status: 401, code: "wrong_password"},
				{method: http.MethodPost, body: "password=correct+horse", status: 303, where: "https://dest.example/secret"},
			}},
		{"password with JSON",
			`{"url": "https://dest.example/secret", "password": "pw"}`, []visit{
				{method: http.MethodPost, body: "", headers: map[string]string{"Content-Type": "application/json"}, status: 400, code: "malformed_json"},
			}},
		{"password, visit limit and query forwarding: the form does not count",
			`{"url": "https://dest.example/all", "password": "pw", "max_visits": 1, "forward_query": true}`, []visit{
				{query: "?x=1", headers: html, status: 200, page: `action="/`},
				{query: "?x=1", status: 401, code: "password_required"},
				{method: http.MethodPost, query: "?x=1", body: "password=pw", status: 303, where: "https://dest.example/all?x=1"},
				{method: http.MethodPost, query: "?x=1", body: "password=pw", status: 410, code: "link_exhausted"},
			}},
		{"a post to a link without a password redirects with 303",
			`{"url": "https://dest.example/open", "max_visits": 5}`, []visit{
				{method: http.MethodPost, body: "password=anything", status: 303, where: "https://dest.example/open"},
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, _ := optionsFixture(t, 10)
			f.t = t
			l := f.mustCreate(tt.create)
			for _, v := range tt.visits {
				v.do(t, f, l.Code)
			}
		})
	}
}

// TestRedirectOptionsPlainLink checks that a plain link is untouched by
// the options path: the configured Cache-Control, no query forwarded.
func TestRedirectOptionsPlainLink(t *testing.T) {
	f, _, _ := optionsFixture(t, 10)
	l := f.mustCreate(`{"url": "https://dest.example/plain"}`)
	rec := f.do(http.MethodGet, "/"+l.Code+"?utm_source=x", "")
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "https://dest.example/plain" {
		t.Fatalf("plain link: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	if cc := rec.Header().Get("Cache-Control"); cc == "private, no-store" {
		t.Errorf("plain link answered with the options' Cache-Control %q", cc)
	}
}

// TestPasswordRateLimit checks that password attempts are rationed per
// link and client: past the burst, even the right password is refused
// with 429, while another link, or another client, still has its own.
func TestPasswordRateLimit(t *testing.T) {
	f, _, _ := optionsFixture(t, 3)
	a := f.mustCreate(`{"url": "https://dest.example/a", "password": "pw"}`)
	b := f.mustCreate(`{"url": "https://dest.example/b", "password": "pw"}`)
	form := []string{"Content-Type", "application/x-www-form-urlencoded", "Accept", "application/json", "X-Forwarded-For", "198.51.100.7"}
	for i := range 3 {
		if rec := f.do(http.MethodPost, "/"+a.Code, "password=guess", form...); rec.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := f.do(http.MethodPost, "/"+a.Code, "password=pw", form...)
	if rec.Code != http.StatusTooManyRequests || errorCode(t, rec) != "rate_limited" || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("attempt past the burst: %d %s", rec.Code, rec.Body)
	}
	if rec := f.do(http.MethodPost, "/"+b.Code, "password=pw", form...); rec.Code != http.StatusSeeOther {
		t.Errorf("another link from the same client: %d %s", rec.Code, rec.Body)
	}
	other := append(form[:len(form)-1:len(form)-1], "198.51.100.8")
	if rec := f.do(http.MethodPost, "/"+a.Code, "password=pw", other...); rec.Code != http.StatusSeeOther {
		t.Errorf("the same link from another client: %d %s", rec.Code, rec.Body)
	}
}

// TestPasswordFormCrossOrigin checks that the password form refuses a
// post another site sent, as every form does.
func TestPasswordFormCrossOrigin(t *testing.T) {
	f, _, _ := optionsFixture(t, 10)
	l := f.mustCreate(`{"url": "https://dest.example/a", "password": "pw"}`)
	rec := f.do(http.MethodPost, "/"+l.Code, "password=pw", "Content-Type", "application/x-www-form-urlencoded",
		"Sec-Fetch-Site", "cross-site", "Accept", "text/html")
	if rec.Code != http.StatusForbidden || rec.Header().Get("Location") != "" {
		t.Fatalf("cross-site post: %d %q", rec.Code, rec.Header().Get("Location"))
	}
}

// TestRedirectOptionsRecordClicks checks that redirects of links with
// options are recorded for click analytics, and that the password form
// and a refused visit are not.
func TestRedirectOptionsRecordClicks(t *testing.T) {
	f, rec, col := optionsFixture(t, 10)
	fq := f.mustCreate(`{"url": "https://dest.example/", "forward_query": true}`)
	pw := f.mustCreate(`{"url": "https://dest.example/", "password": "pw", "max_visits": 1}`)
	col.flush(t, rec)
	f.do(http.MethodGet, "/"+fq.Code+"?a=1", "")
	f.do(http.MethodGet, "/"+pw.Code, "", "Accept", "text/html")
	f.do(http.MethodPost, "/"+pw.Code, "password=pw", "Content-Type", "application/x-www-form-urlencoded")
	f.do(http.MethodPost, "/"+pw.Code, "password=pw", "Content-Type", "application/x-www-form-urlencoded") // exhausted
	got := col.flush(t, rec)
	var ids []int64
	for _, e := range got {
		if e.Kind == analytics.Redirect {
			ids = append(ids, e.LinkID)
		}
	}
	fqID, pwID := linkID(t, f, fq.Code), linkID(t, f, pw.Code)
	if len(ids) != 2 || ids[0] != fqID || ids[1] != pwID {
		t.Errorf("recorded redirects of links %v, want [%d %d]", ids, fqID, pwID)
	}
}

func linkID(t *testing.T, f *handlerFixture, code string) int64 {
	t.Helper()
	l, err := f.db.Get(t.Context(), link.Code(code))
	if err != nil {
		t.Fatal(err)
	}
	return l.ID
}
