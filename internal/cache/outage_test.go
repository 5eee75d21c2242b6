package cache_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
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

// outageTimeout is the Redis timeout in TestOutage. maxSlow bounds the
// commands that may wait it out in one phase: the five that trip the
// breaker, those already in flight then, and the probes that find Redis
// still gone.
const (
	outageTimeout = 50 * time.Millisecond
	maxSlow       = 25
)

// TestOutage runs lookups, creates and deletes while the Redis they use
// hangs and then dies, and checks that everything goes on from the
// in-process tier and the database without waiting on Redis for longer than
// its timeout, and that the Redis tier and invalidation by pub/sub come back
// by themselves when Redis does.
//
// What an operation waited on Redis is read from the Redis client itself
// (redisWaits), not from a clock, so that a busy machine that delays the
// test's goroutines cannot fail it: every command must carry a deadline no
// later than the timeout, no operation may wait out a timeout twice, and
// once the breaker is open commands must stop being sent.
func TestOutage(t *testing.T) {
	srv := redistest.Start(t)
	db := openDB(t)
	ctx := context.Background()
	// Four times as many links as the in-process tier holds, so that
	// lookups keep reaching Redis.
	codes := make([]link.Code, 400)
	for i := range codes {
		codes[i] = link.Code(fmt.Sprintf("seed%03d", i))
		if _, err := db.Insert(ctx, newLink(codes[i])); err != nil {
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
		rdb.AddHook(redisWaits{})
		s, err := cache.New(db, cache.WithDefaults(cache.Options{Size: 100, Redis: rdb, Timeout: outageTimeout, Registerer: reg}))
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

	// Redis answers lookups; a machine too busy to answer one within the
	// timeout only delays that.
	recovered(t, a, codes, redisHits, "with Redis up")

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
	if _, err := a.Insert(ctx, newLink("after")); err != nil {
		t.Fatal(err)
	}
	mustGet(t, b, "after")
	if err := a.Delete(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	took := within(t, 10*time.Second, "b forgets a link deleted after the restart", func() bool { return isNotFound(b, "after") })
	t.Logf("after the restart, b forgot a deleted link after %v", took)
}

// redisWaits is a hook on a Redis client, inside its breaker: it sees each
// command sent, with the deadline the client gave it, and notes in the
// operation the command was sent for (its context's *waits) whether the
// deadline was within the timeout and whether the command waited it out.
type redisWaits struct{}

type waitsKey struct{}

// waits is what one operation met on Redis.
type waits struct {
	mu        sync.Mutex
	sent      int                // commands sent
	timedOut  map[time.Time]bool // the deadlines that commands waited until
	unbounded int                // commands sent without a deadline within the timeout
}

// deadline returns the deadline ctx gives a command about to be sent, and
// whether that lets it wait longer than the timeout.
func deadline(ctx context.Context) (time.Time, bool) {
	dl, ok := ctx.Deadline()
	return dl, !ok || time.Until(dl) > outageTimeout
}

// note records a command sent with deadline dl. Commands the client sends
// inside another (the handshake of a new connection) share its deadline:
// waiting them out is one wait, not two.
func (w *waits) note(dl time.Time, late bool, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sent++
	if late {
		w.unbounded++
	}
	if isTimeout(err) {
		if w.timedOut == nil {
			w.timedOut = map[time.Time]bool{}
		}
		w.timedOut[dl] = true
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func (redisWaits) DialHook(next redis.DialHook) redis.DialHook { return next }

func (redisWaits) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		w, _ := ctx.Value(waitsKey{}).(*waits)
		if w == nil {
			return next(ctx, cmd)
		}
		dl, late := deadline(ctx)
		err := next(ctx, cmd)
		w.note(dl, late, err)
		return err
	}
}

func (redisWaits) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		w, _ := ctx.Value(waitsKey{}).(*waits)
		if w == nil {
			return next(ctx, cmds)
		}
		dl, late := deadline(ctx)
		err := next(ctx, cmds)
		w.note(dl, late, err)
		return err
	}
}

// outcome is what one phase of traffic saw.
type outcome struct {
	ops, failed int
	sent        int // Redis commands sent
	slow        int // waits for a Redis timeout
	twice       int // operations that waited out the timeout more than once
	unbounded   int // Redis commands sent without a deadline within the timeout
	worst       map[string]time.Duration
	created     []link.Code
	deleted     []link.Code
	firstErr    error
	mu          sync.Mutex
}

// op runs f, noting what it met on Redis.
func (o *outcome) op(kind string, f func(ctx context.Context) error) {
	w := &waits{}
	ctx := context.WithValue(context.Background(), waitsKey{}, w)
	start := time.Now()
	err := f(ctx)
	took := time.Since(start)
	w.mu.Lock()
	defer w.mu.Unlock()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.ops++
	o.worst[kind] = max(o.worst[kind], took)
	if err != nil {
		o.failed++
		if o.firstErr == nil {
			o.firstErr = fmt.Errorf("%s: %w", kind, err)
		}
	}
	o.sent += w.sent
	o.slow += len(w.timedOut)
	o.unbounded += w.unbounded
	if len(w.timedOut) > 1 {
		o.twice++
	}
}

func (o *outcome) String() string {
	return fmt.Sprintf("%d ops, %d failed; %d Redis commands sent, %d waited out the timeout; "+
		"slowest by the clock (database and scheduling included): get %v, insert %v, delete %v",
		o.ops, o.failed, o.sent, o.slow, o.worst["get"], o.worst["insert"], o.worst["delete"])
}

func (o *outcome) check(t *testing.T, when string) {
	t.Helper()
	if o.failed > 0 {
		t.Errorf("%s: %d of %d operations failed, first: %v", when, o.failed, o.ops, o.firstErr)
	}
	if o.unbounded > 0 {
		t.Errorf("%s: %d Redis commands were sent without a deadline within the %v timeout", when, o.unbounded, outageTimeout)
	}
	if o.twice > 0 {
		t.Errorf("%s: %d operations waited out the Redis timeout more than once", when, o.twice)
	}
	if o.slow > maxSlow {
		t.Errorf("%s: %d Redis commands waited out the timeout; the breaker should have let at most %d", when, o.slow, maxSlow)
	}
}

var serial atomic.Int64

// traffic looks links up from three goroutines, each about a thousand
// times a second, and creates (and deletes every third of) links from a
// fourth, for d.
func traffic(t *testing.T, s *cache.Store, codes []link.Code, d time.Duration) *outcome {
	t.Helper()
	o := &outcome{worst: map[string]time.Duration{}}
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
			o.op("insert", func(ctx context.Context) error { _, err := s.Insert(ctx, newLink(c)); return err })
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
// (again). The limit is for a machine so busy that Redis often misses its
// timeout; on a quiet one it takes under a second.
func recovered(t *testing.T, s *cache.Store, codes []link.Code, redisHits func() float64, when string) {
	t.Helper()
	before := redisHits()
	start := time.Now()
	for redisHits() == before {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%s: the Redis tier was not used within 30s", when)
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
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s: Redis holds %v, %v after 30s; want tag %d", c, b, err, tag)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("%d creates and deletes of the outage reached Redis within %v", len(want), time.Since(start).Round(time.Millisecond))
}
