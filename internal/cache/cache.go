// Package cache keeps links close to the redirect path. Store is a
// read-through link.Store in front of another one, with two tiers: a bounded
// in-process tier (W-TinyLFU, through otter) and, when configured, a Redis
// tier shared by every instance. It remembers unknown codes briefly in both
// tiers, so a flood of bad codes does not reach the database.
//
// Staleness: a create, edit or delete through one instance writes Redis and
// publishes the code on a pub/sub channel; every other instance drops the
// code from its in-process tier when the message arrives. A message lost
// while an instance is cut off from Redis costs at most TTL, and usually
// less: the instance empties its in-process tier when it subscribes again.
// A create or delete that cannot reach Redis is retried every second until
// Redis takes it. Redis never holds an entry past RedisTTL or its link's
// expiry, and keeps a deleted code marked deleted for RedisTTL, so that no
// late write brings the link back. An edited link is written to Redis for
// TTL only: should two instances' edits of one link reach Redis out of
// order, the older one is gone within the same bound.
package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/redisconn"
)

// Options configure a Store.
type Options struct {
	// Size is the most links held in process. It, TTL, NegativeTTL and,
	// with Redis, RedisTTL must be positive: their defaults are the
	// settings' (internal/config), not the cache's.
	Size int
	// TTL bounds how long an entry is served from process memory without
	// asking the next tier: the staleness bound when an invalidation
	// message from another instance is lost.
	TTL time.Duration
	// NegativeTTL is how long an unknown code is remembered as unknown, in
	// process and in Redis.
	NegativeTTL time.Duration

	// Redis is the shared tier; nil keeps the in-process tier only. The
	// client must bound each command by Timeout or less, as the clients of
	// redisconn.Open do.
	Redis redis.UniversalClient
	// RedisTTL bounds how long a link stays in Redis.
	RedisTTL time.Duration
	// Prefix starts every key and the channel name this Store uses in
	// Redis, so that deployments (or tests) can share one Redis; empty:
	// none.
	Prefix string
	// Timeout bounds the time one call spends waiting on Redis; zero:
	// redisconn.DefaultTimeout, the bound of redisconn's clients.
	Timeout time.Duration

	// Registerer receives the cache's metrics; nil registers none.
	Registerer prometheus.Registerer
	// TraceTiers notes on the caller's trace span which tier answered
	// each Get (attribute shortlinks.source: local, redis or database).
	// Off, a lookup does not look for a span at all.
	TraceTiers bool
	// Log receives notes about the Redis tier; nil logs nothing.
	Log *slog.Logger

	// Editor edits the links of the next store; nil: Store's Editor
	// methods fail.
	Editor link.Editor

	// DomainsChanged is called when another instance announces that it
	// added or removed a short domain (AnnounceDomains), and whenever the
	// invalidation channel is subscribed again, since news may have been
	// missed meanwhile (link.Domains.Changed fits). It must not block.
	// nil: such news is ignored.
	DomainsChanged func()
}

// entry is a cached lookup: a link, or the fact that there is none. It
// holds what a redirect needs, no more: the code is the key, and the
// options, which most links lack, are behind a pointer, so that a plain
// link costs what it did before links had options.
type entry struct {
	id, owner int64
	url       string
	created   time.Time
	expires   time.Time
	opts      *options // nil: none
	missing   bool
	from      tier // the tier a miss loaded it from
}

// options are the parts of a link beyond the plain ones that a redirect
// needs.
type options struct {
	userID       int64
	disabledAt   time.Time
	validFrom    time.Time
	maxVisits    int64
	passwordHash string
	forwardQuery bool
	rules        []link.Rule
}

func newEntry(l link.Link) entry {
	e := entry{id: l.ID, owner: l.Owner, url: l.URL, created: l.CreatedAt, expires: l.ExpiresAt}
	if l.UserID != 0 || !l.Plain() {
		e.opts = &options{
			userID: l.UserID, disabledAt: l.DisabledAt, validFrom: l.ValidFrom, maxVisits: l.MaxVisits,
			passwordHash: l.PasswordHash, forwardQuery: l.ForwardQuery, rules: l.Rules,
		}
	}
	return e
}

// toLink returns the link e holds for code c.
func (e *entry) toLink(c link.Code) link.Link {
	l := link.Link{ID: e.id, Code: c, URL: e.url, CreatedAt: e.created, ExpiresAt: e.expires, Owner: e.owner}
	if o := e.opts; o != nil {
		l.UserID, l.DisabledAt, l.ValidFrom, l.MaxVisits = o.userID, o.disabledAt, o.validFrom, o.maxVisits
		l.PasswordHash, l.ForwardQuery, l.Rules = o.passwordHash, o.forwardQuery, o.rules
	}
	return l
}

