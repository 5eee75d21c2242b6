package safebrowsing

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Defaults for Options. The rate stays inside the Lookup API's default
// quota of 10,000 requests a day; each request carries up to 500 URLs.
const (
	DefaultQueueSize = 10_000
	DefaultWorkers   = 1
	DefaultRate      = rate.Limit(0.1) // requests per second: one every 10 s
	DefaultBurst     = 5
	DefaultSafeTTL   = 5 * time.Minute
	DefaultCacheSize = 10_000
	DefaultAttempts  = 3
	DefaultBackoff   = 5 * time.Second
	maxBackoff       = 5 * time.Minute
)

// Options configure a Checker.
type Options struct {
	QueueSize int        // URLs waiting to be checked; more are dropped and counted
	Workers   int        // concurrent lookups
	Batch     int        // URLs per request, at most MaxURLsPerRequest (the default)
	Rate      rate.Limit // lookups per second, across all workers
	Burst     int        // lookups allowed at once after a quiet spell
	// SafeTTL is how long a URL found safe is remembered. A threat is
	// remembered as long as the API's cacheDuration says, or SafeTTL when it
	// gives none.
	SafeTTL   time.Duration
	CacheSize int // verdicts remembered
	// Attempts is how many times a URL is looked up when the API fails in a
	// way that may pass (rate limited, server error, network); other
	// failures, such as a bad key, are not retried.
	Attempts int
	// Backoff is how long a worker waits after a failure that may pass; it
	// doubles with each failure in a row, up to five minutes.
	Backoff time.Duration
	// OnVerdict is called with every verdict, from a worker. It may take a
	// while (it holds up only later checks), but must return.
	OnVerdict  func(Verdict)
	Log        *slog.Logger
	Registerer prometheus.Registerer // nil: no metrics
	Now        func() time.Time      // for the cache; time.Now when nil
}

// A Verdict is what Safe Browsing said about one URL.
type Verdict struct {
	ID      string   // as given to Check
	URL     string   // as given to Check
	Threats []Threat // none: not on any list
	Cached  bool     // answered from the cache, without a request
}

// Safe reports whether the URL is on none of the lists.
func (v Verdict) Safe() bool { return len(v.Threats) == 0 }

// A Checker looks URLs up in the background: Check queues a URL and returns
// at once, and Run's workers batch the queue into rate-limited requests and
// report each verdict to OnVerdict.
type Checker struct {
	client  *Client
	opts    Options
	log     *slog.Logger
	queue   chan item
	limiter *rate.Limiter
	cache   *cache
	metrics *metrics
}

type item struct {
	id, url string
	tries   int
}

