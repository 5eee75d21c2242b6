package production

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/redisconn/redistest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/store/postgres/pgtest"
)

// outcome counts what clients saw during one phase of a fault test. A
// request belongs to the phase it started in; closing a phase waits for its
// requests still in flight, so its counts are final once read.
type outcome struct {
	mu        sync.Mutex
	done      sync.Cond // signalled as requests finish
	closed    bool
	inflight  int
	redirects map[int]int // status -> count; 0: no answer at all
	creates   map[int]int
	worst     time.Duration
}

func newOutcome() *outcome {
	o := &outcome{redirects: map[int]int{}, creates: map[int]int{}}
	o.done.L = &o.mu
	return o
}

// begin counts a request into the phase, unless the phase has closed.
func (o *outcome) begin() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	o.inflight++
	return true
}

// add records how a request that began in this phase ended.
func (o *outcome) add(create bool, status int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if create {
		o.creates[status]++
	} else {
		o.redirects[status]++
	}
	o.worst = max(o.worst, d)
	o.inflight--
	o.done.Broadcast()
}

// close ends the phase and waits for its requests in flight.
func (o *outcome) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.closed = true
	for o.inflight > 0 {
		o.done.Wait()
	}
}

// answered is how many creates (or redirects) of the phase have had an
// answer, or failed to.
func (o *outcome) answered(creates bool) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.redirects
	if creates {
		m = o.creates
	}
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// succeeded is how many creates of the phase answered 201.
func (o *outcome) succeeded() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.creates[http.StatusCreated]
}

func (o *outcome) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return fmt.Sprintf("redirects %v, creates %v, slowest %v", o.redirects, o.creates, o.worst)
}

// traffic sends redirects and creates to the instances until stopped,
// recording each answer in the current phase's outcome.
type traffic struct {
	phase atomic.Pointer[outcome]
	stop  chan struct{}
	wg    sync.WaitGroup
}

func startTraffic(t *testing.T, bases []string, codes map[string]string) *traffic {
	tr := &traffic{stop: make(chan struct{})}
	tr.next()
	list := make([]string, 0, len(codes))
	for c := range codes {
		list = append(list, c)
	}
	for w := range 4 {
		tr.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-tr.stop:
					return
				default:
				}
				base := bases[(w+i)%len(bases)]
				o := tr.phase.Load()
				for !o.begin() {
					o = tr.phase.Load()
				}
				start := time.Now()
				if i%10 == 9 {
					resp, err := apptest.NoRedirects.Post(base+"/api/v1/links", "application/json",
						strings.NewReader(fmt.Sprintf(`{"url": "https://example.com/w%d/%d"}`, w, i)))
					if err != nil {
						o.add(true, 0, time.Since(start))
						t.Errorf("create: %v", err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					o.add(true, resp.StatusCode, time.Since(start))
					continue
				}
				code := list[(w*7+i)%len(list)]
				resp, err := apptest.NoRedirects.Get(base + "/" + code)
				if err != nil {
					o.add(false, 0, time.Since(start))
					t.Errorf("redirect: %v", err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusFound && resp.Header.Get("Location") != codes[code] {
					t.Errorf("GET /%s went to %q, want %q", code, resp.Header.Get("Location"), codes[code])
				}
				o.add(false, resp.StatusCode, time.Since(start))
			}
		})
	}
	return tr
}

// next starts a new phase and returns the outcome of the one that ended,
// once its requests in flight have finished.
func (tr *traffic) next() *outcome {
	old := tr.phase.Swap(newOutcome())
	if old != nil {
		old.close()
	}
	return old
}

func (tr *traffic) end() *outcome {
	close(tr.stop)
	tr.wg.Wait()
	return tr.phase.Load()
}

