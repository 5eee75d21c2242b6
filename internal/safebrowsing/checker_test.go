package safebrowsing_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortlinks/shortlinks/internal/safebrowsing"
	"github.com/shortlinks/shortlinks/internal/servicetest"
)

func TestClientFind(t *testing.T) {
	api := newFakeAPI(t, map[string][]string{
		"http://malware.example/x": {"MALWARE"},
		"http://phish.example/":    {"SOCIAL_ENGINEERING", "UNWANTED_SOFTWARE"},
	})
	c := safebrowsing.NewClient(testKey, safebrowsing.ClientOptions{Endpoint: api.endpoint()})
	got, err := c.Find(t.Context(), []string{"http://malware.example/x", "http://phish.example/", "https://fine.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got["http://malware.example/x"]) != 1 || len(got["http://phish.example/"]) != 2 {
		t.Fatalf("Find = %+v", got)
	}
	th := got["http://malware.example/x"][0]
	if th.Type != safebrowsing.Malware || th.Platform != "ANY_PLATFORM" || th.CacheFor != 300*time.Second {
		t.Fatalf("threat %+v", th)
	}
	// Nothing listed: the API answers {}.
	got, err = c.Find(t.Context(), []string{"https://fine.example/"})
	if err != nil || len(got) != 0 {
		t.Fatalf("Find(safe) = %+v, %v", got, err)
	}
	if _, err := c.Find(t.Context(), make([]string, 501)); err == nil {
		t.Fatal("501 URLs in one request accepted")
	}
}

// TestClientErrorsHideTheKey: the key travels in the query string, which
// net/http quotes in its errors; no error may show it.
func TestClientErrorsHideTheKey(t *testing.T) {
	api := newFakeAPI(t, nil)
	api.fail = []int{http.StatusBadRequest}
	c := safebrowsing.NewClient(testKey, safebrowsing.ClientOptions{Endpoint: api.endpoint()})
	_, err := c.Find(t.Context(), []string{"http://a.example/"})
	var apiErr *safebrowsing.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || apiErr.Status != "INVALID_ARGUMENT" || apiErr.Temporary() {
		t.Fatalf("Find = %v, want a permanent 400 INVALID_ARGUMENT", err)
	}
	if strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "API key not valid") {
		t.Fatalf("error %q shows the key, or hides the API's message", err)
	}

	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	c = safebrowsing.NewClient(testKey, safebrowsing.ClientOptions{Endpoint: closed.URL + "/v4/threatMatches:find"})
	_, err = c.Find(t.Context(), []string{"http://a.example/"})
	if err == nil || strings.Contains(err.Error(), testKey) || !strings.Contains(err.Error(), "REDACTED") {
		t.Fatalf("network error %q shows the key", err)
	}
}

// verdicts collects what a Checker reports.
type verdicts struct {
	mu   sync.Mutex
	byID map[string]safebrowsing.Verdict
	n    int
}

func (v *verdicts) add(x safebrowsing.Verdict) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.byID == nil {
		v.byID = map[string]safebrowsing.Verdict{}
	}
	v.byID[x.ID] = x
	v.n++
}

func (v *verdicts) get(id string) (safebrowsing.Verdict, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	x, ok := v.byID[id]
	return x, ok
}

func (v *verdicts) count() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.n
}

func (v *verdicts) waitFor(t *testing.T, n int) {
	t.Helper()
	servicetest.Eventually(t, 10*time.Second, fmt.Sprintf("%d verdicts", n), func() error {
		if got := v.count(); got < n {
			return fmt.Errorf("%d verdicts", got)
		}
		return nil
	})
}

// start runs c until the test ends and checks that Run returns nil.
func start(t *testing.T, c *safebrowsing.Checker) context.CancelFunc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
	return cancel
}

