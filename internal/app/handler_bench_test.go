package app_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/bench/ceiling"
	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

const benchLinks = 10_000

// benchServer builds the real service on a temporary SQLite database with
// the production defaults (metrics, rate limits, access logs at their
// default level, to io.Discard) and benchLinks links made by the real code
// generator. It returns the handler and the links.
func benchServer(b *testing.B, set ...func(*config.Config)) (http.Handler, []link.Link) {
	b.Helper()
	cfg := apptest.Config(b)
	ctx := context.Background()
	links := seedLinks(b, ctx, cfg, benchLinks)
	log := telemetry.NewLogger(io.Discard, cfg.LogFormat, cfg.LogLevel)
	a, err := app.New(ctx, cfg, log, app.Telemetry{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	return a.Handler(), links
}

// seedLinks stores n links as 'shortlinks seed' does.
func seedLinks(b *testing.B, ctx context.Context, cfg config.Config, n int) []link.Link {
	db, err := app.OpenStorage(ctx, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Prepare(ctx); err != nil {
		b.Fatal(err)
	}
	loader, err := db.Loader(ctx)
	if err != nil {
		b.Fatal(err)
	}
	links := make([]link.Link, n)
	now := time.Now().UTC().Truncate(time.Microsecond)
	for i := range links {
		links[i] = link.Link{URL: fmt.Sprintf("https://www.example.com/articles/2024/05/how-to-build-a-fast-garden-%012d", i), CreatedAt: now}
	}
	if err := loader.Load(ctx, links); err != nil {
		b.Fatal(err)
	}
	return links
}

// redirectRequests are requests for codes drawn from a Zipf distribution
// (s=1.1, v=1) over links, built once: building a request costs more than
// some of what is measured.
func redirectRequests(links []link.Link) []*http.Request {
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, uint64(len(links)-1))
	reqs := make([]*http.Request, 1<<14)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodGet, "/"+string(links[z.Uint64()].Code), nil)
	}
	return reqs
}

func benchRedirects(b *testing.B, h http.Handler, reqs []*http.Request) {
	for _, r := range reqs { // fill the cache first: this measures hits
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	b.ReportAllocs()
	i := 0
	cpu := cpuTime()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, reqs[i&(len(reqs)-1)])
		if w.Code != http.StatusFound {
			b.Fatalf("status %d", w.Code)
		}
		i++
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the CPU time the process has used so far, in every thread.
// Per operation it varies far less than wall time on a machine shared
// with other jobs, where a benchmark may get a fraction of a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRedirect is a cached redirect through the whole handler: routing,
// middleware, metrics, the link service and the in-process cache.
func BenchmarkRedirect(b *testing.B) {
	h, links := benchServer(b)
	benchRedirects(b, h, redirectRequests(links))
}

// BenchmarkRedirectHTTPS is BenchmarkRedirect with an https base URL, so
// that every answer carries Strict-Transport-Security.
func BenchmarkRedirectHTTPS(b *testing.B) {
	h, links := benchServer(b, func(c *config.Config) { c.BaseURL = "https://sho.rt" })
	benchRedirects(b, h, redirectRequests(links))
}

// BenchmarkRedirectBaseline is the baseline for BenchmarkRedirect.
func BenchmarkRedirectBaseline(b *testing.B) {
	_, links := benchServer(b)
	m := make(map[string]string, len(links))
	for _, l := range links {
		m[string(l.Code)] = l.URL
	}
	benchRedirects(b, ceiling.Handler(m, config.Default().CacheControl), redirectRequests(links))
}

// BenchmarkCreate is POST /api/v1/links over SQLite: decoding, validation,
// a code from the generator and a durable insert (synchronous=FULL). Each
// request comes from its own address, so the per-client rate limit stays on
// without refusing any.
func BenchmarkCreate(b *testing.B) {
	h, _ := benchServer(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		body := fmt.Sprintf(`{"url":"https://www.example.com/articles/2024/05/new-%d"}`, i)
		r := httptest.NewRequest(http.MethodPost, "/api/v1/links", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.RemoteAddr = fmt.Sprintf("198.18.%d.%d:4321", i>>8&0xff, i&0xff)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusCreated {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		i++
	}
}