// New returns a Checker that asks c.
func New(c *Client, opts Options) *Checker {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Batch <= 0 || opts.Batch > MaxURLsPerRequest {
		opts.Batch = MaxURLsPerRequest
	}
	if opts.Rate <= 0 {
		opts.Rate = DefaultRate
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	if opts.SafeTTL <= 0 {
		opts.SafeTTL = DefaultSafeTTL
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ch := &Checker{
		client:  c,
		opts:    opts,
		log:     opts.Log,
		queue:   make(chan item, opts.QueueSize),
		limiter: rate.NewLimiter(opts.Rate, opts.Burst),
		cache:   &cache{max: opts.CacheSize, entries: map[string]cached{}},
	}
	if ch.log == nil {
		ch.log = slog.New(slog.DiscardHandler)
	}
	ch.metrics = newMetrics(opts.Registerer, func() float64 { return float64(len(ch.queue)) })
	return ch
}

// Check queues url, with the caller's id for it (a link's code), to be
// looked up. It never blocks: when the queue is full the URL is dropped,
// counted, and Check returns false.
func (c *Checker) Check(id, url string) bool {
	select {
	case c.queue <- item{id: id, url: url}:
		return true
	default:
		c.metrics.drop("queue_full")
		return false
	}
}

// Run looks up queued URLs until ctx ends, then returns nil. URLs still
// queued then are not checked; the log says how many.
func (c *Checker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range c.opts.Workers {
		wg.Go(func() { c.work(ctx) })
	}
	wg.Wait()
	if n := len(c.queue); n > 0 {
		c.metrics.dropN("shutdown", n)
		c.log.Warn("safe browsing: URLs left unchecked at shutdown", "count", n)
	}
	return nil
}

func (c *Checker) work(ctx context.Context) {
	backoff := time.Duration(0)
	for {
		var first item
		select {
		case <-ctx.Done():
			return
		case first = <-c.queue:
		}
		if c.fromCache(first) {
			continue
		}
		// While this waits for its turn, the queue fills, and the batch
		// that follows carries more URLs in the same request.
		if err := c.limiter.Wait(ctx); err != nil {
			return
		}
		batch := c.fill(first)
		if len(batch) == 0 {
			continue
		}
		if err := c.lookup(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return
			}
			if !temporary(err) {
				backoff = 0
				continue
			}
			backoff = min(max(2*backoff, c.opts.Backoff), maxBackoff)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
	}
}

// fill makes a batch of first and whatever else is queued, up to Batch URLs,
// answering what the cache knows on the way.
func (c *Checker) fill(first item) []item {
	batch := []item{first}
	urls := map[string]bool{first.url: true}
	for len(urls) < c.opts.Batch {
		select {
		case it := <-c.queue:
			if c.fromCache(it) {
				continue
			}
			batch = append(batch, it)
			urls[it.url] = true
			continue
		default:
		}
		break
	}
	return batch
}

// fromCache delivers the verdict for it if the cache has one.
func (c *Checker) fromCache(it item) bool {
	threats, ok := c.cache.get(it.url, c.opts.Now())
	if !ok {
		return false
	}
	c.deliver(Verdict{ID: it.id, URL: it.url, Threats: threats, Cached: true})
	return true
}

// lookup asks the API about batch and delivers the verdicts. On failure it
// queues again the items that may be tried again.
func (c *Checker) lookup(ctx context.Context, batch []item) error {
	seen := make(map[string]bool, len(batch))
	urls := make([]string, 0, len(batch))
	for _, it := range batch {
		if !seen[it.url] {
			seen[it.url] = true
			urls = append(urls, it.url)
		}
	}
	start := time.Now()
	found, err := c.client.Find(ctx, urls)
	c.metrics.observe(time.Since(start), err)
	if err != nil {
		if ctx.Err() != nil {
			c.metrics.dropN("shutdown", len(batch))
			return err
		}
		retry := temporary(err)
		c.log.Warn("safe browsing lookup failed", "urls", len(urls), "retry", retry, "err", err)
		for _, it := range batch {
			it.tries++
			if !retry || it.tries >= c.opts.Attempts {
				c.metrics.drop("failed")
				continue
			}
			select {
			case c.queue <- it:
			default:
				c.metrics.drop("queue_full")
			}
		}
		return err
	}
	now := c.opts.Now()
	for _, u := range urls {
		c.cache.put(u, found[u], now, now.Add(c.ttl(found[u])))
	}
	for _, it := range batch {
		c.deliver(Verdict{ID: it.id, URL: it.url, Threats: found[it.url]})
	}
	return nil
}

// ttl is how long a verdict may be remembered: the shortest cache duration
// the API gave its threats, or SafeTTL.
func (c *Checker) ttl(threats []Threat) time.Duration {
	ttl := time.Duration(0)
	for _, t := range threats {
		if t.CacheFor > 0 && (ttl == 0 || t.CacheFor < ttl) {
			ttl = t.CacheFor
		}
	}
	if ttl == 0 {
		ttl = c.opts.SafeTTL
	}
	return ttl
}

func (c *Checker) deliver(v Verdict) {
	c.metrics.verdict(v)
	if !v.Safe() {
		types := make([]string, len(v.Threats))
		for i, t := range v.Threats {
			types[i] = string(t.Type)
		}
		c.log.Warn("safe browsing: URL is on a threat list", "id", v.ID, "url", v.URL, "threats", types, "cached", v.Cached)
	}
	if c.opts.OnVerdict != nil {
		c.opts.OnVerdict(v)
	}
}

// temporary reports whether a failed lookup may succeed later.
func temporary(err error) bool {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Temporary()
	}
	return true // the network, a timeout, a garbled response
}

// cache remembers verdicts until they expire, up to max of them.
type cache struct {
	mu      sync.Mutex
	max     int
	entries map[string]cached
}

type cached struct {
	threats []Threat
	until   time.Time
}

func (c *cache) get(url string, now time.Time) ([]Threat, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[url]
	if !ok || !now.Before(e.until) {
		return nil, false
	}
	return e.threats, true
}

func (c *cache) put(url string, threats []Threat, now, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		c.evict(now)
	}
	c.entries[url] = cached{threats: threats, until: until}
}

// evict drops expired verdicts, and if that frees nothing, a tenth of the
// rest (which ones is up to map order: the cache only saves requests).
func (c *cache) evict(now time.Time) {
	for u, e := range c.entries {
		if !e.until.After(now) {
			delete(c.entries, u)
		}
	}
	for u := range c.entries {
		if len(c.entries) < c.max*9/10 {
			break
		}
		delete(c.entries, u)
	}
}

// metrics are the Checker's Prometheus metrics; a nil *metrics records
// nothing.
type metrics struct {
	verdicts *prometheus.CounterVec
	dropped  *prometheus.CounterVec
	requests *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer, queued func() float64) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shortlinks_safebrowsing_verdicts_total",
			Help: "Safe Browsing verdicts, by verdict (safe, unsafe) and source (api, cache).",
		}, []string{"verdict", "source"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shortlinks_safebrowsing_unchecked_total",
			Help: "URLs never checked, by reason: queue_full, failed (lookups failed), shutdown.",
		}, []string{"reason"}),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "shortlinks_safebrowsing_request_duration_seconds",
			Help:    "Safe Browsing Lookup API requests, by outcome (ok, error).",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"outcome"}),
	}
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "shortlinks_safebrowsing_queue_length",
		Help: "URLs waiting for a Safe Browsing lookup.",
	}, queued)
	reg.MustRegister(m.verdicts, m.dropped, m.requests, queue)
	for _, v := range []string{"safe", "unsafe"} {
		for _, s := range []string{"api", "cache"} {
			m.verdicts.WithLabelValues(v, s)
		}
	}
	for _, r := range []string{"queue_full", "failed", "shutdown"} {
		m.dropped.WithLabelValues(r)
	}
	return m
}

func (m *metrics) verdict(v Verdict) {
	if m == nil {
		return
	}
	verdict, source := "safe", "api"
	if !v.Safe() {
		verdict = "unsafe"
	}
	if v.Cached {
		source = "cache"
	}
	m.verdicts.WithLabelValues(verdict, source).Inc()
}

func (m *metrics) drop(reason string) { m.dropN(reason, 1) }

func (m *metrics) dropN(reason string, n int) {
	if m == nil {
		return
	}
	m.dropped.WithLabelValues(reason).Add(float64(n))
}

func (m *metrics) observe(d time.Duration, err error) {
	if m == nil {
		return
	}
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.requests.WithLabelValues(outcome).Observe(d.Seconds())
}
