package ratelimit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/redisconn"
)

// SharedOptions configure a Shared limiter.
type SharedOptions struct {
	// Prefix starts every key the limiter keeps in Redis (after the
	// "rate:" that redis_rate puts first); empty: none.
	Prefix string
	// Timeout bounds the time one Allow spends waiting on Redis; zero:
	// redisconn.DefaultTimeout, the bound of redisconn's clients.
	Timeout time.Duration
	// Registerer receives the limiter's metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Shared hands out tokens from buckets that live in Redis, so that every instance
// draws from the same ones: GCRA (a token bucket measured in time) run as
// one script per decision. While Redis cannot answer, Shared decides with
// a Local limiter of the same Limit, so each instance then allows the full
// rate on its own; it goes back to Redis by itself once Redis answers.
type Shared struct {
	rdb       *redis_rate.Limiter
	limit     atomic.Pointer[redis_rate.Limit] // nil: no limit
	prefix    string
	timeout   time.Duration
	local     *Local
	fallbacks prometheus.Counter
}

// NewShared returns a Shared limiter enforcing l for each key, keeping its
// state in rdb.
func NewShared(rdb redis.UniversalClient, l Limit, opts SharedOptions) (*Shared, error) {
	if l.Rate > 0 && l.Burst <= 0 {
		return nil, fmt.Errorf("ratelimit: a shared limit needs a positive burst, not %d", l.Burst)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = redisconn.DefaultTimeout
	}
	s := &Shared{
		rdb:     redis_rate.NewLimiter(rdb),
		prefix:  opts.Prefix,
		timeout: opts.Timeout,
		fallbacks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_ratelimit_fallbacks_total",
			Help: "Rate-limit decisions made in process because Redis could not answer.",
		}),
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(s.fallbacks); err != nil {
			return nil, fmt.Errorf("ratelimit metrics: %w", err)
		}
	}
	s.SetLimit(l)
	return s, nil
}

// SetLimit enforces l from now on, in Redis and in the fallback. Buckets
// in Redis keep the time they are full at, so the new rate applies to them
// at once; the fallback's start full. A Rate of 0 or less allows
// everything, and a positive one needs a positive Burst. It is safe to
// call while Allow runs.
func (s *Shared) SetLimit(l Limit) {
	if s.local == nil {
		s.local = NewLocal(l)
	} else {
		s.local.SetLimit(l)
	}
	if l.Rate <= 0 {
		s.limit.Store(nil)
		return
	}
	// The script only uses Period/Rate, the time between tokens, so one
	// token per that period expresses any rate, fractional too.
	s.limit.Store(&redis_rate.Limit{Rate: 1, Period: time.Duration(float64(time.Second) / l.Rate), Burst: max(l.Burst, 1)})
}

// Allow takes a token for key from Redis, or from the in-process bucket
// while Redis cannot answer. It never returns an error.
func (s *Shared) Allow(ctx context.Context, key string) (Decision, error) {
	limit := s.limit.Load()
	if limit == nil {
		return Decision{Allowed: true}, nil
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	res, err := s.rdb.Allow(rctx, s.prefix+key, *limit)
	cancel()
	if err != nil {
		s.fallbacks.Inc()
		return s.local.Allow(ctx, key)
	}
	if res.Allowed == 0 {
		return Decision{RetryAfter: max(res.RetryAfter, time.Millisecond)}, nil
	}
	return Decision{Allowed: true}, nil
}
