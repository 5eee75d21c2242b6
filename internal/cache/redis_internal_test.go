package cache

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/maypok86/otter/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/redisconn"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
)

func openRedisStore(tb testing.TB, opts Options) (*Store, redis.UniversalClient, string) {
	tb.Helper()
	url := servicetest.Redis(tb)
	rdb, err := redisconn.Open(url, redisconn.Options{Timeout: time.Second})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { rdb.Close() })
	db := sqlitetest.Open(tb)
	opts.Redis, opts.Prefix, opts.Timeout = rdb, redistest.Prefix(tb, url), time.Second
	s, err := New(db, WithDefaults(opts))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s, rdb, opts.Prefix
}

// TestDeleteIsFinal checks that writes that lose a race with a delete
// cannot bring the deleted link back into Redis: a lookup on another
// instance that read the link just before the delete, and a create whose
// Redis write is late.
func TestDeleteIsFinal(t *testing.T) {
	s, rdb, _ := openRedisStore(t, Options{})
	ctx := context.Background()
	l := link.Link{Code: "racy", URL: "https://example.com/", CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if _, err := s.Insert(ctx, l); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, l.Code); err != nil {
		t.Fatal(err)
	}
	s.fill(ctx, l.Code, newEntry(l), time.Second)
	if err := s.apply(ctx, change{link: l, kind: created}); err != nil {
		t.Fatal(err)
	}
	b, err := rdb.Get(ctx, s.key(l.Code)).Bytes()
	if err != nil || b[0] != tagDeleted {
		t.Fatalf("Redis holds %v, %v after late writes; want the deletion mark", b, err)
	}
	s.local.Invalidate(l.Code)
	if _, err := s.Get(ctx, l.Code); !errors.Is(err, link.ErrNotFound) {
		t.Fatalf("Get after late writes = %v, want ErrNotFound", err)
	}
}

func TestPending(t *testing.T) {
	p := newPending(2)
	ch := func(c link.Code, k kind) change { return change{link: link.Link{Code: c}, kind: k} }
	for _, c := range []change{ch("a", created), ch("a", deleted), ch("a", created), ch("a", forgotten), ch("b", forgotten), ch("b", created)} {
		if !p.add(c) {
			t.Fatalf("add(%v) refused under the bound", c)
		}
	}
	if p.add(ch("c", created)) {
		t.Fatal("the bound of 2 codes was not kept")
	}
	got := map[link.Code]kind{}
	for _, c := range p.take(10) {
		got[c.link.Code] = c.kind
	}
	if len(got) != 2 || got["a"] != deleted || got["b"] != created {
		t.Fatalf("take = %v; want a deleted (never replaced by an earlier kind) and b created", got)
	}
	if p.len() != 0 {
		t.Fatalf("%d left after taking all", p.len())
	}
}

// BenchmarkGetLocalHit compares a hit on the in-process tier with a bare
// otter lookup, measured in the same run; "x-otter" is the ratio.
func BenchmarkGetLocalHit(b *testing.B) {
	s, err := New(nil, WithDefaults(Options{}))
	if err != nil {
		b.Fatal(err)
	}
	l := link.Link{Code: "hot", URL: "https://example.com/", CreatedAt: time.Now()}
	s.local.Set(l.Code, newEntry(l))
	bare := otter.Must(&otter.Options[link.Code, entry]{MaximumSize: config.Default().CacheSize})
	bare.Set(l.Code, newEntry(l))
	ctx := context.Background()

	compare(b, "otter", func() {
		if _, ok := bare.GetIfPresent(l.Code); !ok {
			b.Fatal("miss")
		}
	}, func() {
		if _, err := s.Get(ctx, l.Code); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkGetRedisHit compares a lookup answered by the Redis tier (a
// miss in process, a GET, and filling the in-process tier) with a bare GET
// on a plain client of the same Redis, measured in the same run; "x-get" is
// the ratio. The lookups cycle through more links than the in-process tier
// holds, as a long tail of codes would.
func BenchmarkGetRedisHit(b *testing.B) {
	s, rdb, _ := openRedisStore(b, Options{Size: 1000})
	ctx := context.Background()
	codes := make([]link.Code, 50_000)
	p := rdb.Pipeline()
	for i := range codes {
		codes[i] = link.Code(fmt.Sprintf("c%06d", i))
		l := link.Link{Code: codes[i], URL: "https://example.com/some/path/" + string(codes[i]), CreatedAt: time.Now()}
		p.Set(ctx, s.key(l.Code), encode(l), time.Hour)
	}
	if _, err := p.Exec(ctx); err != nil {
		b.Fatal(err)
	}
	o, err := redisconn.Parse(servicetest.Redis(b))
	if err != nil {
		b.Fatal(err)
	}
	plain := redis.NewUniversalClient(o)
	defer plain.Close()

	var i, j int
	compare(b, "get", func() {
		if _, err := plain.Get(ctx, s.key(codes[j%len(codes)])).Bytes(); err != nil {
			b.Fatal(err)
		}
		j++
	}, func() {
		if _, err := s.Get(ctx, codes[i%len(codes)]); err != nil {
			b.Fatal(err)
		}
		i++
	})
	// Lookups the in-process tier answered after all, for reading the ratio.
	var m dto.Metric
	if err := s.m.localHits.Write(&m); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(100*m.GetCounter().GetValue()/float64(i), "local-hit-%")
}

// compare runs baseline and subject alternately, in rounds of a batch of
// each, so that both see the same machine and timing costs little beside
// them. It reports each one's time per call and their ratio; the usual
// ns/op column is per round.
func compare(b *testing.B, name string, baseline, subject func()) {
	const batch = 64
	var tb, ts time.Duration
	for b.Loop() {
		start := time.Now()
		for range batch {
			baseline()
		}
		mid := time.Now()
		for range batch {
			subject()
		}
		tb += mid.Sub(start)
		ts += time.Since(mid)
	}
	calls := float64(b.N * batch)
	b.ReportMetric(float64(tb.Nanoseconds())/calls, name+"-ns/call")
	b.ReportMetric(float64(ts.Nanoseconds())/calls, "cache-ns/call")
	b.ReportMetric(float64(ts)/float64(tb), "x-"+name)
}
