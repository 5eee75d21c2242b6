package app_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/audit"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// waitStatus polls GET base/code until it answers want, failing the test
// after within.
func waitStatus(t *testing.T, base, code string, want int, within time.Duration) apptest.Reply {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, base+"/"+code, "")
		if r.Status == want {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s/%s = %d %s after %v, want %d", base, code, r.Status, r.Body, within, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mustBeDisabled checks that r is the disabled link's answer: 410 with the
// code link_disabled.
func mustBeDisabled(t *testing.T, r apptest.Reply) {
	t.Helper()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || r.Status != http.StatusGone || body.Error.Code != "link_disabled" {
		t.Fatalf("disabled link answered %d %s, want 410 link_disabled", r.Status, r.Body)
	}
}

// disableEntries returns the audit log's link.disable entries by code.
func disableEntries(t *testing.T, a *app.App) map[string]audit.Entry {
	t.Helper()
	entries, _, err := a.Audit().List(t.Context(), audit.Filter{Action: audit.LinkDisable}, audit.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]audit.Entry{}
	for _, e := range entries {
		out[e.TargetID] = e
	}
	return out
}

// metricsText returns the text of base's /metrics.
func metricsText(t *testing.T, base string) string {
	t.Helper()
	r := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, base+"/metrics", "")
	return string(r.Body)
}

