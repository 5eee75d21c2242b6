package httpapi_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortlinks/shortlinks/internal/httpapi"
	"github.com/shortlinks/shortlinks/internal/link"
	"github.com/shortlinks/shortlinks/internal/telemetry"
	"github.com/shortlinks/shortlinks/internal/web"
)

// sentryIngest is a Sentry-compatible ingest endpoint: what Sentry,
// GlitchTip and Bugsink all take, an envelope POSTed to
// /api/<project>/envelope/. It keeps every event it receives.
type sentryIngest struct {
	*httptest.Server
	mu     sync.Mutex
	events []sentryEvent
	raw    []string
	paths  []string
}

type sentryEvent struct {
	Level       string            `json:"level"`
	Environment string            `json:"environment"`
	Release     string            `json:"release"`
	Transaction string            `json:"transaction"`
	Tags        map[string]string `json:"tags"`
	Request     struct {
		URL     string            `json:"url"`
		Method  string            `json:"method"`
		Headers map[string]string `json:"headers"`
		Cookies string            `json:"cookies"`
	} `json:"request"`
	Exception []struct {
		Type       string `json:"type"`
		Value      string `json:"value"`
		Stacktrace *struct {
			Frames []struct {
				Function string `json:"function"`
			} `json:"frames"`
		} `json:"stacktrace"`
	} `json:"exception"`
}

func newSentryIngest(t *testing.T) *sentryIngest {
	s := &sentryIngest{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			body = zr
		}
		b, err := io.ReadAll(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.paths = append(s.paths, r.URL.Path)
		s.raw = append(s.raw, string(b))
		// An envelope: a header line, then item header and payload lines.
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sc.Scan()
		for sc.Scan() {
			var item struct{ Type string }
			if err := json.Unmarshal(sc.Bytes(), &item); err != nil || !sc.Scan() {
				break
			}
			if item.Type == "event" {
				var ev sentryEvent
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Errorf("event payload: %v\n%s", err, sc.Bytes())
				}
				s.events = append(s.events, ev)
			}
		}
		w.Write([]byte(`{"id":"00000000000000000000000000000000"}`))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sentryIngest) received() ([]sentryEvent, []string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sentryEvent(nil), s.events...), append([]string(nil), s.raw...), append([]string(nil), s.paths...)
}

// failingLinks is a link service whose storage breaks in a way a real
// engine is not made to on demand: with an error it does not classify.
type failingLinks struct{ httpapi.Links }

func (f failingLinks) Create(ctx context.Context, p link.CreateParams) (link.Link, error) {
	if strings.Contains(p.URL, "fire") {
		return link.Link{}, errors.New("disk on fire at /var/lib/shortlinks")
	}
	return f.Links.Create(ctx, p)
}

func (failingLinks) ResolveOn(ctx context.Context, d int64, c link.Code) (link.Link, error) {
	if c == "boom123" {
		panic("secret internal detail")
	}
	return link.Link{}, link.ErrNotFound
}

