package httpapi_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/cache"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/routes"
)

// discard is a publisher that takes every batch and keeps none: the
// benchmark measures what the redirect path and the recorder's draining
// cost, not the database.
type discard struct{}

func (discard) Publish(_ context.Context, bs []*analytics.Batch) (int, error) { return len(bs), nil }

// BenchmarkRedirect is a cached redirect through the edge, the route table
// and the handler, with click analytics off and on, in the same run. With
// it on, the recorder is drained every millisecond, so that the buffer
// stays far from full and each redirect pays for a recorded click rather
// than a cheap drop; its draining is on other goroutines, so compare
// cpu-ns/op (the process's CPU time, every thread) as well as ns/op.
func BenchmarkRedirect(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("analytics=%t", on), func(b *testing.B) {
			var rec *analytics.Recorder
			if on {
				var err error
				rec, err = analytics.NewRecorder(discard{}, analytics.RecorderOptions{DrainInterval: time.Millisecond, FlushInterval: 10 * time.Millisecond})
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				go rec.Run(ctx)
			}
			h, codes := redirectBenchServer(b, rec)
			z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, uint64(len(codes)-1))
			reqs := make([]*http.Request, 1<<12)
			for i := range reqs {
				r := httptest.NewRequest(http.MethodGet, "/"+codes[z.Uint64()], nil)
				r.Header.Set("User-Agent", firefox)
				r.Header.Set("Accept-Language", "en-GB,en;q=0.9")
				if i%3 == 0 {
					r.Header.Set("Referer", "https://news.example.org/item?id=12345")
				}
				reqs[i] = r
			}
			w := &discardWriter{h: http.Header{}}
			for _, r := range reqs { // fill the cache: this measures hits
				h.ServeHTTP(w, r)
			}
			b.ReportAllocs()
			b.ResetTimer()
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, reqs[i&(len(reqs)-1)])
				i++
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
			if rec != nil {
				b.ReportMetric(float64(rec.Dropped())/float64(b.N+len(reqs)), "dropped/op")
			}
		})
	}
}

// redirectBenchServer is the handler fixture's server with the in-process
// cache in front of the store, as app wires it, and 10,000 links.
func redirectBenchServer(b *testing.B, rec *analytics.Recorder) (http.Handler, []string) {
	b.Helper()
	var codes []string
	f := newHandlerFixture(b, func(s *handlerSetup) {
		if rec != nil {
			s.opts.Clicks = rec
		}
		now := time.Now().UTC().Truncate(time.Second)
		links := make([]link.Link, 10_000)
		for i := range links {
			code := fmt.Sprintf("b%06d", i)
			codes = append(codes, code)
			links[i] = link.Link{Code: link.Code(code), URL: fmt.Sprintf("https://www.example.com/articles/2024/05/how-to-build-a-fast-garden-%012d", i), CreatedAt: now}
		}
		if err := s.db.InsertBatch(b.Context(), links); err != nil {
			b.Fatal(err)
		}
		d := config.Default()
		cached, err := cache.New(s.db, cache.Options{Size: d.CacheSize, TTL: d.LinkCacheTTL(true), NegativeTTL: d.CacheNegativeTTL})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { cached.Close() })
		svc := link.NewService(cached, s.db, nil, link.Options{Reserved: routes.ReservedPaths()})
		s.links = func(httpapi.Links) httpapi.Links { return svc }
	})
	return f.handler, codes
}

// cpuTime is the CPU time the process has used so far, in every thread.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
