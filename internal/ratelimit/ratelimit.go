// Package ratelimit decides whether a client may act now. Local keeps token
// buckets in process; Shared keeps them in Redis for every instance at once
// and falls back to Local while Redis cannot answer.
package ratelimit

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"golang.org/x/time/rate"
)

// Decision is the answer to one request for a token.
type Decision struct {
	Allowed    bool
	RetryAfter time.Duration // when not allowed: how long until a token is due
}

// Limit is a token bucket: Rate tokens a second, up to Burst at once. A
// Rate of 0 or less allows everything.
type Limit struct {
	Rate  float64
	Burst int
}

// maxKeys bounds the memory Local spends on clients.
const maxKeys = 100_000

// Local hands out tokens from a bucket per key in process memory. Buckets
// of idle keys are dropped once they would be full again, so forgetting them
// changes nothing.
type Local struct {
	cur atomic.Pointer[localBuckets]
}

// localBuckets are the buckets of one Limit.
type localBuckets struct {
	limit   Limit
	buckets *otter.Cache[string, *rate.Limiter]
}

// NewLocal returns a Local limiter enforcing l for each key.
func NewLocal(l Limit) *Local {
	lo := new(Local)
	lo.SetLimit(l)
	return lo
}

// SetLimit enforces l from now on. Every key starts again with a full
// bucket of the new size. It is safe to call while Allow runs.
func (l *Local) SetLimit(lim Limit) {
	refill := time.Minute
	if lim.Rate > 0 {
		refill = time.Duration(float64(lim.Burst) / lim.Rate * float64(time.Second))
	}
	l.cur.Store(&localBuckets{
		limit: lim,
		buckets: otter.Must(&otter.Options[string, *rate.Limiter]{
			MaximumSize:      maxKeys,
			ExpiryCalculator: otter.ExpiryAccessing[string, *rate.Limiter](refill + time.Second),
		}),
	})
}

// Allow takes a token for key if one is there.
func (l *Local) Allow(_ context.Context, key string) (Decision, error) {
	cur := l.cur.Load()
	if cur.limit.Rate <= 0 {
		return Decision{Allowed: true}, nil
	}
	b, _ := cur.buckets.ComputeIfAbsent(key, func() (*rate.Limiter, bool) {
		return rate.NewLimiter(rate.Limit(cur.limit.Rate), cur.limit.Burst), false
	})
	now := time.Now()
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return Decision{RetryAfter: time.Second}, nil
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return Decision{RetryAfter: d}, nil
	}
	return Decision{Allowed: true}, nil
}
