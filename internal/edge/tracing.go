package edge

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// startSpan starts the server span of r, continuing the trace the client
// or gateway sent, if any.
func (e *Edge) startSpan(ctx context.Context, r *http.Request) (context.Context, trace.Span) {
	ctx = e.propagator.Extract(ctx, propagation.HeaderCarrier(r.Header))
	return e.tracer.Start(ctx, r.Method,
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("http.request.method", r.Method),
			attribute.String("url.path", r.URL.Path),
			attribute.String("user_agent.original", r.UserAgent()),
		))
}

// endSpan names span after the route r matched and ends it. A 5xx marks
// it failed.
func endSpan(span trace.Span, r *http.Request, status int, cause error) {
	route := r.Pattern
	if route == "" {
		route = "unmatched"
	}
	name := route
	if !strings.HasPrefix(route, r.Method+" ") {
		name = r.Method + " " + route
	}
	span.SetName(name)
	span.SetAttributes(attribute.String("http.route", route), attribute.Int("http.response.status_code", status))
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
		if cause != nil && cause != errReported {
			span.RecordError(cause)
		}
	}
	span.End()
}
