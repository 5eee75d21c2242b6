package analytics

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// publishFunc adapts a function to Publisher, for tests of the Recorder's
// own contract.
type publishFunc func(ctx context.Context, bs []*Batch) (int, error)

func (f publishFunc) Publish(ctx context.Context, bs []*Batch) (int, error) { return f(ctx, bs) }

// collect is a publisher that keeps what it is given.
type collect struct {
	mu      sync.Mutex
	batches []*Batch
	fail    error
}

func (c *collect) Publish(_ context.Context, bs []*Batch) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	c.batches = append(c.batches, bs...)
	return len(bs), nil
}

func (c *collect) events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Event
	for _, b := range c.batches {
		out = append(out, b.Events...)
	}
	return out
}

var testClick = Click{
	Kind:           Redirect,
	LinkID:         42,
	Domain:         3,
	At:             time.Date(2026, 12, 1, 10, 30, 0, 123456789, time.UTC),
	Addr:           netip.MustParseAddr("203.0.113.77"),
	UserAgent:      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	Referer:        "https://news.example.com/item?id=1",
	AcceptLanguage: "en-US,en;q=0.9",
}

// gated returns a Publisher whose first publish hangs, after closing
// entered, until release is closed; every publish then goes to pub.
func gated(pub Publisher) (gate Publisher, entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	return publishFunc(func(ctx context.Context, bs []*Batch) (int, error) {
		once.Do(func() {
			close(entered)
			<-release
		})
		return pub.Publish(ctx, bs)
	}), entered, release
}

