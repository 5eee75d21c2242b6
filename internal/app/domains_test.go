package app_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
)

// TestDomainsByHost checks that redirects resolve by the request's host:
// ports, case and a trailing dot do not matter, an unknown host is 404
// (never another domain's link), X-Forwarded-Host counts only from a
// trusted proxy, and each domain has its own root and not-found answers.
func TestDomainsByHost(t *testing.T) {
	cfg := apptest.Config(t, func(c *config.Config) {
		c.BaseURL = "https://sho.rt"
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
		c.CreateRate, c.LogRequests = 0, "none"
	})
	a, err := app.New(t.Context(), cfg, slog.New(slog.DiscardHandler), app.Telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	_, admin, err := a.Keys().Create(t.Context(), "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler()
	type req struct {
		method, path, host, peer, forwarded, body string
	}
	do := func(r req) *httptest.ResponseRecorder {
		t.Helper()
		hr := httptest.NewRequest(r.method, "http://sho.rt"+r.path, strings.NewReader(r.body))
		if r.host != "" {
			hr.Host = r.host
		}
		hr.RemoteAddr = "192.0.2.1:1234"
		if r.peer != "" {
			hr.RemoteAddr = r.peer + ":1234"
		}
		if r.forwarded != "" {
			hr.Header.Set("X-Forwarded-Host", r.forwarded)
		}
		if r.body != "" {
			hr.Header.Set("Content-Type", "application/json")
			hr.Header.Set("Authorization", "Bearer "+admin)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, hr)
		return rec
	}
	for _, body := range []string{
		`{"host":"go.acme.example","root_redirect":"https://acme.example/","not_found_redirect":"https://acme.example/missing"}`,
		`{"host":"acme.link"}`,
	} {
		if rec := do(req{method: "POST", path: "/api/v1/domains", body: body}); rec.Code != http.StatusCreated {
			t.Fatalf("add domain %s: %d %s", body, rec.Code, rec.Body)
		}
	}
	for _, body := range []string{
		`{"url":"https://example.com/default","alias":"promo"}`,
		`{"url":"https://example.com/acme","alias":"promo","domain":"go.acme.example"}`,
		`{"url":"https://example.com/link","alias":"promo","domain":"acme.link"}`,
		`{"url":"https://example.com/only","alias":"only-acme","domain":"go.acme.example"}`,
	} {
		rec := do(req{method: "POST", path: "/api/v1/links", body: body})
		if rec.Code != http.StatusCreated {
			t.Fatalf("create %s: %d %s", body, rec.Code, rec.Body)
		}
		var l struct {
			ShortURL string `json:"short_url"`
		}
		json.Unmarshal(rec.Body.Bytes(), &l)
		if !strings.HasPrefix(l.ShortURL, "https://") {
			t.Errorf("short_url %q is not on https like the base URL", l.ShortURL)
		}
	}

	for _, tt := range []struct {
		name string
		r    req
		code int
		loc  string
	}{
		{"default domain", req{path: "/promo"}, 302, "https://example.com/default"},
		{"default with port", req{path: "/promo", host: "sho.rt:8080"}, 302, "https://example.com/default"},
		{"branded", req{path: "/promo", host: "go.acme.example"}, 302, "https://example.com/acme"},
		{"branded, case and port", req{path: "/promo", host: "Go.ACME.example:443"}, 302, "https://example.com/acme"},
		{"branded, trailing dot", req{path: "/promo", host: "go.acme.example."}, 302, "https://example.com/acme"},
		{"another branded", req{path: "/promo", host: "acme.link"}, 302, "https://example.com/link"},
		{"a code on one domain only", req{path: "/only-acme", host: "acme.link"}, 404, ""},
		{"a code on one domain only, default", req{path: "/only-acme"}, 404, ""},
		{"unknown code, not-found redirect", req{path: "/nothere", host: "go.acme.example"}, 302, "https://acme.example/missing"},
		{"unknown host", req{path: "/promo", host: "evil.example"}, 404, ""},
		{"unknown host by IP", req{path: "/promo", host: "127.0.0.1:8080"}, 404, ""},
		{"forwarded by a trusted proxy", req{path: "/promo", peer: "10.1.2.3", forwarded: "acme.link"}, 302, "https://example.com/link"},
		{"forwarded list, first wins", req{path: "/promo", host: "internal", peer: "10.1.2.3", forwarded: "go.acme.example, acme.link"}, 302, "https://example.com/acme"},
		{"forwarded by an untrusted peer", req{path: "/promo", peer: "192.0.2.9", forwarded: "acme.link"}, 302, "https://example.com/default"},
		{"root of a branded domain", req{path: "/", host: "go.acme.example"}, 302, "https://acme.example/"},
		{"root without a redirect", req{path: "/", host: "acme.link"}, 404, ""},
		{"root of the default domain", req{path: "/"}, 200, ""},
		{"root of an unknown host", req{path: "/", host: "evil.example"}, 404, ""},
		{"preview on a branded domain", req{path: "/promo+", host: "acme.link"}, 200, ""},
		{"preview of a code on another domain", req{path: "/only-acme+", host: "acme.link"}, 404, ""},
		{"preview on an unknown host", req{path: "/promo+", host: "evil.example"}, 404, ""},
		{"path with escapes, branded", req{path: "/pro%6Do", host: "acme.link"}, 302, "https://example.com/link"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.method = "GET"
			rec := do(tt.r)
			if rec.Code != tt.code || rec.Header().Get("Location") != tt.loc {
				t.Errorf("GET %s on %q = %d %q, want %d %q", tt.r.path, tt.r.host, rec.Code, rec.Header().Get("Location"), tt.code, tt.loc)
			}
		})
	}
}
