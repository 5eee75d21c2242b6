package analytics

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for RecorderOptions.
const (
	DefaultCapacity        = 8192
	DefaultDrainInterval   = 100 * time.Millisecond
	DefaultFlushInterval   = time.Second
	DefaultMaxBatch        = 4096
	DefaultMaxPending      = 1 << 18
	DefaultShutdownTimeout = 5 * time.Second
)

// publishShare bounds the share of the time the recorder spends
// publishing: after a publish that took d, the next waits at least
// publishShare·d, up to MaxFlushInterval. The embedded store writes each
// link's rollup rows once per publish, whatever its clicks, so under load
// a longer wait writes the same rows for more clicks; a publish to a
// stream takes milliseconds and keeps FlushInterval.
const publishShare = 20

// A Publisher takes batches away from the instance: into the database
// (Processor) or onto a stream that workers read (redisstream.Publisher).
type Publisher interface {
	// Publish takes batches in order and returns how many of them, from
	// the first, it has taken; the Recorder keeps the rest and offers them
	// again later. An error means at least one was not taken. Taking a
	// batch twice is harmless: sinks skip a BatchID they have applied.
	Publish(ctx context.Context, batches []*Batch) (int, error)
}

// RecorderOptions configure a Recorder. Zero values mean the defaults.
type RecorderOptions struct {
	// Capacity is how many clicks the buffer on the redirect path holds
	// between drains; a click that finds it full is dropped and counted.
	// Each costs about 460 bytes. The default, drained every 100 ms, takes
	// bursts of 80,000 clicks a second in 3.8 MB; draining often keeps the
	// buffer small enough to stay in the processor's cache, which a buffer
	// of seconds of traffic would not.
	Capacity int
	// DrainInterval is how often Run moves clicks from the buffer into the
	// batch being built.
	DrainInterval time.Duration
	// FlushInterval is how often the batches are published. It is most of
	// the delay before a click shows in stats.
	FlushInterval time.Duration
	// MaxFlushInterval is the longest a publish may be put off because the
	// last one took long (see publishShare); zero: three FlushIntervals.
	MaxFlushInterval time.Duration
	// MaxBatch bounds the events in one batch.
	MaxBatch int
	// MaxPending bounds the events held in drained batches that the
	// Publisher has not taken yet, such as while Redis is unreachable.
	// Beyond it the buffer is left to fill and further clicks are dropped.
	// Each costs about 60 bytes plus its share of the batch's strings.
	MaxPending int
	// ShutdownTimeout bounds the last publish when Run's context ends.
	ShutdownTimeout time.Duration
	// Registerer receives the recorder's metrics; nil registers none.
	Registerer prometheus.Registerer
	// Log receives publish failures and recoveries; nil discards them.
	Log *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Recorder collects clicks on the redirect path and publishes them in
// batches from Run.
type Recorder struct {
	ring     *ring[slotEvent]
	pub      Publisher
	opts     RecorderOptions
	log      *slog.Logger
	now      func() time.Time
	producer uint64
	seq      uint64

	cur           *builder // the batch being built, nil when none
	pending       []*Batch // sealed batches not yet published
	pendingEvents atomic.Int64
	interval      atomic.Int64  // nanoseconds until the next publish, from the last one's start
	lost          atomic.Uint64 // clicks still held (buffered or pending) when Run gave up at shutdown
	publishErrors prometheus.Counter
	published     prometheus.Counter
}

// NewRecorder returns a Recorder that publishes to pub. It registers its
// metrics on opts.Registerer and fails if they are already registered.
func NewRecorder(pub Publisher, opts RecorderOptions) (*Recorder, error) {
	if pub == nil {
		return nil, errors.New("analytics: recorder needs a publisher")
	}
	if opts.Capacity <= 0 {
		opts.Capacity = DefaultCapacity
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.DrainInterval <= 0 {
		opts.DrainInterval = DefaultDrainInterval
	}
	opts.DrainInterval = min(opts.DrainInterval, opts.FlushInterval)
	if opts.MaxFlushInterval <= 0 {
		opts.MaxFlushInterval = 3 * opts.FlushInterval
	}
	opts.MaxFlushInterval = max(opts.MaxFlushInterval, opts.FlushInterval)
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.MaxPending <= 0 {
		opts.MaxPending = DefaultMaxPending
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	r := &Recorder{
		// Four shards per P: two redirects running at once pick the same
		// shard one time in 4·GOMAXPROCS.
		ring:     newRing[slotEvent](opts.Capacity, 4*runtime.GOMAXPROCS(0)),
		pub:      pub,
		opts:     opts,
		log:      opts.Log,
		now:      opts.Now,
		producer: randomProducer(),
		publishErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_analytics_publish_errors_total",
			Help: "Attempts to publish click batches that failed; the batches are kept and tried again.",
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_analytics_published_batches_total",
			Help: "Click batches handed to the pipeline.",
		}),
	}
	r.interval.Store(int64(opts.FlushInterval))
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if reg := opts.Registerer; reg != nil {
		cs := []prometheus.Collector{
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "shortlinks_clicks_enqueued_total",
				Help: "Clicks put into the recorder's buffer on the redirect path.",
			}, func() float64 { put, _, _ := r.ring.stats(); return float64(put) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "shortlinks_clicks_dropped_total",
				Help: "Clicks dropped because the recorder's buffer was full, or still unpublished at shutdown.",
			}, func() float64 { return float64(r.Dropped()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "shortlinks_analytics_flush_interval_seconds",
				Help: "How long the recorder waits between publishes now: the flush interval, or longer while publishing is slow.",
			}, func() float64 { return time.Duration(r.interval.Load()).Seconds() }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "shortlinks_clicks_buffered",
				Help: "Clicks recorded but not yet handed to the pipeline.",
			}, func() float64 { return float64(r.Buffered()) }),
			r.publishErrors, r.published,
		}
		for _, c := range cs {
			if err := reg.Register(c); err != nil {
				return nil, fmt.Errorf("analytics: register recorder metrics: %w", err)
			}
		}
	}
	return r, nil
}