func newTestRecorder(t testing.TB, pub Publisher, opts RecorderOptions) *Recorder {
	t.Helper()
	r, err := NewRecorder(pub, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRecordAllocatesNothing(t *testing.T) {
	r := newTestRecorder(t, &collect{}, RecorderOptions{Capacity: 4096}) // room for every call
	c := testClick
	if n := testing.AllocsPerRun(1000, func() { r.Record(c) }); n != 0 {
		t.Errorf("Record allocates %v times per call, want 0", n)
	}
	c.At = time.Time{} // the recorder reads the clock itself
	if n := testing.AllocsPerRun(1000, func() { r.Record(c) }); n != 0 {
		t.Errorf("Record without a time allocates %v times per call, want 0", n)
	}
}

func TestRecordFlushKeepsEveryField(t *testing.T) {
	pub := &collect{}
	r := newTestRecorder(t, pub, RecorderOptions{})
	long := make([]byte, 400)
	for i := range long {
		long[i] = 'a'
	}
	r.Record(testClick)
	c := testClick
	c.Kind, c.LinkID, c.NoTrack, c.UserAgent, c.Referer, c.AcceptLanguage = OrphanExpired, 7, true, string(long), "https://"+string(long), ""
	c.Addr = netip.MustParseAddr("2001:db8::1")
	r.Record(c)
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(pub.batches) != 1 {
		t.Fatalf("got %d batches, want 1", len(pub.batches))
	}
	b := pub.batches[0]
	if len(b.Events) != 2 {
		t.Fatalf("got %d events, want 2", len(b.Events))
	}
	// Shards are drained in turn, so clicks from different shards may come
	// out in another order than they went in.
	if b.Events[0].LinkID != 42 {
		b.Events[0], b.Events[1] = b.Events[1], b.Events[0]
	}
	e := b.Events[0]
	if e.Kind != Redirect || e.LinkID != 42 || e.Domain != 3 || e.At != testClick.At.UnixNano() ||
		e.Address() != testClick.Addr || e.Flags != 0 ||
		b.Strings[e.UA] != testClick.UserAgent || b.Strings[e.Referer] != "https://news.example.com/" || b.Strings[e.Language] != "en-US,en;q=0.9" {
		t.Errorf("first event %+v does not match the click", e)
	}
	e = b.Events[1]
	if e.Kind != OrphanExpired || e.LinkID != 7 || e.Address() != c.Addr ||
		e.Flags != FlagNoTrack|FlagUATruncated|FlagRefererTruncated ||
		len(b.Strings[e.UA]) != MaxUserAgent || len(b.Strings[e.Referer]) != MaxReferer || e.Language != 0 {
		t.Errorf("second event %+v: flags %b, ua %d bytes", e, e.Flags, len(b.Strings[e.UA]))
	}
	if h := RefererHost(b.Strings[e.Referer], e.Flags&FlagRefererTruncated != 0); h != InvalidReferer {
		t.Errorf("a host cut short reads as %q, want %q", h, InvalidReferer)
	}
	if b.Events[0].UA == b.Events[1].UA {
		t.Error("different User-Agents share a string")
	}
}

// A Click keeps of the Referer only what names its host, and that gives
// the same host as the whole header, for any header.
func TestRefererAuthority(t *testing.T) {
	for _, ref := range []string{
		"", "https://news.example.com/item?id=1", "https://news.example.com", "https://news.example.com?q=1",
		"https://news.example.com#top", "http://user:pw@Example.ORG:8080/x", "https://[2001:db8::1]:443/a",
		"https://host /x", " https://example.com/ ", "not a url", "android-app://com.slack/", "https:///path",
		"https://a.example/b://c.example/", "ftp://files.example.net/pub",
	} {
		cut := refererAuthority(ref)
		if !strings.HasPrefix(ref, cut) {
			t.Errorf("refererAuthority(%q) = %q, not a prefix", ref, cut)
		}
		if got, want := RefererHost(cut, false), RefererHost(ref, false); got != want {
			t.Errorf("host of %q cut to %q = %q, want %q", ref, cut, got, want)
		}
	}
	if got := refererAuthority("https://news.example.com/a/very/long/path?with=query"); got != "https://news.example.com/" {
		t.Errorf("refererAuthority kept %q", got)
	}
}

// The slot is five cache lines with its sequence number.
func TestSlotSize(t *testing.T) {
	if n := unsafe.Sizeof(slot[slotEvent]{}); n != 320 {
		t.Errorf("a slot is %d bytes, want 320", n)
	}
}

func TestRecorderDropsWhenFullAndCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	pub := &collect{}
	r := newTestRecorder(t, pub, RecorderOptions{Capacity: 64, Registerer: reg})
	capacity := 0
	for i := range r.ring.shards {
		capacity += len(r.ring.shards[i].slots)
	}
	for range capacity + 100 {
		r.Record(testClick)
	}
	// A full shard sends the producer to one neighbour and no further, so
	// some drops may come before the whole ring is full.
	if d := r.Dropped(); d < 100 {
		t.Errorf("Dropped = %d, want at least 100", d)
	}
	if got := testutil.ToFloat64(mustCollector(t, reg, "shortlinks_clicks_dropped_total")); got != float64(r.Dropped()) {
		t.Errorf("shortlinks_clicks_dropped_total = %v, want %d", got, r.Dropped())
	}
	buffered := r.Buffered()
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := uint64(len(pub.events())); got != buffered || got+r.Dropped() != uint64(capacity+100) {
		t.Errorf("published %d, buffered before %d, dropped %d; want published = buffered and published+dropped = %d",
			got, buffered, r.Dropped(), capacity+100)
	}
	if r.Buffered() != 0 {
		t.Errorf("Buffered = %d after a flush, want 0", r.Buffered())
	}
}

func TestRecorderKeepsBatchesWhilePublishFails(t *testing.T) {
	pub := &collect{fail: errors.New("stream down")}
	r := newTestRecorder(t, pub, RecorderOptions{Capacity: 1024, MaxBatch: 10, MaxPending: 30})
	for range 25 {
		r.Record(testClick)
	}
	if err := r.Flush(t.Context()); err == nil {
		t.Fatal("Flush succeeded while the publisher fails")
	}
	for range 25 {
		r.Record(testClick)
	}
	r.Flush(t.Context())
	// 30 held in batches of 10, 10, 5 and 5; the other 20 wait in the buffer.
	if len(r.pending) != 4 || r.Buffered() != 50 || r.Dropped() != 0 {
		t.Fatalf("pending batches %d, buffered %d, dropped %d; want 4, 50, 0", len(r.pending), r.Buffered(), r.Dropped())
	}
	pub.mu.Lock()
	pub.fail = nil
	pub.mu.Unlock()
	if err := r.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	r.Flush(t.Context())
	if n := len(pub.events()); n != 50 {
		t.Errorf("published %d events once the publisher recovered, want 50", n)
	}
	seqs := map[uint64]bool{}
	for _, b := range pub.batches {
		if seqs[b.ID.Seq] {
			t.Errorf("batch sequence %d used twice", b.ID.Seq)
		}
		seqs[b.ID.Seq] = true
	}
}

func TestRecorderPublishesPartly(t *testing.T) {
	var got []*Batch
	pub := publishFunc(func(_ context.Context, bs []*Batch) (int, error) {
		got = append(got, bs[0])
		return 1, errors.New("took only one")
	})
	r := newTestRecorder(t, pub, RecorderOptions{MaxBatch: 1})
	for range 3 {
		r.Record(testClick)
	}
	for range 3 {
		r.Flush(t.Context())
	}
	if len(got) != 3 || got[0].ID.Seq != 1 || got[1].ID.Seq != 2 || got[2].ID.Seq != 3 {
		t.Errorf("published %d batches, want sequences 1, 2, 3 in order", len(got))
	}
}

func TestRecorderRunFlushesOnTickAndAtShutdown(t *testing.T) {
	pub := &collect{}
	r := newTestRecorder(t, pub, RecorderOptions{FlushInterval: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	r.Record(testClick)
	deadline := time.Now().Add(5 * time.Second)
	for len(pub.events()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if len(pub.events()) != 1 {
		t.Fatal("the click was not published on a tick")
	}
	cancel()
	r.Record(testClick) // may land before or after Run's last drain
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := uint64(len(pub.events())) + r.Buffered(); n != 2 {
		t.Errorf("published + buffered = %d, want 2", n)
	}
}

func TestRingConcurrentProducers(t *testing.T) {
	r := newRing[slotEvent](256, 4)
	const producers, each = 4, 5000
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				sl, pos := r.reserve()
				if sl == nil {
					continue
				}
				sl.v.link = int64(p*each + i)
				commit(sl, pos)
			}
		}()
	}
	seen := make(map[int64]bool)
	stop := make(chan struct{})
	go func() { wg.Wait(); close(stop) }()
	drain := func() {
		r.drain(func(e *slotEvent) bool {
			if seen[e.link] {
				t.Errorf("event %d drained twice", e.link)
			}
			seen[e.link] = true
			return true
		})
	}
	for running := true; running; {
		select {
		case <-stop:
			running = false
		default:
		}
		drain()
	}
	drain()
	put, waiting, dropped := r.stats()
	if uint64(len(seen))+dropped != producers*each || waiting != 0 || put != uint64(len(seen)) {
		t.Errorf("drained %d + dropped %d != %d (put %d, waiting %d)", len(seen), dropped, producers*each, put, waiting)
	}
}

func mustCollector(t *testing.T, reg *prometheus.Registry, name string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := mf.GetMetric()[0].GetCounter().GetValue()
			return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: "copy"}, func() float64 { return v })
		}
	}
	t.Fatalf("metric %s not registered", name)
	return nil
}

