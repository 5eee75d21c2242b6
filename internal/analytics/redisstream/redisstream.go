// Package redisstream carries click batches from instances to workers
// through a Redis Stream. Instances append encoded batches (Publisher);
// workers read them through a consumer group, apply them with an
// analytics.Processor and acknowledge them afterwards (Consumer). A batch
// a worker read but did not acknowledge, because it died, is claimed by
// another after ClaimIdle; the sink's record of applied batches makes a
// batch applied twice count once.
package redisstream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/analytics"
)

// Defaults.
const (
	DefaultStream    = "analytics:clicks"
	DefaultGroup     = "workers"
	DefaultMaxLen    = 100_000
	DefaultCount     = 32
	DefaultBlock     = time.Second
	DefaultClaimIdle = 30 * time.Second
	field            = "b" // the entry's one field: the encoded batch
)

// Key returns the stream's key under prefix (--redis-key-prefix).
func Key(prefix, stream string) string {
	if stream == "" {
		stream = DefaultStream
	}
	return prefix + stream
}

// Publisher appends batches to the stream. It is an analytics.Publisher.
type Publisher struct {
	rdb    redis.UniversalClient
	key    string
	maxLen int64
}

var _ analytics.Publisher = (*Publisher)(nil)

// PublisherOptions configure a Publisher.
type PublisherOptions struct {
	Prefix string // key prefix
	Stream string // stream name under the prefix; default DefaultStream
	// MaxLen caps the stream, approximately (XADD MAXLEN ~), so that it
	// cannot outgrow Redis's memory while no worker runs. Entries beyond
	// it are trimmed whether or not a worker has read them; the consumer
	// lag metric warns before. Default DefaultMaxLen batches.
	MaxLen int64
}

// NewPublisher returns a Publisher on rdb.
func NewPublisher(rdb redis.UniversalClient, opts PublisherOptions) *Publisher {
	if opts.MaxLen <= 0 {
		opts.MaxLen = DefaultMaxLen
	}
	return &Publisher{rdb: rdb, key: Key(opts.Prefix, opts.Stream), maxLen: opts.MaxLen}
}

// Publish appends batches in one pipeline and returns how many, from the
// first, Redis confirmed. An entry whose reply was lost may still have been
// added; publishing it again is harmless, since workers skip a batch id
// that was applied.
func (p *Publisher) Publish(ctx context.Context, batches []*analytics.Batch) (int, error) {
	if len(batches) == 0 {
		return 0, nil
	}
	pipe := p.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(batches))
	var buf []byte
	for i, b := range batches {
		start := len(buf)
		buf = analytics.Encode(buf, b)
		// The pipeline keeps the arguments until Exec; a full slice
		// expression keeps a later append from moving them.
		cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{
			Stream: p.key, MaxLen: p.maxLen, Approx: true,
			Values: []any{field, buf[start:len(buf):len(buf)]},
		})
	}
	_, err := pipe.Exec(ctx)
	n := 0
	for _, c := range cmds {
		if c.Err() != nil {
			break
		}
		n++
	}
	if err != nil {
		return n, fmt.Errorf("redisstream: xadd %s: %w", p.key, err)
	}
	return n, nil
}

// Processor applies batches; *analytics.Processor is one.
type Processor interface {
	Process(ctx context.Context, batches []*analytics.Batch) error
}

// ConsumerOptions configure a Consumer.
type ConsumerOptions struct {
	Prefix string // key prefix
	Stream string // default DefaultStream
	Group  string // consumer group; default DefaultGroup
	// Name is this consumer's name in the group; default host-pid-random,
	// new for each process so that a restarted worker does not mistake a
	// dead one's entries for its own.
	Name string
	// Count bounds the entries (batches) read and applied at once.
	Count int64
	// Block is how long a read waits for new entries.
	Block time.Duration
	// ClaimIdle is how long an entry may stay unacknowledged before
	// another consumer claims it. It must exceed the longest a worker
	// takes to apply a read; claiming one that is still being applied
	// costs a wasted transaction, never a double count.
	ClaimIdle time.Duration
	// ShutdownTimeout bounds finishing the entries in hand when Run's
	// context ends; default 30 s.
	ShutdownTimeout time.Duration
	Registerer      prometheus.Registerer
	Log             *slog.Logger
}

// Consumer reads batches from the stream and applies them.
type Consumer struct {
	rdb  redis.UniversalClient
	proc Processor
	key  string
	opts ConsumerOptions
	log  *slog.Logger

	length, lag, pending prometheus.Gauge
	claimed, acked, bad  prometheus.Counter
	errs                 *prometheus.CounterVec
}

