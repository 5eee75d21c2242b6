package app_test

import (
	"log/slog"
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

// TestCacheTTLChosen checks the in-process cache TTL each deployment gets
// when --cache-ttl is left at 0s: long where the instance hears of every
// edit (one SQLite process; instances sharing Redis), a minute where it
// does not (PostgreSQL alone), and what is asked for when it is set.
func TestCacheTTLChosen(t *testing.T) {
	postgres := func(t *testing.T) func(*config.Config) {
		dsn := pgtest.Database(t)
		return func(c *config.Config) { c.DatabaseURL, c.DatabaseMaxConns, c.AutoMigrate = dsn, 4, true }
	}
	redis := func(t *testing.T) func(*config.Config) {
		url := servicetest.Redis(t)
		prefix := redistest.Prefix(t, url)
		return func(c *config.Config) { c.RedisURL, c.RedisKeyPrefix = url, prefix }
	}
	for _, tc := range []struct {
		name string
		set  func(t *testing.T) []func(*config.Config)
		want time.Duration
	}{
		{"sqlite", func(*testing.T) []func(*config.Config) { return nil }, 10 * time.Minute},
		{"sqlite, set", func(*testing.T) []func(*config.Config) {
			return []func(*config.Config){func(c *config.Config) { c.CacheTTL = 90 * time.Second }}
		}, 90 * time.Second},
		{"postgres alone", func(t *testing.T) []func(*config.Config) {
			return []func(*config.Config){postgres(t)}
		}, time.Minute},
		{"postgres+redis", func(t *testing.T) []func(*config.Config) {
			return []func(*config.Config){postgres(t), redis(t)}
		}, 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := apptest.Start(t, slog.New(slog.DiscardHandler), app.Telemetry{}, tc.set(t)...)
			if got := cacheTTL(t, s.URL); got != tc.want {
				t.Fatalf("shortlinks_cache_ttl_seconds = %v, want %v", got, tc.want)
			}
		})
	}
}

// cacheTTL reads the cache TTL a server reports in its metrics.
func cacheTTL(t *testing.T, base string) time.Duration {
	t.Helper()
	for _, line := range strings.Split(metricsText(t, base), "\n") {
		if v, ok := strings.CutPrefix(line, "shortlinks_cache_ttl_seconds "); ok {
			d, err := time.ParseDuration(v + "s")
			if err != nil {
				t.Fatalf("shortlinks_cache_ttl_seconds %q: %v", v, err)
			}
			return d
		}
	}
	t.Fatal("no shortlinks_cache_ttl_seconds in /metrics")
	return 0
}
