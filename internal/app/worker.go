package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/shortlinks/shortlinks/internal/analytics/pgsink"
	"github.com/shortlinks/shortlinks/internal/analytics/redisstream"
	"github.com/shortlinks/shortlinks/internal/config"
)

// Worker is 'shortlinks worker': it reads click batches from the Redis
// Stream that the servers append to, with a consumer group, and writes
// them to PostgreSQL. Any number may run; each batch is counted once.
type Worker struct {
	cfg      config.Config
	log      *slog.Logger
	consumer *redisstream.Consumer
	sink     *pgsink.Sink
	rdb      redis.UniversalClient
	ping     func(context.Context) error
	metrics  http.Handler
	closers  []func() error
	stopping atomic.Bool
}

// NewWorker builds the worker from cfg. The database schema must be
// current (or --auto-migrate given), as for the server.
func NewWorker(ctx context.Context, cfg config.Config, log *slog.Logger, tel Telemetry) (_ *Worker, err error) {
	if !strings.HasPrefix(cfg.DatabaseURL, "postgres") || cfg.RedisURL == "" {
		return nil, errWorkerNeeds
	}
	// The telemetry and the closing order are the server's.
	a := &App{cfg: cfg, log: log}
	w := &Worker{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			w.Close()
			a.Close()
		}
	}()
	if tel, err = a.startTelemetry(ctx, tel); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, a.Close)
	reg := tel.Registry

	st, err := OpenStorage(ctx, cfg, log)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	err = st.Prepare(ctx)
	st.Close()
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	pool, err := analyticsPoolFor(ctx, cfg)
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() error { pool.Close(); return nil })
	w.ping = pool.Ping
	w.sink = pgsink.New(pool, sinkOptions(cfg))

	// A read blocks up to a second waiting for entries: the command
	// deadline must allow for it, which the servers' 50 ms would not.
	rcfg := cfg
	rcfg.RedisTimeout = max(cfg.RedisTimeout, redisstream.DefaultBlock+2*time.Second)
	if w.rdb, err = openRedis(rcfg, log, reg, tel.Tracer); err != nil {
		return nil, err
	}
	w.closers = append(w.closers, w.rdb.Close)

	proc, closeGeo, err := newProcessor(cfg, w.sink, reg, log)
	if err != nil {
		return nil, err
	}
	w.closers = append(w.closers, func() error { closeGeo(); return nil })
	var p redisstream.Processor = proc
	if tel.Tracer != nil {
		p = tracedProcessor{next: proc, tracer: tel.Tracer.Tracer("github.com/shortlinks/shortlinks/internal/analytics")}
	}
	w.consumer, err = redisstream.NewConsumer(w.rdb, p, redisstream.ConsumerOptions{
		Prefix: cfg.RedisKeyPrefix, Registerer: reg, Log: log,
		ShutdownTimeout: cfg.ShutdownTimeout, ClaimIdle: cfg.AnalyticsClaimIdle,
	})
	if err != nil {
		return nil, err
	}
	w.metrics = promhttp.HandlerFor(tel.Registry, promhttp.HandlerOpts{Registry: tel.Registry})
	return w, nil
}

// Handler serves the worker's /healthz (alive), /readyz (PostgreSQL and
// Redis answer; 503 once stopping) and /metrics.
func (w *Worker) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		writeStatus(rw, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		checks := map[string]string{"postgres": "up", "redis": "up"}
		ready := !w.stopping.Load()
		if err := w.ping(ctx); err != nil {
			checks["postgres"], ready = "down", false
		}
		if err := w.rdb.Ping(ctx).Err(); err != nil {
			checks["redis"], ready = "down", false
		}
		status, code := "ready", http.StatusOK
		if !ready {
			status, code = "not_ready", http.StatusServiceUnavailable
		}
		writeStatus(rw, code, map[string]any{"status": status, "checks": checks})
	})
	mux.Handle("GET /metrics", w.metrics)
	return mux
}

func writeStatus(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// Run serves the worker's endpoints on ln and consumes the stream until
// ctx ends; then it finishes the batches in hand (applies and acknowledges
// them, within --shutdown-timeout) and returns.
func (w *Worker) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	mctx, stopMaintenance := context.WithCancel(ctx)
	defer stopMaintenance()
	go maintain(mctx, w.sink, func(ctx context.Context) error { return w.sink.Prepare(ctx, 2) }, w.log)

	w.log.Info("worker consuming", "stream", redisstream.Key(w.cfg.RedisKeyPrefix, ""), "consumer", w.consumer.Name(), "addr", ln.Addr().String())
	err := w.consumer.Run(ctx)
	w.stopping.Store(true)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	w.log.Info("worker stopped")
	return err
}

// Close releases what the worker opened.
func (w *Worker) Close() error {
	var errs []error
	for i := len(w.closers) - 1; i >= 0; i-- {
		errs = append(errs, w.closers[i]())
	}
	w.closers = nil
	return errors.Join(errs...)
}
