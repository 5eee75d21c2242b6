package redisconn_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/redisconn"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// TestTopologies checks that the one client type works with a standalone
// server, a cluster and a sentinel-watched master.
func TestTopologies(t *testing.T) {
	t.Run("Standalone", func(t *testing.T) { roundTrip(t, servicetest.Redis(t)) })
	t.Run("Cluster", func(t *testing.T) { roundTrip(t, redistest.Cluster(t)) })
	t.Run("Sentinel", func(t *testing.T) { roundTrip(t, redistest.Sentinel(t)) })
}

func roundTrip(t *testing.T, url string) {
	// A generous timeout: this checks the topologies, not the timeouts.
	c, err := redisconn.Open(url, redisconn.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	prefix := redistest.Prefix(t, url)
	ctx := t.Context()
	// Keys in many slots, so that a cluster spreads them over its nodes.
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := c.Set(ctx, prefix+k, "v-"+k, time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		if got, err := c.Get(ctx, prefix+k).Result(); err != nil || got != "v-"+k {
			t.Fatalf("GET %s = %q, %v", k, got, err)
		}
	}
}

// TestBreaker checks that a hung or dead server costs at most a few
// timeouts, after which commands fail at once, and that the client comes
// back by itself when the server does.
func TestBreaker(t *testing.T) {
	srv := redistest.Start(t)
	reg := prometheus.NewPedanticRegistry()
	const timeout = 50 * time.Millisecond
	const openFor = 300 * time.Millisecond
	const slack = 150 * time.Millisecond // scheduling on a busy two-core machine
	c, err := redisconn.Open(srv.URL(), redisconn.Options{Timeout: timeout, OpenFor: openFor, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := t.Context()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	outage := func(name string) {
		t.Helper()
		var slow, skipped int
		for i := range 20 {
			start := time.Now()
			err := c.Get(ctx, "k").Err()
			took := time.Since(start)
			if err == nil || errors.Is(err, redis.Nil) {
				t.Fatalf("%s: command %d succeeded against a server that is not serving", name, i)
			}
			if took > timeout+slack {
				t.Errorf("%s: command %d took %v, more than the %v timeout allows", name, i, took, timeout)
			}
			if errors.Is(err, redisconn.ErrBreakerOpen) {
				skipped++
				if took > 5*time.Millisecond {
					t.Errorf("%s: a command refused by the open breaker took %v", name, took)
				}
			} else if took > timeout/2 {
				slow++
			}
		}
		if skipped < 15 {
			t.Errorf("%s: breaker refused %d of 20 commands, want at least 15", name, skipped)
		}
		t.Logf("%s: %d commands waited for the timeout, %d refused at once", name, slow, skipped)
		if got := metric(t, reg, "shortlinks_redis_breaker_state"); got != 2 {
			t.Errorf("%s: breaker state %v, want 2 (open)", name, got)
		}
	}
	recovered := func(name string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := c.Ping(ctx).Err()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: client did not recover: %v", name, err)
			}
			time.Sleep(openFor / 3)
		}
		if got := metric(t, reg, "shortlinks_redis_breaker_state"); got != 0 {
			t.Errorf("%s: breaker state %v after recovery, want 0 (closed)", name, got)
		}
	}

	srv.Pause()
	outage("paused")
	srv.Resume()
	recovered("resumed")

	srv.Stop()
	outage("stopped")
	srv.Restart()
	recovered("restarted")

	if n := metric(t, reg, "shortlinks_redis_errors_total"); n < 5 {
		t.Errorf("errors counted: %v, want at least 5", n)
	}
	if n := metric(t, reg, "shortlinks_redis_skipped_total"); n < 30 {
		t.Errorf("skipped counted: %v, want at least 30", n)
	}
}

// TestCallerCancelIsNotAnOutage checks that callers giving up do not open
// the breaker.
func TestCallerCancelIsNotAnOutage(t *testing.T) {
	srv := redistest.Start(t)
	c, err := redisconn.Open(srv.URL(), redisconn.Options{Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 10 {
		ctx, cancel := context.WithCancel(t.Context())
		go func() { time.Sleep(5 * time.Millisecond); cancel() }()
		// BLPOP waits for the caller to give up.
		c.BLPop(ctx, 0, "nothing")
		cancel()
	}
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Fatalf("after callers canceled: %v", err)
	}
}

// metric returns the value of the registered counter or gauge name.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// BenchmarkGet compares a GET through Open's client (deadline, breaker)
// with a GET through a plain client of the same Redis, alternating in
// rounds so that both see the same machine; "x-plain" is the ratio.
func BenchmarkGet(b *testing.B) {
	url := servicetest.Redis(b)
	o, err := redisconn.Parse(url)
	if err != nil {
		b.Fatal(err)
	}
	plain := redis.NewUniversalClient(o)
	defer plain.Close()
	c, err := redisconn.Open(url, redisconn.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	key := redistest.Prefix(b, url) + "k"
	if err := plain.Set(ctx, key, "value", time.Minute).Err(); err != nil {
		b.Fatal(err)
	}
	const batch = 64
	var tp, tc time.Duration
	for b.Loop() {
		start := time.Now()
		for range batch {
			plain.Get(ctx, key)
		}
		mid := time.Now()
		for range batch {
			c.Get(ctx, key)
		}
		tp += mid.Sub(start)
		tc += time.Since(mid)
	}
	calls := float64(b.N * batch)
	b.ReportMetric(float64(tp.Nanoseconds())/calls, "plain-ns/call")
	b.ReportMetric(float64(tc.Nanoseconds())/calls, "open-ns/call")
	b.ReportMetric(float64(tc)/float64(tp), "x-plain")
}

// TestDefaultTimeoutIsTheConfigured checks that a client given no timeout,
// and the cache and rate limiter that fall back to DefaultTimeout, wait as
// long as a server started without --redis-timeout.
func TestDefaultTimeoutIsTheConfigured(t *testing.T) {
	if got, want := redisconn.DefaultTimeout, config.Default().RedisTimeout; got != want {
		t.Fatalf("DefaultTimeout = %v, but --redis-timeout defaults to %v", got, want)
	}
}