// TestRecorderOverflowsWithoutBlocking forces the buffer over while Run is
// stuck in a publish that does not return (a stream or database that
// hangs): redirects on several goroutines keep recording, every click
// beyond the buffer is dropped and counted in
// shortlinks_clicks_dropped_total, and none of them waits. Once the
// publish returns, every click that was not dropped is published.
func TestRecorderOverflowsWithoutBlocking(t *testing.T) {
	reg := prometheus.NewRegistry()
	pub := &collect{}
	gate, entered, release := gated(pub)
	r := newTestRecorder(t, gate, RecorderOptions{
		Capacity: 64, MaxBatch: 16, MaxPending: 32,
		DrainInterval: time.Millisecond, FlushInterval: time.Millisecond, Registerer: reg,
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()

	r.Record(testClick)
	<-entered // Run is now inside a publish that does not return

	const producers, each = 4, 5000
	var wg sync.WaitGroup
	for range producers {
		wg.Go(func() {
			for range each {
				r.Record(testClick)
			}
		})
	}
	// Were Record to wait for room, this would never return: the only
	// goroutine that makes room is stuck.
	wg.Wait()

	recorded := uint64(1 + producers*each)
	capacity := 0
	for i := range r.ring.shards {
		capacity += len(r.ring.shards[i].slots)
	}
	// Run goes on draining while the publish hangs, into batches of up
	// to MaxPending clicks held (the one being published among them).
	dropped := r.Dropped()
	if least := recorded - uint64(capacity) - uint64(r.opts.MaxPending); dropped < least {
		t.Errorf("dropped %d of %d clicks with a buffer of %d and %d pending stuck behind a hanging publish, want at least %d",
			dropped, recorded, capacity, r.opts.MaxPending, least)
	}
	if got := testutil.ToFloat64(mustCollector(t, reg, "shortlinks_clicks_dropped_total")); got != float64(dropped) {
		t.Errorf("shortlinks_clicks_dropped_total = %v, want %d", got, dropped)
	}
	if b := r.Buffered(); b+dropped != recorded {
		t.Errorf("buffered %d + dropped %d != recorded %d", b, dropped, recorded)
	}

	close(release)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := uint64(len(pub.events())); got+r.Dropped() != recorded {
		t.Errorf("published %d + dropped %d != recorded %d", got, r.Dropped(), recorded)
	}
	if r.Dropped() != dropped {
		t.Errorf("dropped %d after the publish returned, want the %d dropped while it hung", r.Dropped(), dropped)
	}
}

// TestFlushIntervalFollowsPublishTime checks the wait between publishes:
// the flush interval while publishing is quick, publishShare times a slow
// publish's time, never more than MaxFlushInterval.
func TestFlushIntervalFollowsPublishTime(t *testing.T) {
	r := newTestRecorder(t, &collect{}, RecorderOptions{FlushInterval: time.Second})
	if r.opts.MaxFlushInterval != 3*time.Second {
		t.Fatalf("MaxFlushInterval defaults to %v, want 3s", r.opts.MaxFlushInterval)
	}
	for _, tc := range []struct{ took, want time.Duration }{
		{0, time.Second},
		{10 * time.Millisecond, time.Second},
		{50 * time.Millisecond, time.Second},
		{75 * time.Millisecond, 1500 * time.Millisecond},
		{100 * time.Millisecond, 2 * time.Second},
		{150 * time.Millisecond, 3 * time.Second},
		{2 * time.Second, 3 * time.Second},
	} {
		if got := r.nextInterval(tc.took); got != tc.want {
			t.Errorf("after a publish of %v: wait %v, want %v", tc.took, got, tc.want)
		}
	}
}

// TestSlowPublishStretchesFlushInterval runs the recorder against a
// publisher that takes 30 ms: after its first publish the recorder waits
// at least 20 × 30 ms for the next, and says so in
// shortlinks_analytics_flush_interval_seconds.
func TestSlowPublishStretchesFlushInterval(t *testing.T) {
	var mu sync.Mutex
	var publishes []time.Time
	pub := publishFunc(func(_ context.Context, bs []*Batch) (int, error) {
		time.Sleep(30 * time.Millisecond)
		mu.Lock()
		publishes = append(publishes, time.Now())
		mu.Unlock()
		return len(bs), nil
	})
	reg := prometheus.NewRegistry()
	r := newTestRecorder(t, pub, RecorderOptions{FlushInterval: 20 * time.Millisecond, MaxFlushInterval: 5 * time.Second, Registerer: reg})
	interval := func() time.Duration {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "shortlinks_analytics_flush_interval_seconds" {
				return time.Duration(mf.GetMetric()[0].GetGauge().GetValue() * float64(time.Second))
			}
		}
		t.Fatal("no shortlinks_analytics_flush_interval_seconds")
		return 0
	}
	if got := interval(); got != 20*time.Millisecond {
		t.Fatalf("interval before any publish: %v, want 20ms", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()
	r.Record(testClick)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(publishes)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing published")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The gauge is set just after the publish returns.
	deadline = time.Now().Add(10 * time.Second)
	for interval() < 600*time.Millisecond && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := interval(); got < 600*time.Millisecond || got > 5*time.Second {
		t.Fatalf("interval after a 30 ms publish: %v, want 600ms to 5s", got)
	}
	// Records go on being taken, and the next publish waits for the
	// stretched interval.
	r.Record(testClick)
	for {
		mu.Lock()
		n := len(publishes)
		var gap time.Duration
		if n >= 2 {
			gap = publishes[1].Sub(publishes[0])
		}
		mu.Unlock()
		if n >= 2 {
			// The second publish started at least 600 ms after the
			// first started (30 ms before the first ended).
			if gap < 570*time.Millisecond {
				t.Fatalf("second publish %v after the first, want at least 570ms", gap)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("second click not published")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestRunDrainsWhilePublishing holds a publish for as long as it takes to
// record four times the buffer's capacity: Run goes on draining the
// buffer into pending batches meanwhile, so no click is dropped, and
// every one is published once the publish returns.
func TestRunDrainsWhilePublishing(t *testing.T) {
	pub := &collect{}
	gate, entered, release := gated(pub)
	r := newTestRecorder(t, gate, RecorderOptions{
		Capacity: 256, DrainInterval: time.Millisecond, FlushInterval: time.Millisecond,
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	r.Record(testClick)
	<-entered

	capacity := 0
	for i := range r.ring.shards {
		capacity += len(r.ring.shards[i].slots)
	}
	recorded := 1
	for range 4 * capacity / 32 {
		for range 32 {
			r.Record(testClick)
		}
		recorded += 32
		// Wait for Run to drain them before recording more, so that the
		// buffer never fills.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, waiting, _ := r.ring.stats(); waiting == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("Run does not drain the buffer while a publish is running")
			}
			time.Sleep(time.Millisecond)
		}
	}
	if d := r.Dropped(); d != 0 {
		t.Fatalf("dropped %d clicks while a publish was running", d)
	}
	if b := r.Buffered(); b != uint64(recorded) {
		t.Fatalf("buffered %d, want %d", b, recorded)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for len(pub.events()) < recorded && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(pub.events()); got != recorded || r.Dropped() != 0 {
		t.Fatalf("published %d of %d, dropped %d", got, recorded, r.Dropped())
	}
}