// TestListUpdateDisablesLiveLinks: links made before a blocklist update
// that covers their host (or a subdomain of it) stop redirecting once the
// list file changes, and answer 410 link_disabled; other links keep
// redirecting. Each disabling is in the audit log, with the list as the
// reason, and counted. With PostgreSQL and Redis, a second instance that
// has no list at all and had the link cached stops redirecting it too,
// told through the cache's invalidations.
func TestListUpdateDisablesLiveLinks(t *testing.T) {
	type setup struct {
		name  string
		start func(t *testing.T, list string) (withList, other *apptest.Server)
	}
	quiet := func(c *config.Config) { c.CreateRate, c.LogRequests = 0, "none" }
	log := slog.New(slog.DiscardHandler)
	setups := []setup{
		{"sqlite", func(t *testing.T, list string) (*apptest.Server, *apptest.Server) {
			return apptest.Start(t, log, app.Telemetry{}, quiet, func(c *config.Config) { c.Blocklists = []string{list} }), nil
		}},
		{"postgres+redis, two instances", func(t *testing.T, list string) (*apptest.Server, *apptest.Server) {
			dsn := pgtest.Database(t)
			redisURL := servicetest.Redis(t)
			prefix := redistest.Prefix(t, redisURL)
			shared := func(c *config.Config) {
				c.DatabaseURL, c.DatabaseMaxConns, c.AutoMigrate = dsn, 4, true
				c.RedisURL, c.RedisKeyPrefix = redisURL, prefix
			}
			a := apptest.Start(t, log, app.Telemetry{}, quiet, shared, func(c *config.Config) { c.Blocklists = []string{list} })
			b := apptest.Start(t, log, app.Telemetry{}, quiet, shared)
			return a, b
		}},
	}
	for _, s := range setups {
		t.Run(s.name, func(t *testing.T) {
			list := filepath.Join(t.TempDir(), "local.txt")
			if err := os.WriteFile(list, []byte("old.example\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			a, b := s.start(t, list)
			evil := apptest.Create(t, a.URL, `{"url":"https://evil.example/x"}`)
			sub := apptest.Create(t, a.URL, `{"url":"https://www.evil.example/y"}`)
			byRule := apptest.Create(t, a.URL, `{"url":"https://fine.example/r","rules":[{"when":{"device":"ios"},"url":"https://evil.example/app"}]}`)
			fine := apptest.Create(t, a.URL, `{"url":"https://fine.example/"}`)
			apptest.MustRedirect(t, a.URL, evil, "https://evil.example/x")
			if b != nil {
				// b caches the link before the list changes.
				apptest.MustRedirect(t, b.URL, evil, "https://evil.example/x")
			}

			if err := os.WriteFile(list, []byte("old.example\nevil.example\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			mustBeDisabled(t, waitStatus(t, a.URL, evil, http.StatusGone, 30*time.Second))
			for _, c := range []string{sub, byRule} {
				mustBeDisabled(t, waitStatus(t, a.URL, c, http.StatusGone, 10*time.Second))
			}
			apptest.MustRedirect(t, a.URL, fine, "https://fine.example/")
			if b != nil {
				// Within the cache's staleness bound; the invalidation
				// message makes it far sooner.
				mustBeDisabled(t, waitStatus(t, b.URL, evil, http.StatusGone, config.Default().LinkCacheTTL(true)))
				apptest.MustRedirect(t, b.URL, fine, "https://fine.example/")
			}

			// A link stops redirecting as soon as it is disabled; its audit
			// entry is written just after, so wait for all three.
			var entries map[string]audit.Entry
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				entries = disableEntries(t, a.App)
				_, e1 := entries[evil]
				_, e2 := entries[sub]
				_, e3 := entries[byRule]
				if e1 && e2 && e3 || time.Now().After(deadline) {
					break
				}
			}
			for _, c := range []string{evil, sub, byRule} {
				e, ok := entries[c]
				if !ok {
					t.Errorf("no audit entry for disabling %s; entries %v", c, entries)
					continue
				}
				if e.ActorUserID != 0 || e.ActorKeyID != 0 || e.Detail["reason"] != "on the blocklist local" || e.Detail["cause"] != "blocklist" {
					t.Errorf("audit entry for %s: %+v", c, e)
				}
			}
			if _, ok := entries[fine]; ok || len(entries) != 3 {
				t.Errorf("audit entries %v, want %s, %s and %s only", entries, evil, sub, byRule)
			}
			if m := metricsText(t, a.URL); !strings.Contains(m, `shortlinks_links_auto_disabled_total{cause="blocklist"} 3`) {
				t.Errorf("metrics lack 3 links disabled by the blocklist:\n%s", grepLines(m, "auto_disabled"))
			}
			// The API shows why.
			var got struct {
				Disabled       bool   `json:"disabled"`
				DisabledReason string `json:"disabled_reason"`
			}
			key := adminKey(t, a.App)
			r := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, a.URL+"/api/v1/links/"+evil, "", "Authorization", "Bearer "+key)
			if err := json.Unmarshal(r.Body, &got); err != nil || !got.Disabled || got.DisabledReason != "on the blocklist local" {
				t.Errorf("GET /api/v1/links/%s = %d %s", evil, r.Status, r.Body)
			}
		})
	}
}

// adminKey makes an admin API key on a's database.
func adminKey(t *testing.T, a *app.App) string {
	t.Helper()
	_, secret, err := a.Keys().Create(t.Context(), "test", true)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestSafeBrowsingVerdictDisablesLink: a link whose URL Safe Browsing
// finds on a threat list after the create redirects until the verdict
// comes, then answers 410 link_disabled; the audit log says why.
func TestSafeBrowsingVerdictDisablesLink(t *testing.T) {
	var mu sync.Mutex
	release := make(chan struct{})
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ThreatInfo struct {
				ThreatEntries []struct{ URL string } `json:"threatEntries"`
			} `json:"threatInfo"`
		}
		body, _ := io.ReadAll(r.Body)
		if r.URL.Query().Get("key") != "test-key" || json.Unmarshal(body, &req) != nil {
			http.Error(w, `{"error":{"code":400,"status":"INVALID_ARGUMENT"}}`, http.StatusBadRequest)
			return
		}
		<-release // the verdict comes after the test saw the link redirect
		var matches []map[string]any
		mu.Lock()
		for _, e := range req.ThreatInfo.ThreatEntries {
			if strings.Contains(e.URL, "malware") {
				matches = append(matches, map[string]any{"threatType": "SOCIAL_ENGINEERING", "platformType": "ANY_PLATFORM",
					"threatEntryType": "URL", "threat": map[string]string{"url": e.URL}, "cacheDuration": "300s"})
			}
		}
		mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"matches": matches})
	}))
	t.Cleanup(fake.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	s := apptest.Start(t, slog.New(slog.DiscardHandler), app.Telemetry{}, func(c *config.Config) {
		c.CreateRate, c.LogRequests = 0, "none"
		c.SafeBrowsing = config.SafeBrowsing{Key: "test-key", Endpoint: fake.URL}
	})
	bad := apptest.Create(t, s.URL, `{"url":"https://malware.example/payload"}`)
	good := apptest.Create(t, s.URL, `{"url":"https://fine.example/"}`)
	apptest.MustRedirect(t, s.URL, bad, "https://malware.example/payload")
	close(release)
	mustBeDisabled(t, waitStatus(t, s.URL, bad, http.StatusGone, 30*time.Second))
	apptest.MustRedirect(t, s.URL, good, "https://fine.example/")
	// The audit entry is written just after the link is disabled.
	var e audit.Entry
	var ok bool
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if e, ok = disableEntries(t, s.App)[bad]; ok || time.Now().After(deadline) {
			break
		}
	}
	if !ok || e.Detail["reason"] != "Safe Browsing: SOCIAL_ENGINEERING" || e.Detail["cause"] != "safe_browsing" ||
		e.Detail["url"] != "https://malware.example/payload" {
		t.Errorf("audit entry for %s: %+v (found %v)", bad, e, ok)
	}
	if m := metricsText(t, s.URL); !strings.Contains(m, `shortlinks_links_auto_disabled_total{cause="safe_browsing"} 1`) {
		t.Errorf("metrics lack the link disabled by Safe Browsing:\n%s", grepLines(m, "auto_disabled"))
	}
}
