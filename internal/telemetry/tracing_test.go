package telemetry_test

import (
	"testing"

	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// TestTracingOffUnlessAsked checks which environments turn tracing on.
func TestTracingOffUnlessAsked(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want bool
	}{
		{nil, false},
		{[]string{"OTEL_SERVICE_NAME=x"}, false},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318"}, true},
		{[]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=http://collector:4318/v1/traces"}, true},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318", "OTEL_SDK_DISABLED=true"}, false},
		{[]string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318", "OTEL_TRACES_EXPORTER=none"}, false},
	} {
		if got := telemetry.TracingWanted(c.env); got != c.want {
			t.Errorf("TracingWanted(%v) = %v, want %v", c.env, got, c.want)
		}
	}
}
