package app_test

import (
	"bufio"
	"context"
	"encoding/json"
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
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// logLines parses every line of a JSON log, failing on any that is not a
// JSON object with the stable keys.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(logs))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line is not JSON: %v\n%s", err, sc.Text())
		}
		for _, k := range []string{"time", "level", "msg", "service"} {
			if _, ok := m[k]; !ok {
				t.Fatalf("log line lacks %q: %s", k, sc.Text())
			}
		}
		out = append(out, m)
	}
	return out
}

// requestLines are the access log lines, by request id.
func requestLines(t *testing.T, logs string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, m := range logLines(t, logs) {
		if m["msg"] != "request" {
			continue
		}
		id, _ := m["request_id"].(string)
		if id == "" {
			t.Fatalf("access log line without request_id: %v", m)
		}
		out[id] = m
	}
	return out
}

// TestRequestIDsInLogsAndResponses checks that every response carries a
// request id, the gateway's when it sent a usable one, and that the JSON
// access log line of the request carries the same id.
func TestRequestIDsInLogsAndResponses(t *testing.T) {
	var logs servicetest.Buffer
	log := telemetry.NewLogger(&logs, "json", "info")
	r := apptest.Start(t, log, app.Telemetry{}, func(c *config.Config) { c.LogRedirectSample, c.CreateRate = 1, 0 })

	resp := apptest.MustDo(t, apptest.NoRedirects, http.MethodPost, r.URL+"/api/v1/links", `{"url": "https://example.com/logged"}`, "X-Request-ID", "gw-0001")
	if got := resp.Header.Get("X-Request-Id"); got != "gw-0001" {
		t.Fatalf("create answered request id %q, want the gateway's gw-0001", got)
	}
	code := apptest.Create(t, r.URL, `{"url": "https://example.com/made"}`)
	redirect := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, r.URL+"/"+code, "")
	made := redirect.Header.Get("X-Request-Id")
	if redirect.Status != http.StatusFound || made == "" {
		t.Fatalf("redirect = %d with request id %q, want 302 and a new id", redirect.Status, made)
	}
	// Ids that could not be logged or echoed as they are get replaced.
	for _, bad := range []string{"has spaces in it", strings.Repeat("x", 200), "quote\"d"} {
		resp := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, r.URL+"/"+code, "", "X-Request-ID", bad)
		if got := resp.Header.Get("X-Request-Id"); got == bad || got == "" {
			t.Errorf("request id %q answered with %q, want a new one", bad, got)
		}
	}
	notFound := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, r.URL+"/api/v1/links/zzzzzzz", "", "X-Request-ID", "gw-0002")

	lines := requestLines(t, logs.String())
	for id, want := range map[string]struct {
		route  string
		status float64
	}{
		"gw-0001":                           {"POST /api/v1/links", 201},
		made:                                {"GET /{code}", 302},
		notFound.Header.Get("X-Request-Id"): {"GET /api/v1/links/{code}", 401}, // details need a key
	} {
		m, ok := lines[id]
		if !ok {
			t.Errorf("no access log line with request_id %q in:\n%s", id, logs.String())
			continue
		}
		if m["route"] != want.route || m["status"] != want.status || m["method"] == nil || m["duration_ms"] == nil || m["client_ip"] != "127.0.0.1" {
			t.Errorf("access line %v, want route %q status %v", m, want.route, want.status)
		}
	}
}

// TestRedirectLogSample checks that redirects are logged at the sample
// rate asked for, while API requests are all logged.
func TestRedirectLogSample(t *testing.T) {
	var logs servicetest.Buffer
	log := telemetry.NewLogger(&logs, "json", "info")
	r := apptest.Start(t, log, app.Telemetry{}, func(c *config.Config) { c.LogRedirectSample, c.CreateRate = 0.25, 0 })
	code := apptest.Create(t, r.URL, `{"url": "https://example.com/sampled"}`)
	const n = 800
	for range n {
		if status, _ := apptest.Resolve(t, r.URL, code); status != http.StatusFound {
			t.Fatalf("redirect = %d", status)
		}
	}
	redirects, creates := 0, 0
	for _, m := range requestLines(t, logs.String()) {
		switch m["route"] {
		case "GET /{code}":
			redirects++
		case "POST /api/v1/links":
			creates++
		}
	}
	// 800 draws at 1 in 4: 200 expected, standard deviation 12.2; the
	// bounds are five deviations out.
	if redirects < 139 || redirects > 261 || creates != 1 {
		t.Fatalf("logged %d of %d redirects at a 0.25 sample, and %d of 1 creates", redirects, n, creates)
	}
	t.Logf("logged %d of %d redirects", redirects, n)
}