// NewConsumer returns a Consumer that applies what it reads with proc.
func NewConsumer(rdb redis.UniversalClient, proc Processor, opts ConsumerOptions) (*Consumer, error) {
	if opts.Group == "" {
		opts.Group = DefaultGroup
	}
	if opts.Name == "" {
		host, _ := os.Hostname()
		var b [4]byte
		rand.Read(b[:])
		opts.Name = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
	if opts.Count <= 0 {
		opts.Count = DefaultCount
	}
	if opts.Block <= 0 {
		opts.Block = DefaultBlock
	}
	if opts.ClaimIdle <= 0 {
		opts.ClaimIdle = DefaultClaimIdle
	}
	if opts.ShutdownTimeout <= 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	c := &Consumer{
		rdb: rdb, proc: proc, key: Key(opts.Prefix, opts.Stream), opts: opts, log: opts.Log,
		length: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shortlinks_analytics_stream_length",
			Help: "Entries (click batches) in the stream, read or not, until trimmed.",
		}),
		lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shortlinks_analytics_stream_lag",
			Help: "Entries in the stream that the consumer group has not read yet.",
		}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "shortlinks_analytics_stream_pending",
			Help: "Entries read by a consumer of the group and not yet acknowledged.",
		}),
		claimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_analytics_stream_claimed_total",
			Help: "Entries claimed from consumers that left them unacknowledged for too long.",
		}),
		acked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_analytics_stream_acked_total",
			Help: "Entries applied and acknowledged.",
		}),
		bad: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "shortlinks_analytics_stream_bad_entries_total",
			Help: "Entries that were not a valid batch; they are acknowledged and skipped.",
		}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shortlinks_analytics_stream_errors_total",
			Help: "Failed stream operations, by operation: read, claim, ack, apply, info.",
		}, []string{"op"}),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	// Every operation's series exists from the start, at zero, so that
	// rates and alerts over them have one before the first failure.
	for _, op := range []string{"read", "claim", "ack", "apply", "info"} {
		c.errs.WithLabelValues(op)
	}
	if reg := opts.Registerer; reg != nil {
		for _, m := range []prometheus.Collector{c.length, c.lag, c.pending, c.claimed, c.acked, c.bad, c.errs} {
			if err := reg.Register(m); err != nil {
				return nil, fmt.Errorf("redisstream: register metrics: %w", err)
			}
		}
	}
	return c, nil
}

// Name returns the consumer's name in the group.
func (c *Consumer) Name() string { return c.opts.Name }

// ensureGroup creates the consumer group at the start of the stream (so
// batches added before any worker ran are read too), and the stream if
// needed.
func (c *Consumer) ensureGroup(ctx context.Context) error {
	err := c.rdb.XGroupCreateMkStream(ctx, c.key, c.opts.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("redisstream: create group %s on %s: %w", c.opts.Group, c.key, err)
	}
	return nil
}

// Run reads, applies and acknowledges batches until ctx ends. Entries in
// hand when it ends are finished (applied and acknowledged) within
// ShutdownTimeout. Errors talking to Redis or the sink are logged, counted
// and retried with backoff; Run returns nil when ctx ends.
func (c *Consumer) Run(ctx context.Context) error {
	backoff := newBackoff()
	lastClaim, lastInfo := time.Time{}, time.Time{}
	grouped := false
	// After a failed apply, the entries stay in this consumer's pending
	// list; read them again ("0") before new ones (">").
	retry := false
	for ctx.Err() == nil {
		if !grouped {
			if err := c.ensureGroup(ctx); err != nil {
				c.errs.WithLabelValues("read").Inc()
				c.log.Warn("analytics stream: no consumer group yet", "err", err)
				backoff.wait(ctx)
				continue
			}
			grouped = true
		}
		if time.Since(lastInfo) >= 5*time.Second {
			c.updateInfo(ctx)
			lastInfo = time.Now()
		}
		if time.Since(lastClaim) >= c.opts.ClaimIdle/2 {
			if err := c.claim(ctx); err != nil && ctx.Err() == nil {
				if noGroup(err) {
					grouped = false // Redis lost the stream (a restart without persistence): make it again
				}
				c.log.Warn("analytics stream: claim failed", "err", err)
				backoff.wait(ctx)
				continue
			}
			lastClaim = time.Now()
		}
		from := ">"
		if retry {
			from = "0"
		}
		msgs, err := c.read(ctx, from)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if noGroup(err) {
				grouped = false // the stream was deleted: make it again
			}
			c.errs.WithLabelValues("read").Inc()
			c.log.Warn("analytics stream: read failed", "err", err)
			backoff.wait(ctx)
			continue
		}
		if len(msgs) == 0 {
			retry = false
			continue
		}
		if err := c.handle(ctx, msgs); err != nil {
			c.log.Warn("analytics stream: entries left for a retry", "entries", len(msgs), "err", err)
			retry = true
			backoff.wait(ctx)
			continue
		}
		backoff.reset()
	}
	return nil
}

