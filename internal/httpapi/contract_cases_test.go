package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/edge"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/qr"
	"github.com/shortlinks/shortlinks/internal/routes"
	"github.com/shortlinks/shortlinks/internal/web"
)

const (
	jsonType = "application/json"
	formType = "application/x-www-form-urlencoded"
)

func seconds(n int64) *int64 { return &n }

// TestContract drives every operation of openapi.yaml against real servers,
// through each status the document lists, and checks every request and
// answer against the document the server serves. Its last step fails for
// any documented answer that no case produced.
func TestContract(t *testing.T) {
	top := t
	srv := startContractApp(t)
	c := loadContract(t, srv)
	owner := srv.key(t, "owner", false)
	other := srv.key(t, "other", false)
	admin := srv.key(t, "admin", true)

	// A link that expires in a second, for the 410 cases further on.
	expiring := srv.create(t, owner, httpapi.CreateRequest{URL: "https://example.com/soon", ExpiresIn: seconds(1)})
	waitExpired := func() {
		if d := time.Until(*expiring.ExpiresAt); d >= 0 {
			time.Sleep(d + 10*time.Millisecond)
		}
	}
	live := srv.create(t, owner, httpapi.CreateRequest{URL: "https://example.com/live"})

	// QR codes and the web page are optional parts of the server; their
	// cases run when app.New wires them, and are skipped, saying why,
	// when it does not.
	qrWired := srv.answers(t, "/api/v1/links/"+live.Code+"/qr")
	pagesWired := srv.answers(t, "/")
	const qrOp, homeOp, shortenOp = "GET /api/v1/links/{code}/qr", "GET /", "POST /"
	const qrMissing = "app.New gives httpapi.Options.QR no encoder, so every QR code answers 404"
	const pagesMissing = "app.New gives routes.Options.Pages no web page, so / has no route"

	t.Run("create", func(t *testing.T) {
		huge := `{"url":"https://example.com/` + strings.Repeat("a", httpapi.MaxBodyBytes) + `"}`
		tests := []struct {
			name        string
			body        string
			contentType string
			docRefuses  bool
			status      int
			code        string
		}{
			{"generated code", `{"url":"https://Example.COM/page?q=1"}`, jsonType, false, 201, ""},
			{"alias expiring in a day", `{"url":"https://example.com/launch","alias":"launch-2030","expires_in":86400}`, jsonType, false, 201, ""},
			{"expiry at a time", `{"url":"https://example.com/sale","expires_at":"2099-01-02T15:04:05Z"}`, jsonType + "; charset=utf-8", false, 201, ""},

			{"not JSON", `{"url":`, jsonType, true, 400, "malformed_json"},
			{"empty body", ` `, jsonType, true, 400, "malformed_json"},
			{"an array", `[]`, jsonType, true, 400, "malformed_json"},
			{"unknown field", `{"url":"https://example.com/","expires":"tomorrow"}`, jsonType, true, 400, "unknown_field"},
			{"url not a string", `{"url":5}`, jsonType, true, 400, "invalid_field_type"},
			{"expires_in not a number", `{"url":"https://example.com/","expires_in":"soon"}`, jsonType, true, 400, "invalid_field_type"},
			{"no url", `{}`, jsonType, true, 400, "missing_url"},
			{"empty url", `{"url":""}`, jsonType, true, 400, "missing_url"},
			{"url with a space", `{"url":"https://exa mple.com/"}`, jsonType, false, 400, "invalid_url"},
			{"url without slashes", `{"url":"https:example.com"}`, jsonType, false, 400, "invalid_url"},
			{"url too long", `{"url":"https://example.com/` + strings.Repeat("a", link.DefaultMaxURLLength) + `"}`, jsonType, false, 400, "url_too_long"},
			{"ftp url", `{"url":"ftp://example.com/file"}`, jsonType, false, 400, "url_scheme_not_allowed"},
			{"url with credentials", `{"url":"https://user:secret@example.com/"}`, jsonType, false, 400, "url_has_credentials"},
			{"url of this service", `{"url":"` + srv.url + `/abc"}`, jsonType, false, 400, "url_self_reference"},
			{"alias with a slash", `{"url":"https://example.com/","alias":"no/slash"}`, jsonType, true, 400, "invalid_alias"},
			{"alias too short", `{"url":"https://example.com/","alias":"ab"}`, jsonType, true, 400, "invalid_alias"},
			{"reserved alias", `{"url":"https://example.com/","alias":"HealthZ"}`, jsonType, false, 400, "alias_reserved"},
			{"taken alias", `{"url":"https://example.com/other","alias":"launch-2030"}`, jsonType, false, 409, "alias_taken"},
			{"expires_at not a time", `{"url":"https://example.com/","expires_at":"tomorrow"}`, jsonType, true, 400, "invalid_expiry"},
			{"expires_in zero", `{"url":"https://example.com/","expires_in":0}`, jsonType, true, 400, "invalid_expiry"},
			{"expires_in beyond any clock", `{"url":"https://example.com/","expires_in":9000000000000000000}`, jsonType, false, 400, "invalid_expiry"},
			{"expires_at too far", `{"url":"https://example.com/","expires_at":"9999-06-01T00:00:00Z"}`, jsonType, false, 400, "invalid_expiry"},
			{"expires_at in the past", `{"url":"https://example.com/","expires_at":"2001-01-01T00:00:00Z"}`, jsonType, false, 400, "expiry_in_past"},
			{"both expiries", `{"url":"https://example.com/","expires_at":"2099-01-01T00:00:00Z","expires_in":60}`, jsonType, false, 400, "conflicting_expiry"},
			{"body over 64 KiB", huge, jsonType, false, 413, "body_too_large"},
			{"text body", `{"url":"https://example.com/"}`, "text/plain", true, 415, "unsupported_media_type"},
			{"no content type", `{"url":"https://example.com/"}`, "", true, 415, "unsupported_media_type"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", body: tt.body,
					contentType: tt.contentType, docRefuses: tt.docRefuses, status: tt.status, code: tt.code})
				if r.status != http.StatusCreated {
					return
				}
				var l httpapi.Link
				r.decode(t, &l)
				if got, want := r.header.Get("Location"), srv.url+"/api/v1/links/"+l.Code; got != want {
					t.Errorf("Location %q, want %q", got, want)
				}
				if l.ShortURL != srv.url+"/"+l.Code {
					t.Errorf("short_url %q for code %q", l.ShortURL, l.Code)
				}
			})
		}
	})

	t.Run("authentication", func(t *testing.T) {
		revoked := srv.revokedKey(t)
		creds := []struct {
			name, authorization string
			docRefuses          bool
		}{
			{"unknown key", "Bearer sl_" + strings.Repeat("A", 26), false},
			{"revoked key", "Bearer " + revoked, false},
			{"not a key", "Bearer nonsense", false},
			{"basic scheme", "Basic dXNlcjpwYXNz", true},
		}
		target := "/api/v1/links/" + live.Code
		for _, cr := range creds {
			for _, k := range []contractCall{
				{method: http.MethodPost, path: "/api/v1/links", body: `{"url":"https://example.com/"}`, contentType: jsonType},
				{method: http.MethodGet, path: "/api/v1/links"},
				{method: http.MethodGet, path: target},
				{method: http.MethodDelete, path: target},
			} {
				k.header = []string{"Authorization", cr.authorization}
				// Creating needs no key, so the document cannot refuse
				// a create for the scheme of the one it sends.
				k.docRefuses = cr.docRefuses && k.method != http.MethodPost
				k.status, k.code = 401, "unauthorized"
				c.do(t, srv.url, k)
			}
		}
		// Only creating works without a key.
		for _, k := range []contractCall{
			{method: http.MethodGet, path: "/api/v1/links"},
			{method: http.MethodGet, path: target},
			{method: http.MethodDelete, path: target},
		} {
			k.docRefuses, k.status, k.code = true, 401, "unauthorized"
			c.do(t, srv.url, k)
		}
	})

	t.Run("list", func(t *testing.T) {
		// A key of its own, so that its pages hold exactly these links.
		pager := srv.key(t, "pager", false)
		var want []string
		for i := range 5 {
			want = append(want, srv.create(t, pager, httpapi.CreateRequest{URL: fmt.Sprintf("https://example.com/page/%d", i)}).Code)
		}

		var got []httpapi.Link
		path := "/api/v1/links?limit=2"
		for pages := 1; ; pages++ {
			var page httpapi.LinkList
			c.do(t, srv.url, contractCall{method: http.MethodGet, path: path, key: pager, status: 200}).decode(t, &page)
			got = append(got, page.Links...)
			if page.NextCursor == nil {
				if pages != 3 {
					t.Errorf("5 links in pages of 2 took %d pages, want 3", pages)
				}
				break
			}
			if pages == 3 {
				t.Fatal("the third page of 5 links in pages of 2 has a next_cursor")
			}
			path = "/api/v1/links?limit=2&cursor=" + *page.NextCursor
		}
		var codes []string
		for i, l := range got {
			codes = append(codes, l.Code)
			if i > 0 && (l.CreatedAt.After(got[i-1].CreatedAt) || l.CreatedAt.Equal(got[i-1].CreatedAt) && l.Code > got[i-1].Code) {
				t.Errorf("%s comes after %s but is newer", l.Code, got[i-1].Code)
			}
		}
		slices.Sort(codes)
		slices.Sort(want)
		if !slices.Equal(codes, want) {
			t.Errorf("the pages hold %v, want %v", codes, want)
		}

		var all httpapi.LinkList
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links", key: pager, status: 200}).decode(t, &all)
		if len(all.Links) != 5 || all.NextCursor != nil {
			t.Errorf("the default page holds %d links and next_cursor %v, want all 5 and null", len(all.Links), all.NextCursor)
		}
		var others httpapi.LinkList
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links", key: other, status: 200}).decode(t, &others)
		if len(others.Links) != 0 {
			t.Errorf("a key that made no links lists %d", len(others.Links))
		}
		var everyone httpapi.LinkList
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links?limit=1000", key: admin, status: 200}).decode(t, &everyone)
		for _, code := range want {
			if !slices.ContainsFunc(everyone.Links, func(l httpapi.Link) bool { return l.Code == code }) {
				t.Errorf("the admin key does not list %s", code)
			}
		}

		for _, k := range []contractCall{
			{path: "/api/v1/links?limit=0", docRefuses: true, code: "invalid_limit"},
			{path: "/api/v1/links?limit=ten", docRefuses: true, code: "invalid_limit"},
			{path: "/api/v1/links?limit=1001", docRefuses: true, code: "invalid_limit"},
			{path: "/api/v1/links?cursor=%21%21", docRefuses: true, code: "invalid_cursor"},
			{path: "/api/v1/links?cursor=Zm9v", code: "invalid_cursor"}, // base64 of "foo"
		} {
			k.method, k.key, k.status = http.MethodGet, pager, 400
			c.do(t, srv.url, k)
		}
	})

	t.Run("get and delete", func(t *testing.T) {
		var l httpapi.Link
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + live.Code, key: owner, status: 200}).decode(t, &l)
		if l.Code != live.Code || l.URL != live.URL || !l.CreatedAt.Equal(live.CreatedAt) || l.ExpiresAt != nil {
			t.Errorf("GET gives %+v, create gave %+v", l, live)
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + live.Code, key: admin, status: 200})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + live.Code, key: other, status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/Zz9Zz9Z", key: owner, status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/ab", key: owner, docRefuses: true, status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodDelete, path: "/api/v1/links/" + live.Code, key: other, status: 404, code: "not_found"})

		doomed := srv.create(t, owner, httpapi.CreateRequest{URL: "https://example.com/doomed", Alias: "doomed"})
		c.do(t, srv.url, contractCall{method: http.MethodDelete, path: "/api/v1/links/" + doomed.Code, key: owner, status: 204})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + doomed.Code, key: owner, status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodDelete, path: "/api/v1/links/" + doomed.Code, key: owner, status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + doomed.Code, status: 404, code: "not_found"})
		// A deleted link's code is never issued again.
		c.do(t, srv.url, contractCall{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType,
			body: `{"url":"https://example.com/again","alias":"doomed"}`, status: 409, code: "alias_taken"})
	})

	t.Run("redirect", func(t *testing.T) {
		l := srv.create(t, "", httpapi.CreateRequest{URL: "https://Example.COM/Path/To?q=a%20b&x=1#frag"})
		const stored = "https://example.com/Path/To?q=a%20b&x=1#frag"
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			r := c.do(t, srv.url, contractCall{method: method, path: "/" + l.Code, status: 302})
			if got := r.header.Get("Location"); got != stored {
				t.Errorf("%s: Location %q, want %q", method, got, stored)
			}
			if want := config.Default().CacheControl; r.header.Get("Cache-Control") != want {
				t.Errorf("%s: Cache-Control %q, want %q", method, r.header.Get("Cache-Control"), want)
			}
			c.do(t, srv.url, contractCall{method: method, path: "/Zz9Zz9Z", status: 404})
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/Zz9Zz9Z", status: 404, code: "not_found"})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/favicon.ico", docRefuses: true, status: 404, code: "not_found"})

		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/Zz9Zz9Z", header: []string{"Accept", "text/html"}, status: 404})
		want := jsonType
		if pagesWired {
			want = "text/html"
		}
		if got := r.header.Get("Content-Type"); !strings.HasPrefix(got, want) {
			t.Errorf("a browser's 404 has Content-Type %q, want %s", got, want)
		}
	})

	t.Run("expired", func(t *testing.T) {
		waitExpired()
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/" + expiring.Code, status: 410, code: "link_expired"})
		c.do(t, srv.url, contractCall{method: http.MethodHead, path: "/" + expiring.Code, status: 410})
		// Its owner still sees it.
		var l httpapi.Link
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + expiring.Code, key: owner, status: 200}).decode(t, &l)
		if l.ExpiresAt == nil || l.ExpiresAt.After(time.Now()) {
			t.Errorf("an expired link shows expires_at %v", l.ExpiresAt)
		}
	})

	t.Run("qr", func(t *testing.T) {
		if !qrWired {
			c.skip(t, qrMissing, qrOp)
		}
		base := "/api/v1/links/" + live.Code + "/qr"
		for _, tt := range []struct {
			query string
			size  int
		}{{"", httpapi.DefaultQRSize}, {"?format=png&size=128", 128}} {
			r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: base + tt.query, status: 200})
			cfg, err := png.DecodeConfig(bytes.NewReader(r.body))
			if err != nil || cfg.Width != tt.size || cfg.Height != tt.size {
				t.Errorf("GET %s%s: %dx%d PNG (%v), want %dx%d", base, tt.query, cfg.Width, cfg.Height, err, tt.size, tt.size)
			}
		}
		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: base + "?format=svg", status: 200})
		if !bytes.Contains(r.body, []byte("<svg")) || r.header.Get("Content-Type") != "image/svg+xml" {
			t.Errorf("format=svg gives %q: %.60s", r.header.Get("Content-Type"), r.body)
		}

		for _, k := range []contractCall{
			{path: base + "?size=10", docRefuses: true, status: 400, code: "invalid_size"},
			{path: base + "?size=4096", docRefuses: true, status: 400, code: "invalid_size"},
			{path: base + "?size=big", docRefuses: true, status: 400, code: "invalid_size"},
			{path: base + "?format=gif", docRefuses: true, status: 400, code: "invalid_format"},
			{path: "/api/v1/links/Zz9Zz9Z/qr", status: 404, code: "not_found"},
		} {
			k.method = http.MethodGet
			c.do(t, srv.url, k)
		}
		waitExpired()
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/links/" + expiring.Code + "/qr", status: 410, code: "link_expired"})
	})

	t.Run("operations", func(t *testing.T) {
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/api/v1/openapi.yaml", status: 200})
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/healthz", status: 200})
		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/readyz", status: 200})
		if !bytes.Contains(r.body, []byte(`"database":{"status":"up"`)) {
			t.Errorf("/readyz does not report the database up: %s", r.body)
		}
		r = c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/metrics", status: 200})
		if !bytes.Contains(r.body, []byte(`shortlinks_http_requests_total{method="POST",route="POST /api/v1/links",status="2xx"}`)) {
			t.Error("/metrics does not count requests by route")
		}
		c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/robots.txt", status: 200})
	})

	t.Run("web page", func(t *testing.T) {
		if !pagesWired {
			c.skip(t, pagesMissing, homeOp, shortenOp)
		}
		browser := []string{"Accept", "text/html"}
		r := c.do(t, srv.url, contractCall{method: http.MethodGet, path: "/", header: browser, status: 200})
		if !bytes.Contains(r.body, []byte(`<form id="shorten" method="post" action="/"`)) {
			t.Errorf("the home page has no form posting to /: %.200s", r.body)
		}
		for _, k := range []contractCall{
			{body: "url=https%3A%2F%2Fexample.com%2Fweb&alias=&expires_in=86400", status: 201},
			{body: "url=ftp%3A%2F%2Fexample.com%2F", status: 400},
			{body: "url=https%3A%2F%2Fexample.com%2F&expires_in=5", docRefuses: true, status: 400},
			{body: "url=https%3A%2F%2Fexample.com%2F&alias=launch-2030", status: 409},
			{body: "url=https%3A%2F%2Fexample.com%2F" + strings.Repeat("a", 64<<10), status: 413},
			{body: "url=https%3A%2F%2Fexample.com%2F", header: []string{"Sec-Fetch-Site", "cross-site"}, status: 403},
		} {
			k.method, k.path, k.contentType = http.MethodPost, "/", formType
			k.header = append(k.header, browser...)
			r := c.do(t, srv.url, k)
			if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Errorf("%s: Content-Type %q, want a page", k, ct)
			}
		}
	})

	t.Run("redirect status setting", func(t *testing.T) {
		for _, status := range []int{301, 307, 308} {
			s := startContractApp(t, "SHORTLINKS_REDIRECT_STATUS="+strconv.Itoa(status))
			l := s.create(t, "", httpapi.CreateRequest{URL: "https://example.com/moved"})
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				r := c.do(t, s.url, contractCall{method: method, path: "/" + l.Code, status: status})
				if got := r.header.Get("Location"); got != l.URL {
					t.Errorf("%s %d: Location %q, want %q", method, status, got, l.URL)
				}
			}
		}
	})

	t.Run("required key and rate limit", func(t *testing.T) {
		s := startContractApp(t,
			"SHORTLINKS_REQUIRE_API_KEY=true",
			"SHORTLINKS_RATE_LIMIT_CREATE=0.001",
			"SHORTLINKS_RATE_LIMIT_CREATE_BURST=1")
		key := s.key(t, "limited", false)
		// The limiter counts the refused request too, so the next one is
		// over the limit.
		c.do(t, s.url, contractCall{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType,
			body: `{"url":"https://example.com/"}`, status: 401, code: "unauthorized"})
		r := c.do(t, s.url, contractCall{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType, key: key,
			body: `{"url":"https://example.com/"}`, status: 429, code: "rate_limited"})
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("Retry-After %q, want a whole number of seconds", r.header.Get("Retry-After"))
		}
		if pagesWired {
			c.do(t, s.url, contractCall{method: http.MethodPost, path: "/", contentType: formType,
				body: "url=https%3A%2F%2Fexample.com%2F", status: 429, code: "rate_limited"})
			c.do(t, s.url, contractCall{method: http.MethodPost, path: "/", contentType: formType, header: []string{"Accept", "text/html"},
				body: "url=https%3A%2F%2Fexample.com%2F", status: 429})
		}
	})

	t.Run("storage closed", func(t *testing.T) {
		s := startContractApp(t)
		key := s.key(t, "closed", false)
		l := s.create(t, key, httpapi.CreateRequest{URL: "https://example.com/closed"})
		if err := s.app.Close(); err != nil {
			t.Fatal(err)
		}
		for _, k := range []contractCall{
			{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType, body: `{"url":"https://example.com/"}`},
			{method: http.MethodGet, path: "/api/v1/links", key: key},
			{method: http.MethodGet, path: "/api/v1/links/" + l.Code, key: key},
			{method: http.MethodDelete, path: "/api/v1/links/" + l.Code, key: key},
			{method: http.MethodGet, path: "/Zz9Zz9Z"}, // not cached
			{method: http.MethodHead, path: "/Zz9Zz9Z"},
		} {
			k.status = 500
			if k.method != http.MethodHead {
				k.code = "internal"
			}
			c.do(t, s.url, k)
		}
		if qrWired {
			c.do(t, s.url, contractCall{method: http.MethodGet, path: "/api/v1/links/Zz9Zz9Z/qr", status: 500, code: "internal"})
		}
		if pagesWired {
			c.do(t, s.url, contractCall{method: http.MethodPost, path: "/", contentType: formType, body: "url=https%3A%2F%2Fexample.com%2F", status: 500})
			c.do(t, s.url, contractCall{method: http.MethodGet, path: "/Zz9Zz9Z", header: []string{"Accept", "text/html"}, status: 500})
		}
		r := c.do(t, s.url, contractCall{method: http.MethodGet, path: "/readyz", status: 503})
		if !bytes.Contains(r.body, []byte(`"status":"not_ready"`)) {
			t.Errorf("/readyz with the database closed: %s", r.body)
		}
	})

	t.Run("storage unavailable", func(t *testing.T) {
		// SQLite in WAL mode cannot be made to fail reads on demand, so this
		// server has an engine that reports an outage the way the real ones
		// do, behind the real link and key services.
		var down downEngine
		links := link.NewService(down, down, down, link.Options{Reserved: routes.ReservedPaths()})
		log := slog.New(slog.NewTextHandler(t.Output(), nil))
		pages, err := web.New(links, log, web.Options{BaseURL: "https://sho.rt", QRURL: routes.QRURL})
		if err != nil {
			t.Fatal(err)
		}
		errs := edge.NewRenderer(log, pages, routes.APIPrefix)
		api := httpapi.New(links, srv.app.Keys(), log, httpapi.Options{BaseURL: "https://sho.rt", QR: qr.New(), Errors: errs})
		h := edge.New(log, edge.Options{}).Wrap(routes.New(api, log, routes.Options{Pages: pages, Errors: errs}))
		ts := httptest.NewServer(h)
		t.Cleanup(ts.Close)
		for _, k := range []contractCall{
			{method: http.MethodPost, path: "/api/v1/links", contentType: jsonType, body: `{"url":"https://example.com/"}`},
			{method: http.MethodGet, path: "/api/v1/links", key: owner},
			{method: http.MethodGet, path: "/api/v1/links/" + live.Code, key: owner},
			{method: http.MethodDelete, path: "/api/v1/links/" + live.Code, key: owner},
			{method: http.MethodGet, path: "/api/v1/links/" + live.Code + "/qr"},
			{method: http.MethodGet, path: "/" + live.Code},
			{method: http.MethodHead, path: "/" + live.Code},
			{method: http.MethodGet, path: "/" + live.Code, header: []string{"Accept", "text/html"}},
			{method: http.MethodPost, path: "/", contentType: formType, body: "url=https%3A%2F%2Fexample.com%2F"},
		} {
			k.status = 503
			if k.method != http.MethodHead && k.header == nil && k.path != "/" {
				k.code = "storage_unavailable"
			}
			r := c.do(t, ts.URL, k)
			if r.header.Get("Retry-After") == "" {
				t.Errorf("%s: 503 without Retry-After", k)
			}
		}
	})

	t.Run("every documented answer was seen", func(t *testing.T) {
		if top.Failed() {
			t.Skip("earlier cases failed")
		}
		c.checkCoverage(t)
	})
}

// answers reports whether a plain GET of path succeeds.
func (s *contractServer) answers(t *testing.T, path string) bool {
	t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// downEngine is a storage engine that cannot be reached: every call fails
// with link.ErrUnavailable, wrapped as the engines wrap it.
type downEngine struct{}

var errEngineDown = fmt.Errorf("connect: connection refused: %w", link.ErrUnavailable)

func (downEngine) Insert(context.Context, link.Link) error { return errEngineDown }
func (downEngine) Get(context.Context, link.Code) (link.Link, error) {
	return link.Link{}, errEngineDown
}
func (downEngine) Delete(context.Context, link.Code) error { return errEngineDown }
func (downEngine) List(context.Context, link.ListQuery) ([]link.Link, error) {
	return nil, errEngineDown
}
func (downEngine) Next(context.Context) (link.Code, error) { return "", errEngineDown }
