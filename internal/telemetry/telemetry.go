// Package telemetry builds what the service reports about itself: the
// logger, the metrics registry, request ids, traces and error reports. It
// returns handles and sets no globals, so two instances can share a process.
package telemetry

import (
	"context"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
)

// NewLogger returns a structured logger writing to w. format is "json" or
// "text"; level is "debug", "info", "warn" or "error". Lines logged with a
// request's context carry its request id and, when it is traced, its trace
// and span ids.
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	lv := new(slog.LevelVar)
	SetLevel(lv, level)
	return NewLevelLogger(w, format, lv)
}

// NewLevelLogger is NewLogger with a level that may change while it logs:
// a live configuration reload sets it with SetLevel.
func NewLevelLogger(w io.Writer, format string, lv *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(contextHandler{h}).With("service", "shortlinks")
}

// SetLevel sets lv to level, "debug", "info", "warn" or "error"; anything
// else is info.
func SetLevel(lv *slog.LevelVar, level string) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	lv.Set(l)
}

// contextHandler adds what a record's context knows about its request.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := RequestID(ctx); id != "" {
			r.AddAttrs(slog.String("request_id", id))
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}

// NewRegistry returns a metrics registry with the Go runtime and process
// collectors and the build's identity on it.
func NewRegistry(b Build) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "shortlinks_build_info",
			Help:        "Always 1; the labels say which build is running.",
			ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "go_version": b.GoVersion},
		}, func() float64 { return 1 }),
	)
	return reg
}
