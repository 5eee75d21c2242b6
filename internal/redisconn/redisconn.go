// Package redisconn opens the Redis client that the shared cache tier and the
// shared rate limits use. It reads the URL forms Shortlinks accepts for a
// standalone server, Sentinel and Cluster, builds one redis.UniversalClient
// for all three, gives every command a tight deadline, and puts a circuit
// breaker in front of the commands, so that while Redis is down or slow its
// callers are told so at once instead of each waiting for the deadline.
package redisconn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/trace"
)

// Defaults for Options. DefaultTimeout is also the bound the cache and the
// rate limiter put on their own Redis calls when given none.
const (
	DefaultTimeout = 50 * time.Millisecond
	DefaultOpenFor = time.Second
)

// ErrBreakerOpen is the error of a command that was not sent because recent
// commands failed: Redis is taken to be down until a probe succeeds.
var ErrBreakerOpen = errors.New("redis: not tried while the circuit breaker is open")

// Options configure Open.
type Options struct {
	// Timeout bounds each command, from asking the pool for a connection
	// to reading the reply, dialling included.
	Timeout time.Duration
	// OpenFor is how long the breaker, once open, refuses commands before
	// it lets one through to see whether Redis is back.
	OpenFor time.Duration
	// Registerer receives the client's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Log receives breaker state changes; nil logs nothing.
	Log *slog.Logger
	// Tracer, when set, traces every command.
	Tracer trace.TracerProvider
}

// Open returns a client for the Redis rawURL names (see Parse). It does not
// connect: a Redis that is down at start is retried as commands come.
//
// Every command the client runs, scripts and pipelines included, gets
// opts.Timeout and no retries, and passes a circuit breaker. The breaker
// opens after five consecutive failures, or when at least half of twenty or
// more commands in ten seconds fail; a failure is a network error, a timeout
// or a reply that means the server cannot serve (LOADING, CLUSTERDOWN,
// TRYAGAIN, MASTERDOWN, READONLY, max clients). While it is open, commands
// fail at once with ErrBreakerOpen. After opts.OpenFor one command is let
// through; its success closes the breaker. Pub/sub connections are not
// subject to the breaker and reconnect by themselves.
func Open(rawURL string, opts Options) (redis.UniversalClient, error) {
	o, err := Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.OpenFor <= 0 {
		opts.OpenFor = DefaultOpenFor
	}
	o.DialTimeout = opts.Timeout
	o.ReadTimeout = opts.Timeout
	o.WriteTimeout = opts.Timeout
	o.PoolTimeout = opts.Timeout
	o.ContextTimeoutEnabled = true
	// A retry would wait again; the caller has a fallback instead.
	o.MaxRetries = -1
	o.DialerRetries = 1

	b := newBreaker(opts)
	if opts.Registerer != nil {
		if err := b.register(opts.Registerer); err != nil {
			return nil, fmt.Errorf("redis metrics: %w", err)
		}
	}
	c := redis.NewUniversalClient(o)
	c.AddHook(b)
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(poolCollector{c}); err != nil {
			return nil, fmt.Errorf("redis metrics: %w", err)
		}
	}
	if opts.Tracer != nil {
		if err := redisotel.InstrumentTracing(c, redisotel.WithTracerProvider(opts.Tracer), redisotel.WithDBStatement(false), redisotel.WithCallerEnabled(false)); err != nil {
			return nil, fmt.Errorf("redis tracing: %w", err)
		}
	}
	return c, nil
}

// poolCollector exports the client's connection pool statistics.
type poolCollector struct{ c redis.UniversalClient }

var (
	poolConns = prometheus.NewDesc("shortlinks_redis_pool_connections",
		"Connections in the Redis client's pools, by state (idle, in_use).", []string{"state"}, nil)
	poolGets = prometheus.NewDesc("shortlinks_redis_pool_gets_total",
		"Connections taken from the Redis client's pools, by result: hit (an idle one), miss (a new one), timeout (none in time).", []string{"result"}, nil)
)

func (p poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolConns
	ch <- poolGets
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.c.PoolStats()
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.IdleConns), "idle")
	ch <- prometheus.MustNewConstMetric(poolConns, prometheus.GaugeValue, float64(s.TotalConns-min(s.IdleConns, s.TotalConns)), "in_use")
	ch <- prometheus.MustNewConstMetric(poolGets, prometheus.CounterValue, float64(s.Hits), "hit")
	ch <- prometheus.MustNewConstMetric(poolGets, prometheus.CounterValue, float64(s.Misses), "miss")
	ch <- prometheus.MustNewConstMetric(poolGets, prometheus.CounterValue, float64(s.Timeouts), "timeout")
}

