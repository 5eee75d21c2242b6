package app_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// getOn sends GET base/code with host as the request's Host and returns
// the status and Location, or for an error its body.
func getOn(t *testing.T, base, host, code string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/"+code, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Accept", "application/json")
	resp, err := apptest.NoRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 400 {
		return resp.StatusCode, string(body)
	}
	return resp.StatusCode, resp.Header.Get("Location")
}

// TestDomainNewsAcrossInstances has two instances share PostgreSQL and
// Redis, each reading the domains again only once an hour: a domain added
// through one is served by the other as soon as the news travels over
// Redis, and so is its removal. The bound on the polls is generous; what
// matters is that it is far below the reload interval.
func TestDomainNewsAcrossInstances(t *testing.T) {
	dsn := pgtest.Database(t)
	redisURL := servicetest.Redis(t)
	prefix := redistest.Prefix(t, redisURL)
	shared := func(c *config.Config) {
		c.DatabaseURL, c.DatabaseMaxConns, c.AutoMigrate = dsn, 8, true
		c.RedisURL, c.RedisKeyPrefix = redisURL, prefix
		c.CreateRate, c.LogRequests = 0, "none"
		c.DomainReloadInterval = time.Hour
	}
	log := slog.New(slog.DiscardHandler)
	a := apptest.Start(t, log, app.Telemetry{}, shared)
	b := apptest.Start(t, log, app.Telemetry{}, shared)
	_, admin, err := a.App.Keys().Create(t.Context(), "admin", true)
	if err != nil {
		t.Fatal(err)
	}
	auth := []string{"Authorization", "Bearer " + admin}
	// Should b subscribe only after the news is sent, subscribing makes it
	// read the domains again: no wait is needed here.
	const host = "go.acme.example"
	if st, _ := getOn(t, b.URL, host, "launch"); st != http.StatusNotFound {
		t.Fatalf("before the domain exists, b answers %d", st)
	}
	for _, h := range []string{host, "acme.link"} {
		if r := apptest.MustDo(t, apptest.NoRedirects, http.MethodPost, a.URL+"/api/v1/domains", `{"host":"`+h+`"}`, auth...); r.Status != http.StatusCreated {
			t.Fatalf("add domain %s on a: %d %s", h, r.Status, r.Body)
		}
	}
	code := apptest.Create(t, a.URL, `{"url":"https://example.com/launch","alias":"launch","domain":"`+host+`"}`, auth...)
	servicetest.Eventually(t, 10*time.Second, "b serves the domain a added", func() error {
		st, loc := getOn(t, b.URL, host, code)
		if st != http.StatusFound || loc != "https://example.com/launch" {
			return fmt.Errorf("GET %s/%s on b = %d %q", host, code, st, loc)
		}
		return nil
	})

	if r := apptest.MustDo(t, apptest.NoRedirects, http.MethodDelete, a.URL+"/api/v1/links/"+code+"?domain="+host, "", auth...); r.Status != http.StatusNoContent {
		t.Fatalf("delete link: %d %s", r.Status, r.Body)
	}
	if r := apptest.MustDo(t, apptest.NoRedirects, http.MethodDelete, a.URL+"/api/v1/domains/"+host, "", auth...); r.Status != http.StatusNoContent {
		t.Fatalf("remove domain: %d %s", r.Status, r.Body)
	}
	// The deleted link was not_found on the domain; once b hears that the
	// domain is gone, the host is none of its domains.
	servicetest.Eventually(t, 10*time.Second, "b drops the domain a removed", func() error {
		st, body := getOn(t, b.URL, host, code)
		if st != http.StatusNotFound || !strings.Contains(body, `"unknown_domain"`) {
			return fmt.Errorf("GET %s/%s on b = %d %s", host, code, st, body)
		}
		return nil
	})
}