func TestCheckerVerdictsInBatches(t *testing.T) {
	api := newFakeAPI(t, map[string][]string{"http://malware.example/0": {"MALWARE"}, "http://phish.example/": {"SOCIAL_ENGINEERING"}})
	var got verdicts
	reg := prometheus.NewRegistry()
	c := safebrowsing.New(safebrowsing.NewClient(testKey, safebrowsing.ClientOptions{Endpoint: api.endpoint()}), safebrowsing.Options{
		Rate: 100, Burst: 1, OnVerdict: got.add, Registerer: reg,
	})
	// Queued before the workers start: they go out together.
	for i := range 50 {
		if !c.Check(fmt.Sprintf("code%d", i), fmt.Sprintf("http://malware.example/%d", i)) {
			t.Fatal("Check refused with room in the queue")
		}
	}
	c.Check("phish1", "http://phish.example/")
	c.Check("phish2", "http://phish.example/") // the same URL: one entry in the request
	start(t, c)
	got.waitFor(t, 52)

	if reqs := api.requestsCopy(); len(reqs) != 1 || len(reqs[0]) != 51 {
		t.Fatalf("requests %d (first with %d URLs), want 1 with the 51 distinct URLs", len(reqs), len(reqs[0]))
	}
	v, _ := got.get("code0")
	if v.Safe() || v.URL != "http://malware.example/0" || v.Threats[0].Type != safebrowsing.Malware || v.Cached {
		t.Fatalf("verdict for a malware URL: %+v", v)
	}
	for _, id := range []string{"phish1", "phish2"} {
		if v, _ := got.get(id); v.Safe() || v.Threats[0].Type != safebrowsing.SocialEngineering {
			t.Fatalf("verdict %s: %+v", id, v)
		}
	}
	if v, _ := got.get("code7"); !v.Safe() {
		t.Fatalf("verdict for a safe URL: %+v", v)
	}
	if n := metricValue(t, reg, "shortlinks_safebrowsing_verdicts_total", "api", "unsafe"); n != 3 {
		t.Fatalf("unsafe verdicts metric %v, want 3", n)
	}
}

func TestCheckerCache(t *testing.T) {
	api := newFakeAPI(t, map[string][]string{"http://malware.example/": {"MALWARE"}})
	clock := servicetest.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	var got verdicts
	c := safebrowsing.New(safebrowsing.NewClient(testKey, safebrowsing.ClientOptions{Endpoint: api.endpoint()}), safebrowsing.Options{
		Rate: 100, OnVerdict: got.add, Now: clock.Now, SafeTTL: time.Minute,
	})
	start(t, c)

	c.Check("a", "https://fine.example/")
	c.Check("m", "http://malware.example/")
	got.waitFor(t, 2)
	c.Check("a2", "https://fine.example/")
	c.Check("m2", "http://malware.example/")
	got.waitFor(t, 4)
	if n := api.requestCount(); n > 2 {
		t.Fatalf("%d requests for 2 URLs asked twice", n)
	}
	if v, _ := got.get("a2"); !v.Cached || !v.Safe() {
		t.Fatalf("second verdict for a safe URL: %+v", v)
	}
	if v, _ := got.get("m2"); !v.Cached || v.Safe() {
		t.Fatalf("second verdict for a malware URL: %+v", v)
	}

	// A safe verdict lasts SafeTTL; the threat lasts its cacheDuration (300 s).
	before := api.requestCount()
	clock.Add(2 * time.Minute)
	c.Check("a3", "https://fine.example/")
	c.Check("m3", "http://malware.example/")
	got.waitFor(t, 6)
	if v, _ := got.get("a3"); v.Cached {
		t.Fatalf("safe verdict still cached after SafeTTL: %+v", v)
	}
	if v, _ := got.get("m3"); !v.Cached {
		t.Fatalf("threat forgotten before its cache duration: %+v", v)
	}
	if n := api.requestCount(); n != before+1 {
		t.Fatalf("%d requests after expiry, want %d", n, before+1)
	}
}

