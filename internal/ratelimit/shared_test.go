package ratelimit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/ratelimit"
	"github.com/shortlinks/shortlinks/internal/redisconn"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// instance makes another server instance's limiter: its own Redis client
// and its own in-process fallback.
func instance(t *testing.T, url, prefix string, l ratelimit.Limit, timeout time.Duration, reg prometheus.Registerer) *ratelimit.Shared {
	t.Helper()
	rdb, err := redisconn.Open(url, redisconn.Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	s, err := ratelimit.NewShared(rdb, l, ratelimit.SharedOptions{Prefix: prefix, Timeout: timeout, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func allow(t *testing.T, l *ratelimit.Shared, key string) ratelimit.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), key)
	if err != nil {
		t.Fatalf("Allow(%s): %v", key, err)
	}
	return d
}

// metric returns the value of the registered counter name.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestSharedStandalone(t *testing.T) { sharedSuite(t, servicetest.Redis(t)) }
func TestSharedCluster(t *testing.T)    { sharedSuite(t, redistest.Cluster(t)) }
func TestSharedSentinel(t *testing.T)   { sharedSuite(t, redistest.Sentinel(t)) }

func sharedSuite(t *testing.T, url string) {
	// A generous timeout: a busy test machine must not look like an outage.
	const timeout = time.Second

	t.Run("OneBucketForAllInstances", func(t *testing.T) {
		prefix := redistest.Prefix(t, url)
		lim := ratelimit.Limit{Rate: 0.1, Burst: 4} // a token every 10s
		reg := prometheus.NewPedanticRegistry()
		a := instance(t, url, prefix, lim, timeout, reg)
		b := instance(t, url, prefix, lim, timeout, nil)
		allowed := 0
		for i := range 10 {
			l := a
			if i%2 == 1 {
				l = b
			}
			d := allow(t, l, "create:192.0.2.1")
			if d.Allowed {
				allowed++
				continue
			}
			if d.RetryAfter <= 0 || d.RetryAfter > 10*time.Second {
				t.Errorf("denied with RetryAfter %v, want within the 10s between tokens", d.RetryAfter)
			}
		}
		if allowed != 4 {
			t.Errorf("two instances allowed %d of 10 requests with a burst of 4 between them, want 4", allowed)
		}
		if !allow(t, a, "create:192.0.2.2").Allowed {
			t.Error("another key was limited by the first key's bucket")
		}
		if n := metric(t, reg, "shortlinks_ratelimit_fallbacks_total"); n != 0 {
			t.Errorf("%v decisions fell back while Redis was up", n)
		}
	})

	t.Run("Rate", func(t *testing.T) {
		prefix := redistest.Prefix(t, url)
		s := instance(t, url, prefix, ratelimit.Limit{Rate: 20, Burst: 1}, timeout, nil)
		if !allow(t, s, "k").Allowed {
			t.Fatal("first request denied")
		}
		d := allow(t, s, "k")
		if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 50*time.Millisecond {
			t.Fatalf("second request at once = %+v; want denied for at most the 50ms between tokens", d)
		}
		time.Sleep(d.RetryAfter + 5*time.Millisecond)
		if !allow(t, s, "k").Allowed {
			t.Error("request after RetryAfter denied")
		}
	})
}

// TestSharedFallback checks that while Redis hangs or is down, decisions
// come at once from the in-process buckets, and that the shared buckets are
// used again, without restarting anything, once Redis is back.
func TestSharedFallback(t *testing.T) {
	srv := redistest.Start(t)
	const timeout = 50 * time.Millisecond
	const slack = 150 * time.Millisecond // scheduling on a busy two-core machine
	lim := ratelimit.Limit{Rate: 0.1, Burst: 3}
	reg, regB := prometheus.NewPedanticRegistry(), prometheus.NewPedanticRegistry()
	a := instance(t, srv.URL(), "", lim, timeout, reg)
	b := instance(t, srv.URL(), "", lim, timeout, regB)
	inspect := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer inspect.Close()
	fallbacks := func() float64 { return metric(t, reg, "shortlinks_ratelimit_fallbacks_total") }
	// shared waits until l decides in Redis again.
	shared := func(l *ratelimit.Shared, reg *prometheus.Registry, when string) time.Duration {
		start := time.Now()
		for {
			before := metric(t, reg, "shortlinks_ratelimit_fallbacks_total")
			allow(t, l, "warm-up")
			if metric(t, reg, "shortlinks_ratelimit_fallbacks_total") == before {
				return time.Since(start)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s: Redis not used again within 5s", when)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// burst takes 10 decisions for key and returns how many were allowed
	// and the longest one took.
	burst := func(l *ratelimit.Shared, key string) (allowed int, worst time.Duration) {
		for range 10 {
			start := time.Now()
			if allow(t, l, key).Allowed {
				allowed++
			}
			worst = max(worst, time.Since(start))
		}
		return allowed, worst
	}

	// together checks that a and b share one bucket: a burst of 3 between
	// them. A decision that fell back, because a busy machine made Redis
	// miss the timeout, spoils a round; it is then tried with a new key.
	together := func(when string) {
		t.Helper()
		for round := range 3 {
			key := fmt.Sprintf("%s-%d", when, round)
			before := fallbacks() + metric(t, regB, "shortlinks_ratelimit_fallbacks_total")
			na, _ := burst(a, key)
			nb, _ := burst(b, key)
			if fallbacks()+metric(t, regB, "shortlinks_ratelimit_fallbacks_total") > before {
				t.Logf("%s: round %d fell back; trying again", when, round)
				continue
			}
			if na+nb != 3 {
				t.Errorf("%s: two instances allowed %d+%d, want 3 between them", when, na, nb)
			}
			if n := inspect.Exists(context.Background(), "rate:"+key).Val(); n != 1 {
				t.Errorf("%s: the bucket is not in Redis", when)
			}
			return
		}
		t.Fatalf("%s: Redis missed the timeout in every round", when)
	}

	together("up")

	for _, outage := range []struct {
		name       string
		start, end func()
	}{
		{"hung", srv.Pause, srv.Resume},
		{"down", srv.Stop, srv.Restart},
	} {
		before := fallbacks()
		outage.start()
		n, worst := burst(a, outage.name)
		t.Logf("%s: allowed %d of 10 from the in-process bucket; slowest decision %v", outage.name, n, worst)
		if n != 3 {
			t.Errorf("%s: allowed %d of 10, want the in-process burst of 3", outage.name, n)
		}
		if worst > timeout+slack {
			t.Errorf("%s: a decision took %v; nothing may wait much longer than the %v Redis timeout", outage.name, worst, timeout)
		}
		if got := fallbacks() - before; got != 10 {
			t.Errorf("%s: %v fallbacks counted, want 10", outage.name, got)
		}
		outage.end()

		// Back to the shared buckets by themselves: a's and b's decisions
		// meet in Redis again.
		t.Logf("after %s: shared buckets in use again after %v", outage.name,
			shared(a, reg, "after "+outage.name).Round(time.Millisecond))
		shared(b, regB, "after "+outage.name)
		together("after-" + outage.name)
	}
}
