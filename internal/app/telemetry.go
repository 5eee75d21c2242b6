package app

import (
	"context"
	"time"

	"github.com/shortlinks/shortlinks/internal/telemetry"
)

// flushTimeout bounds how long Close waits for traces and error reports
// still buffered.
const flushTimeout = 5 * time.Second

// startTelemetry fills in what tel leaves to the environment: a registry,
// traces when OTEL_* asks for them, error reports when SENTRY_DSN is set.
// What it starts is flushed and stopped by Close, after everything else.
func (a *App) startTelemetry(ctx context.Context, tel Telemetry) (Telemetry, error) {
	if tel.Build == (telemetry.Build{}) {
		tel.Build = telemetry.ReadBuild("")
	}
	if tel.Registry == nil {
		tel.Registry = telemetry.NewRegistry(tel.Build)
	}
	var stops []func(context.Context)
	a.closers = append(a.closers, func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
		defer cancel()
		for _, stop := range stops {
			stop(ctx)
		}
		return nil
	})
	if tel.Tracer == nil && telemetry.TracingWanted(tel.Environ) {
		tp, err := telemetry.NewTracerProvider(ctx, tel.Build)
		if err != nil {
			return tel, err
		}
		tel.Tracer = tp
		stops = append(stops, func(ctx context.Context) {
			if err := tp.Shutdown(ctx); err != nil {
				a.log.Warn("flushing traces", "err", err)
			}
		})
		a.log.Info("tracing on")
	}
	if tel.Errors == nil {
		rep, err := telemetry.NewErrorReporter(tel.Environ, tel.Build)
		if err != nil {
			return tel, err
		}
		if rep != nil {
			tel.Errors = rep
			stops = append(stops, func(ctx context.Context) {
				deadline, _ := ctx.Deadline()
				rep.Flush(time.Until(deadline))
			})
			a.log.Info("error reporting on")
		}
	}
	return tel, nil
}
