package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/store/postgres"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
	"github.com/shortlinks/shortlinks/internal/testenv"
)

// testConfig is the default configuration on a new SQLite database in a
// temporary directory, as set changes it.
func testConfig(t *testing.T, set ...func(*config.Config)) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = "sqlite:" + filepath.Join(t.TempDir(), "links.db")
	for _, f := range set {
		f(&cfg)
	}
	return cfg
}

// serveApp runs the real service, without rate limits or access logs, on a
// loopback port until the test ends and returns its base URL.
func serveApp(t *testing.T, set ...func(*config.Config)) string {
	t.Helper()
	quiet := func(c *config.Config) { c.CreateRate, c.LogRequests = 0, "none" }
	return startApp(t, slog.New(slog.DiscardHandler), app.Telemetry{}, append([]func(*config.Config){quiet}, set...)...).base
}

// noRedirects is an HTTP client that reports redirects instead of following
// them.
var noRedirects = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
}

// resolve asks base to redirect code and returns the status and Location.
func resolve(t *testing.T, base, code string) (int, string) {
	t.Helper()
	resp, err := noRedirects.Get(base + "/" + code)
	if err != nil {
		t.Fatalf("GET /%s: %v", code, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func mustRedirect(t *testing.T, base, code, want string) {
	t.Helper()
	if status, loc := resolve(t, base, code); status != http.StatusFound || loc != want {
		t.Fatalf("GET /%s = %d %q, want 302 %q", code, status, loc, want)
	}
}

type readiness struct {
	Status string `json:"status"`
	Checks map[string]struct {
		Status   string `json:"status"`
		Critical bool   `json:"critical"`
	} `json:"checks"`
}

func ready(t *testing.T, base string) (int, readiness) {
	t.Helper()
	resp, err := noRedirects.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r readiness
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, r
}

// checkStates returns the state of each named check, as "name=up".
func checkStates(r readiness, names ...string) string {
	var out []string
	for _, n := range names {
		out = append(out, n+"="+r.Checks[n].Status)
	}
	return strings.Join(out, " ")
}

// TestPostgresSchemaBehind checks that serve refuses a PostgreSQL schema
// that is behind, saying what to run, and migrates it when asked to.
func TestPostgresSchemaBehind(t *testing.T) {
	dsn := pgtest.Database(t)
	onPostgres := func(c *config.Config) { c.DatabaseURL, c.DatabaseMaxConns = dsn, 4 }
	_, err := app.New(t.Context(), testConfig(t, onPostgres), slog.New(slog.DiscardHandler), app.Telemetry{})
	if err == nil || !strings.Contains(err.Error(), "shortlinks migrate") {
		t.Fatalf("New on an empty PostgreSQL database = %v, want an error that says to run 'shortlinks migrate'", err)
	}
	base := serveApp(t, onPostgres, func(c *config.Config) { c.AutoMigrate = true })
	l, err := httpapi.NewClient(base, "", nil).Create(t.Context(), httpapi.CreateRequest{URL: "https://example.com/migrated"})
	if err != nil {
		t.Fatal(err)
	}
	mustRedirect(t, base, l.Code, l.URL)
	if status, r := ready(t, base); status != http.StatusOK || r.Checks["database"].Status != "up" || !r.Checks["database"].Critical {
		t.Fatalf("/readyz = %d %+v, want ready with a critical database check", status, r)
	}
}

// TestPostgresFailover runs the real service over a real primary and a
// streaming replica, stops each in turn, and checks what a client sees.
func TestPostgresFailover(t *testing.T) {
	primary := pgtest.StartPrimary(t)
	dsn := primary.Database(t)
	replica := primary.StartReplica(t)
	replicaDSN := replica.URL(pgtest.DBName(dsn))
	// A long cache TTL: links cached at the start must still be cached at
	// the end, however slow the machine.
	base := serveApp(t, func(c *config.Config) {
		c.DatabaseURL, c.DatabaseReplicaURLs, c.AutoMigrate = dsn, []string{replicaDSN}, true
		c.DatabaseTimeout, c.DatabaseMaxConns, c.CacheTTL = time.Second, 8, 10*time.Minute
	})
	client := httpapi.NewClient(base, "", noRedirects)

	// other stands for another instance: links it makes are not in this
	// instance's cache.
	other, err := postgres.Open(t.Context(), postgres.Options{URL: dsn, MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	insertElsewhere := func(t *testing.T, code, url string) {
		t.Helper()
		// Like any instance, other may fail a request once on a connection
		// that a restart of the primary has cut, before it notices.
		testenv.Eventually(t, 5*time.Second, "insert "+code, func() error {
			err := other.Insert(t.Context(), link.Link{Code: link.Code(code), URL: url, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)})
			if errors.Is(err, link.ErrCodeTaken) {
				return nil // an earlier try went through after all
			}
			return err
		})
	}

	cached, err := client.Create(t.Context(), httpapi.CreateRequest{URL: "https://example.com/cached"})
	if err != nil {
		t.Fatal(err)
	}
	mustRedirect(t, base, cached.Code, cached.URL)
	insertElsewhere(t, "replicated", "https://example.com/replicated")
	primary.WaitReplayed(t, replica)

	if status, r := ready(t, base); status != http.StatusOK ||
		checkStates(r, "database", "database-primary", "database-replica-1") != "database=up database-primary=up database-replica-1=up" {
		t.Fatalf("/readyz with everything up = %d %+v", status, r)
	}

	t.Run("JustCreatedResolves", func(t *testing.T) {
		conn := replica.Conn(t, "postgres")
		if _, err := conn.Exec(t.Context(), `SELECT pg_wal_replay_pause()`); err != nil {
			t.Fatal(err)
		}
		defer conn.Exec(context.Background(), `SELECT pg_wal_replay_resume()`)
		insertElsewhere(t, "justmade", "https://example.com/justmade")
		mustRedirect(t, base, "justmade", "https://example.com/justmade")
	})
	primary.WaitReplayed(t, replica)

	t.Run("ReplicaLost", func(t *testing.T) {
		replica.Stop(t)
		insertElsewhere(t, "viaprimary", "https://example.com/viaprimary")
		mustRedirect(t, base, "viaprimary", "https://example.com/viaprimary")
		mustRedirect(t, base, "replicated", "https://example.com/replicated")
		status, r := ready(t, base)
		if status != http.StatusOK || r.Status != "ready" ||
			checkStates(r, "database", "database-primary", "database-replica-1") != "database=up database-primary=up database-replica-1=down" {
			t.Fatalf("/readyz with the replica down = %d %+v", status, r)
		}
		replica.Start(t)
		testenv.Eventually(t, 10*time.Second, "the replica is reported up again", func() error {
			if _, r := ready(t, base); r.Checks["database-replica-1"].Status != "up" {
				return errors.New("replica still down")
			}
			return nil
		})
	})
	primary.WaitReplayed(t, replica)

	t.Run("PrimaryLost", func(t *testing.T) {
		insertElsewhere(t, "beforeloss", "https://example.com/beforeloss")
		primary.WaitReplayed(t, replica)
		primary.Stop(t)

		mustRedirect(t, base, cached.Code, cached.URL)
		mustRedirect(t, base, "replicated", "https://example.com/replicated")
		mustRedirect(t, base, "beforeloss", "https://example.com/beforeloss")
		if status, _ := resolve(t, base, "neverwas"); status != http.StatusNotFound {
			t.Fatalf("GET /neverwas with the primary down = %d, want 404", status)
		}

		start := time.Now()
		_, err := client.Create(t.Context(), httpapi.CreateRequest{URL: "https://example.com/refused"})
		var apiErr *httpapi.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != http.StatusServiceUnavailable || apiErr.Code != "storage_unavailable" {
			t.Fatalf("create with the primary down = %v, want 503 storage_unavailable", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("create with the primary down took %v to fail", d)
		}
		status, r := ready(t, base)
		if status != http.StatusOK || r.Status != "ready" ||
			checkStates(r, "database", "database-primary", "database-replica-1") != "database=up database-primary=down database-replica-1=up" {
			t.Fatalf("/readyz with the primary down = %d %+v", status, r)
		}

		primary.Start(t)
		var after httpapi.Link
		testenv.Eventually(t, 15*time.Second, "creates work again", func() error {
			after, err = client.Create(t.Context(), httpapi.CreateRequest{URL: "https://example.com/after"})
			return err
		})
		mustRedirect(t, base, after.Code, after.URL)
		if status, r := ready(t, base); status != http.StatusOK || r.Checks["database-primary"].Status != "up" {
			t.Fatalf("/readyz after the primary came back = %d %+v", status, r)
		}
	})

	t.Run("AllLost", func(t *testing.T) {
		insertElsewhere(t, "uncached", "https://example.com/uncached")
		primary.WaitReplayed(t, replica)
		replica.Stop(t)
		primary.Stop(t)
		mustRedirect(t, base, cached.Code, cached.URL) // the in-process cache still answers
		if status, _ := resolve(t, base, "uncached"); status != http.StatusServiceUnavailable {
			t.Fatalf("GET of an uncached link with every server down = %d, want 503", status)
		}
		if status, r := ready(t, base); status != http.StatusServiceUnavailable || r.Checks["database"].Status != "down" {
			t.Fatalf("/readyz with every server down = %d %+v, want 503", status, r)
		}
	})
}

// buildBinary builds cmd/shortlinks into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	gobin := testenv.Binary(t, "go")
	bin := filepath.Join(t.TempDir(), "shortlinks")
	start := time.Now()
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/shortlinks/shortlinks/cmd/shortlinks")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built shortlinks in %v", time.Since(start).Round(time.Millisecond))
	return bin
}

// process is a running `shortlinks serve`.
type process struct {
	base   string
	logs   testenv.Buffer
	cmd    *exec.Cmd
	exited chan struct{}
}

// startServe starts `shortlinks serve` with args on a free loopback port.
// It stops the process when the test ends and shows its log if the test
// failed. Use waitReady before sending it requests.
func startServe(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	addr := testenv.FreeAddr(t)
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr}, args...)...)
	// The server dies with the test process even if cleanup never runs.
	return startProcess(t, "serve at "+addr, "http://"+addr, cmd, syscall.SIGKILL)
}

