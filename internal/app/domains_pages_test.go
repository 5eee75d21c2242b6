package app_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
)

// TestBrandedDomainPages: the preview, the report page and the password
// form of a link answer on its own domain, as its redirect does: the
// alias "promo" is on the default domain and on acme.link, to different
// places and behind different passwords, and each host shows and
// unlocks its own.
func TestBrandedDomainPages(t *testing.T) {
	cfg := apptest.Config(t, func(c *config.Config) {
		c.BaseURL = "https://sho.rt"
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
	do := func(method, host, path, contentType, body string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, "https://sho.rt"+path, strings.NewReader(body))
		r.Host = host
		r.RemoteAddr = "192.0.2.1:1234"
		r.Header.Set("Authorization", "Bearer "+admin)
		r.Header.Set("Accept", "text/html")
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.AddCookie(&http.Cookie{Name: "shortlinks_stats_key", Value: admin})
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec
	}
	const form = "application/x-www-form-urlencoded"
	mustDo := func(method, host, path, contentType, body string, want int) *httptest.ResponseRecorder {
		t.Helper()
		rec := do(method, host, path, contentType, body)
		if rec.Code != want {
			t.Fatalf("%s %s%s: %d, want %d: %.300s", method, host, path, rec.Code, want, rec.Body)
		}
		return rec
	}
	mustDo("POST", "sho.rt", "/api/v1/domains", "application/json", `{"host":"acme.link"}`, http.StatusCreated)
	for _, body := range []string{
		`{"url":"https://example.com/default","alias":"promo","password":"default-secret"}`,
		`{"url":"https://example.com/acme","alias":"promo","domain":"acme.link","password":"acme-secret"}`,
		`{"url":"https://example.com/plain","alias":"plain-acme","domain":"acme.link"}`,
		`{"url":"https://example.com/only-default","alias":"only-default"}`,
	} {
		mustDo("POST", "sho.rt", "/api/v1/links", "application/json", body, http.StatusCreated)
	}

	t.Run("preview", func(t *testing.T) {
		page := mustDo("GET", "acme.link", "/plain-acme+", "", "", http.StatusOK).Body.String()
		if !strings.Contains(page, "https://example.com/plain") || !strings.Contains(page, "https://acme.link/plain-acme") {
			t.Errorf("preview on acme.link lacks the destination or its short URL:\n%s", page)
		}
		mustDo("GET", "acme.link", "/only-default+", "", "", http.StatusNotFound)
		mustDo("GET", "sho.rt", "/plain-acme+", "", "", http.StatusNotFound)
		mustDo("GET", "evil.example", "/plain-acme+", "", "", http.StatusNotFound)
	})

	t.Run("report", func(t *testing.T) {
		page := mustDo("GET", "acme.link", "/report/plain-acme", "", "", http.StatusOK).Body.String()
		if !strings.Contains(page, "https://acme.link/plain-acme") {
			t.Errorf("report page on acme.link lacks the link's short URL:\n%s", page)
		}
		mustDo("GET", "acme.link", "/report/only-default", "", "", http.StatusNotFound)
		mustDo("GET", "evil.example", "/report/plain-acme", "", "", http.StatusNotFound)
		mustDo("POST", "acme.link", "/report/plain-acme", form, "reason=phishing&details=Looks+like+a+bank", http.StatusCreated)
		mustDo("POST", "acme.link", "/report/only-default", form, "reason=spam", http.StatusNotFound)
		// The API names the domain, or takes it from the short URL.
		mustDo("POST", "sho.rt", "/api/v1/reports", "application/json", `{"code":"https://acme.link/promo","reason":"spam"}`, http.StatusCreated)
		mustDo("POST", "sho.rt", "/api/v1/reports", "application/json", `{"code":"only-default","domain":"acme.link","reason":"spam"}`, http.StatusNotFound)

		var list struct {
			Reports []struct {
				Code, Domain string
				ShortURL     string `json:"short_url"`
			} `json:"reports"`
		}
		rec := mustDo("GET", "sho.rt", "/api/v1/reports", "", "", http.StatusOK)
		if err := json.Unmarshal(rec.Body.Bytes(), &list); err != nil {
			t.Fatal(err)
		}
		want := []string{"acme.link promo https://acme.link/promo", "acme.link plain-acme https://acme.link/plain-acme"}
		var got []string
		for _, r := range list.Reports {
			got = append(got, r.Domain+" "+r.Code+" "+r.ShortURL)
		}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("reports, newest first = %q, want %q", got, want)
		}
	})

	t.Run("stats", func(t *testing.T) {
		page := mustDo("GET", "sho.rt", "/links/plain-acme/stats?domain=acme.link", "", "", http.StatusOK).Body.String()
		if !strings.Contains(page, "https://acme.link/plain-acme") || !strings.Contains(page, "?period=7d&amp;domain=acme.link") {
			t.Errorf("stats page of plain-acme on acme.link lacks its short URL or keeps no domain in its period links:\n%s", page)
		}
		mustDo("GET", "sho.rt", "/links/plain-acme/stats", "", "", http.StatusNotFound)
		mustDo("GET", "sho.rt", "/links/plain-acme/stats?domain=nowhere.example", "", "", http.StatusNotFound)
	})

	t.Run("password", func(t *testing.T) {
		page := mustDo("GET", "acme.link", "/promo", "", "", http.StatusOK).Body.String()
		if !strings.Contains(page, `action="/promo"`) {
			t.Errorf("password form on acme.link does not post back to the short URL:\n%s", page)
		}
		post := func(host, secret string, want int) *httptest.ResponseRecorder {
			t.Helper()
			return mustDo("POST", host, "/promo", form, url.Values{"password": {secret}}.Encode(), want)
		}
		// The default domain's password does not open acme.link's promo,
		// nor the other way round.
		post("acme.link", "default-secret", http.StatusUnauthorized)
		post("sho.rt", "acme-secret", http.StatusUnauthorized)
		if loc := post("acme.link", "acme-secret", http.StatusSeeOther).Header().Get("Location"); loc != "https://example.com/acme" {
			t.Errorf("unlocked on acme.link: Location %q", loc)
		}
		if loc := post("sho.rt", "default-secret", http.StatusSeeOther).Header().Get("Location"); loc != "https://example.com/default" {
			t.Errorf("unlocked on sho.rt: Location %q", loc)
		}
		post("evil.example", "acme-secret", http.StatusNotFound)
	})
}