// errCallerGone marks a command whose caller gave up: it says nothing
// about Redis.
var errCallerGone = errors.New("caller canceled")

// passing marks the context of a command that has passed the breaker. The
// commands that set up a new connection for it (HELLO, CLIENT SETINFO) run
// through the same hooks with that context; they are part of the command,
// not commands of their own: counting them would make a probe of a
// half-open breaker fail on its own connection set-up.
type passing struct{}

// breaker is a redis.Hook that bounds each command and fails fast while
// Redis is unreachable.
type breaker struct {
	cb      *gobreaker.TwoStepCircuitBreaker[struct{}]
	timeout time.Duration
	errors  prometheus.Counter
	skipped prometheus.Counter
}

func newBreaker(opts Options) *breaker {
	b := &breaker{
		timeout: opts.Timeout,
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_redis_errors_total",
			Help: "Redis commands that failed because Redis was unreachable, slow or not serving.",
		}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_redis_skipped_total",
			Help: "Redis commands not sent because the circuit breaker was open.",
		}),
	}
	log := opts.Log
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "redis",
		MaxRequests: 1,
		Interval:    10 * time.Second,
		Timeout:     opts.OpenFor,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= 5 || (c.Requests >= 20 && c.TotalFailures*2 >= c.Requests)
		},
		IsExcluded: func(err error) bool { return errors.Is(err, errCallerGone) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			if log == nil {
				return
			}
			switch to {
			case gobreaker.StateOpen:
				log.Warn("redis unreachable; serving without it", "breaker", to.String(), "was", from.String())
			case gobreaker.StateClosed:
				log.Info("redis reachable again", "breaker", to.String(), "was", from.String())
			}
		},
	})
	return b
}

func (b *breaker) register(reg prometheus.Registerer) error {
	state := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "shortlinks_redis_breaker_state",
		Help: "State of the Redis circuit breaker: 0 closed (in use), 1 half-open (probing), 2 open (skipped).",
	}, func() float64 { return float64(b.cb.State()) })
	for _, c := range []prometheus.Collector{b.errors, b.skipped, state} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// outcome is what the breaker should learn from a command's error.
func (b *breaker) outcome(ctx context.Context, err error) error {
	if !failure(err) {
		return nil
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return errCallerGone
	}
	b.errors.Inc()
	return err
}

// failure reports whether err means Redis could not serve the command, as
// opposed to answering it (redis.Nil, or an error reply about the command).
func failure(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		return redis.IsLoadingError(err) || redis.IsClusterDownError(err) || redis.IsTryAgainError(err) ||
			redis.IsMasterDownError(err) || redis.IsReadOnlyError(err) || redis.IsMaxClientsError(err)
	}
	return true
}

func (b *breaker) DialHook(next redis.DialHook) redis.DialHook { return next }

func (b *breaker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if ctx.Value(passing{}) != nil {
			return next(ctx, cmd)
		}
		done, err := b.cb.Allow()
		if err != nil {
			b.skipped.Inc()
			cmd.SetErr(ErrBreakerOpen)
			return ErrBreakerOpen
		}
		tctx, cancel := context.WithTimeout(context.WithValue(ctx, passing{}, true), b.timeout)
		err = next(tctx, cmd)
		cancel()
		done(b.outcome(ctx, err))
		return err
	}
}

func (b *breaker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if ctx.Value(passing{}) != nil {
			return next(ctx, cmds)
		}
		done, err := b.cb.Allow()
		if err != nil {
			b.skipped.Add(float64(len(cmds)))
			for _, c := range cmds {
				c.SetErr(ErrBreakerOpen)
			}
			return ErrBreakerOpen
		}
		tctx, cancel := context.WithTimeout(context.WithValue(ctx, passing{}, true), b.timeout)
		err = next(tctx, cmds)
		cancel()
		done(b.outcome(ctx, err))
		return err
	}
}

// SetLogger sends the Redis client library's own messages, such as failed
// dials, to log at debug level; the breaker already reports outages once, at
// warning level. The library keeps one logger per process, so only the
// process's entry point should call this.
func SetLogger(log *slog.Logger) {
	redis.SetLogger(libraryLogger{log})
}

type libraryLogger struct{ log *slog.Logger }

func (l libraryLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis client", "message", fmt.Sprintf(format, v...))
}