// noGroup reports whether err is Redis saying the stream or its group is
// gone, as after a restart that kept no data.
func noGroup(err error) bool {
	return strings.Contains(err.Error(), "NOGROUP")
}

// read returns new entries (from ">"), waiting up to Block for some, or
// this consumer's own pending ones (from "0").
func (c *Consumer) read(ctx context.Context, from string) ([]redis.XMessage, error) {
	args := &redis.XReadGroupArgs{
		Group: c.opts.Group, Consumer: c.opts.Name, Streams: []string{c.key, from}, Count: c.opts.Count,
	}
	if from == ">" {
		args.Block = c.opts.Block
	} else {
		args.Block = -1 // no BLOCK: pending entries are there or not
	}
	res, err := c.rdb.XReadGroup(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []redis.XMessage
	for _, s := range res {
		out = append(out, s.Messages...)
	}
	return out, nil
}

// claim takes over the entries other consumers left unacknowledged for
// ClaimIdle and applies them.
func (c *Consumer) claim(ctx context.Context) error {
	start := "0-0"
	for {
		msgs, next, deleted, err := c.rdb.XAutoClaimWithDeleted(ctx, &redis.XAutoClaimArgs{
			Stream: c.key, Group: c.opts.Group, Consumer: c.opts.Name,
			MinIdle: c.opts.ClaimIdle, Start: start, Count: c.opts.Count,
		}).Result()
		if err != nil {
			c.errs.WithLabelValues("claim").Inc()
			return fmt.Errorf("redisstream: xautoclaim: %w", err)
		}
		if len(deleted) > 0 {
			// Trimmed by MAXLEN before anyone applied them: lost.
			c.log.Error("analytics stream: pending entries were trimmed before they were applied", "entries", len(deleted))
		}
		if len(msgs) > 0 {
			c.claimed.Add(float64(len(msgs)))
			c.log.Info("analytics stream: claimed entries of a consumer that stopped", "entries", len(msgs))
			if err := c.handle(ctx, msgs); err != nil {
				return err
			}
		}
		if next == "0-0" || next == "" {
			return nil
		}
		start = next
	}
}

// handle decodes, applies and acknowledges msgs. Entries in hand are
// finished even if ctx ends meanwhile, within ShutdownTimeout.
func (c *Consumer) handle(ctx context.Context, msgs []redis.XMessage) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.opts.ShutdownTimeout)
	defer cancel()
	ids := make([]string, 0, len(msgs))
	batches := make([]*analytics.Batch, 0, len(msgs))
	for _, m := range msgs {
		ids = append(ids, m.ID)
		raw, _ := m.Values[field].(string)
		b, err := analytics.Decode([]byte(raw))
		if err != nil {
			c.bad.Inc()
			c.log.Error("analytics stream: skipping an entry that is not a batch", "id", m.ID, "err", err)
			continue
		}
		batches = append(batches, b)
	}
	if len(batches) > 0 {
		if err := c.proc.Process(fctx, batches); err != nil {
			c.errs.WithLabelValues("apply").Inc()
			return err
		}
	}
	if err := c.rdb.XAck(fctx, c.key, c.opts.Group, ids...).Err(); err != nil {
		// Applied but not acknowledged: it will be claimed again and
		// skipped as applied.
		c.errs.WithLabelValues("ack").Inc()
		return fmt.Errorf("redisstream: xack: %w", err)
	}
	c.acked.Add(float64(len(ids)))
	return nil
}

func (c *Consumer) updateInfo(ctx context.Context) {
	n, err := c.rdb.XLen(ctx, c.key).Result()
	if err != nil {
		c.errs.WithLabelValues("info").Inc()
		return
	}
	c.length.Set(float64(n))
	groups, err := c.rdb.XInfoGroups(ctx, c.key).Result()
	if err != nil {
		c.errs.WithLabelValues("info").Inc()
		return
	}
	for _, g := range groups {
		if g.Name == c.opts.Group {
			c.lag.Set(float64(max(g.Lag, 0)))
			c.pending.Set(float64(g.Pending))
		}
	}
}

type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 100 * time.Millisecond} }

func (b *backoff) reset() { b.d = 100 * time.Millisecond }

func (b *backoff) wait(ctx context.Context) {
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
	b.d = min(2*b.d, 5*time.Second)
}
