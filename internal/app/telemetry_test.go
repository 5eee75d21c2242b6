package app_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shortlinks/shortlinks/internal/app"
	"github.com/shortlinks/shortlinks/internal/app/apptest"
	"github.com/shortlinks/shortlinks/internal/servicetest"
	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// TestTelemetryFromEnvironment checks that New starts what the environment
// it is given asks for, traces (OTEL_*) and error reports (SENTRY_DSN), and
// that Close flushes the traces still buffered.
func TestTelemetryFromEnvironment(t *testing.T) {
	col := newOTLPCollector(t)
	// The exporter reads its endpoint from the process; New decides from
	// the environment it is given whether to trace at all.
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", col.URL)
	environ := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + col.URL, "SENTRY_DSN=https://key@sentry.invalid/1"}
	var logs servicetest.Buffer
	a, err := app.New(t.Context(), apptest.Config(t), telemetry.NewLogger(&logs, "json", "info"),
		app.Telemetry{Environ: environ, Build: telemetry.Build{Version: "v1.2.3"}})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/Zz9Zz9Z", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("GET /Zz9Zz9Z = %d", rec.Code)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	spans := names(col.spans)
	col.mu.Unlock()
	if !strings.Contains(strings.Join(spans, ","), "GET /{code}") {
		t.Errorf("after Close the collector has spans %v, want the request's", spans)
	}
	for _, msg := range []string{`"msg":"tracing on"`, `"msg":"error reporting on"`} {
		if !strings.Contains(logs.String(), msg) {
			t.Errorf("no %s in the log:\n%s", msg, logs.String())
		}
	}

	// Without those variables there is neither.
	var quiet servicetest.Buffer
	b, err := app.New(t.Context(), apptest.Config(t), telemetry.NewLogger(&quiet, "json", "info"), app.Telemetry{Environ: []string{"HOME=/root"}})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if strings.Contains(quiet.String(), "tracing on") || strings.Contains(quiet.String(), "error reporting on") {
		t.Errorf("telemetry started without being asked for:\n%s", quiet.String())
	}
}
