package httpapi_test

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/analytics"
	"github.com/shortlinks/shortlinks/internal/analytics/sqlitesink"
	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
)

// collector is the end of the pipeline for tests that look at what the
// redirect path recorded: it keeps the batches it is given.
type collector struct {
	mu      sync.Mutex
	batches []*analytics.Batch
}

func (c *collector) Publish(_ context.Context, bs []*analytics.Batch) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.batches = append(c.batches, bs...)
	return len(bs), nil
}

type seen struct {
	analytics.Event
	UA, Referer, Language string
}

// flush publishes what rec holds and returns every event recorded since
// the last flush.
func (c *collector) flush(t *testing.T, rec *analytics.Recorder) []seen {
	t.Helper()
	if err := rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []seen
	for _, b := range c.batches {
		for _, e := range b.Events {
			out = append(out, seen{e, b.Strings[e.UA], b.Strings[e.Referer], b.Strings[e.Language]})
		}
	}
	c.batches = nil
	// The buffer is sharded: events come out of order.
	slices.SortFunc(out, func(a, b seen) int { return cmp.Compare(a.At, b.At) })
	return out
}

func newRecorder(t testing.TB, pub analytics.Publisher) *analytics.Recorder {
	t.Helper()
	rec, err := analytics.NewRecorder(pub, analytics.RecorderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

const firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"

func TestRedirectRecordsClicks(t *testing.T) {
	col := &collector{}
	rec := newRecorder(t, col)
	f := newHandlerFixture(t, func(s *handlerSetup) {
		s.opts.Clicks = rec
		s.edge.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	l := f.mustCreate(`{"url": "https://example.com/a"}`)
	exp := f.mustCreate(`{"url": "https://example.com/soon", "expires_in": 60}`)
	col.flush(t, rec) // creating records nothing, but start clean

	req := func(method, path string, headers ...string) {
		t.Helper()
		r := httptest.NewRequest(method, path, nil)
		r.RemoteAddr = "10.1.2.3:5555"
		r.Header.Set("X-Forwarded-For", "203.0.113.77")
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		f.handler.ServeHTTP(httptest.NewRecorder(), r)
	}
	before := time.Now()
	req(http.MethodGet, "/"+l.Code, "User-Agent", firefox, "Referer", "https://news.example.org/item?id=1",
		"Accept-Language", "de-DE,de;q=0.9", "DNT", "1")
	req(http.MethodGet, "/"+l.Code, "Sec-GPC", "1")
	req(http.MethodGet, "/"+l.Code, "DNT", "0")
	req(http.MethodHead, "/"+l.Code)
	req(http.MethodGet, "/nothere")
	f.clock.Add(2 * time.Minute)
	req(http.MethodGet, "/"+exp.Code)
	req(http.MethodGet, "/a/b/c")
	after := time.Now()

	got := col.flush(t, rec)
	want := []struct {
		kind    analytics.Kind
		noTrack bool
	}{
		{analytics.Redirect, true}, {analytics.Redirect, true}, {analytics.Redirect, false},
		{analytics.OrphanUnknown, false}, {analytics.OrphanExpired, false}, {analytics.OrphanOther, false},
	}
	if len(got) != len(want) {
		t.Fatalf("recorded %d events (HEAD must not count), want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		e := got[i]
		if e.Kind != w.kind || (e.Flags&analytics.FlagNoTrack != 0) != w.noTrack {
			t.Errorf("event %d: kind %v, flags %b; want %v, no-track %v", i, e.Kind, e.Flags, w.kind, w.noTrack)
		}
		if a := e.Address(); a != netip.MustParseAddr("203.0.113.77") {
			t.Errorf("event %d: address %v, want the client's behind the trusted proxy", i, a)
		}
		if at := time.Unix(0, e.At); at.Before(before) || at.After(after) {
			t.Errorf("event %d: at %v, not within the request", i, at)
		}
	}
	first := got[0]
	if first.LinkID == 0 || first.UA != firefox || first.Referer != "https://news.example.org/" /* kept up to its host */ || first.Language != "de-DE,de;q=0.9" {
		t.Errorf("first click = %+v", first)
	}
	if got[3].LinkID != 0 {
		t.Errorf("orphan visit has link %d", got[3].LinkID)
	}
}

// TestBareDomainIsOrphan: without a page, the root is a bare-domain visit.
func TestBareDomainIsOrphan(t *testing.T) {
	col := &collector{}
	rec := newRecorder(t, col)
	f := newHandlerFixture(t, func(s *handlerSetup) { s.opts.Clicks = rec })
	if code := f.do(http.MethodGet, "/", "").Code; code != http.StatusNotFound {
		t.Fatalf("GET / without a page: %d", code)
	}
	got := col.flush(t, rec)
	if len(got) != 1 || got[0].Kind != analytics.OrphanBareDomain {
		t.Fatalf("recorded %+v, want one bare-domain visit", got)
	}
}

// TestRedirectRecordsWithoutAllocating holds the redirect with analytics
// on to the allocations it makes with analytics off.
func TestRedirectRecordsWithoutAllocating(t *testing.T) {
	if testing.Short() {
		t.Skip("counts allocations")
	}
	allocs := func(clicks httpapi.Clicks) float64 {
		f := newHandlerFixture(t, func(s *handlerSetup) { s.opts.Clicks = clicks })
		l := f.mustCreate(`{"url": "https://example.com/a"}`)
		r := httptest.NewRequest(http.MethodGet, "/"+l.Code, nil)
		r.Header.Set("User-Agent", firefox)
		r.Header.Set("Referer", "https://news.example.org/")
		r.Header.Set("Accept-Language", "en-GB")
		w := &discardWriter{h: http.Header{}}
		return testing.AllocsPerRun(200, func() {
			clear(w.h)
			f.handler.ServeHTTP(w, r)
		})
	}
	rec := newRecorder(t, &collector{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go rec.Run(ctx) // drained as in service, so that the buffer never fills
	off, on := allocs(nil), allocs(rec)
	if on > off {
		t.Errorf("a redirect allocates %v times with analytics on, %v with it off", on, off)
	}
	if rec.Buffered() == 0 && rec.Dropped() == 0 {
		// Run may have published them all already; the enqueued count
		// is what says they were recorded.
		t.Log("all recorded clicks published")
	}
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// TestLinkStats follows clicks from redirects through the embedded pipeline
// (recorder, processor, SQLite) to the stats endpoint and the links' clicks.
func TestLinkStats(t *testing.T) {
	var sink *sqlitesink.Sink
	var proc *analytics.Processor
	var rec *analytics.Recorder
	f := newHandlerFixture(t, func(s *handlerSetup) {
		sink = sqlitesink.New(s.db.Writer(), sqlitesink.Options{})
		var err error
		if proc, err = analytics.NewProcessor(sink, analytics.ProcessorOptions{}); err != nil {
			t.Fatal(err)
		}
		rec = newRecorder(t, proc)
		s.opts.Clicks, s.opts.Stats = rec, sink
	})
	owner := f.key("owner", false)
	other := f.key("other", false)
	var l httpapi.LinkJSON
	if err := json.Unmarshal(f.create(`{"url": "https://example.com/a"}`, "Authorization", owner).Body.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		ref := "https://news.example.org/x"
		if i%2 == 1 {
			ref = "https://mail.example.com/"
		}
		f.do(http.MethodGet, "/"+l.Code, "", "User-Agent", firefox, "Referer", ref, "Accept-Language", "en")
	}
	f.do(http.MethodGet, "/"+l.Code, "", "User-Agent", "curl/8.5.0")
	if err := rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}

	rsp := f.do(http.MethodGet, "/api/v1/links/"+l.Code+"/stats?interval=hour", "", "Authorization", owner)
	if rsp.Code != http.StatusOK {
		t.Fatalf("stats: %d %s", rsp.Code, rsp.Body)
	}
	var st httpapi.StatsJSON
	if err := json.Unmarshal(rsp.Body.Bytes(), &st); err != nil {
		t.Fatal(err)
	}
	if st.Code != l.Code || st.Clicks != 7 || st.TotalClicks != 7 || st.BotClicks != 1 || st.Interval != analytics.Hour {
		t.Errorf("stats = %+v", st)
	}
	if n := len(st.Series); n != 30*24+1 && n != 30*24 {
		t.Errorf("%d hours in the default period", n)
	}
	var series int64
	for _, p := range st.Series {
		series += p.Clicks
	}
	if series != 7 {
		t.Errorf("series sums to %d", series)
	}
	wantRefs := []analytics.Row{{Value: "news.example.org", Clicks: 4}, {Value: "mail.example.com", Clicks: 3}}
	if len(st.Referrers) != 2 || st.Referrers[0] != wantRefs[0] || st.Referrers[1] != wantRefs[1] {
		t.Errorf("referrers = %+v, want %+v", st.Referrers, wantRefs)
	}
	if len(st.Browsers) != 1 || st.Browsers[0].Value != "Firefox" || st.Browsers[0].Clicks != 7 {
		t.Errorf("browsers = %+v", st.Browsers)
	}

	if code := f.do(http.MethodGet, "/api/v1/links/"+l.Code+"/stats", "", "Authorization", other).Code; code != http.StatusNotFound && code != http.StatusForbidden {
		t.Errorf("another key's stats: %d", code)
	}
	if code := f.do(http.MethodGet, "/api/v1/links/"+l.Code+"/stats", "").Code; code != http.StatusUnauthorized {
		t.Errorf("stats without a key: %d", code)
	}
	for _, q := range []string{"interval=week", "from=yesterday", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "from=1900-01-01T00:00:00Z&interval=hour"} {
		if rsp := f.do(http.MethodGet, "/api/v1/links/"+l.Code+"/stats?"+q, "", "Authorization", owner); rsp.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", q, rsp.Code, rsp.Body)
		}
	}

	var one httpapi.LinkJSON
	json.Unmarshal(f.do(http.MethodGet, "/api/v1/links/"+l.Code, "", "Authorization", owner).Body.Bytes(), &one)
	if one.Clicks == nil || *one.Clicks != 7 {
		t.Errorf("GET link: clicks %v, want 7", one.Clicks)
	}
	var list httpapi.LinkList
	json.Unmarshal(f.do(http.MethodGet, "/api/v1/links", "", "Authorization", owner).Body.Bytes(), &list)
	if len(list.Links) != 1 || list.Links[0].Clicks == nil || *list.Links[0].Clicks != 7 {
		t.Errorf("list: %+v", list.Links)
	}
}

// TestLinkStatsImportedClicks: a link loaded with the clicks it had at
// another shortener starts its count there: the stats' total_clicks, the
// link and the list show them plus the clicks made here, while the
// period's clicks and series count only the clicks made here.
func TestLinkStatsImportedClicks(t *testing.T) {
	var rec *analytics.Recorder
	f := newHandlerFixture(t, func(s *handlerSetup) {
		sink := sqlitesink.New(s.db.Writer(), sqlitesink.Options{})
		proc, err := analytics.NewProcessor(sink, analytics.ProcessorOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rec = newRecorder(t, proc)
		s.opts.Clicks, s.opts.Stats = rec, sink
	})
	admin := f.key("admin", true)
	err := f.db.InsertBatch(t.Context(), []link.Link{{Code: "moved", URL: "https://example.com/moved",
		CreatedAt: time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC), ImportedClicks: 500}})
	if err != nil {
		t.Fatal(err)
	}
	if rsp := f.do(http.MethodGet, "/moved", "", "User-Agent", firefox, "Accept-Language", "en"); rsp.Code != http.StatusFound {
		t.Fatalf("redirect: %d %s", rsp.Code, rsp.Body)
	}
	if err := rec.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	var st httpapi.StatsJSON
	rsp := f.do(http.MethodGet, "/api/v1/links/moved/stats", "", "Authorization", admin)
	if err := json.Unmarshal(rsp.Body.Bytes(), &st); err != nil || rsp.Code != http.StatusOK {
		t.Fatalf("stats: %d %s", rsp.Code, rsp.Body)
	}
	if st.TotalClicks != 501 || st.Clicks != 1 {
		t.Errorf("stats: total_clicks %d, clicks %d; want 501 and 1", st.TotalClicks, st.Clicks)
	}
	var one httpapi.LinkJSON
	json.Unmarshal(f.do(http.MethodGet, "/api/v1/links/moved", "", "Authorization", admin).Body.Bytes(), &one)
	if one.Clicks == nil || *one.Clicks != 501 {
		t.Errorf("GET link: clicks %v, want 501", one.Clicks)
	}
	var list httpapi.LinkList
	json.Unmarshal(f.do(http.MethodGet, "/api/v1/links", "", "Authorization", admin).Body.Bytes(), &list)
	if len(list.Links) != 1 || list.Links[0].Clicks == nil || *list.Links[0].Clicks != 501 {
		t.Errorf("list: %+v", list.Links)
	}
}

func TestLinkStatsOff(t *testing.T) {
	f := newHandlerFixture(t)
	key := f.key("owner", false)
	l := f.mustCreate(`{"url": "https://example.com/a"}`, "Authorization", key)
	rsp := f.do(http.MethodGet, "/api/v1/links/"+l.Code+"/stats", "", "Authorization", key)
	if rsp.Code != http.StatusNotFound || !json.Valid(rsp.Body.Bytes()) {
		t.Errorf("stats with analytics off: %d %s", rsp.Code, rsp.Body)
	}
	var one map[string]any
	json.Unmarshal(f.do(http.MethodGet, "/api/v1/links/"+l.Code, "", "Authorization", key).Body.Bytes(), &one)
	if _, ok := one["clicks"]; ok {
		t.Errorf("clicks with analytics off: %v", one)
	}
}