// TestCheckNeverBlocks: with the API hung, Check still returns at once, and
// drops (and counts) what does not fit in the queue.
func TestCheckNeverBlocks(t *testing.T) {
	api := newFakeAPI(t, nil)
	api.block = make(chan struct{})
	defer close(api.block)
	reg := prometheus.NewRegistry()
	c := safebrowsing.New(safebrowsing.NewClient(testKey, safebrowsing.ClientOptions{Endpoint: api.endpoint()}), safebrowsing.Options{
		QueueSize: 4, Batch: 1, Rate: 1000, Registerer: reg,
	})
	start(t, c)
	c.Check("first", "http://a.example/0")
	servicetest.Eventually(t, 5*time.Second, "the first lookup in flight", func() error {
		if api.requestCount() == 0 {
			return errors.New("no request yet")
		}
		return nil
	})

	done := make(chan int)
	go func() {
		accepted := 0
		for i := range 1000 {
			if c.Check(fmt.Sprint(i), fmt.Sprintf("http://a.example/%d", i+1)) {
				accepted++
			}
		}
		done <- accepted
	}()
	select {
	case accepted := <-done:
		if accepted != 4 {
			t.Fatalf("%d URLs queued, want the queue's 4", accepted)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Check blocked while the API hung")
	}
	if n := metricValue(t, reg, "shortlinks_safebrowsing_unchecked_total", "queue_full"); n != 996 {
		t.Fatalf("dropped metric %v, want 996", n)
	}
}

func TestCheckerRetriesTemporaryFailures(t *testing.T) {
	api := newFakeAPI(t, map[string][]string{"http://malware.example/": {"MALWARE"}})
	api.fail = []int{http.StatusServiceUnavailable, http.StatusTooManyRequests}
	var logs bytes.Buffer
	var got verdicts
	reg := prometheus.NewRegistry()
	c := safebrowsing.New(safebrowsing.NewClient(testKey, safebrowsing.ClientOptions{Endpoint: api.endpoint()}), safebrowsing.Options{
		Rate: 1000, Backoff: 10 * time.Millisecond, OnVerdict: got.add, Registerer: reg,
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	c.Check("m", "http://malware.example/")
	start(t, c)
	got.waitFor(t, 1)
	if v, _ := got.get("m"); v.Safe() {
		t.Fatalf("verdict after retries: %+v", v)
	}
	if n := api.requestCount(); n != 3 {
		t.Fatalf("%d requests, want 3 (two failures, then the answer)", n)
	}
	if n := metricValue(t, reg, "shortlinks_safebrowsing_request_duration_seconds", "error"); n != 2 {
		t.Fatalf("%v failed requests observed, want 2", n)
	}
	if n := metricValue(t, reg, "shortlinks_safebrowsing_request_duration_seconds", "ok"); n != 1 {
		t.Fatalf("%v good requests observed, want 1", n)
	}
	if strings.Contains(logs.String(), testKey) || !strings.Contains(logs.String(), "safe browsing lookup failed") {
		t.Fatalf("logs show the key, or not the failure:\n%s", logs.String())
	}
}

func TestCheckerGivesUpOnPermanentFailures(t *testing.T) {
	api := newFakeAPI(t, nil)
	api.fail = []int{http.StatusForbidden}
	var logs bytes.Buffer
	reg := prometheus.NewRegistry()
	var got verdicts
	c := safebrowsing.New(safebrowsing.NewClient(testKey, safebrowsing.ClientOptions{Endpoint: api.endpoint()}), safebrowsing.Options{
		Rate: 1000, Backoff: 10 * time.Millisecond, OnVerdict: got.add, Registerer: reg,
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	c.Check("x", "http://a.example/")
	start(t, c)
	servicetest.Eventually(t, 5*time.Second, "the failure counted", func() error {
		if n := metricValue(t, reg, "shortlinks_safebrowsing_unchecked_total", "failed"); n != 1 {
			return fmt.Errorf("failed metric %v", n)
		}
		return nil
	})
	// A URL queued after the failure is still checked.
	c.Check("y", "http://b.example/")
	got.waitFor(t, 1)
	if _, ok := got.get("x"); ok {
		t.Fatal("a verdict for a URL whose lookup failed")
	}
	if n := api.requestCount(); n != 2 {
		t.Fatalf("%d requests, want 2: a 403 is not retried", n)
	}
	if strings.Contains(logs.String(), testKey) {
		t.Fatalf("logs show the key:\n%s", logs.String())
	}
}

// TestCheckerRateLimit: with room for one lookup at a time at 20 a second,
// six lookups take at least the five intervals between them.
func TestCheckerRateLimit(t *testing.T) {
	api := newFakeAPI(t, nil)
	var got verdicts
	c := safebrowsing.New(safebrowsing.NewClient(testKey, safebrowsing.ClientOptions{Endpoint: api.endpoint()}), safebrowsing.Options{
		Rate: 20, Burst: 1, Batch: 1, OnVerdict: got.add,
	})
	for i := range 6 {
		c.Check(fmt.Sprint(i), fmt.Sprintf("http://a.example/%d", i))
	}
	begin := time.Now()
	start(t, c)
	got.waitFor(t, 6)
	if elapsed := time.Since(begin); elapsed < 240*time.Millisecond {
		t.Fatalf("6 lookups in %v; the limit allows no fewer than 250ms", elapsed)
	}
	if n := api.requestCount(); n != 6 {
		t.Fatalf("%d requests, want 6", n)
	}
}

// TestRunStopsWithAHungAPI: shutdown does not wait for a lookup.
func TestRunStopsWithAHungAPI(t *testing.T) {
	api := newFakeAPI(t, nil)
	api.block = make(chan struct{})
	defer close(api.block)
	c := safebrowsing.New(safebrowsing.NewClient(testKey, safebrowsing.ClientOptions{Endpoint: api.endpoint()}), safebrowsing.Options{Rate: 1000})
	c.Check("a", "http://a.example/")
	c.Check("b", "http://b.example/")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	servicetest.Eventually(t, 5*time.Second, "a lookup in flight", func() error {
		if api.requestCount() == 0 {
			return errors.New("no request yet")
		}
		return nil
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still waiting on the hung API")
	}
}

// metricValue returns the value of the counter (or the count of the
// histogram) name with the given label values, in the order of the labels'
// names.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			var values []string
			for _, lp := range m.GetLabel() {
				values = append(values, lp.GetValue())
			}
			if strings.Join(values, ",") != strings.Join(labels, ",") {
				continue
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}
