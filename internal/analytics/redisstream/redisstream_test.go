package redisstream_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
	_ "modernc.org/sqlite"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/analytics/pgsink"
	"github.com/shortlinks/shortlinks/internal/analytics/redisstream"
	"github.com/shortlinks/shortlinks/internal/analytics/sinktest"
	"github.com/shortlinks/shortlinks/internal/analytics/sqlitesink"
	"github.com/shortlinks/shortlinks/internal/redisconn"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

// client connects to the Redis of SHORTLINKS_TEST_REDIS and returns a key
// prefix of the test's own, deleted afterwards.
func client(t *testing.T) (redis.UniversalClient, string) {
	t.Helper()
	u := servicetest.Redis(t)
	o, err := redisconn.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewUniversalClient(o)
	t.Cleanup(func() { rdb.Close() })
	return rdb, redistest.Prefix(t, u)
}

func sqliteSink(t *testing.T) *sqlitesink.Sink {
	return sqlitesink.New(sinktest.SQLite(t), sqlitesink.Options{})
}

func pgSink(t *testing.T) *pgsink.Sink {
	return pgsink.New(sinktest.Postgres(t), pgsink.Options{})
}

func processor(t *testing.T, s analytics.Sink) *analytics.Processor {
	t.Helper()
	p, err := analytics.NewProcessor(s, analytics.ProcessorOptions{AggregatorOptions: analytics.AggregatorOptions{Visits: true}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runConsumer runs a consumer until the test ends.
func runConsumer(t *testing.T, rdb redis.UniversalClient, proc redisstream.Processor, opts redisstream.ConsumerOptions) *redisstream.Consumer {
	t.Helper()
	c, err := redisstream.NewConsumer(rdb, proc, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

// waitTotal waits until link's total reaches humans and bots, and checks
// that it stays there a moment (no double count arriving late).
func waitTotal(t *testing.T, s analytics.Stats, link, humans, bots int64) {
	t.Helper()
	servicetest.Eventually(t, 20*time.Second, fmt.Sprintf("link %d counted", link), func() error {
		got, err := s.Total(context.Background(), link)
		if err != nil {
			return err
		}
		if got.Humans != humans || got.Bots != bots {
			return fmt.Errorf("%d humans, %d bots; want %d, %d", got.Humans, got.Bots, humans, bots)
		}
		return nil
	})
	time.Sleep(300 * time.Millisecond)
	sinktest.CheckTotal(t, s, link, humans, bots)
}

func TestRecorderToWorker(t *testing.T) {
	rdb, prefix := client(t)
	sink := sqliteSink(t)
	runConsumer(t, rdb, processor(t, sink), redisstream.ConsumerOptions{Prefix: prefix, Block: 100 * time.Millisecond})

	// Two instances record clicks and publish them to the stream.
	for inst := range 2 {
		rec, err := analytics.NewRecorder(redisstream.NewPublisher(rdb, redisstream.PublisherOptions{Prefix: prefix}),
			analytics.RecorderOptions{MaxBatch: 50})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 300 {
			c := analytics.Click{LinkID: 7, UserAgent: sinktest.Chrome, AcceptLanguage: "en", Addr: netip.MustParseAddr("198.51.100.1")}
			if i%3 == 0 {
				c.UserAgent = sinktest.Curl
			}
			if inst == 1 && i%10 == 0 {
				c.Kind = analytics.OrphanUnknown
			}
			rec.Record(c)
		}
		if err := rec.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	// 600 clicks, 30 of them orphans; of the 570 redirects, those with
	// i%3 == 0 are curl: 100 from the first instance, 90 from the second
	// (i%30 == 0 are orphans).
	waitTotal(t, sink, 7, 570-190, 190)
}

// TestDeadConsumerEntriesAreClaimed covers a worker killed mid-batch, at
// both moments that matter: before it committed (its entries must still be
// counted) and after it committed but before it acknowledged (they must
// not be counted again).
func TestDeadConsumerEntriesAreClaimed(t *testing.T) {
	rdb, prefix := client(t)
	sink := sqliteSink(t)
	ctx := t.Context()
	key := redisstream.Key(prefix, "")
	pub := redisstream.NewPublisher(rdb, redisstream.PublisherOptions{Prefix: prefix})
	if err := rdb.XGroupCreateMkStream(ctx, key, redisstream.DefaultGroup, "0").Err(); err != nil {
		t.Fatal(err)
	}
	// Four batches of 9 clicks on link 1.
	var batches []*analytics.Batch
	for seq := range 4 {
		batches = append(batches, sinktest.Batch(uint64(seq+1), 1, 9))
	}
	if n, err := pub.Publish(ctx, batches); err != nil || n != 4 {
		t.Fatalf("Publish = %d, %v", n, err)
	}
	// The dead worker read all four; it committed the first two and died
	// before acknowledging anything.
	res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: redisstream.DefaultGroup, Consumer: "dead", Streams: []string{key, ">"}, Count: 10}).Result()
	if err != nil || len(res[0].Messages) != 4 {
		t.Fatalf("dead worker's read: %v, %v", res, err)
	}
	if err := processor(t, sink).Process(ctx, batches[:2]); err != nil {
		t.Fatal(err)
	}
	sinktest.CheckTotal(t, sink, 1, 2*sinktest.Humans(9), 2*sinktest.Bots(9))

	reg := prometheus.NewRegistry()
	runConsumer(t, rdb, processor(t, sink), redisstream.ConsumerOptions{
		Prefix: prefix, Block: 100 * time.Millisecond, ClaimIdle: 300 * time.Millisecond, Registerer: reg,
	})
	waitTotal(t, sink, 1, 4*sinktest.Humans(9), 4*sinktest.Bots(9))
	servicetest.Eventually(t, 10*time.Second, "entries acknowledged", func() error {
		p, err := rdb.XPending(ctx, key, redisstream.DefaultGroup).Result()
		if err != nil {
			return err
		}
		if p.Count != 0 {
			return fmt.Errorf("%d entries pending", p.Count)
		}
		return nil
	})
	if n, err := testutil.GatherAndCount(reg, "shortlinks_analytics_stream_claimed_total"); err != nil || n != 1 {
		t.Errorf("claimed metric: %d series, %v", n, err)
	}
}

// failFirst fails its first call, as a database that is briefly away
// would, and passes the rest to a real processor.
type failFirst struct {
	mu     sync.Mutex
	failed bool
	next   redisstream.Processor
}

func (f *failFirst) Process(ctx context.Context, bs []*analytics.Batch) error {
	f.mu.Lock()
	first := !f.failed
	f.failed = true
	f.mu.Unlock()
	if first {
		return fmt.Errorf("database away")
	}
	return f.next.Process(ctx, bs)
}

// TestFailedApplyIsRetried checks that entries whose apply failed are
// retried by the same consumer at once, not left for a claim.
func TestFailedApplyIsRetried(t *testing.T) {
	rdb, prefix := client(t)
	sink := sqliteSink(t)
	runConsumer(t, rdb, &failFirst{next: processor(t, sink)}, redisstream.ConsumerOptions{
		Prefix: prefix, Block: 100 * time.Millisecond, ClaimIdle: time.Hour,
	})
	pub := redisstream.NewPublisher(rdb, redisstream.PublisherOptions{Prefix: prefix})
	if _, err := pub.Publish(t.Context(), []*analytics.Batch{sinktest.Batch(1, 5, 9)}); err != nil {
		t.Fatal(err)
	}
	waitTotal(t, sink, 5, sinktest.Humans(9), sinktest.Bots(9))
}

// TestTwoWorkers runs two workers on one group against PostgreSQL while
// three instances publish: every click is counted once.
func TestTwoWorkers(t *testing.T) {
	rdb, prefix := client(t)
	sink := pgSink(t)
	for range 2 {
		runConsumer(t, rdb, processor(t, sink), redisstream.ConsumerOptions{Prefix: prefix, Count: 4, Block: 50 * time.Millisecond})
	}
	var wg sync.WaitGroup
	for inst := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pub := redisstream.NewPublisher(rdb, redisstream.PublisherOptions{Prefix: prefix})
			for seq := range 40 {
				b := sinktest.Batch(uint64(seq+1), int64(100+seq%5), 9)
				b.ID.Producer = uint64(inst + 10)
				if _, err := pub.Publish(context.Background(), []*analytics.Batch{b}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// 3 instances × 40 batches over 5 links: 24 batches a link.
	for link := int64(100); link < 105; link++ {
		waitTotal(t, sink, link, 24*sinktest.Humans(9), 24*sinktest.Bots(9))
	}
}

// TestRedisDownAtProducer stops a Redis of the test's own while an
// instance records: clicks stay buffered up to the bound, the rest are
// dropped and counted, and the buffered ones are published once Redis is
// back.
func TestRedisDownAtProducer(t *testing.T) {
	srv := redistest.Start(t)
	rdb, err := redisconn.Open(srv.URL(), redisconn.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	pub := redisstream.NewPublisher(rdb, redisstream.PublisherOptions{Prefix: "down:"})
	reg := prometheus.NewRegistry()
	rec, err := analytics.NewRecorder(pub, analytics.RecorderOptions{Capacity: 64, MaxBatch: 100, MaxPending: 100, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	click := analytics.Click{LinkID: 1, UserAgent: sinktest.Chrome, AcceptLanguage: "en"}
	srv.Stop()
	recorded := 0
	for range 5 {
		for range 50 {
			rec.Record(click)
			recorded++
		}
		if err := rec.Flush(t.Context()); err == nil {
			t.Fatal("Flush succeeded with Redis down")
		}
	}
	// 100 held in batches, the buffer full behind them, the rest dropped.
	if rec.Buffered() < 100 || rec.Buffered() > 100+64 || rec.Dropped() == 0 || rec.Buffered()+rec.Dropped() != uint64(recorded) {
		t.Fatalf("buffered %d, dropped %d of %d", rec.Buffered(), rec.Dropped(), recorded)
	}
	if got := testutil.ToFloat64(mustGauge(t, reg, "shortlinks_clicks_dropped_total")); got != float64(rec.Dropped()) {
		t.Errorf("shortlinks_clicks_dropped_total = %v, want %d", got, rec.Dropped())
	}
	buffered := rec.Buffered()

	srv.Restart()
	servicetest.Eventually(t, 10*time.Second, "publishing resumes", func() error {
		rec.Flush(t.Context())
		if rec.Buffered() != 0 {
			return fmt.Errorf("%d still buffered", rec.Buffered())
		}
		return nil
	})
	sink := sqliteSink(t)
	runConsumer(t, rdb, processor(t, sink), redisstream.ConsumerOptions{Prefix: "down:", Block: 100 * time.Millisecond})
	waitTotal(t, sink, 1, int64(buffered), 0)
}

func mustGauge(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := mf.GetMetric()[0].GetCounter().GetValue()
			return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: "copy"}, func() float64 { return v })
		}
	}
	t.Fatalf("metric %s not registered", name)
	return nil
}

func TestPublisherCapsTheStream(t *testing.T) {
	rdb, prefix := client(t)
	pub := redisstream.NewPublisher(rdb, redisstream.PublisherOptions{Prefix: prefix, MaxLen: 10})
	for seq := range 500 {
		if _, err := pub.Publish(t.Context(), []*analytics.Batch{sinktest.Batch(uint64(seq+1), 1, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	// MAXLEN ~ trims whole macro nodes (100 entries by default), so the
	// stream ends a little above the cap, never at 500.
	if n, err := rdb.XLen(t.Context(), redisstream.Key(prefix, "")).Result(); err != nil || n > 200 {
		t.Errorf("stream length %d (%v), want about the cap", n, err)
	}
}

// TestStreamLost covers Redis losing the stream and its group, as a
// restart without persistence does: the worker makes them again and
// counts what is published afterwards, whether its read or its claim of
// idle entries is the first to find them gone.
func TestStreamLost(t *testing.T) {
	rdb, prefix := client(t)
	sink := sqliteSink(t)
	runConsumer(t, rdb, processor(t, sink), redisstream.ConsumerOptions{
		Prefix: prefix, Block: time.Second, ClaimIdle: 100 * time.Millisecond,
	})
	rec, err := analytics.NewRecorder(redisstream.NewPublisher(rdb, redisstream.PublisherOptions{Prefix: prefix}),
		analytics.RecorderOptions{MaxBatch: 10})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(n int) {
		for range n {
			rec.Record(analytics.Click{LinkID: 9, UserAgent: sinktest.Chrome, AcceptLanguage: "en", Addr: netip.MustParseAddr("198.51.100.9")})
		}
		if err := rec.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	publish(20)
	waitTotal(t, sink, 9, 20, 0)
	for round := range 3 {
		if err := rdb.Del(t.Context(), redisstream.Key(prefix, "")).Err(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond) // let the worker meet the loss before more arrive
		publish(10)
		waitTotal(t, sink, 9, int64(30+10*round), 0)
	}
}