// TestReadyzDrainsBeforeShutdown checks that after SIGTERM (here: the end
// of Serve's context) /readyz answers 503 while the server still serves,
// for the drain delay, and that Serve then stops cleanly.
func TestReadyzDrainsBeforeShutdown(t *testing.T) {
	r := apptest.Start(t, slog.New(slog.DiscardHandler), app.Telemetry{}, func(c *config.Config) { c.DrainDelay = 1500 * time.Millisecond })
	if status, _ := apptest.Ready(t, r.URL); status != http.StatusOK {
		t.Fatalf("/readyz before shutdown = %d", status)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.Stop() }()
	servicetest.Eventually(t, time.Second, "/readyz answers 503 draining", func() error {
		status, body := apptest.Ready(t, r.URL)
		if status != http.StatusServiceUnavailable || body.Status != "draining" {
			return fmt.Errorf("/readyz = %d %q", status, body.Status)
		}
		return nil
	})
	// Still serving: a load balancer's last requests are answered.
	if resp := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, r.URL+"/healthz", ""); resp.Status != http.StatusOK {
		t.Fatalf("/healthz while draining = %d", resp.Status)
	}
	select {
	case err := <-stopped:
		t.Fatalf("serve stopped before the drain delay ended: %v", err)
	default:
	}
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after the drain delay")
	}
}

// TestMetricsListen checks that --metrics-listen moves /metrics off the
// public listener.
func TestMetricsListen(t *testing.T) {
	main, metrics := servicetest.FreeAddr(t), servicetest.FreeAddr(t)
	cfg := apptest.Config(t, func(c *config.Config) { c.Listen, c.BaseURL, c.MetricsListen = main, "http://"+main, metrics })
	a, err := app.New(t.Context(), cfg, slog.New(slog.DiscardHandler), app.Telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	servicetest.Eventually(t, 10*time.Second, "metrics listener serves", func() error {
		resp, err := http.Get("http://" + metrics + "/metrics")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "shortlinks_build_info{") {
			return fmt.Errorf("GET /metrics on the metrics listener = %d", resp.StatusCode)
		}
		return nil
	})
	if resp := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, "http://"+main+"/metrics", ""); resp.Status != http.StatusNotFound {
		t.Fatalf("GET /metrics on the public listener = %d, want 404", resp.Status)
	}
}

// TestPostgresSchemaBehind checks that serve refuses a PostgreSQL schema
// that is behind, saying what to run, and migrates it when asked to.
func TestPostgresSchemaBehind(t *testing.T) {
	dsn := pgtest.Database(t)
	onPostgres := func(c *config.Config) { c.DatabaseURL, c.DatabaseMaxConns = dsn, 4 }
	_, err := app.New(t.Context(), apptest.Config(t, onPostgres), slog.New(slog.DiscardHandler), app.Telemetry{})
	if err == nil || !strings.Contains(err.Error(), "shortlinks migrate") {
		t.Fatalf("New on an empty PostgreSQL database = %v, want an error that says to run 'shortlinks migrate'", err)
	}
	base := apptest.Serve(t, onPostgres, func(c *config.Config) { c.AutoMigrate = true })
	l, err := httpapi.NewClient(base, "", nil).Create(t.Context(), httpapi.CreateRequest{URL: "https://example.com/migrated"})
	if err != nil {
		t.Fatal(err)
	}
	apptest.MustRedirect(t, base, l.Code, l.URL)
	if status, r := apptest.Ready(t, base); status != http.StatusOK || r.Checks["database"].Status != "up" || !r.Checks["database"].Critical {
		t.Fatalf("/readyz = %d %+v, want ready with a critical database check", status, r)
	}
}