// tier is where a lookup was answered, for traces.
type tier uint8

const (
	fromNext  tier = iota // the next store: the database
	fromRedis             // the shared tier
	fromLocal             // this instance's memory
)

var tierNames = [...]string{fromNext: "database", fromRedis: "redis", fromLocal: "local"}

// Store is a read-through cache in front of another link.Store.
type Store struct {
	next    link.Store
	editor  link.Editor
	local   *otter.Cache[link.Code, entry]
	evicted prometheus.Counter
	clock   *otter.CoarseClock
	upkeep  *upkeep
	ttl     time.Duration
	negTTL  time.Duration
	now     func() time.Time
	m       *metrics
	log     *slog.Logger
	traced  bool

	// The Redis tier; rdb is nil without one.
	rdb      redis.UniversalClient
	redisTTL time.Duration
	prefix   string
	channel  string
	timeout  time.Duration
	origin   string // marks this Store's own invalidation messages
	pending  *pending
	// subscribed: the invalidation channel is heard now; everSubscribed:
	// it has been at least once.
	subscribed, everSubscribed atomic.Bool
	domainsChanged             func()
	stop                       context.CancelFunc
	wg                         sync.WaitGroup
}

var (
	_ link.Store  = (*Store)(nil)
	_ link.Editor = (*Store)(nil)
)

var errNoEditor = errors.New("cache: no editor below")

// New returns a Store in front of next. With a Redis tier it starts
// listening for other instances' invalidations at once, without waiting
// for Redis; Close stops it.
func New(next link.Store, opts Options) (*Store, error) {
	if opts.Size <= 0 || opts.TTL <= 0 || opts.NegativeTTL <= 0 || opts.Redis != nil && opts.RedisTTL <= 0 {
		return nil, fmt.Errorf("cache: size %d, TTL %v, negative TTL %v and Redis TTL %v must be positive",
			opts.Size, opts.TTL, opts.NegativeTTL, opts.RedisTTL)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = redisconn.DefaultTimeout
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{
		next: next, editor: opts.Editor,
		evicted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_cache_evictions_total", Help: "Links the in-process tier dropped to stay within its size.",
		}),
		ttl: opts.TTL, negTTL: opts.NegativeTTL, now: time.Now, log: log, traced: opts.TraceTiers,
		rdb: opts.Redis, redisTTL: opts.RedisTTL, timeout: opts.Timeout,
		prefix: opts.Prefix + "link:", channel: opts.Prefix + "invalidate",
		pending: newPending(maxPending), domainsChanged: opts.DomainsChanged,
	}
	// Reading the precise time costs more than the rest of a hit; entries
	// live for seconds, so a clock that is 10ms coarse is precise enough.
	s.clock = otter.NewCoarseClock(10 * time.Millisecond)
	s.upkeep = newUpkeep()
	c, err := otter.New(&otter.Options[link.Code, entry]{
		MaximumSize: opts.Size,
		// Hits and misses are counted in Get; a stats recorder would count
		// each again on the hot path.
		OnAtomicDeletion: func(e otter.DeletionEvent[link.Code, entry]) {
			if e.Cause == otter.CauseOverflow {
				s.evicted.Inc()
			}
		},
		ExpiryCalculator: otter.ExpiryWritingFunc(s.lifetime),
		Clock:            s.clock,
		Executor:         s.upkeep.run,
	})
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	s.local = c
	s.m = newMetrics(s)
	if opts.Registerer != nil {
		if err := s.m.register(opts.Registerer); err != nil {
			return nil, fmt.Errorf("cache metrics: %w", err)
		}
	}
	if s.rdb != nil {
		var id [8]byte
		rand.Read(id[:])
		s.origin = hex.EncodeToString(id[:])
		ctx, cancel := context.WithCancel(context.Background())
		s.stop = cancel
		s.wg.Add(2)
		go func() { defer s.wg.Done(); s.listen(ctx) }()
		go func() { defer s.wg.Done(); s.retry(ctx) }()
	}
	return s, nil
}

// Close stops listening for invalidations and the cache's clock. It does
// not close the Redis client, which the caller owns.
func (s *Store) Close() error {
	if s.stop != nil {
		s.stop()
		s.wg.Wait()
	}
	s.clock.Stop()
	s.upkeep.stop()
	return nil
}