// TestErrorReportsReachSentry checks that panics and 5xx answers are
// reported, once each, with the route and request id and without the API
// key, and that client errors are not.
func TestErrorReportsReachSentry(t *testing.T) {
	ingest := newSentryIngest(t)
	dsn := strings.Replace(ingest.URL, "http://", "http://publickey@", 1) + "/42"
	rep, err := telemetry.NewErrorReporter([]string{"SENTRY_DSN=" + dsn, "SENTRY_ENVIRONMENT=test"}, telemetry.Build{Version: "v9.9.9"})
	if err != nil || rep == nil {
		t.Fatalf("NewErrorReporter = %v, %v", rep, err)
	}
	f := newHandlerFixture(t, func(s *handlerSetup) {
		s.edge.Errors = rep
		s.links = func(l httpapi.Links) httpapi.Links { return failingLinks{l} }
		// The page is only sent URLs its links fail on.
		pages, err := web.New(failingLinks{}, slog.New(slog.DiscardHandler), web.Options{BaseURL: "https://sho.rt"})
		if err != nil {
			t.Fatal(err)
		}
		s.pages = pages
	})
	bearer := f.key("reported", false)
	secret := strings.TrimPrefix(bearer, "Bearer ")
	auth := []string{"Authorization", bearer, "Cookie", "session=" + secret}

	rec := f.do(http.MethodGet, "/boom123", "", append(auth, "X-Request-ID", "req-panic")...)
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("panicking redirect = %d", rec.Code)
	}
	rec = f.create(`{"url": "https://example.com/fire"}`, append(auth, "X-Request-ID", "req-fail")...)
	if rec.Code != http.StatusInternalServerError || rec.Header().Get("X-Request-Id") != "req-fail" {
		t.Fatalf("failing create = %d, request id %q: %s", rec.Code, rec.Header().Get("X-Request-Id"), rec.Body)
	}
	rec = f.do(http.MethodPost, "/", "url=https%3A%2F%2Fexample.com%2Ffire", "Content-Type", "application/x-www-form-urlencoded",
		"Origin", "https://example.com", "Host", "example.com", "X-Request-ID", "req-form")
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("failing form create = %d", rec.Code)
	}
	// Client errors are not reported.
	f.do(http.MethodGet, "/nothere", "", auth...)
	f.create(`{"url": "ftp://example.com/"}`, auth...)
	if !rep.Flush(5 * time.Second) {
		t.Fatal("reports not sent within 5s")
	}

	events, raw, paths := ingest.received()
	if len(events) != 3 {
		t.Fatalf("got %d events, want 3 (one panic, two 500s):\n%s", len(events), strings.Join(raw, "\n"))
	}
	for _, p := range paths {
		if p != "/api/42/envelope/" {
			t.Errorf("posted to %s, want the envelope endpoint /api/42/envelope/", p)
		}
	}
	for _, r := range raw {
		if strings.Contains(r, secret) {
			t.Errorf("a report carries the API key or cookie:\n%s", r)
		}
	}
	byID := map[string]sentryEvent{}
	for _, ev := range events {
		byID[ev.Tags["request_id"]] = ev
		if ev.Environment != "test" || ev.Release != "shortlinks@v9.9.9" {
			t.Errorf("environment %q release %q", ev.Environment, ev.Release)
		}
		if len(ev.Exception) == 0 {
			t.Errorf("event %+v has no exception", ev)
		}
		if _, ok := ev.Request.Headers["Authorization"]; ok || ev.Request.Cookies != "" {
			t.Errorf("request carries credentials: %+v", ev.Request)
		}
	}

	p, ok := byID["req-panic"]
	if !ok {
		t.Fatalf("no event tagged request_id=req-panic: %+v", events)
	}
	if p.Tags["route"] != "GET /{code}" || p.Tags["status"] != "500" || p.Tags["panic"] != "true" || p.Level != "fatal" || p.Transaction != "GET /{code}" ||
		p.Request.Method != http.MethodGet || !strings.HasSuffix(p.Request.URL, "/boom123") {
		t.Errorf("panic event: tags %v transaction %q request %+v", p.Tags, p.Transaction, p.Request)
	}
	if p.Request.Headers["X-Request-Id"] != "req-panic" {
		t.Errorf("panic event headers %v lack the request id", p.Request.Headers)
	}
	exc := p.Exception[len(p.Exception)-1]
	if !strings.Contains(exc.Value, "secret internal detail") || exc.Stacktrace == nil {
		t.Errorf("panic exception %+v: want the panic value and a stack", exc)
	} else if !framesMention(exc.Stacktrace.Frames, "failingLinks.Resolve") {
		t.Errorf("panic stack does not reach the panicking frame: %+v", exc.Stacktrace.Frames)
	}

	// The web form's 500 carries its cause too.
	if form, ok := byID["req-form"]; !ok || form.Tags["route"] != "POST /{$}" ||
		!strings.Contains(form.Exception[len(form.Exception)-1].Value, "disk on fire") {
		t.Errorf("form 500 event: %+v", form)
	}

	e, ok := byID["req-fail"]
	if !ok {
		t.Fatalf("no event tagged request_id=req-fail: %+v", events)
	}
	if e.Tags["route"] != "POST /api/v1/links" || e.Tags["status"] != "500" ||
		!strings.Contains(e.Exception[len(e.Exception)-1].Value, "disk on fire") {
		t.Errorf("500 event: tags %v exception %+v", e.Tags, e.Exception)
	}
}

func framesMention(frames []struct {
	Function string `json:"function"`
}, fn string) bool {
	for _, f := range frames {
		if strings.Contains(f.Function, fn) {
			return true
		}
	}
	return false
}

// Without SENTRY_DSN there is no reporter.
func TestNoErrorReporterWithoutDSN(t *testing.T) {
	rep, err := telemetry.NewErrorReporter([]string{"SENTRY_ENVIRONMENT=test"}, telemetry.Build{})
	if rep != nil || err != nil {
		t.Fatalf("NewErrorReporter without a DSN = %v, %v; want nil, nil", rep, err)
	}
	if _, err := telemetry.NewErrorReporter([]string{"SENTRY_DSN=not a dsn"}, telemetry.Build{}); err == nil {
		t.Fatal("a malformed DSN was accepted")
	}
}