func randomProducer() uint64 {
	var b [8]byte
	rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

// Record notes a click. It copies c into the buffer and returns at once; it
// never allocates, blocks or takes a lock. When the buffer is full the
// click is dropped and counted.
func (r *Recorder) Record(c Click) {
	sl, pos := r.ring.reserve()
	if sl == nil {
		return
	}
	var at int64
	if c.At.IsZero() {
		at = r.now().UnixNano()
	} else {
		at = c.At.UnixNano()
	}
	sl.v.fill(&c, at)
	commit(sl, pos)
}

// Dropped returns how many clicks were dropped so far.
func (r *Recorder) Dropped() uint64 {
	_, _, d := r.ring.stats()
	return d + r.lost.Load()
}

// Buffered returns how many clicks are recorded but not yet published.
func (r *Recorder) Buffered() uint64 {
	_, w, _ := r.ring.stats()
	return w + uint64(r.pendingEvents.Load())
}

// Run drains the buffer every DrainInterval and publishes every
// FlushInterval (longer while publishing is slow, see publishShare) until
// ctx ends, then drains and publishes what is left, for at most
// ShutdownTimeout. It returns nil when ctx ends.
//
// A publish runs on a goroutine of its own while Run goes on draining, so
// that a slow one (a commit to SQLite under load takes hundreds of
// milliseconds, in which the buffer would fill) only delays the clicks,
// up to MaxPending of them, and drops none.
func (r *Recorder) Run(ctx context.Context) error {
	t := time.NewTicker(r.opts.DrainInterval)
	defer t.Stop()
	failing := false
	last := time.Now()
	var inflight chan publishResult // the publish running, nil when none
	for {
		select {
		case <-ctx.Done():
			if inflight != nil {
				// The publish ends with ctx; what it did not take stays
				// pending for the flushes below.
				res := <-inflight
				r.settle(res.n, res.err)
			}
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.ShutdownTimeout)
			defer cancel()
			// One flush moves at most MaxPending clicks out of the buffer:
			// after a backlog (a publish that hung, a stream that was
			// down) the buffer may hold more, so flush until it is empty.
			for r.Flush(sctx) == nil && r.Buffered() > 0 && sctx.Err() == nil {
			}
			if n := r.Buffered(); n > 0 {
				r.lost.Add(n)
				r.log.Error("analytics: clicks not published at shutdown", "clicks", n)
			}
			return nil
		case res := <-inflight:
			inflight = nil
			err := r.settle(res.n, res.err)
			r.interval.Store(int64(r.nextInterval(res.took)))
			switch {
			case err != nil && !failing && ctx.Err() == nil:
				r.log.Warn("analytics: publishing clicks failed; keeping them", "err", err, "pending", r.pendingEvents.Load())
				failing = true
			case err == nil && failing:
				r.log.Info("analytics: publishing clicks again")
				failing = false
			}
			continue
		case <-t.C:
		}
		r.drain()
		if inflight != nil || time.Since(last) < time.Duration(r.interval.Load()) {
			continue
		}
		last = time.Now()
		r.seal()
		if len(r.pending) == 0 {
			continue
		}
		// The publish gets its own copy of the list: Run appends to
		// r.pending meanwhile, and trims it only when the publish is over.
		batches := slices.Clone(r.pending)
		inflight = make(chan publishResult, 1)
		go func(done chan<- publishResult) {
			start := time.Now()
			n, err := r.pub.Publish(ctx, batches)
			done <- publishResult{n: n, err: err, took: time.Since(start)}
		}(inflight)
	}
}