// upkeep runs the in-process tier's housekeeping (draining its access
// buffers, expiring entries) on one long-lived goroutine. otter's default
// starts a goroutine per task, which on a busy core costs more than the
// task; a task that finds the worker busy still gets a goroutine of its own.
type upkeep struct {
	tasks chan func()
	quit  chan struct{}
	done  chan struct{}
	once  sync.Once
}

func newUpkeep() *upkeep {
	u := &upkeep{tasks: make(chan func(), 64), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(u.done)
		for {
			select {
			case fn := <-u.tasks:
				fn()
			case <-u.quit:
				return
			}
		}
	}()
	return u
}

func (u *upkeep) run(fn func()) {
	select {
	case u.tasks <- fn:
	default:
		go fn()
	}
}

// stop ends the worker. Tasks queued later never run, which is harmless:
// the tier is no longer used once its Store is closed.
func (u *upkeep) stop() {
	u.once.Do(func() { close(u.quit) })
	<-u.done
}

// lifetime is how long an entry may stay in process: never past its link's
// expiry.
func (s *Store) lifetime(e otter.Entry[link.Code, entry]) time.Duration {
	if e.Value.missing {
		return s.negTTL
	}
	return s.bound(e.Value.expires, s.ttl)
}

// bound shortens d to the time a link expiring at exp has left. An expired
// link, which the service answers with 410, is kept as briefly as an
// unknown code.
func (s *Store) bound(exp time.Time, d time.Duration) time.Duration {
	if exp.IsZero() {
		return d
	}
	left := exp.Sub(s.now())
	if left <= 0 {
		return s.negTTL
	}
	return min(d, left)
}

// Get returns the link for c from the nearest tier that has it, filling
// the tiers above on the way back. It returns link.ErrNotFound for an
// unknown code, and the next store's error if it fails; a Redis that is
// down or slow is skipped, never reported. Hits and misses are counted by
// tier (shortlinks_cache_hits_total, shortlinks_cache_misses_total).
func (s *Store) Get(ctx context.Context, c link.Code) (link.Link, error) {
	e, ok := s.local.GetIfPresent(c)
	if ok {
		s.m.localHits.Inc()
		e.from = fromLocal
	} else {
		s.m.localMisses.Inc()
		var err error
		// otter runs one load per code at a time; concurrent misses wait
		// for it, and a write or invalidation during the load discards it.
		e, err = s.local.Get(ctx, c, otter.LoaderFunc[link.Code, entry](s.load))
		if err != nil {
			return link.Link{}, err
		}
	}
	if s.traced {
		trace.SpanFromContext(ctx).SetAttributes(attribute.String("shortlinks.source", tierNames[e.from]))
	}
	if e.missing {
		return link.Link{}, link.ErrNotFound
	}
	return e.toLink(c), nil
}

// load looks c up below the in-process tier.
func (s *Store) load(ctx context.Context, c link.Code) (entry, error) {
	if s.rdb == nil {
		return s.fromNext(ctx, c)
	}
	start := time.Now()
	e, err := s.fromRedis(ctx, c)
	switch {
	case err == nil:
		s.m.redisHits.Inc()
		return e, nil
	case !errors.Is(err, redis.Nil):
		// Redis is down or slow: go straight to the database, and do not
		// wait on Redis again to fill it.
		return s.fromNext(ctx, c)
	}
	s.m.redisMisses.Inc()
	e, err = s.fromNext(ctx, c)
	if err != nil {
		return e, err
	}
	if left := s.timeout - time.Since(start); left > 0 {
		s.fill(ctx, c, e, left)
	}
	return e, nil
}

func (s *Store) fromNext(ctx context.Context, c link.Code) (entry, error) {
	var l link.Link
	var err error
	if d, code := splitKey(c); d != link.DefaultDomain {
		l, err = s.getOn(ctx, d, code)
	} else {
		l, err = s.next.Get(ctx, c)
	}
	switch {
	case err == nil:
		e := newEntry(l)
		e.from = fromNext
		return e, nil
	case errors.Is(err, link.ErrNotFound):
		return entry{missing: true, from: fromNext}, nil
	default:
		return entry{}, err
	}
}

// Insert stores l in the next tier, caches it in process, and writes it to
// Redis and tells the other instances, replacing any memory of the code
// being unknown everywhere.
func (s *Store) Insert(ctx context.Context, l link.Link) (int64, error) {
	id, err := s.next.Insert(ctx, l)
	if err != nil {
		return 0, err
	}
	l.ID = id
	l = l.ForRedirect()
	l.Code = domainKey(l.Domain, l.Code)
	s.local.Set(l.Code, newEntry(l))
	s.announce(ctx, change{link: l, kind: created})
	return id, nil
}