// run starts a new phase and lets traffic flow in it for at least d and
// until at least n redirects and n/10 creates have been answered, however
// slow the machine, then returns what the phase saw.
func (tr *traffic) run(t *testing.T, d time.Duration, n int) *outcome {
	t.Helper()
	tr.next()
	o := tr.phase.Load()
	start := time.Now()
	for !(time.Since(start) >= d && o.answered(false) >= n && o.answered(true) >= n/10) {
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("traffic too slow: %v after two minutes", o)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return tr.next()
}

// until starts a new phase and waits, for at most limit, until cond holds
// for it; the phase goes on.
func (tr *traffic) until(t *testing.T, limit time.Duration, what string, cond func(*outcome) bool) {
	t.Helper()
	tr.next()
	o := tr.phase.Load()
	servicetest.Eventually(t, limit, what, func() error {
		if !cond(o) {
			return fmt.Errorf("so far %v", o)
		}
		return nil
	})
}

// adminKey makes an admin API key directly in the database at dsn.
func adminKey(t *testing.T, dsn string) string {
	t.Helper()
	db, err := app.OpenStorage(t.Context(), apptest.Config(t, func(c *config.Config) { c.DatabaseURL = dsn }), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, token, err := db.Keys().Create(t.Context(), "fault-test", true)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

// TestProductionFaults runs two instances in the production shape (a
// PostgreSQL primary with a streaming replica, and Redis) under steady
// traffic, takes Redis and then the primary away and brings them back, and
// checks what clients see at each step.
func TestProductionFaults(t *testing.T) {
	primary := pgtest.StartPrimary(t)
	dsn := primary.Database(t)
	replica := primary.StartReplica(t)
	rdb := redistest.Start(t)
	replicaDSN, prefix := replica.URL(pgtest.DBName(dsn)), redistest.Prefix(t, rdb.URL()) // one for both instances
	set := func(c *config.Config) {
		c.DatabaseURL, c.DatabaseReplicaURLs, c.AutoMigrate = dsn, []string{replicaDSN}, true
		c.DatabaseTimeout, c.DatabaseMaxConns = time.Second, 8
		c.RedisURL, c.RedisKeyPrefix, c.CacheTTL = rdb.URL(), prefix, 10*time.Minute
	}
	a := apptest.Serve(t, set)
	b := apptest.Serve(t, set)

	codes := map[string]string{}
	for i := range 20 {
		l, err := httpapi.NewClient(a, "", apptest.NoRedirects).Create(t.Context(), httpapi.CreateRequest{URL: fmt.Sprintf("https://example.com/known/%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		codes[l.Code] = l.URL
	}
	tr := startTraffic(t, []string{a, b}, codes)

	healthy := tr.run(t, time.Second, 100)
	if len(healthy.redirects) != 1 || healthy.redirects[302] == 0 || len(healthy.creates) != 1 || healthy.creates[201] == 0 {
		t.Fatalf("with everything up: %v", healthy)
	}

	rdb.Stop()
	down := tr.run(t, 2*time.Second, 200)
	t.Logf("Redis down: %v", down)
	if len(down.redirects) != 1 || down.redirects[302] == 0 || len(down.creates) != 1 || down.creates[201] == 0 {
		t.Fatalf("with Redis down, every redirect and create must succeed: %v", down)
	}
	// Each request waits on Redis for at most its 50 ms timeout, and the
	// breaker soon stops even that. Measured against the slowest request
	// with Redis up, so that what a busy machine adds to both cancels out,
	// a second is room enough.
	if down.worst > healthy.worst+time.Second {
		t.Fatalf("a request took %v with Redis down, %v at most with it up", down.worst, healthy.worst)
	}
	for _, base := range []string{a, b} {
		if status, r := apptest.Ready(t, base); status != http.StatusOK || r.Checks["redis"].Status != "down" || r.Checks["redis"].Critical {
			t.Fatalf("/readyz with Redis down = %d %+v, want ready with redis down and not critical", status, r)
		}
	}

	rdb.Restart()
	servicetest.Eventually(t, 15*time.Second, "Redis is reported up again", func() error {
		for _, base := range []string{a, b} {
			if _, r := apptest.Ready(t, base); r.Checks["redis"].Status != "up" {
				return errors.New(base + " still reports redis down")
			}
		}
		return nil
	})
	// Invalidation works again: a delete through one instance reaches the
	// other, which had the link cached.
	key := adminKey(t, dsn)
	var doomed, doomedURL string
	for c, u := range codes {
		doomed, doomedURL = c, u
		break
	}
	tr.end()
	delete(codes, doomed) // later traffic leaves it alone: it is about to go
	apptest.MustRedirect(t, b, doomed, doomedURL)
	if err := httpapi.NewClient(a, key, apptest.NoRedirects).Delete(t.Context(), doomed); err != nil {
		t.Fatal(err)
	}
	servicetest.Eventually(t, 5*time.Second, "the other instance forgets a deleted link", func() error {
		if status, _ := apptest.Resolve(t, b, doomed); status != http.StatusNotFound {
			return fmt.Errorf("GET /%s on the other instance = %d", doomed, status)
		}
		return nil
	})

	tr = startTraffic(t, []string{a, b}, codes)
	primary.WaitReplayed(t, replica)
	primary.Stop(t)
	lost := tr.run(t, 2*time.Second, 200)
	t.Logf("primary down: %v", lost)
	if len(lost.redirects) != 1 || lost.redirects[302] == 0 {
		t.Fatalf("with the primary down, redirects of known links must succeed: %v", lost)
	}
	if lost.creates[201] != 0 || lost.creates[503] == 0 || len(lost.creates) != 1 {
		t.Fatalf("with the primary down, creates must fail with 503: %v", lost)
	}
	// A create makes at most two database calls, each bounded by the 1 s
	// --database-timeout; beyond what a busy machine adds to every request.
	if lost.worst > healthy.worst+3*time.Second {
		t.Fatalf("a request took %v with the primary down, %v at most with it up; creates must fail fast", lost.worst, healthy.worst)
	}

	primary.Start(t)
	tr.until(t, 20*time.Second, "creates succeed again", func(o *outcome) bool { return o.succeeded() > 0 })
	back := tr.run(t, time.Second, 100)
	if len(back.redirects) != 1 || len(back.creates) != 1 || back.creates[201] == 0 {
		t.Fatalf("after the primary came back: %v", back)
	}
	tr.end()
}
