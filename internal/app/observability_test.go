package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
	"github.com/shortlinks/shortlinks/internal/telemetry"
	"github.com/shortlinks/shortlinks/internal/testenv"
)

// running is an app serving on a loopback port.
type running struct {
	app  *app.App
	base string
	stop func() error // begins a graceful shutdown and waits for it
	done chan error
}

// startApp serves the service built from testConfig(t, set...) on a
// loopback port, with log and tel, until the test ends or stop is called.
func startApp(t *testing.T, log *slog.Logger, tel app.Telemetry, set ...func(*config.Config)) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := testConfig(t, append([]func(*config.Config){func(c *config.Config) { c.BaseURL = base }}, set...)...)
	a, err := app.New(t.Context(), cfg, log, tel)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{app: a, base: base, done: make(chan error, 1)}
	go func() { r.done <- a.Serve(ctx, ln) }()
	stopped := false
	r.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-r.done
	}
	t.Cleanup(func() {
		if err := r.stop(); err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	return r
}

func createCode(t *testing.T, base, body string, headers ...string) string {
	t.Helper()
	r := mustDo(t, noRedirects, http.MethodPost, base+"/api/v1/links", body, headers...)
	if r.status != http.StatusCreated {
		t.Fatalf("create %s = %d %s", body, r.status, r.body)
	}
	var l struct{ Code string }
	if err := json.Unmarshal(r.body, &l); err != nil {
		t.Fatal(err)
	}
	return l.Code
}

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
	var logs testenv.Buffer
	log := telemetry.NewLogger(&logs, "json", "info")
	r := startApp(t, log, app.Telemetry{}, func(c *config.Config) { c.LogRedirectSample, c.CreateRate = 1, 0 })

	resp := mustDo(t, noRedirects, http.MethodPost, r.base+"/api/v1/links", `{"url": "https://example.com/logged"}`, "X-Request-ID", "gw-0001")
	if got := resp.header.Get("X-Request-Id"); got != "gw-0001" {
		t.Fatalf("create answered request id %q, want the gateway's gw-0001", got)
	}
	code := createCode(t, r.base, `{"url": "https://example.com/made"}`)
	redirect := mustDo(t, noRedirects, http.MethodGet, r.base+"/"+code, "")
	made := redirect.header.Get("X-Request-Id")
	if redirect.status != http.StatusFound || made == "" {
		t.Fatalf("redirect = %d with request id %q, want 302 and a new id", redirect.status, made)
	}
	// Ids that could not be logged or echoed as they are get replaced.
	for _, bad := range []string{"has spaces in it", strings.Repeat("x", 200), "quote\"d"} {
		resp := mustDo(t, noRedirects, http.MethodGet, r.base+"/"+code, "", "X-Request-ID", bad)
		if got := resp.header.Get("X-Request-Id"); got == bad || got == "" {
			t.Errorf("request id %q answered with %q, want a new one", bad, got)
		}
	}
	notFound := mustDo(t, noRedirects, http.MethodGet, r.base+"/api/v1/links/zzzzzzz", "", "X-Request-ID", "gw-0002")

	lines := requestLines(t, logs.String())
	for id, want := range map[string]struct {
		route  string
		status float64
	}{
		"gw-0001":                           {"POST /api/v1/links", 201},
		made:                                {"GET /{code}", 302},
		notFound.header.Get("X-Request-Id"): {"GET /api/v1/links/{code}", 401}, // details need a key
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
	var logs testenv.Buffer
	log := telemetry.NewLogger(&logs, "json", "info")
	r := startApp(t, log, app.Telemetry{}, func(c *config.Config) { c.LogRedirectSample, c.CreateRate = 0.25, 0 })
	code := createCode(t, r.base, `{"url": "https://example.com/sampled"}`)
	const n = 800
	for range n {
		if status, _ := resolve(t, r.base, code); status != http.StatusFound {
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
	r := startApp(t, slog.New(slog.DiscardHandler), app.Telemetry{}, func(c *config.Config) { c.DrainDelay = 1500 * time.Millisecond })
	if status, _ := ready(t, r.base); status != http.StatusOK {
		t.Fatalf("/readyz before shutdown = %d", status)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- r.stop() }()
	testenv.Eventually(t, time.Second, "/readyz answers 503 draining", func() error {
		status, body := ready(t, r.base)
		if status != http.StatusServiceUnavailable || body.Status != "draining" {
			return fmt.Errorf("/readyz = %d %q", status, body.Status)
		}
		return nil
	})
	// Still serving: a load balancer's last requests are answered.
	if resp := mustDo(t, noRedirects, http.MethodGet, r.base+"/healthz", ""); resp.status != http.StatusOK {
		t.Fatalf("/healthz while draining = %d", resp.status)
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
	main, metrics := testenv.FreeAddr(t), testenv.FreeAddr(t)
	cfg := testConfig(t, func(c *config.Config) { c.Listen, c.BaseURL, c.MetricsListen = main, "http://"+main, metrics })
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
	testenv.Eventually(t, 10*time.Second, "metrics listener serves", func() error {
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
	if resp := mustDo(t, noRedirects, http.MethodGet, "http://"+main+"/metrics", ""); resp.status != http.StatusNotFound {
		t.Fatalf("GET /metrics on the public listener = %d, want 404", resp.status)
	}
}

// scrape reads base's /metrics.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return fams
}

// value is the value of the series of name whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want ...string) float64 {
	f := fams[name]
	if f == nil {
		return math.NaN()
	}
	sum, found := 0.0, false
series:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				continue series
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	if !found {
		return math.NaN()
	}
	return sum
}

// queries returns every PromQL expression in the Grafana dashboard and the
// Prometheus alert rules under deploy/.
func queries(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	b, err := os.ReadFile("../../deploy/grafana/dashboards/shortlinks.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			out["dashboard panel "+p.Title] = append(out["dashboard panel "+p.Title], tg.Expr)
		}
	}
	b, err = os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("alerts: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out["alert "+r.Alert] = append(out["alert "+r.Alert], r.Expr)
		}
	}
	if len(out) < 20 {
		t.Fatalf("found only %d dashboard panels and alerts with queries", len(out))
	}
	return out
}

var (
	metricRef = regexp.MustCompile(`\b((?:shortlinks|process|go)_[a-z0-9_]+)(\{[^}]*\})?`)
	labelRef  = regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)`)
	groupRef  = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
)

// TestMetricsCoverDashboardsAndAlerts runs two instances on PostgreSQL and
// Redis, sends them traffic of every kind, and checks that the metrics
// move as the traffic says, and that every metric and label the Grafana
// dashboard and the alert rules query is exported.
func TestMetricsCoverDashboardsAndAlerts(t *testing.T) {
	dsn := pgtest.Database(t)
	redisURL := testenv.Redis(t)
	prefix := redistest.Prefix(t, redisURL) // one for both instances
	set := func(c *config.Config) {
		c.DatabaseURL, c.AutoMigrate, c.RedisURL, c.RedisKeyPrefix = dsn, true, redisURL, prefix
		c.CreateRate, c.CreateBurst = 1, 6
	}
	serve := func() string {
		tel := app.Telemetry{Registry: telemetry.NewRegistry(telemetry.ReadBuild("v1.2.3"))}
		return startApp(t, slog.New(slog.DiscardHandler), tel, set).base
	}
	a, b := serve(), serve()

	// Creates on a: 4 made, 1 alias taken, 1 invalid, then the client's
	// burst of 6 is spent and the next is refused.
	codes := []string{createCode(t, a, `{"url": "https://example.com/1", "alias": "obs-alias"}`)}
	for i := range 3 {
		codes = append(codes, createCode(t, a, fmt.Sprintf(`{"url": "https://example.com/%d"}`, i+2)))
	}
	for body, want := range map[string]int{
		`{"url": "https://example.com/again", "alias": "obs-alias"}`: http.StatusConflict,
		`{"url": "ftp://example.com/"}`:                              http.StatusBadRequest,
	} {
		if resp := mustDo(t, noRedirects, http.MethodPost, a+"/api/v1/links", body); resp.status != want {
			t.Fatalf("create %s = %d %s, want %d", body, resp.status, resp.body, want)
		}
	}
	if resp := mustDo(t, noRedirects, http.MethodPost, a+"/api/v1/links", `{"url": "https://example.com/over"}`); resp.status != http.StatusTooManyRequests {
		t.Fatalf("create past the burst = %d, want 429", resp.status)
	}
	// Redirects: from a's memory, and on b (which never saw the links)
	// from Redis; unknown codes from the database.
	for _, c := range codes {
		for _, base := range []string{a, a, b} {
			if status, _ := resolve(t, base, c); status != http.StatusFound {
				t.Fatalf("GET %s/%s = %d", base, c, status)
			}
		}
	}
	for _, base := range []string{a, b} {
		if status, _ := resolve(t, base, "nothere"); status != http.StatusNotFound {
			t.Fatalf("GET /nothere = %d", status)
		}
	}

	fa, fb := scrape(t, a), scrape(t, b)
	for _, c := range []struct {
		fams   map[string]*dto.MetricFamily
		name   string
		labels []string
		want   float64
	}{
		{fa, "shortlinks_creates_total", []string{"outcome", "ok"}, 4},
		{fa, "shortlinks_creates_total", []string{"outcome", "alias_taken"}, 1},
		{fa, "shortlinks_creates_total", []string{"outcome", "invalid"}, 1},
		{fa, "shortlinks_creates_total", []string{"outcome", "rate_limited"}, 1},
		{fa, "shortlinks_creates_total", []string{"outcome", "error"}, 0},
		{fa, "shortlinks_rate_limited_total", nil, 1},
		{fa, "shortlinks_redirects_total", []string{"outcome", "ok"}, 8},
		{fa, "shortlinks_redirects_total", []string{"outcome", "not_found"}, 1},
		{fb, "shortlinks_redirects_total", []string{"outcome", "ok"}, 4},
		{fb, "shortlinks_redirects_total", []string{"outcome", "not_found"}, 1},
		{fa, "shortlinks_http_requests_total", []string{"route", "GET /{code}", "method", "GET", "status", "3xx"}, 8},
		{fa, "shortlinks_http_requests_total", []string{"route", "POST /api/v1/links", "status", "2xx"}, 4},
		{fa, "shortlinks_http_requests_total", []string{"route", "POST /api/v1/links", "status", "4xx"}, 3},
		{fa, "shortlinks_http_requests_total", []string{"status", "5xx"}, math.NaN()},
		{fa, "shortlinks_http_request_duration_seconds", []string{"route", "GET /{code}", "method", "GET"}, 9},
		// Which tier answered the redirects is the cache's to count: a
		// answered all 8 from its memory, b none.
		{fa, "shortlinks_cache_hits_total", []string{"tier", "local"}, 8},
		{fb, "shortlinks_cache_hits_total", []string{"tier", "local"}, 0},
		// b found the 4 links in Redis, and also that "nothere" is
		// unknown: a remembered it there as missing.
		{fb, "shortlinks_cache_hits_total", []string{"tier", "redis"}, 5},
		{fa, "shortlinks_db_up", []string{"pool", "primary"}, 1},
		{fa, "shortlinks_db_connections_max", []string{"pool", "primary"}, 20},
		{fa, "shortlinks_redis_breaker_state", nil, 0},
		{fa, "shortlinks_build_info", []string{"version", "v1.2.3"}, 1},
	} {
		got := value(c.fams, c.name, c.labels...)
		if !(got == c.want || math.IsNaN(got) && math.IsNaN(c.want)) {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if v := value(fa, "shortlinks_db_connections", "pool", "primary"); !(v >= 1) {
		t.Errorf("shortlinks_db_connections{pool=primary} = %v, want the pool's open connections", v)
	}
	if v := value(fb, "shortlinks_redis_pool_gets_total", "result", "hit") + value(fb, "shortlinks_redis_pool_gets_total", "result", "miss"); !(v >= 4) {
		t.Errorf("shortlinks_redis_pool_gets_total = %v, want at least one per Redis lookup", v)
	}

	// Every series name the text format shows, and each family's labels.
	exported := map[string]map[string]bool{}
	for name, f := range fa {
		labels := map[string]bool{"instance": true, "job": true} // added by Prometheus
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		names := []string{name}
		if f.GetType() == dto.MetricType_HISTOGRAM {
			names = append(names, name+"_bucket", name+"_sum", name+"_count")
			labels["le"] = true
		}
		for _, n := range names {
			exported[n] = labels
		}
	}
	checked := 0
	for where, exprs := range queries(t) {
		for _, expr := range exprs {
			// Grouping clauses name labels, not metrics.
			refs := metricRef.FindAllStringSubmatch(groupRef.ReplaceAllString(expr, ""), -1)
			if len(refs) == 0 && !strings.Contains(expr, "up{") {
				t.Errorf("%s: no metric in %q", where, expr)
			}
			for _, ref := range refs {
				labels, ok := exported[ref[1]]
				if !ok {
					t.Errorf("%s queries %s, which Shortlinks does not export", where, ref[1])
					continue
				}
				checked++
				for _, l := range labelRef.FindAllStringSubmatch(ref[2], -1) {
					if !labels[l[1]] {
						t.Errorf("%s selects %s by label %q, which it does not have", where, ref[1], l[1])
					}
				}
				// Grouping labels must be on every metric of the query.
				for _, g := range groupRef.FindAllStringSubmatch(expr, -1) {
					for _, l := range strings.Split(g[1], ",") {
						if l = strings.TrimSpace(l); l != "" && !labels[l] {
							t.Errorf("%s groups %s by %q, which it does not have", where, ref[1], l)
						}
					}
				}
			}
		}
	}
	t.Logf("checked %d metric references in the dashboard and alert rules", checked)

	// The README's Operations section lists every metric of Shortlinks'.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range fa {
		if strings.HasPrefix(name, "shortlinks_") && !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README does not list the metric %s", name)
		}
	}
}

// TestAlertRulesPassPromtool checks the alert rules with Prometheus' own
// tool, and runs their unit tests (deploy/prometheus/alerts_test.yml),
// which show each alert firing when it should and not before.
func TestAlertRulesPassPromtool(t *testing.T) {
	promtool := testenv.Binary(t, "promtool")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../../deploy/prometheus"
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if !strings.Contains(string(out), "SUCCESS") {
			t.Fatalf("promtool %s said no SUCCESS:\n%s", strings.Join(args, " "), out)
		}
	}
}