// Delete deletes c from the next tier and then from every tier of every
// instance: it forgets c here, marks it deleted in Redis and tells the other
// instances to forget it.
func (s *Store) Delete(ctx context.Context, c link.Code) error {
	return s.forget(ctx, c, s.next.Delete(ctx, c))
}

// forget drops the link with key c from every tier of every instance after
// the next tier's delete ended with err, and returns err.
func (s *Store) forget(ctx context.Context, c link.Code, err error) error {
	s.local.Invalidate(c)
	switch {
	case err == nil:
		s.announce(ctx, change{link: link.Link{Code: c}, kind: deleted})
	case errors.Is(err, link.ErrNotFound):
		// Some tier may still remember a link that is gone.
		s.announce(ctx, change{link: link.Link{Code: c}, kind: forgotten})
	}
	return err
}

// Update edits c in the next tier and then everywhere: it caches the link
// as edited here, writes it to Redis and tells the other instances to
// forget c, so that they read the edit within the staleness bound.
func (s *Store) Update(ctx context.Context, c link.Code, edit func(*link.Link) error) (before, after link.Link, err error) {
	if s.editor == nil {
		return link.Link{}, link.Link{}, errNoEditor
	}
	before, after, err = s.editor.Update(ctx, c, edit)
	s.edited(ctx, c, after, err)
	return before, after, err
}

// edited puts the link with key c, after an edit that ended with err, in
// every tier of every instance.
func (s *Store) edited(ctx context.Context, c link.Code, after link.Link, err error) {
	switch {
	case err == nil:
		cached := after.ForRedirect()
		cached.Code = c
		s.local.Set(c, newEntry(cached))
		s.announce(ctx, change{link: cached, kind: edited})
	case errors.Is(err, link.ErrNotFound):
		s.local.Invalidate(c)
		s.announce(ctx, change{link: link.Link{Code: c}, kind: forgotten})
	}
}

// Find reads c whole from the next tier: the people managing links read
// their edits at once.
func (s *Store) Find(ctx context.Context, c link.Code) (link.Link, error) {
	if s.editor == nil {
		return link.Link{}, errNoEditor
	}
	return s.editor.Find(ctx, c)
}

// Tags counts tags in the next tier.
func (s *Store) Tags(ctx context.Context, q link.ListQuery) ([]link.TagCount, error) {
	if s.editor == nil {
		return nil, errNoEditor
	}
	return s.editor.Tags(ctx, q)
}

// LinksTo asks the next tier.
func (s *Store) LinksTo(ctx context.Context, hosts []string) ([]link.Link, error) {
	if s.editor == nil {
		return nil, errNoEditor
	}
	return s.editor.LinksTo(ctx, hosts)
}

// Len is the number of entries held in process.
func (s *Store) Len() int { return s.local.EstimatedSize() }

type metrics struct {
	localHits, localMisses, redisHits, redisMisses prometheus.Counter

	pendingDropped prometheus.Counter
	flushes        prometheus.Counter
	collectors     []prometheus.Collector
}

func newMetrics(s *Store) *metrics {
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortlinks_cache_hits_total",
		Help: "Link lookups answered by a cache tier (local: in process, redis: shared).",
	}, []string{"tier"})
	misses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "shortlinks_cache_misses_total",
		Help: "Link lookups a cache tier could not answer (a Redis that fails is not counted here).",
	}, []string{"tier"})
	m := &metrics{
		localHits: hits.WithLabelValues("local"), localMisses: misses.WithLabelValues("local"),
		redisHits: hits.WithLabelValues("redis"), redisMisses: misses.WithLabelValues("redis"),
		pendingDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_cache_redis_writes_dropped_total",
			Help: "Creates and deletes whose Redis update was given up because too many were waiting for Redis.",
		}),
		flushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_cache_local_flushes_total",
			Help: "Times the in-process tier was emptied because invalidations may have been missed while unsubscribed.",
		}),
	}
	m.collectors = []prometheus.Collector{
		hits, misses, m.pendingDropped, m.flushes,
		s.evicted,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "shortlinks_cache_entries", Help: "Links held in the in-process cache."},
			func() float64 { return float64(s.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "shortlinks_cache_ttl_seconds",
			Help: "Longest a link is served from the in-process cache without asking the tier below (--cache-ttl, or the one chosen for the deployment).",
		}, func() float64 { return s.ttl.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "shortlinks_cache_redis_writes_pending",
			Help: "Creates and deletes waiting for Redis to come back to be written there and announced.",
		}, func() float64 { return float64(s.pending.len()) }),
	}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	for _, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
