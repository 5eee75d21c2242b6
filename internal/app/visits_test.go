package app_test

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// TestMaxVisitsAcrossInstances has two instances sharing PostgreSQL and
// Redis redirect one link with a visit limit, concurrently and from both:
// exactly the limit are redirected, every other visit answers 410
// link_exhausted, and so does each instance afterwards, even with the
// link in both caches.
func TestMaxVisitsAcrossInstances(t *testing.T) {
	dsn := pgtest.Database(t)
	redisURL := servicetest.Redis(t)
	prefix := redistest.Prefix(t, redisURL)
	shared := func(c *config.Config) {
		c.DatabaseURL, c.DatabaseMaxConns, c.AutoMigrate = dsn, 8, true
		c.RedisURL, c.RedisKeyPrefix = redisURL, prefix
		c.CreateRate, c.LogRequests = 0, "none"
	}
	log := slog.New(slog.DiscardHandler)
	a := apptest.Start(t, log, app.Telemetry{}, shared)
	b := apptest.Start(t, log, app.Telemetry{}, shared)

	const limit, perInstance = 40, 60
	code := apptest.Create(t, a.URL, `{"url":"https://example.com/limited","max_visits":40}`)
	var redirected, exhausted, other atomic.Int64
	var wg sync.WaitGroup
	for _, base := range []string{a.URL, b.URL} {
		for w := range 4 {
			wg.Go(func() {
				for range perInstance / 4 {
					r, err := apptest.Do(apptest.NoRedirects, http.MethodGet, base+"/"+code, "", "Accept", "application/json")
					switch {
					case err != nil:
						t.Error(err)
						return
					case r.Status == http.StatusFound && r.Header.Get("Location") == "https://example.com/limited":
						redirected.Add(1)
					case r.Status == http.StatusGone:
						exhausted.Add(1)
					default:
						other.Add(1)
						t.Errorf("worker %d on %s: %d %s", w, base, r.Status, r.Body)
					}
				}
			})
		}
	}
	wg.Wait()
	if redirected.Load() != limit || exhausted.Load() != 2*perInstance-limit || other.Load() != 0 {
		t.Fatalf("%d visits over two instances of a link limited to %d: %d redirected, %d exhausted, %d other",
			2*perInstance, limit, redirected.Load(), exhausted.Load(), other.Load())
	}
	for _, base := range []string{a.URL, b.URL} {
		r := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, base+"/"+code, "", "Accept", "application/json")
		if r.Status != http.StatusGone || !strings.Contains(string(r.Body), "link_exhausted") {
			t.Errorf("%s after the limit: %d %s", base, r.Status, r.Body)
		}
	}
}
