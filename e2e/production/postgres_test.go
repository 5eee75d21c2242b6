package production

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// TestPostgresServersDown runs the real service over a real primary and a
// streaming replica, stops each in turn, and checks what a client sees.
func TestPostgresServersDown(t *testing.T) {
	primary := pgtest.StartPrimary(t)
	dsn := primary.Database(t)
	replica := primary.StartReplica(t)
	replicaDSN := replica.URL(pgtest.DBName(dsn))
	// A long cache TTL: links cached at the start must still be cached at
	// the end, however slow the machine.
	base := apptest.Serve(t, func(c *config.Config) {
		c.DatabaseURL, c.DatabaseReplicaURLs, c.AutoMigrate = dsn, []string{replicaDSN}, true
		c.DatabaseTimeout, c.DatabaseMaxConns, c.CacheTTL = time.Second, 8, 10*time.Minute
	})
	client := httpapi.NewClient(base, "", apptest.NoRedirects)

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
		servicetest.Eventually(t, 5*time.Second, "insert "+code, func() error {
			_, err := other.Insert(t.Context(), link.Link{Code: link.Code(code), URL: url, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)})
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
	apptest.MustRedirect(t, base, cached.Code, cached.URL)
	insertElsewhere(t, "replicated", "https://example.com/replicated")
	primary.WaitReplayed(t, replica)

	if status, r := apptest.Ready(t, base); status != http.StatusOK ||
		r.States("database", "database-primary", "database-replica-1") != "database=up database-primary=up database-replica-1=up" {
		t.Fatalf("/readyz with everything up = %d %+v", status, r)
	}

	t.Run("JustCreatedResolves", func(t *testing.T) {
		conn := replica.Conn(t, "postgres")
		if _, err := conn.Exec(t.Context(), `SELECT pg_wal_replay_pause()`); err != nil {
			t.Fatal(err)
		}
		defer conn.Exec(context.Background(), `SELECT pg_wal_replay_resume()`)
		insertElsewhere(t, "justmade", "https://example.com/justmade")
		apptest.MustRedirect(t, base, "justmade", "https://example.com/justmade")
	})
	primary.WaitReplayed(t, replica)

	t.Run("ReplicaLost", func(t *testing.T) {
		replica.Stop(t)
		insertElsewhere(t, "viaprimary", "https://example.com/viaprimary")
		apptest.MustRedirect(t, base, "viaprimary", "https://example.com/viaprimary")
		apptest.MustRedirect(t, base, "replicated", "https://example.com/replicated")
		status, r := apptest.Ready(t, base)
		if status != http.StatusOK || r.Status != "ready" ||
			r.States("database", "database-primary", "database-replica-1") != "database=up database-primary=up database-replica-1=down" {
			t.Fatalf("/readyz with the replica down = %d %+v", status, r)
		}
		replica.Start(t)
		servicetest.Eventually(t, 10*time.Second, "the replica is reported up again", func() error {
			if _, r := apptest.Ready(t, base); r.Checks["database-replica-1"].Status != "up" {
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

		apptest.MustRedirect(t, base, cached.Code, cached.URL)
		apptest.MustRedirect(t, base, "replicated", "https://example.com/replicated")
		apptest.MustRedirect(t, base, "beforeloss", "https://example.com/beforeloss")
		if status, _ := apptest.Resolve(t, base, "neverwas"); status != http.StatusNotFound {
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
		status, r := apptest.Ready(t, base)
		if status != http.StatusOK || r.Status != "ready" ||
			r.States("database", "database-primary", "database-replica-1") != "database=up database-primary=down database-replica-1=up" {
			t.Fatalf("/readyz with the primary down = %d %+v", status, r)
		}

		primary.Start(t)
		var after httpapi.LinkJSON
		servicetest.Eventually(t, 15*time.Second, "creates work again", func() error {
			after, err = client.Create(t.Context(), httpapi.CreateRequest{URL: "https://example.com/after"})
			return err
		})
		apptest.MustRedirect(t, base, after.Code, after.URL)
		if status, r := apptest.Ready(t, base); status != http.StatusOK || r.Checks["database-primary"].Status != "up" {
			t.Fatalf("/readyz after the primary came back = %d %+v", status, r)
		}
	})

	t.Run("AllLost", func(t *testing.T) {
		insertElsewhere(t, "uncached", "https://example.com/uncached")
		primary.WaitReplayed(t, replica)
		replica.Stop(t)
		primary.Stop(t)
		apptest.MustRedirect(t, base, cached.Code, cached.URL) // the in-process cache still answers
		if status, _ := apptest.Resolve(t, base, "uncached"); status != http.StatusServiceUnavailable {
			t.Fatalf("GET of an uncached link with every server down = %d, want 503", status)
		}
		if status, r := apptest.Ready(t, base); status != http.StatusServiceUnavailable || r.Checks["database"].Status != "down" {
			t.Fatalf("/readyz with every server down = %d %+v, want 503", status, r)
		}
	})
}

// TestTwoInstancesCreateConcurrently starts two `shortlinks serve` processes
// on one PostgreSQL database, both migrating it at once, and has them
// create 10,000 links concurrently: no code may be issued twice, and every
// acknowledged link must resolve from both instances.
func TestTwoInstancesCreateConcurrently(t *testing.T) {
	dsn := pgtest.Database(t)
	bin := apptest.Binary(t)
	args := []string{"--database-url", dsn, "--auto-migrate", "--database-max-conns", "8",
		"--rate-limit-create", "0", "--log-requests", "none", "--log-level", "warn"}
	a := apptest.StartServe(t, bin, args...)
	b := apptest.StartServe(t, bin, args...)
	start := time.Now()
	a.WaitReady(t)
	b.WaitReady(t)
	t.Logf("both instances migrated the database together and were ready in %v", time.Since(start).Round(time.Millisecond))
	instances := []*apptest.Process{a, b}

	const total, workers = 10_000, 16
	type created struct{ code, url string }
	results := make([][]created, workers)
	errs := make([]error, workers)
	start = time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < total; i += workers {
				client := httpapi.NewClient(instances[i%2].URL, "", apptest.NoRedirects)
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
					resp, err := apptest.NoRedirects.Get(p.URL + "/" + all[i].code)
					if err != nil {
						failures[w] = err
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != all[i].url {
						failures[w] = fmt.Errorf("GET %s/%s = %d %q, want 302 %q", p.URL, all[i].code, resp.StatusCode, resp.Header.Get("Location"), all[i].url)
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
