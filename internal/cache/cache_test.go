package cache_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/cache"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/redisconn"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store"
	"github.com/shortlinks/shortlinks/internal/store/sqlite"
	"github.com/shortlinks/shortlinks/internal/store/sqlite/sqlitetest"
	"github.com/shortlinks/shortlinks/internal/store/storetest"
)

// Tags of values in Redis, as cache writes them.
const (
	tagLink    = 5
	tagMissing = 2
	tagDeleted = 3
)

func openDB(t testing.TB) *sqlite.DB { return sqlitetest.Open(t) }

// counting counts the lookups that reach the database.
type counting struct {
	link.Store
	gets atomic.Int64
}

func (c *counting) Get(ctx context.Context, code link.Code) (link.Link, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, code)
}

// env is what the cache instances of one test share, as the instances of
// one deployment would: a database, a Redis and a key prefix.
type env struct {
	t      *testing.T
	url    string
	prefix string
	db     *counting
	sql    *sqlite.DB
	raw    redis.UniversalClient // inspects Redis without the cache
}

func newEnv(t *testing.T, url string) *env {
	t.Helper()
	raw, err := redisconn.Open(url, redisconn.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	sql := openDB(t)
	return &env{t: t, url: url, prefix: redistest.Prefix(t, url), db: &counting{Store: sql}, sql: sql, raw: raw}
}

// store starts another instance's cache: its own Redis client and its own
// in-process tier. The timeout is generous so that a busy test machine
// does not make Redis look down; TestOutage tests the tight one.
func (e *env) store(opts cache.Options) *cache.Store {
	e.t.Helper()
	rdb, err := redisconn.Open(e.url, redisconn.Options{Timeout: time.Second})
	if err != nil {
		e.t.Fatal(err)
	}
	opts.Redis, opts.Prefix, opts.Timeout = rdb, e.prefix, time.Second
	if opts.Editor == nil {
		opts.Editor = e.sql
	}
	s, err := cache.New(e.db, cache.WithDefaults(opts))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		s.Close()
		rdb.Close()
	})
	waitSubscribed(e.t, s)
	return s
}

// value returns the tag of what Redis holds for c, and for how long.
func (e *env) value(c link.Code) (byte, time.Duration) {
	e.t.Helper()
	key := e.prefix + "link:" + string(c)
	b, err := e.raw.Get(context.Background(), key).Bytes()
	if errors.Is(err, redis.Nil) {
		return 0, 0
	}
	if err != nil {
		e.t.Fatal(err)
	}
	ttl, err := e.raw.PTTL(context.Background(), key).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return b[0], ttl
}

