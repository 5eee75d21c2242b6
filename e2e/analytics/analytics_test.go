// Package analytics holds the end-to-end tests of click analytics: real
// redirects from a mix of browsers, bots, referrers and countries, through
// the whole pipeline, to exact figures from the stats API. The SQLite one
// runs with every go test; the PostgreSQL and Redis ones (a worker killed
// with SIGKILL, two workers at once, Redis stopped under traffic) take
// about a minute and run when SHORTLINKS_TEST_ANALYTICS=1 (make
// test-analytics).
package analytics

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/analytics/geotest"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// The visitors: browsers and bots, referrers, and addresses in the test
// GeoIP database's countries (and one it does not know).
var (
	agents = []struct {
		ua, browser string
		bot         bool
	}{
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "Chrome", false},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1", "Safari", false},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "Firefox", false},
		{"Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "", true},
		{"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "", true},
		{"curl/8.5.0", "", true},
	}
	referrers = []struct{ header, host string }{
		{"https://news.ycombinator.com/item?id=1", "news.ycombinator.com"},
		{"https://t.co/abc", "t.co"},
		{"", ""},
		{"https://www.example.org/blog/post", "www.example.org"},
	}
	addresses = []struct{ addr, country string }{
		{"81.2.69.10", "DE"}, {"216.160.83.57", "US"}, {"2a02:2e0::7", "FR"}, {"198.51.100.9", ""},
	}
	geoNetworks = map[string]string{"81.2.69.0/24": "DE", "216.160.83.56/29": "US", "2a02:2e0::/32": "FR"}
)

// visit is one request of the traffic.
type visit struct{ agent, referrer, address int }

// traffic is n visits mixing every agent, referrer and address.
func traffic(n int) []visit {
	vs := make([]visit, n)
	for i := range vs {
		vs[i] = visit{i % len(agents), (i / 3) % len(referrers), (i / 7) % len(addresses)}
	}
	return vs
}

// want is what the stats must say of a traffic.
type want struct {
	humans, bots                   int64
	referrers, countries, browsers map[string]int64
}

func expect(vs []visit) want {
	w := want{referrers: map[string]int64{}, countries: map[string]int64{}, browsers: map[string]int64{}}
	for _, v := range vs {
		a := agents[v.agent]
		if a.bot {
			w.bots++
			continue
		}
		w.humans++
		w.referrers[referrers[v.referrer].host]++
		w.countries[addresses[v.address].country]++
		w.browsers[a.browser]++
	}
	return w
}

// server is an instance of Shortlinks in this process.
type server struct {
	url string
	app *app.App
}

func loadConfig(t *testing.T, env ...string) config.Config {
	t.Helper()
	cfg, err := config.FromEnv(env)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// startServer runs an instance with the settings in env, trusting
// X-Forwarded-For from loopback so that the test can speak for visitors
// from anywhere.
func startServer(t *testing.T, env ...string) *server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := loadConfig(t, append([]string{
		"SHORTLINKS_LISTEN=" + ln.Addr().String(), "SHORTLINKS_BASE_URL=" + base,
		"SHORTLINKS_TRUSTED_PROXIES=127.0.0.1/32", "SHORTLINKS_LOG_REQUESTS=none",
		"SHORTLINKS_ANALYTICS_FLUSH_INTERVAL=200ms", "SHORTLINKS_RATE_LIMIT_CREATE=0",
		"SHORTLINKS_SHUTDOWN_TIMEOUT=2s",
	}, env...)...)
	a, err := app.New(t.Context(), cfg, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})), app.Telemetry{})
	if err != nil {
		ln.Close()
		t.Fatalf("app.New: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx, ln) }()
	t.Cleanup(func() {
		stop()
		<-served
		a.Close()
	})
	return &server{url: base, app: a}
}

// link creates a link with a new key and returns its code and the key.
func (s *server) link(t *testing.T) (code, key string) {
	t.Helper()
	_, key, err := s.app.Keys().Create(t.Context(), "analytics", false)
	if err != nil {
		t.Fatal(err)
	}
	l, err := httpapi.NewClient(s.url, key, http.DefaultClient).Create(t.Context(), httpapi.CreateRequest{URL: "https://example.com/landing"})
	if err != nil {
		t.Fatal(err)
	}
	return l.Code, key
}

var noFollow = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// send follows the short link once for each visit, spread over servers,
// from a few goroutines, and fails the test unless every one redirects.
func send(t *testing.T, servers []*server, code string, vs []visit) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(vs))
	const workers = 4
	for g := range workers {
		wg.Go(func() {
			for i := g; i < len(vs); i += workers {
				v := vs[i]
				r, _ := http.NewRequest(http.MethodGet, servers[i%len(servers)].url+"/"+code, nil)
				r.Header.Set("User-Agent", agents[v.agent].ua)
				r.Header.Set("Accept-Language", "en-GB,en;q=0.8")
				if h := referrers[v.referrer].header; h != "" {
					r.Header.Set("Referer", h)
				}
				r.Header.Set("X-Forwarded-For", addresses[v.address].addr)
				rsp, err := noFollow.Do(r)
				if err != nil {
					errs <- err
					continue
				}
				rsp.Body.Close()
				if rsp.StatusCode != http.StatusFound {
					errs <- fmt.Errorf("visit %d: status %d", i, rsp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("redirect failed: %v", err)
	}
}

// stats reads the link's stats from s.
func (s *server) stats(t *testing.T, code, key string) httpapi.StatsJSON {
	t.Helper()
	st, err := httpapi.NewClient(s.url, key, http.DefaultClient).Stats(t.Context(), code, time.Time{}, time.Time{}, "hour")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitCounted waits until s reports w's totals for the link, then checks
// every breakdown exactly. It fails at once if more were counted than
// sent: a click counted twice.
func waitCounted(t *testing.T, s *server, code, key string, w want, limit time.Duration) {
	t.Helper()
	var st httpapi.StatsJSON
	for deadline := time.Now().Add(limit); ; time.Sleep(200 * time.Millisecond) {
		st = s.stats(t, code, key)
		if st.Clicks > w.humans || st.BotClicks > w.bots {
			t.Fatalf("counted %d people and %d bots; only %d and %d visited", st.Clicks, st.BotClicks, w.humans, w.bots)
		}
		if st.Clicks == w.humans && st.BotClicks == w.bots {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %d people and %d bots counted, want %d and %d", limit, st.Clicks, st.BotClicks, w.humans, w.bots)
		}
	}
	var series int64
	for _, p := range st.Series {
		series += p.Clicks
	}
	if series != w.humans {
		t.Errorf("the series sums to %d, want %d", series, w.humans)
	}
	for _, b := range []struct {
		name string
		got  []analytics.Row
		want map[string]int64
	}{
		{"referrers", st.Referrers, w.referrers}, {"countries", st.Countries, w.countries}, {"browsers", st.Browsers, w.browsers},
	} {
		got := map[string]int64{}
		for _, r := range b.got {
			got[r.Value] = r.Clicks
		}
		if !maps.Equal(got, b.want) {
			t.Errorf("%s: %v, want %v", b.name, got, b.want)
		}
	}
}

// metric reads one unlabelled sample from s's /metrics.
func (s *server) metric(t *testing.T, name string) float64 {
	t.Helper()
	rsp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer rsp.Body.Close()
	sc := bufio.NewScanner(rsp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return 0
}

// TestExactStatsSQLite: the embedded default, with a GeoIP database.
func TestExactStatsSQLite(t *testing.T) {
	dir := t.TempDir()
	s := startServer(t, "SHORTLINKS_DATABASE_URL=sqlite:"+filepath.Join(dir, "links.db"),
		"SHORTLINKS_GEOIP_DB="+geotest.WriteCountryDB(t, dir, geoNetworks))
	code, key := s.link(t)
	vs := traffic(600)
	send(t, []*server{s}, code, vs)
	waitCounted(t, s, code, key, expect(vs), 10*time.Second)
	if d := s.metric(t, "shortlinks_clicks_dropped_total"); d != 0 {
		t.Errorf("%v clicks dropped", d)
	}
	if n := s.metric(t, "shortlinks_clicks_enqueued_total"); n != 600 {
		t.Errorf("%v clicks enqueued, want 600", n)
	}
}

// requireSlow skips the suites that take a minute unless asked for.
func requireSlow(t *testing.T) {
	t.Helper()
	if os.Getenv("SHORTLINKS_TEST_ANALYTICS") != "1" {
		t.Skip("set SHORTLINKS_TEST_ANALYTICS=1 (make test-analytics) for the PostgreSQL and Redis suites")
	}
}

var build struct {
	once sync.Once
	bin  string
	err  error
	out  []byte
}

// binary builds shortlinks once for the tests that run it as a process.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "shortlinks-analytics-bin-")
		if err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(dir, "shortlinks")
		build.out, build.err = exec.Command("go", "build", "-o", build.bin, "github.com/shortlinks/shortlinks/cmd/shortlinks").CombinedOutput()
	})
	if build.err != nil {
		t.Fatalf("build: %v\n%s", build.err, build.out)
	}
	return build.bin
}

// worker is 'shortlinks worker' as a process.
type worker struct {
	t    *testing.T
	cmd  *exec.Cmd
	env  []string
	addr string
	log  *servicetest.Buffer
}

func startWorker(t *testing.T, env ...string) *worker {
	t.Helper()
	w := &worker{t: t, addr: servicetest.FreeAddr(t), log: &servicetest.Buffer{}}
	w.env = append(append(os.Environ(), env...), "SHORTLINKS_WORKER_LISTEN="+w.addr, "SHORTLINKS_LOG_LEVEL=warn",
		"SHORTLINKS_ANALYTICS_CLAIM_IDLE=3s", "SHORTLINKS_SHUTDOWN_TIMEOUT=5s")
	w.start()
	t.Cleanup(func() {
		w.kill()
		if t.Failed() {
			t.Logf("worker log:\n%s", w.log)
		}
	})
	return w
}

func (w *worker) start() {
	w.t.Helper()
	w.cmd = exec.Command(binary(w.t), "worker")
	w.cmd.Env = w.env
	w.cmd.Stdout, w.cmd.Stderr = w.log, w.log
	if err := w.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	servicetest.Eventually(w.t, 20*time.Second, "worker ready", func() error {
		rsp, err := http.Get("http://" + w.addr + "/readyz")
		if err != nil {
			return err
		}
		rsp.Body.Close()
		if rsp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", rsp.StatusCode)
		}
		return nil
	})
}

func (w *worker) kill() {
	if w.cmd == nil {
		return
	}
	w.cmd.Process.Signal(syscall.SIGKILL)
	w.cmd.Wait()
	w.cmd = nil
}

// stop sends SIGTERM and waits for the worker to finish its batch and exit.
func (w *worker) stop() {
	w.t.Helper()
	w.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			w.t.Errorf("worker exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		w.t.Error("worker still running 15s after SIGTERM")
		w.cmd.Process.Kill()
		<-done
	}
	w.cmd = nil
}

// TestExactStatsWithWorkers: two instances publish to Redis, two workers
// write to PostgreSQL; one worker is killed with SIGKILL mid-stream and
// restarted, the other stopped gracefully and restarted. Every click is
// counted exactly once.
func TestExactStatsWithWorkers(t *testing.T) {
	requireSlow(t)
	dsn := pgtest.Database(t)
	redisURL := servicetest.Redis(t)
	prefix := redistest.Prefix(t, redisURL)
	geo := geotest.WriteCountryDB(t, t.TempDir(), geoNetworks)
	env := []string{"SHORTLINKS_DATABASE_URL=" + dsn, "SHORTLINKS_REDIS_URL=" + redisURL, "SHORTLINKS_REDIS_KEY_PREFIX=" + prefix,
		"SHORTLINKS_GEOIP_DB=" + geo, "SHORTLINKS_AUTO_MIGRATE=true"}
	a := startServer(t, env...)
	b := startServer(t, env...)
	servers := []*server{a, b}
	code, key := a.link(t)

	w1 := startWorker(t, env...)
	w2 := startWorker(t, env...)
	vs := traffic(3000)
	third := len(vs) / 3
	done := make(chan struct{})
	go func() {
		defer close(done)
		send(t, servers, code, vs[:third])
	}()
	time.Sleep(300 * time.Millisecond)
	w1.kill() // mid-stream: whatever it read and did not acknowledge is claimed by w2
	<-done
	send(t, servers, code, vs[third:2*third])
	w1.start()
	w2.stop() // finishes its batch, acknowledges, exits
	send(t, servers, code, vs[2*third:])
	w2.start()
	waitCounted(t, a, code, key, expect(vs), 60*time.Second)
	// Both instances read the same figures.
	if st := b.stats(t, code, key); st.Clicks != expect(vs).humans {
		t.Errorf("the other instance reads %d clicks", st.Clicks)
	}
	for _, s := range servers {
		if d := s.metric(t, "shortlinks_clicks_dropped_total"); d != 0 {
			t.Errorf("%v clicks dropped", d)
		}
	}
}

// TestRedisStoppedUnderTraffic: while Redis is down, redirects all succeed
// and instances keep their clicks; when it is back, they are published and
// counted, none lost.
func TestRedisStoppedUnderTraffic(t *testing.T) {
	requireSlow(t)
	dsn := pgtest.Database(t)
	rs := redistest.Start(t)
	geo := geotest.WriteCountryDB(t, t.TempDir(), geoNetworks)
	env := []string{"SHORTLINKS_DATABASE_URL=" + dsn, "SHORTLINKS_REDIS_URL=" + rs.URL(), "SHORTLINKS_AUTO_MIGRATE=true", "SHORTLINKS_GEOIP_DB=" + geo}
	s := startServer(t, env...)
	code, key := s.link(t)
	startWorker(t, env...)

	vs := traffic(1500)
	first, second, third := vs[:500], vs[500:1000], vs[1000:]
	send(t, []*server{s}, code, first)
	waitCounted(t, s, code, key, expect(first), 30*time.Second)

	rs.Stop()
	send(t, []*server{s}, code, second) // every one must redirect
	servicetest.Eventually(t, 5*time.Second, "clicks held and failed publishes counted while Redis is down", func() error {
		if b, e := s.metric(t, "shortlinks_clicks_buffered"), s.metric(t, "shortlinks_analytics_publish_errors_total"); b == 0 || e == 0 {
			return fmt.Errorf("%v buffered, %v publish errors", b, e)
		}
		return nil
	})
	rs.Restart() // empty: the worker makes its group again
	send(t, []*server{s}, code, third)
	waitCounted(t, s, code, key, expect(vs), 60*time.Second)
	if d := s.metric(t, "shortlinks_clicks_dropped_total"); d != 0 {
		t.Errorf("%v clicks dropped", d)
	}
}
