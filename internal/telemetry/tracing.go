package telemetry

import (
	"context"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/shortlinks/shortlinks/internal/environ"
)

// TracingWanted reports whether the OpenTelemetry environment in env
// asks for traces: an OTLP endpoint is set, and neither OTEL_SDK_DISABLED
// nor OTEL_TRACES_EXPORTER=none turns them off.
func TracingWanted(env []string) bool {
	get := func(name string) string { return environ.Get(env, name) }
	if strings.EqualFold(get("OTEL_SDK_DISABLED"), "true") || strings.EqualFold(get("OTEL_TRACES_EXPORTER"), "none") {
		return false
	}
	return get("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// NewTracerProvider returns a tracer provider that batches spans to an
// OTLP/HTTP collector. The exporter, sampler and batch settings come from
// the standard OTEL_* variables of the process environment (the endpoint,
// headers, timeout, OTEL_TRACES_SAMPLER, OTEL_BSP_*), the resource from
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES over Shortlinks' own
// name and version. Shut it down to flush what is buffered.
func NewTracerProvider(ctx context.Context, b Build) (*sdktrace.TracerProvider, error) {
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("otlp exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(
			attribute.String("service.name", "shortlinks"),
			attribute.String("service.version", b.Version),
		),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithFromEnv(), // last, so the environment wins
	)
	if err != nil {
		return nil, fmt.Errorf("trace resource: %w", err)
	}
	return sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res)), nil
}

// Propagator reads and writes W3C trace context and baggage headers.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}
