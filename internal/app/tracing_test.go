package app_test

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/config"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// otlpCollector is an OTLP/HTTP trace receiver that keeps what it gets.
type otlpCollector struct {
	*httptest.Server
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func newOTLPCollector(t *testing.T) *otlpCollector {
	c := &otlpCollector{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("collector got %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
			http.Error(w, "unexpected", http.StatusNotFound)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(b, &req); err != nil {
			t.Errorf("collector: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			c.services = append(c.services, attr(rs.GetResource().GetAttributes(), "service.name"))
			for _, ss := range rs.GetScopeSpans() {
				c.spans = append(c.spans, ss.GetSpans()...)
			}
		}
		c.mu.Unlock()
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(c.Close)
	return c
}

func attr(kvs []*commonpb.KeyValue, key string) string {
	for _, kv := range kvs {
		if kv.GetKey() == key {
			v := kv.GetValue()
			if s, ok := v.GetValue().(*commonpb.AnyValue_IntValue); ok {
				return strconv.FormatInt(s.IntValue, 10)
			}
			return v.GetStringValue()
		}
	}
	return ""
}

// TestTracesReachCollector runs the service with tracing configured the
// standard way (OTEL_* variables) against an OTLP/HTTP collector, and
// checks the spans it gets: one per request, continuing the caller's
// trace, with the cache and database calls beneath it; and that the
// request's log lines carry its trace id.
func TestTracesReachCollector(t *testing.T) {
	col := newOTLPCollector(t)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", col.URL)
	t.Setenv("OTEL_SERVICE_NAME", "shortlinks-test")
	environ := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + col.URL}
	if !telemetry.TracingWanted(environ) {
		t.Fatal("an OTLP endpoint does not turn tracing on")
	}
	tp, err := telemetry.NewTracerProvider(t.Context(), telemetry.Build{Version: "v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Shutdown(t.Context())
	var logs servicetest.Buffer
	r := apptest.Start(t, telemetry.NewLogger(&logs, "json", "info"), app.Telemetry{Tracer: tp}, func(c *config.Config) { c.CreateRate, c.LogRedirectSample = 0, 1 })

	code := apptest.Create(t, r.URL, `{"url": "https://example.com/traced"}`)
	const traceID, parentID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	resp := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, r.URL+"/"+code, "", "traceparent", "00-"+traceID+"-"+parentID+"-01")
	if resp.Status != http.StatusFound {
		t.Fatalf("redirect = %d", resp.Status)
	}
	if status, _ := apptest.Resolve(t, r.URL, "unknown"); status != http.StatusNotFound {
		t.Fatalf("unknown code = %d", status)
	}
	_, token, err := r.App.Keys().Create(t.Context(), "tracing", true)
	if err != nil {
		t.Fatal(err)
	}
	if resp := apptest.MustDo(t, apptest.NoRedirects, http.MethodGet, r.URL+"/api/v1/links", "", "Authorization", "Bearer "+token); resp.Status != http.StatusOK {
		t.Fatalf("list = %d %s", resp.Status, resp.Body)
	}
	if err := tp.ForceFlush(t.Context()); err != nil {
		t.Fatal(err)
	}

	col.mu.Lock()
	spans, services := col.spans, col.services
	col.mu.Unlock()
	for _, s := range services {
		if s != "shortlinks-test" {
			t.Errorf("service.name %q, want OTEL_SERVICE_NAME's shortlinks-test", s)
		}
	}
	byName := map[string][]*tracepb.Span{}
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byName[s.GetName()] = append(byName[s.GetName()], s)
		byID[hex.EncodeToString(s.GetSpanId())] = s
	}
	one := func(name string, match func(*tracepb.Span) bool) *tracepb.Span {
		t.Helper()
		for _, s := range byName[name] {
			if match(s) {
				return s
			}
		}
		t.Fatalf("no matching span %q among %d spans: %v", name, len(spans), names(spans))
		return nil
	}
	parentIs := func(s, parent *tracepb.Span) {
		t.Helper()
		if hex.EncodeToString(s.GetParentSpanId()) != hex.EncodeToString(parent.GetSpanId()) || string(s.GetTraceId()) != string(parent.GetTraceId()) {
			t.Errorf("span %q is not a child of %q", s.GetName(), parent.GetName())
		}
	}

	redirect := one("GET /{code}", func(s *tracepb.Span) bool { return hex.EncodeToString(s.GetTraceId()) == traceID })
	if hex.EncodeToString(redirect.GetParentSpanId()) != parentID || redirect.GetKind() != tracepb.Span_SPAN_KIND_SERVER ||
		attr(redirect.GetAttributes(), "http.route") != "GET /{code}" || attr(redirect.GetAttributes(), "http.response.status_code") != "302" {
		t.Errorf("redirect span %v: want the caller's trace and parent, kind server, route and status 302", redirect)
	}
	lookup := one("cache.Get", func(s *tracepb.Span) bool { return hex.EncodeToString(s.GetTraceId()) == traceID })
	parentIs(lookup, redirect)
	if src := attr(lookup.GetAttributes(), "shortlinks.source"); src != "local" {
		t.Errorf("cache.Get of a link just made says source %q, want local", src)
	}

	// The unknown code misses the cache and is looked up in the database.
	missing := one("cache.Get", func(s *tracepb.Span) bool { return attr(s.GetAttributes(), "shortlinks.code") == "unknown" })
	db := one("database.Get", func(s *tracepb.Span) bool { return attr(s.GetAttributes(), "shortlinks.code") == "unknown" })
	parentIs(db, missing)
	if attr(db.GetAttributes(), "db.system") != "sqlite" {
		t.Errorf("database span attributes %v, want db.system sqlite", db.GetAttributes())
	}
	if server := byID[hex.EncodeToString(missing.GetParentSpanId())]; server == nil || server.GetName() != "GET /{code}" ||
		attr(server.GetAttributes(), "http.response.status_code") != "404" {
		t.Errorf("the unknown code's lookup is not under its 404 request span")
	}

	create := one("POST /api/v1/links", func(*tracepb.Span) bool { return true })
	insert := one("cache.Insert", func(*tracepb.Span) bool { return true })
	parentIs(insert, create)
	parentIs(one("database.Insert", func(*tracepb.Span) bool { return true }), insert)

	list := one("GET /api/v1/links", func(*tracepb.Span) bool { return true })
	page := one("database.List", func(*tracepb.Span) bool { return true })
	parentIs(page, list)
	if attr(page.GetAttributes(), "shortlinks.links") != "1" {
		t.Errorf("database.List attributes %v, want the 1 link listed", page.GetAttributes())
	}

	// The redirect's access log line carries its trace.
	found := false
	for _, m := range logLines(t, logs.String()) {
		if m["msg"] == "request" && m["trace_id"] == traceID && m["span_id"] == hex.EncodeToString(redirect.GetSpanId()) {
			found = true
		}
	}
	if !found {
		t.Errorf("no access log line with trace_id %s:\n%s", traceID, logs.String())
	}
}

func names(spans []*tracepb.Span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.GetName())
	}
	return out
}