// publishResult is what a publish that Run started came to.
type publishResult struct {
	n    int
	err  error
	took time.Duration
}

// nextInterval is the wait before the next publish after one that took
// took.
func (r *Recorder) nextInterval(took time.Duration) time.Duration {
	return min(max(r.opts.FlushInterval, publishShare*took), r.opts.MaxFlushInterval)
}

// Flush drains the buffer into batches, up to MaxPending events held, and
// publishes every batch held. Only Run, or a test when Run is not running,
// may call it.
func (r *Recorder) Flush(ctx context.Context) error {
	r.drain()
	r.seal()
	if len(r.pending) == 0 {
		return nil
	}
	n, err := r.pub.Publish(ctx, r.pending)
	return r.settle(n, err)
}

// settle drops from the pending list the first n batches, which a publish
// that ended with err took.
func (r *Recorder) settle(n int, err error) error {
	n = min(max(n, 0), len(r.pending))
	for _, b := range r.pending[:n] {
		r.pendingEvents.Add(-int64(len(b.Events)))
	}
	r.published.Add(float64(n))
	clear(r.pending[:n])
	r.pending = append(r.pending[:0], r.pending[n:]...)
	if err != nil {
		r.publishErrors.Inc()
		return fmt.Errorf("analytics: publish: %w", err)
	}
	return nil
}

// drain moves events from the buffer into the batch being built, sealing
// it at MaxBatch events, while fewer than MaxPending are held.
func (r *Recorder) drain() {
	for {
		room := r.opts.MaxPending - int(r.pendingEvents.Load())
		if room <= 0 {
			return
		}
		if r.cur == nil {
			r.seq++
			r.cur = newBuilder()
			r.cur.start(BatchID{Producer: r.producer, Seq: r.seq}, 0)
		}
		bb := r.cur
		limit := min(room, r.opts.MaxBatch-len(bb.b.Events))
		n := r.ring.drain(func(e *slotEvent) bool {
			bb.add(e)
			limit--
			return limit > 0
		})
		r.pendingEvents.Add(int64(n))
		if len(bb.b.Events) >= r.opts.MaxBatch {
			r.seal()
		}
		if limit > 0 {
			return // the buffer is empty
		}
	}
}

// seal moves the batch being built, if it has events, to the pending list.
func (r *Recorder) seal() {
	if r.cur == nil || len(r.cur.b.Events) == 0 {
		return
	}
	r.pending = append(r.pending, r.cur.b)
	r.cur = nil
}