func waitSubscribed(t testing.TB, stores ...*cache.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range stores {
		for !s.Subscribed() {
			if time.Now().After(deadline) {
				t.Fatal("cache did not subscribe to invalidations")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// within polls cond until it holds, failing after d; it returns how long
// that took.
func within(t testing.TB, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

func mustGet(t testing.TB, s link.Store, c link.Code) link.Link {
	t.Helper()
	l, err := s.Get(context.Background(), c)
	if err != nil {
		t.Fatalf("Get(%s): %v", c, err)
	}
	return l
}

func isNotFound(s link.Store, c link.Code) bool {
	_, err := s.Get(context.Background(), c)
	return errors.Is(err, link.ErrNotFound)
}

func newLink(c link.Code) link.Link {
	return link.Link{Code: c, URL: "https://example.com/" + string(c), CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
}

// metric returns the value of a counter or gauge with the given labels.
func metric(t testing.TB, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
				}
				if !found {
					continue next
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s%v not found", name, labels)
	return 0
}

func TestLocalOnly(t *testing.T) {
	db := &counting{Store: openDB(t)}
	s, err := cache.New(db, cache.WithDefaults(cache.Options{NegativeTTL: time.Minute}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for range 10 {
		if !isNotFound(s, "unknown") {
			t.Fatal("unknown code found")
		}
	}
	if n := db.gets.Load(); n != 1 {
		t.Errorf("10 lookups of an unknown code reached the database %d times, want 1", n)
	}
	if _, err := s.Insert(context.Background(), newLink("unknown")); err != nil {
		t.Fatal(err)
	}
	mustGet(t, s, "unknown")
	if err := s.Delete(context.Background(), "unknown"); err != nil {
		t.Fatal(err)
	}
	if !isNotFound(s, "unknown") {
		t.Error("deleted link still served")
	}
	if !s.Subscribed() {
		t.Error("a cache without Redis reports it misses invalidations")
	}
}

func TestRedisStandalone(t *testing.T) { suite(t, servicetest.Redis(t)) }
func TestRedisCluster(t *testing.T)    { suite(t, redistest.Cluster(t)) }
func TestRedisSentinel(t *testing.T)   { suite(t, redistest.Sentinel(t)) }

// suite checks the Redis tier against the Redis that url names.
func suite(t *testing.T, url string) {
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Engine {
			e := newEnv(t, url)
			return cachedEngine{DB: e.sql, cache: e.store(cache.Options{})}
		})
	})

	t.Run("ReadThrough", func(t *testing.T) {
		e := newEnv(t, url)
		ctx := context.Background()
		forever, soon := newLink("forever"), newLink("soon")
		soon.ExpiresAt = time.Now().Add(2 * time.Second)
		for _, l := range []link.Link{forever, soon} {
			if _, err := e.sql.Insert(ctx, l); err != nil { // behind the cache's back
				t.Fatal(err)
			}
		}
		regA, regB := prometheus.NewPedanticRegistry(), prometheus.NewPedanticRegistry()
		a := e.store(cache.Options{RedisTTL: time.Hour, Registerer: regA})
		b := e.store(cache.Options{RedisTTL: time.Hour, Registerer: regB})

		if got := mustGet(t, a, "forever"); got.URL != forever.URL || !got.CreatedAt.Equal(forever.CreatedAt) {
			t.Fatalf("Get = %+v, want %+v", got, forever)
		}
		tag, ttl := e.value("forever")
		if tag != tagLink || ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("Redis holds tag %d for %v; want a link for about the RedisTTL of 1h", tag, ttl)
		}
		mustGet(t, a, "soon")
		if tag, ttl := e.value("soon"); tag != tagLink || ttl > 2*time.Second {
			t.Errorf("Redis holds tag %d for %v; want the link for at most its 2s to expiry", tag, ttl)
		}

		// Another instance finds both in Redis, then in its own memory.
		for range 2 {
			mustGet(t, b, "forever")
			mustGet(t, b, "soon")
		}
		if n := e.db.gets.Load(); n != 2 {
			t.Errorf("database reached %d times, want 2 (once per code)", n)
		}
		if h := metric(t, regB, "shortlinks_cache_hits_total", "tier", "redis"); h != 2 {
			t.Errorf("redis hits on b = %v, want 2", h)
		}
		if h := metric(t, regB, "shortlinks_cache_hits_total", "tier", "local"); h != 2 {
			t.Errorf("local hits on b = %v, want 2", h)
		}
		if m := metric(t, regA, "shortlinks_cache_misses_total", "tier", "redis"); m != 2 {
			t.Errorf("redis misses on a = %v, want 2", m)
		}
	})

	t.Run("NegativeCaching", func(t *testing.T) {
		e := newEnv(t, url)
		a := e.store(cache.Options{NegativeTTL: 5 * time.Second})
		b := e.store(cache.Options{NegativeTTL: 5 * time.Second})
		for range 50 {
			if !isNotFound(a, "nope") || !isNotFound(b, "nope") {
				t.Fatal("unknown code found")
			}
		}
		if n := e.db.gets.Load(); n != 1 {
			t.Errorf("100 lookups of an unknown code on two instances reached the database %d times, want 1", n)
		}
		if tag, ttl := e.value("nope"); tag != tagMissing || ttl <= 0 || ttl > 5*time.Second {
			t.Errorf("Redis holds tag %d for %v; want a miss for at most the NegativeTTL", tag, ttl)
		}
	})

	t.Run("CreateClearsNegativeEverywhere", func(t *testing.T) {
		e := newEnv(t, url)
		a := e.store(cache.Options{NegativeTTL: time.Minute})
		b := e.store(cache.Options{NegativeTTL: time.Minute})
		for range 2 { // the second answer comes from b's memory
			if !isNotFound(b, "fresh") {
				t.Fatal("code found before it was created")
			}
		}
		if _, err := a.Insert(context.Background(), newLink("fresh")); err != nil {
			t.Fatal(err)
		}
		took := within(t, time.Second, "b sees the new link", func() bool { return !isNotFound(b, "fresh") })
		t.Logf("b saw the created link after %v", took)
		if tag, _ := e.value("fresh"); tag != tagLink {
			t.Errorf("Redis holds tag %d after the create, want a link", tag)
		}
		before := e.db.gets.Load()
		mustGet(t, e.store(cache.Options{}), "fresh")
		if e.db.gets.Load() != before {
			t.Error("a third instance went to the database for a link Redis should hold")
		}
	})

	t.Run("EditReachesEveryInstance", func(t *testing.T) {
		e := newEnv(t, url)
		// TTL is the documented bound; the invalidation must beat it by far.
		const ttl = time.Hour
		a, b := e.store(cache.Options{TTL: ttl}), e.store(cache.Options{TTL: ttl})
		svcA := link.NewService(a, nil, nil, link.Options{Editor: a})
		svcB := link.NewService(b, nil, nil, link.Options{Editor: b})
		admin := link.Principal{Admin: true, Scopes: link.AllScopes}
		ctx := context.Background()
		if _, err := a.Insert(ctx, newLink("edited")); err != nil {
			t.Fatal(err)
		}
		if l, err := svcB.Resolve(ctx, "edited"); err != nil || l.URL != "https://example.com/edited" {
			t.Fatalf("b resolves %+v, %v before the edit", l, err)
		}

		if _, err := svcA.Update(ctx, "edited", link.Patch{Disabled: link.To(true), DisabledReason: link.To("abuse")}, admin); err != nil {
			t.Fatal(err)
		}
		took := within(t, time.Second, "b sees the link disabled", func() bool {
			_, err := svcB.Resolve(ctx, "edited")
			return errors.Is(err, link.ErrDisabled)
		})
		t.Logf("b saw the disable after %v", took)
		if tag, left := e.value("edited"); tag != tagLink || left > ttl {
			t.Errorf("Redis holds tag %d for %v after the edit; want the edited link for at most the TTL", tag, left)
		}

		if _, err := svcA.Update(ctx, "edited", link.Patch{Disabled: link.Cleared[bool](), URL: link.To("https://example.com/moved")}, admin); err != nil {
			t.Fatal(err)
		}
		within(t, time.Second, "b follows the new URL", func() bool {
			l, err := svcB.Resolve(ctx, "edited")
			return err == nil && l.URL == "https://example.com/moved"
		})
		// A third instance finds the edit in Redis, without the database.
		before := e.db.gets.Load()
		if l := mustGet(t, e.store(cache.Options{}), "edited"); l.URL != "https://example.com/moved" || !l.DisabledAt.IsZero() {
			t.Errorf("a third instance reads %+v", l)
		}
		if e.db.gets.Load() != before {
			t.Error("a third instance went to the database for an edit Redis should hold")
		}
		// An edit of a missing link is ErrNotFound, and stores nothing.
		if _, err := svcA.Update(ctx, "absent", link.Patch{Title: link.To("x")}, admin); !errors.Is(err, link.ErrNotFound) {
			t.Errorf("edit of a missing link: %v", err)
		}
	})

	t.Run("DeleteInvalidatesEverywhere", func(t *testing.T) {
		e := newEnv(t, url)
		a := e.store(cache.Options{TTL: time.Hour})
		b := e.store(cache.Options{TTL: time.Hour})
		if _, err := a.Insert(context.Background(), newLink("doomed")); err != nil {
			t.Fatal(err)
		}
		mustGet(t, b, "doomed")
		if err := a.Delete(context.Background(), "doomed"); err != nil {
			t.Fatal(err)
		}
		if !isNotFound(a, "doomed") {
			t.Error("a still serves the link it deleted")
		}
		took := within(t, time.Second, "b forgets the deleted link", func() bool { return isNotFound(b, "doomed") })
		t.Logf("b forgot the deleted link after %v", took)
		if tag, ttl := e.value("doomed"); tag != tagDeleted || ttl <= 0 {
			t.Errorf("Redis holds tag %d for %v after the delete, want a deletion mark", tag, ttl)
		}
		before := e.db.gets.Load()
		if !isNotFound(e.store(cache.Options{}), "doomed") {
			t.Error("a third instance serves the deleted link")
		}
		if e.db.gets.Load() != before {
			t.Error("a third instance went to the database for a code Redis marks deleted")
		}
	})
	t.Run("DeleteUnknownThenCreate", func(t *testing.T) {
		// A delete that finds nothing must not stop the code being
		// created later.
		e := newEnv(t, url)
		a := e.store(cache.Options{})
		if err := a.Delete(context.Background(), "ghost"); !errors.Is(err, link.ErrNotFound) {
			t.Fatalf("Delete(ghost) = %v, want ErrNotFound", err)
		}
		if _, err := a.Insert(context.Background(), newLink("ghost")); err != nil {
			t.Fatal(err)
		}
		mustGet(t, e.store(cache.Options{}), "ghost")
		if tag, _ := e.value("ghost"); tag != tagLink {
			t.Errorf("Redis holds tag %d, want the created link", tag)
		}
	})
}

// cachedEngine is a storage engine whose links go through the cache, for
// the conformance suite.
type cachedEngine struct {
	*sqlite.DB
	cache *cache.Store
}

func (c cachedEngine) Insert(ctx context.Context, l link.Link) (int64, error) {
	return c.cache.Insert(ctx, l)
}
func (c cachedEngine) Get(ctx context.Context, code link.Code) (link.Link, error) {
	return c.cache.Get(ctx, code)
}
func (c cachedEngine) Delete(ctx context.Context, code link.Code) error {
	return c.cache.Delete(ctx, code)
}

// TestNewNeedsBounds checks that a cache is never built with a bound left
// out: its defaults are the settings', and a zero would mean no cache or no
// expiry.
func TestNewNeedsBounds(t *testing.T) {
	for _, o := range []cache.Options{
		{},
		cache.WithDefaults(cache.Options{Size: -1}),
		{Size: 10, TTL: time.Minute},
	} {
		if s, err := cache.New(openDB(t), o); err == nil {
			s.Close()
			t.Errorf("New with %+v: no error", o)
		}
	}
}

func (c cachedEngine) Update(ctx context.Context, code link.Code, edit func(*link.Link) error) (link.Link, link.Link, error) {
	return c.cache.Update(ctx, code, edit)
}
func (c cachedEngine) Find(ctx context.Context, code link.Code) (link.Link, error) {
	return c.cache.Find(ctx, code)
}