// startProcess starts cmd, which serves HTTP at base. It is sent deathSig
// if the test process dies, and SIGTERM (then SIGKILL after 20 s) when the
// test ends; its output is shown if the test failed.
func startProcess(t *testing.T, what, base string, cmd *exec.Cmd, deathSig syscall.Signal) *process {
	t.Helper()
	p := &process{base: base, cmd: cmd, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: deathSig}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal follows the thread that started the
		// process: keep this one until the process exits.
		runtime.LockOSThread()
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", what, p.logs.String())
		}
	})
	return p
}

func (p *process) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := noRedirects.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-p.exited:
			t.Fatalf("serve at %s exited while starting:\n%s", p.base, p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve at %s was not ready within a minute:\n%s", p.base, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTwoInstancesCreateConcurrently starts two `shortlinks serve` processes
// on one PostgreSQL database, both migrating it at once, and has them
// create 10,000 links concurrently: no code may be issued twice, and every
// acknowledged link must resolve from both instances.
func TestTwoInstancesCreateConcurrently(t *testing.T) {
	dsn := pgtest.Database(t)
	bin := buildBinary(t)
	args := []string{"--database-url", dsn, "--auto-migrate", "--database-max-conns", "8",
		"--rate-limit-create", "0", "--log-requests", "none", "--log-level", "warn"}
	a := startServe(t, bin, args...)
	b := startServe(t, bin, args...)
	start := time.Now()
	a.waitReady(t)
	b.waitReady(t)
	t.Logf("both instances migrated the database together and were ready in %v", time.Since(start).Round(time.Millisecond))
	instances := []*process{a, b}

	const total, workers = 10_000, 16
	type created struct{ code, url string }
	results := make([][]created, workers)
	errs := make([]error, workers)
	start = time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < total; i += workers {
				client := httpapi.NewClient(instances[i%2].base, "", noRedirects)
				l, err := client.Create(t.Context(), httpapi.CreateRequest{URL: fmt.Sprintf("https://example.com/load/%d", i)})
				if err != nil {
					errs[w] = fmt.Errorf("create %d on instance %d: %w", i, i%2, err)
					return
				}
				results[w] = append(results[w], created{l.Code, l.URL})
			}
		})
	}
	wg.Wait()
	createTime := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	urls := make(map[string]string, total)
	var all []created
	duplicates := 0
	for _, rs := range results {
		for _, c := range rs {
			if _, seen := urls[c.code]; seen {
				duplicates++
			}
			urls[c.code] = c.url
			all = append(all, c)
		}
	}
	t.Logf("created %d links through two instances in %v (%.0f/s); %d duplicate codes",
		len(all), createTime.Round(time.Millisecond), float64(len(all))/createTime.Seconds(), duplicates)
	if duplicates != 0 || len(all) != total {
		t.Fatalf("%d links acknowledged with %d duplicate codes, want %d and none", len(all), duplicates, total)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var stored int
	if err := conn.QueryRow(t.Context(), `SELECT count(*) FROM links`).Scan(&stored); err != nil || stored != total {
		t.Fatalf("the database holds %d links (%v), want %d", stored, err, total)
	}

	start = time.Now()
	failures := make([]error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(all); i += workers {
				for _, p := range instances {
					resp, err := noRedirects.Get(p.base + "/" + all[i].code)
					if err != nil {
						failures[w] = err
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != all[i].url {
						failures[w] = fmt.Errorf("GET %s/%s = %d %q, want 302 %q", p.base, all[i].code, resp.StatusCode, resp.Header.Get("Location"), all[i].url)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(failures...); err != nil {
		t.Fatal(err)
	}
	t.Logf("resolved all %d links from both instances in %v", len(all), time.Since(start).Round(time.Millisecond))
}
