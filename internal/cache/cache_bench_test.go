package cache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/shortlinks/shortlinks/internal/cache"
	"github.com/shortlinks/shortlinks/internal/link"
)

// nullStore is a next tier that keeps nothing: every link the benchmarks
// read is already in the in-process tier.
type nullStore struct{}

func (nullStore) Insert(context.Context, link.Link) (int64, error) { return 1, nil }
func (nullStore) Get(context.Context, link.Code) (link.Link, error) {
	return link.Link{}, link.ErrNotFound
}
func (nullStore) Delete(context.Context, link.Code) error { return link.ErrNotFound }

// benchLink is a realistic link: a seven-character code and an 80-byte URL.
func benchLink(i int) link.Link {
	code := fmt.Sprintf("%07d", i)
	u := "https://www.example.com/articles/2024/05/how-to-build-a-fast-garden-" + fmt.Sprintf("%012d", i)
	return link.Link{Code: link.Code(code), URL: u, CreatedAt: time.Now()}
}

const benchLinks = 100_000

func zipfCodes(n int) []link.Code {
	r := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(r, 1.1, 1, benchLinks-1)
	out := make([]link.Code, n)
	for i := range out {
		out[i] = link.Code(fmt.Sprintf("%07d", z.Uint64()))
	}
	return out
}

// benchGets runs get over Zipf-distributed codes, from one goroutine and
// from all of them, failing on a miss. Both lookups compared here go
// through it, so both pay the same call.
func benchGets(b *testing.B, get func(link.Code) bool) {
	codes := zipfCodes(1 << 16)
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if !get(codes[i&(len(codes)-1)]) {
				b.Fatal("miss")
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(len(codes))
			for pb.Next() {
				if !get(codes[i&(len(codes)-1)]) {
					b.Fatal("miss")
				}
				i++
			}
		})
	})
}

// BenchmarkStoreGetHit is a redirect's lookup when the in-process tier has
// the link: cache.Store.Get over 100,000 links, codes drawn from a Zipf
// distribution. Compare with BenchmarkOtterGetIfPresent.
func BenchmarkStoreGetHit(b *testing.B) {
	s, err := cache.New(nullStore{}, cache.WithDefaults(cache.Options{Size: 2 * benchLinks}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := range benchLinks {
		if _, err := s.Insert(ctx, benchLink(i)); err != nil {
			b.Fatal(err)
		}
	}
	benchGets(b, func(c link.Code) bool {
		_, err := s.Get(ctx, c)
		return err == nil
	})
}

// BenchmarkOtterGetIfPresent is the baseline for BenchmarkStoreGetHit: a
// bare otter cache of the same links, read the same way.
func BenchmarkOtterGetIfPresent(b *testing.B) {
	c := otter.Must(&otter.Options[link.Code, link.Link]{MaximumSize: 2 * benchLinks})
	for i := range benchLinks {
		l := benchLink(i)
		c.Set(l.Code, l)
	}
	benchGets(b, func(code link.Code) bool {
		_, ok := c.GetIfPresent(code)
		return ok
	})
}

// BenchmarkMemoryPerLink fills the in-process tier with a million links
// (seven-character codes, 80-byte URLs) and reports the heap it grew by per
// link, everything counted: the entry, its strings and otter's bookkeeping.
// Run it with -benchtime 1x; the time it reports is the fill.
func BenchmarkMemoryPerLink(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		links := make([]link.Link, n)
		for i := range links {
			links[i] = benchLink(i)
		}
		var strs uint64
		for _, l := range links {
			strs += uint64(len(l.Code) + len(l.URL))
		}
		before := heap()
		s, err := cache.New(nullStore{}, cache.WithDefaults(cache.Options{Size: n}))
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		for _, l := range links {
			if _, err := s.Insert(ctx, l); err != nil {
				b.Fatal(err)
			}
		}
		// The strings were allocated before; add them back so the figure is
		// what a link held only by the cache costs.
		held := heap() - before + strs
		if got := s.Len(); got < n*99/100 {
			b.Fatalf("cache holds %d links, want about %d", got, n)
		}
		b.ReportMetric(float64(held)/n, "bytes/link")
		b.ReportMetric(float64(strs)/n, "string-bytes/link")
		runtime.KeepAlive(s)
		runtime.KeepAlive(links)
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
