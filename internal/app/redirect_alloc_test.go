package app_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/bench/ceiling"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// nullWriter is a ResponseWriter that allocates nothing: its header map is
// made once and cleared between requests. httptest.ResponseRecorder makes
// a recorder, a header map and a copy of the header on WriteHeader for
// every request, which would hide ours; net/http's own writer is outside
// what a handler can change.
type nullWriter struct {
	h      http.Header
	status int
}

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nullWriter) WriteHeader(code int)        { w.status = code }

// commonRedirects are what most redirects look like: a browser following
// a cached plain link, behind the trusted proxy, with a User-Agent, a
// Referer and an Accept-Language, and no request id of the gateway's.
func commonRedirects(links []link.Link, n int) []*http.Request {
	reqs := redirectRequests(links)[:n]
	for i, r := range reqs {
		r.RemoteAddr = "127.0.0.1:4321"
		r.Header.Set("X-Forwarded-For", "203.0.113.7")
		r.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36")
		r.Header.Set("Accept-Language", "en-GB,en;q=0.9")
		if i%3 == 0 {
			r.Header.Set("Referer", "https://news.example.org/item?id=12345")
		}
	}
	return reqs
}

// commonServer is the service with every default, trusting the loopback
// proxy, on SQLite with benchLinks links.
func commonServer(tb testing.TB) (http.Handler, []link.Link) {
	tb.Helper()
	cfg := apptest.Config(tb, func(c *config.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	ctx := tb.Context()
	db, err := app.OpenStorage(ctx, cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if err := db.Prepare(ctx); err != nil {
		tb.Fatal(err)
	}
	loader, err := db.Loader(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	links := make([]link.Link, benchLinks)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i := range links {
		links[i] = link.Link{URL: fmt.Sprintf("https://www.example.com/articles/2024/05/how-to-build-a-fast-garden-%012d", i), CreatedAt: now}
	}
	if err := loader.Load(ctx, links); err != nil {
		tb.Fatal(err)
	}
	db.Close()
	a, err := app.New(context.WithoutCancel(ctx), cfg, telemetry.NewLogger(io.Discard, cfg.LogFormat, cfg.LogLevel), app.Telemetry{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { a.Close() })
	return a.Handler(), links
}

// TestRedirectAllocatesNothing holds the redirect's common case to no
// allocation of ours: the whole handler as 'shortlinks serve' builds it
// with every default on (metrics, request ids, sampled access logs, click
// analytics recording into its buffer), for a link in the in-process
// cache. The writer is one that allocates nothing, so the count is ours
// alone.
func TestRedirectAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts mean nothing under the race detector")
	}
	h, links := commonServer(t)
	if !config.Default().Analytics {
		t.Fatal("analytics is expected on by default")
	}
	reqs := commonRedirects(links, 64)
	w := &nullWriter{h: http.Header{}}
	for _, r := range reqs { // fill the cache: the common case is a hit
		clear(w.h)
		h.ServeHTTP(w, r)
		if w.status != http.StatusFound {
			t.Fatalf("GET %s answered %d", r.URL.Path, w.status)
		}
	}
	i := 0
	n := testing.AllocsPerRun(2000, func() {
		clear(w.h)
		h.ServeHTTP(w, reqs[i%len(reqs)])
		i++
	})
	if n != 0 {
		t.Errorf("a cached redirect allocates %v times, want 0", n)
	}
	if w.h.Get("X-Request-Id") == "" || w.h.Get("Location") == "" {
		t.Errorf("the answer lacks its headers: %v", w.h)
	}
}

// BenchmarkRedirectCommon is the common case of TestRedirectAllocatesNothing
// beside the bare net/http ceiling handler (bench/ceiling) in the same run,
// through the same non-allocating writer, so that the ratio of the two is
// what Shortlinks' own code costs; cpu-ns/op counts every thread (the
// click recorder's drainer and the collector too).
func BenchmarkRedirectCommon(b *testing.B) {
	h, links := commonServer(b)
	m := make(map[string]string, len(links))
	for _, l := range links {
		m[string(l.Code)] = l.URL
	}
	for _, c := range []struct {
		name string
		h    http.Handler
	}{
		{"ceiling", ceiling.Handler(m, config.Default().CacheControl)},
		{"shortlinks", h},
	} {
		b.Run(c.name, func(b *testing.B) {
			reqs := commonRedirects(links, 1<<12)
			w := &nullWriter{h: http.Header{}}
			for _, r := range reqs {
				clear(w.h)
				c.h.ServeHTTP(w, r)
			}
			b.ReportAllocs()
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				clear(w.h)
				c.h.ServeHTTP(w, reqs[i&(len(reqs)-1)])
				i++
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			if w.status != http.StatusFound {
				b.Fatalf("status %d", w.status)
			}
		})
	}
}
