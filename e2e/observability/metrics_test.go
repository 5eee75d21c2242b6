package observability

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

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
	redisURL := servicetest.Redis(t)
	prefix := redistest.Prefix(t, redisURL) // one for both instances
	// One create an hour after a burst of 7: the eighth is refused
	// however long the seven take.
	const burst = 7
	set := func(c *config.Config) {
		c.DatabaseURL, c.AutoMigrate, c.RedisURL, c.RedisKeyPrefix = dsn, true, redisURL, prefix
		c.CreateRate, c.CreateBurst = 1.0/3600, burst
		// A lookup fills Redis only within its Redis deadline, counted from
		// before the database was asked; on a busy machine the default
		// 50 ms can pass, and b would then not find in Redis what a looked
		// up. The counts below are of traffic, not of a race with the clock.
		c.RedisTimeout = 10 * time.Second
	}
	// a runs as 'shortlinks serve' does, from a configuration file that a
	// watcher reloads, with a blocklist and Safe Browsing lookups against
	// a Lookup API on a local port; b as the other tests' instances do.
	lookups := newLookupAPI(t, lookupKey)
	dir := t.TempDir()
	blocked := filepath.Join(dir, "blocked.txt")
	if err := os.WriteFile(blocked, []byte("# refused destinations\nblocked.example\nphish.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, watcher, rewrite := serveFromFile(t, filepath.Join(dir, "shortlinks.yaml"), map[string]any{
		"database-url": dsn, "auto-migrate": true, "redis-url": redisURL, "redis-key-prefix": prefix,
		"rate-limit-create": 1.0 / 3600, "rate-limit-create-burst": burst, "redis-timeout": "10s",
		"blocklist":         []string{"local=" + blocked},
		"safe-browsing-key": lookupKey, "safe-browsing-endpoint": lookups.endpoint(),
	})
	b := apptest.Start(t, slog.New(slog.DiscardHandler), app.Telemetry{Registry: telemetry.NewRegistry(telemetry.ReadBuild("v1.2.3"))}, set).URL
	// The analytics worker on the same stream: its metrics are the stream's
	// and the writes'.
	worker := startWorker(t, apptest.Config(t, set))

	// Creates on a: 4 made, 1 alias taken, 2 invalid (one of them a
	// blocked destination), then the client's burst of 7 is spent and the
	// next is refused.
	codes := []string{apptest.Create(t, a, `{"url": "https://example.com/1", "alias": "obs-alias"}`)}
	for i := range 3 {
		codes = append(codes, apptest.Create(t, a, fmt.Sprintf(`{"url": "https://example.com/%d"}`, i+2)))
	}
	for body, want := range map[string]int{
		`{"url": "https://example.com/again", "alias": "obs-alias"}`: http.StatusConflict,
		`{"url": "ftp://example.com/"}`:                              http.StatusBadRequest,
		`{"url": "https://blocked.example/x"}`:                       http.StatusBadRequest, // on the blocklist
	} {
		if resp := apptest.MustDo(t, apptest.NoRedirects, http.MethodPost, a+"/api/v1/links", body); resp.Status != want {
			t.Fatalf("create %s = %d %s, want %d", body, resp.Status, resp.Body, want)
		}
	}
	if resp := apptest.MustDo(t, apptest.NoRedirects, http.MethodPost, a+"/api/v1/links", `{"url": "https://example.com/over"}`); resp.Status != http.StatusTooManyRequests {
		t.Fatalf("create past the burst = %d, want 429", resp.Status)
	}
	// Redirects: from a's memory, and on b (which never saw the links)
	// from Redis; unknown codes from the database.
	for _, c := range codes {
		for _, base := range []string{a, a, b} {
			if status, _ := apptest.Resolve(t, base, c); status != http.StatusFound {
				t.Fatalf("GET %s/%s = %d", base, c, status)
			}
		}
	}
	for _, base := range []string{a, b} {
		if status, _ := apptest.Resolve(t, base, "nothere"); status != http.StatusNotFound {
			t.Fatalf("GET /nothere = %d", status)
		}
	}

	// Safe Browsing looks the 4 new links' destinations up after their
	// creates, in the background; none is listed.
	waitFor(t, a, "Safe Browsing verdicts on the 4 links", func(f map[string]*dto.MetricFamily) bool {
		return value(f, "shortlinks_safebrowsing_verdicts_total", "verdict", "safe", "source", "api") == 4
	})
	if got := lookups.urls(); len(got) != 4 {
		t.Errorf("Safe Browsing was asked about %v, want the 4 links' destinations", got)
	}
	// The blocklist file gains an entry: it is read again.
	if err := os.WriteFile(blocked, []byte("blocked.example\nphish.example\nmalware.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, a, "the blocklist reloaded", func(f map[string]*dto.MetricFamily) bool {
		return value(f, "shortlinks_blocklist_entries", "list", "local") == 3
	})
	// The configuration file changes: a live setting applies (generation
	// 2), a setting that needs a restart waits for one, and an invalid
	// file is refused.
	rewrite(map[string]any{"log-requests": "errors", "cache-size": 5000})
	waitFor(t, a, "the configuration reloaded", func(f map[string]*dto.MetricFamily) bool {
		return value(f, "shortlinks_config_generation") == 2
	})
	if got := watcher.Current().LogRequests; got != "errors" {
		t.Errorf("log-requests after the reload = %q, want errors", got)
	}
	rewrite(map[string]any{"redirect-status": 299})
	waitFor(t, a, "the invalid configuration refused", func(f map[string]*dto.MetricFamily) bool {
		return value(f, "shortlinks_config_reload_errors_total") == 1
	})

	fa, fb := scrape(t, a), scrape(t, b)
	fw := scrape(t, worker)
	// Every redirect and orphan visit is a click recorded.
	if va, vb := value(fa, "shortlinks_clicks_enqueued_total"), value(fb, "shortlinks_clicks_enqueued_total"); va != 9 || vb != 5 {
		t.Errorf("shortlinks_clicks_enqueued_total = %v and %v, want 9 and 5", va, vb)
	}
	for _, c := range []struct {
		fams   map[string]*dto.MetricFamily
		name   string
		labels []string
		want   float64
	}{
		{fa, "shortlinks_creates_total", []string{"outcome", "ok"}, 4},
		{fa, "shortlinks_creates_total", []string{"outcome", "alias_taken"}, 1},
		{fa, "shortlinks_creates_total", []string{"outcome", "invalid"}, 2},
		{fa, "shortlinks_creates_total", []string{"outcome", "rate_limited"}, 1},
		{fa, "shortlinks_creates_total", []string{"outcome", "error"}, 0},
		{fa, "shortlinks_rate_limited_total", nil, 1},
		{fa, "shortlinks_redirects_total", []string{"outcome", "ok"}, 8},
		{fa, "shortlinks_redirects_total", []string{"outcome", "not_found"}, 1},
		{fb, "shortlinks_redirects_total", []string{"outcome", "ok"}, 4},
		{fb, "shortlinks_redirects_total", []string{"outcome", "not_found"}, 1},
		{fa, "shortlinks_http_requests_total", []string{"route", "GET /{code}", "method", "GET", "status", "3xx"}, 8},
		{fa, "shortlinks_http_requests_total", []string{"route", "POST /api/v1/links", "status", "2xx"}, 4},
		{fa, "shortlinks_http_requests_total", []string{"route", "POST /api/v1/links", "status", "4xx"}, 4},
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
		{fa, "shortlinks_blocklist_entries", []string{"list", "local"}, 3},
		{fa, "shortlinks_blocklist_load_failures_total", []string{"list", "local"}, 0},
		{fa, "shortlinks_safebrowsing_verdicts_total", []string{"verdict", "unsafe"}, 0},
		{fa, "shortlinks_safebrowsing_unchecked_total", nil, 0},
		{fa, "shortlinks_safebrowsing_queue_length", nil, 0},
		{fa, "shortlinks_config_generation", nil, 2},
		{fa, "shortlinks_config_restart_pending", nil, 1},
		{fa, "shortlinks_config_reload_errors_total", nil, 1},
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

	// Every series name the text format shows, and each family's labels,
	// of the instance and of the worker.
	exported := map[string]map[string]bool{}
	all := maps.Clone(fw)
	maps.Copy(all, fa)
	for name, f := range all {
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

// startWorker runs 'shortlinks worker' on cfg's database and Redis and
// returns the base URL of its endpoints.
func startWorker(t *testing.T, cfg config.Config) string {
	t.Helper()
	w, err := app.NewWorker(t.Context(), cfg, slog.New(slog.DiscardHandler), app.Telemetry{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		<-done
		w.Close()
	})
	return "http://" + ln.Addr().String()
}

// TestAlertRulesPassPromtool checks the alert rules with Prometheus' own
// tool, and runs their unit tests (deploy/prometheus/alerts_test.yml),
// which show each alert firing when it should and not before.
func TestAlertRulesPassPromtool(t *testing.T) {
	promtool := servicetest.Binary(t, "promtool")
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
