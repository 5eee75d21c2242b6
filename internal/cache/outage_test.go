package cache_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/cache"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/redisconn"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
)

// Bounds for TestOutage. slack allows for scheduling on a busy two-core
// machine; maxSlow allows for the commands that trip the breaker and the
// probes that find Redis still gone.
const (
	outageTimeout = 50 * time.Millisecond
	outageSlack   = 150 * time.Millisecond
	maxSlow       = 25
)

// TestOutage runs lookups, creates and deletes while the Redis they use
// hangs and then dies, and checks that everything goes on from the
// in-process tier and the database without waiting on Redis for longer than
// its timeout, and that the Redis tier and invalidation by pub/sub come back
// by themselves when Redis does.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	db := openDB(t)
	ctx := context.Background()
	// Four times as many links as the in-process tier holds, so that
	// lookups keep reaching Redis.
	codes := make([]link.Code, 400)
	for i := range codes {
		codes[i] = link.Code(fmt.Sprintf("seed%03d", i))
		if err := db.Insert(ctx, newLink(codes[i])); err != nil {
			t.Fatal(err)
		}
	}
	inspect, err := redisconn.Open(srv.URL(), redisconn.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer inspect.Close()
	instance := func(reg prometheus.Registerer) *cache.Store {
		rdb, err := redisconn.Open(srv.URL(), redisconn.Options{Timeout: outageTimeout, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		s, err := cache.New(timed{db}, cache.Options{Size: 100, Redis: rdb, Timeout: outageTimeout, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			s.Close()
			rdb.Close()
		})
		return s
	}
	reg := prometheus.NewPedanticRegistry()
	a, b := instance(reg), instance(nil)
	waitSubscribed(t, a, b)
	redisHits := func() float64 { return metric(t, reg, "shortlinks_cache_hits_total", "tier", "redis") }

	up := traffic(t, a, codes, time.Second)
	t.Logf("up: %s", up)
	if redisHits() == 0 {
		t.Fatal("no lookup was answered by Redis while it was up")
	}

	srv.Pause()
	hung := traffic(t, a, codes, 1500*time.Millisecond)
	srv.Resume()
	t.Logf("hung: %s", hung)
	hung.check(t, "while Redis hung")
	recovered(t, a, codes, redisHits, "after Redis resumed")
	written(t, inspect, hung)

	srv.Stop()
	down := traffic(t, a, codes, 1500*time.Millisecond)
	t.Logf("down: %s", down)
	down.check(t, "while Redis was down")

	srv.Restart()
	recovered(t, a, codes, redisHits, "after Redis restarted")
	// The restarted Redis is empty: only the retried writes can have put
	// the outage's creates and deletes there.
	written(t, inspect, down)
	waitSubscribed(t, a, b)
	if n := metric(t, reg, "shortlinks_cache_local_flushes_total"); n < 1 {
		t.Error("the in-process tier was not emptied after resubscribing")
	}

	// Pub/sub invalidation works again without restarting anything.
	if err := a.Insert(ctx, newLink("after")); err != nil {
		t.Fatal(err)
	}
	mustGet(t, b, "after")
	if err := a.Delete(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	took := within(t, time.Second, "b forgets a link deleted after the restart", func() bool { return isNotFound(b, "after") })
	t.Logf("after the restart, b forgot a deleted link after %v", took)
}

// timed adds the time each call spends in the database to the
// *time.Duration its context carries, so that the test can tell waiting
// on Redis from waiting on the disk.
type timed struct{ link.Store }

type dbTime struct{}

func (d timed) spent(ctx context.Context, start time.Time) {
	if p, ok := ctx.Value(dbTime{}).(*time.Duration); ok {
		*p += time.Since(start)
	}
}

func (d timed) Get(ctx context.Context, c link.Code) (link.Link, error) {
	defer d.spent(ctx, time.Now())
	return d.Store.Get(ctx, c)
}

func (d timed) Insert(ctx context.Context, l link.Link) error {
	defer d.spent(ctx, time.Now())
	return d.Store.Insert(ctx, l)
}

func (d timed) Delete(ctx context.Context, c link.Code) error {
	defer d.spent(ctx, time.Now())
	return d.Store.Delete(ctx, c)
}

// outcome is what one phase of traffic saw.
type outcome struct {
	ops, failed, slow int
	worst, worstTotal map[string]time.Duration
	created, deleted  []link.Code
	firstErr          error
	mu                sync.Mutex
}

// op runs f, timing it apart from its time in the database.
func (o *outcome) op(kind string, f func(ctx context.Context) error) {
	var inDB time.Duration
	ctx := context.WithValue(context.Background(), dbTime{}, &inDB)
	start := time.Now()
	err := f(ctx)
	total := time.Since(start)
	o.record(kind, total, total-inDB, err)
}

func (o *outcome) record(kind string, total, took time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ops++
	o.worstTotal[kind] = max(o.worstTotal[kind], total)
	if err != nil {
		o.failed++
		if o.firstErr == nil {
			o.firstErr = fmt.Errorf("%s: %w", kind, err)
		}
	}
	if took >= outageTimeout {
		o.slow++
	}
	o.worst[kind] = max(o.worst[kind], took)
}

func (o *outcome) String() string {
	return fmt.Sprintf("%d ops, %d failed, %d waited the Redis timeout or longer; "+
		"worst outside the database: get %v, insert %v, delete %v; worst in all: get %v, insert %v, delete %v",
		o.ops, o.failed, o.slow, o.worst["get"], o.worst["insert"], o.worst["delete"],
		o.worstTotal["get"], o.worstTotal["insert"], o.worstTotal["delete"])
}

func (o *outcome) check(t *testing.T, when string) {
	t.Helper()
	if o.failed > 0 {
		t.Errorf("%s: %d of %d operations failed, first: %v", when, o.failed, o.ops, o.firstErr)
	}
	for kind, w := range o.worst {
		if w > outageTimeout+outageSlack {
			t.Errorf("%s: a %s spent %v outside the database; nothing may wait much longer than the %v Redis timeout", when, kind, w, outageTimeout)
		}
	}
	if o.slow > maxSlow {
		t.Errorf("%s: %d operations waited for the Redis timeout; the breaker should have let at most %d", when, o.slow, maxSlow)
	}
}

var serial atomic.Int64

// traffic looks links up from three goroutines, each about a thousand
// times a second, and creates (and deletes every third of) links from a
// fourth, for d.
func traffic(t *testing.T, s *cache.Store, codes []link.Code, d time.Duration) *outcome {
	t.Helper()
	o := &outcome{worst: map[string]time.Duration{}, worstTotal: map[string]time.Duration{}}
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for time.Now().Before(end) {
				o.op("get", func(ctx context.Context) error {
					l, err := s.Get(ctx, codes[rand.IntN(len(codes))])
					if err == nil && l.URL == "" {
						err = errors.New("empty link")
					}
					return err
				})
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Go(func() {
		for i := 0; time.Now().Before(end); i++ {
			c := link.Code(fmt.Sprintf("new%05d", serial.Add(1)))
			o.op("insert", func(ctx context.Context) error { return s.Insert(ctx, newLink(c)) })
			if i%3 == 2 {
				o.op("delete", func(ctx context.Context) error { return s.Delete(ctx, c) })
				o.deleted = append(o.deleted, c)
			} else {
				o.created = append(o.created, c)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	wg.Wait()
	return o
}

// recovered waits, under traffic, for lookups to be answered by Redis
// again.
func recovered(t *testing.T, s *cache.Store, codes []link.Code, redisHits func() float64, when string) {
	t.Helper()
	before := redisHits()
	start := time.Now()
	for redisHits() == before {
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%s: the Redis tier was not used again within 5s", when)
		}
		traffic(t, s, codes, 100*time.Millisecond)
	}
	t.Logf("%s: Redis tier in use again after %v", when, time.Since(start).Round(time.Millisecond))
}

// written waits for the creates and deletes of an outage to reach Redis.
func written(t *testing.T, rdb redis.UniversalClient, o *outcome) {
	t.Helper()
	want := map[link.Code]byte{}
	for _, c := range o.created {
		want[c] = tagLink
	}
	for _, c := range o.deleted {
		want[c] = tagDeleted
	}
	if len(want) == 0 {
		t.Fatal("no creates or deletes happened during the outage")
	}
	start := time.Now()
	for c, tag := range want {
		for {
			b, err := rdb.Get(context.Background(), "link:"+string(c)).Bytes()
			if err == nil && b[0] == tag {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("%s: Redis holds %v, %v; want tag %d", c, b, err, tag)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("%d creates and deletes of the outage reached Redis within %v", len(want), time.Since(start).Round(time.Millisecond))
}
